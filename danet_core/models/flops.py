"""Floating-point operations of one forward pass, counted on shape-only ("meta") tensors.

Why count instead of estimate: the benchmark's hardware limit is "FLOPs of the forward / the machine's
measured GEMM and conv rate", and the app sizes its quick preview by a FLOP budget; both need the exact
count of the model that runs (depth, dilations, head, input size), which PyTorch's ``FlopCounterMode``
gives without computing anything (a 1024 x 2048 DANet-R50 counts in ~0.2 s). Only convolutions and
matrix products are counted (2 per multiply-add): they are >99% of the work and what the limit is
measured on; softmax, BN, ReLU and interpolation are memory-bound extras the limit does not cover.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from danet_core.models.config import ModelConfig
from danet_core.models.segmenter import build_model


@dataclass(frozen=True)
class ForwardFlops:
    """FLOPs of one forward, split by the kind of kernel that computes them."""

    conv: float  # aten.convolution (all convs, incl. the 1 x 1 PAM projections)
    matmul: float  # aten.bmm / mm / addmm (the PAM and CAM matrix products, any linear layer)

    @property
    def total(self) -> float:
        return self.conv + self.matmul


_MATMUL_OPS = ("bmm", "mm", "addmm", "baddbmm", "matmul")


def count_forward_flops(config: ModelConfig, height: int, width: int, batch: int = 1) -> ForwardFlops:
    """FLOPs of the inference forward (fused output) of ``build_model(config)`` on a
    ``batch x 3 x height x width`` input (no weights allocated)."""
    if height < 8 or width < 8:
        raise ValueError(f"input {height} x {width}: expected at least 8 x 8 pixels")
    with torch.device("meta"):
        model = build_model(config).eval()
        x = torch.empty(batch, 3, height, width)
    return count_flops(lambda: model.forward_out(x))


def count_flops(fn: Callable[[], object]) -> ForwardFlops:
    """FLOPs of whatever ``fn()`` computes (run it on meta tensors to count without computing)."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        fn()
    conv = matmul = 0.0
    for op, flops in counter.get_flop_counts().get("Global", {}).items():
        name = str(op).split(".")[1] if "." in str(op) else str(op)
        if name == "convolution":
            conv += float(flops)
        elif name in _MATMUL_OPS:
            matmul += float(flops)
    return ForwardFlops(conv=conv, matmul=matmul)
