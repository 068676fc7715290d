"""ONNX export: a plain export vs ours (max abs diff in ONNX Runtime), and ORT vs PyTorch CPU latency.

"plain" reproduces the measurement that was not trusted: the model wrapped in a fresh nn.Module (training
mode by default), ``torch.onnx.export`` at the benchmark size, and the PyTorch reference computed after
the export. "ours" is :func:`danet_core.onnx_export.export_copy` + ``check_against_torch`` (eval-mode copy,
reference on the copy, traced at a small size and run at the benchmark size). Random weights, seed 0;
``--attention`` sets the PAM/CAM gammas to 0.5 so that the attention paths contribute (at init they are 0).
Needs the optional extra ``onnx`` (onnx, onnxruntime).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from danet_core.models import get_model
from danet_core.onnx_export import _require_onnx, _trace, check_against_torch, export_copy


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--depth", type=int, default=50, choices=(18, 34, 50, 101))
    parser.add_argument("--size", default="512x1024", help="H x W of the checked input")
    parser.add_argument("--pam", choices=("naive", "efficient"), default="naive")
    parser.add_argument("--attention", action="store_true", help="PAM/CAM gammas 0.5 instead of 0")
    parser.add_argument("--threads", type=int, default=0, help="torch and ORT threads (0 = default)")


class _Plain(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)["out"]


def _plain_export(model: nn.Module, x: torch.Tensor) -> dict[str, Any]:
    _, ort = _require_onnx()
    wrapper = _Plain(model)  # training mode, as a freshly built module is
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plain.onnx"
        torch.onnx.export(wrapper, (x,), str(path), dynamo=False, input_names=["input"], opset_version=17)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = session.run(None, {"input": x.numpy()})[0]
    left_training = model.training
    with torch.no_grad():
        ref = wrapper(x).numpy()  # what one naturally compares with, after the export
    return {
        "model_in_training_mode_after_export": left_training,
        "max_abs_diff": float(np.abs(got - ref).max()),
        "reference_logit_scale": float(np.abs(ref).max()),
    }


def _median_time(fn: Any, repeats: int = 2) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def run(args: argparse.Namespace) -> dict[str, Any]:
    _, ort = _require_onnx()
    if args.threads:
        torch.set_num_threads(args.threads)
    h, w = (int(v) for v in args.size.lower().split("x"))
    torch.manual_seed(0)
    model = get_model("danet", depth=args.depth, num_classes=19, pam_impl=args.pam).eval()
    if args.attention:
        with torch.no_grad():
            for name, param in model.head.named_parameters():
                if name.endswith("gamma"):  # the PAM and CAM scales
                    param.fill_(0.5)
    x = torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(1))
    net = export_copy(model)
    data = _trace(net, 17)
    check = check_against_torch(net, data, sizes=((h, w),))[0]
    opts = ort.SessionOptions()
    if args.threads:
        opts.intra_op_num_threads = args.threads
    session = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
    with torch.no_grad():
        torch_s = _median_time(lambda: net(x))
    ort_s = _median_time(lambda: session.run(None, {"input": x.numpy()}))
    return {
        "config": {"depth": args.depth, "size": [h, w], "pam": args.pam, "attention": args.attention},
        "plain_export": _plain_export(model, x),
        "ours": {
            "max_abs_diff": check.max_abs_diff,
            "logit_scale": check.logit_scale,
            "tolerance": check.tolerance,
            "ok": check.max_abs_diff <= check.tolerance,
        },
        "latency_s": {"pytorch_eager": torch_s, "onnxruntime": ort_s},
    }
