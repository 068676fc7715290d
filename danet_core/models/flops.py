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
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from danet_core.models.config import ModelConfig
from danet_core.models.segmenter import build_model


@dataclass(frozen=True)
class ForwardFlops:
    """FLOPs of one forward, split by the kind of kernel that computes them."""

    conv: float  # aten.convolution (all convs, incl. the 1 x 1 PAM projections)
    matmul: float  # aten.bmm / mm / addmm (the PAM and CAM matrix products, any linear layer)
    # the part of ``conv`` in 1 x 1 convolutions: each is a matrix product (C_out x C_in by C_in x HW), so
    # no convolution algorithm computes it faster than a GEMM does
    conv_1x1: float = 0.0

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
    return count_flops(lambda: model.forward_out(x), model)


def count_flops(fn: Callable[[], object], module: nn.Module | None = None) -> ForwardFlops:
    """FLOPs of whatever ``fn()`` computes (run it on meta tensors to count without computing); the
    1 x 1 convolutions among them are found through ``module``'s Conv2d layers."""
    counter = FlopCounterMode(display=False)
    pointwise = [0.0]

    def hook(conv: nn.Module, _inputs: object, out: torch.Tensor) -> None:
        assert isinstance(conv, nn.Conv2d)
        if tuple(conv.kernel_size) == (1, 1):
            pointwise[0] += 2.0 * out.numel() * conv.in_channels // conv.groups

    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)] if module is not None else []
    handles = [m.register_forward_hook(hook) for m in convs]
    try:
        with counter, torch.no_grad():
            fn()
    finally:
        for h in handles:
            h.remove()
    conv = matmul = 0.0
    for op, flops in counter.get_flop_counts().get("Global", {}).items():
        name = str(op).split(".")[1] if "." in str(op) else str(op)
        if name == "convolution":
            conv += float(flops)
        elif name in _MATMUL_OPS:
            matmul += float(flops)
    return ForwardFlops(conv=conv, matmul=matmul, conv_1x1=pointwise[0])
