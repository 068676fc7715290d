"""Benchmarks that print JSON (never timed tests): `danet bench NAME` or `python -m danet_core.bench NAME`.

Each benchmark is a module here exposing ``add_arguments(parser)`` and ``run(args) -> dict``; the dict is
printed as JSON on stdout (and written to ``--out`` when given). This package owns the ``bench``
subcommand (:func:`register`), so ``danet_core.commands.bench`` and ``python -m danet_core.bench`` share
one parser and neither imports the other's layer.
"""

from __future__ import annotations

import argparse
import importlib
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

BENCHMARKS = {
    "model": "danet_core.bench.model",  # PAM and whole-model time / peak memory, bf16 speed-up
    "train": "danet_core.bench.training",  # training-step throughput, efficient vs naive PAM
    "project": "danet_core.bench.project",  # project open time, export speed
    "assist": "danet_core.bench.assist",  # the simulated annotator / fine-tune loop on CamVid
    "onnx": "danet_core.bench.onnx",  # plain vs checked ONNX export, ORT vs PyTorch latency
    "frozen": "danet_core.bench.frozen",  # fast (frozen-backbone) vs full fine-tune from a checkpoint
}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``bench NAME`` with one sub-parser per benchmark module."""
    parser = subparsers.add_parser("bench", help="run a benchmark and print JSON")
    bench_sub = parser.add_subparsers(dest="bench", metavar="NAME", required=True)
    for name, module_name in BENCHMARKS.items():
        module = importlib.import_module(module_name)
        p = bench_sub.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0])
        p.add_argument("--out", type=Path, default=None, help="also write the JSON to this file")
        module.add_arguments(p)
        p.set_defaults(func=_make_runner(module))


def _make_runner(module: ModuleType) -> Callable[[argparse.Namespace], int]:
    def _run(args: argparse.Namespace) -> int:
        result = module.run(args)
        text = json.dumps(result, indent=2, sort_keys=False)
        print(text)
        if args.out is not None:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text + "\n")
        return 0

    return _run
