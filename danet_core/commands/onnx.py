"""``danet export-model CHECKPOINT OUT.onnx``: the model as ONNX for ONNX Runtime, X-AnyLabeling, ...

The export is run in ONNX Runtime and compared with PyTorch before the file is written (see
:mod:`danet_core.onnx_export` for the contract, the metadata and the tolerance). Needs the optional
extra: ``pip install -e ".[onnx]"``.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    exp = subparsers.add_parser(
        "export-model", help="export a checkpoint to ONNX (checked in ONNX Runtime)", description=__doc__
    )
    exp.add_argument("checkpoint", type=Path, help="native, official or mmseg checkpoint")
    exp.add_argument("out", type=Path, help="the .onnx file to write")
    exp.add_argument("--source", choices=("auto", "native", "official", "mmseg"), default="auto")
    exp.add_argument("--opset", type=int, default=None, help="ONNX opset (default 17)")
    exp.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    from danet_core.checkpoints import load_model
    from danet_core.onnx_export import OPSET, export_onnx

    if args.out.suffix.lower() != ".onnx":
        raise ValueError(f"{args.out}: expected an output file name ending in .onnx")
    model = load_model(args.checkpoint, source=args.source)
    checks = export_onnx(model, args.out, opset=args.opset or OPSET)
    for c in checks:
        print(
            f"checked {c.size[0]}x{c.size[1]} in ONNX Runtime: max abs diff {c.max_abs_diff:.2e} "
            f"(tolerance {c.tolerance:.1e}, logit scale {c.logit_scale:.3g})"
        )
    print(f"{args.out}: {model.config.name} R{model.config.depth}, {model.config.num_classes} classes")
    return 0
