"""Export a DANet/FCN checkpoint to ONNX, checked against PyTorch in ONNX Runtime before it is written.

The file's contract is ``load_model``'s module: input ``input``, a normalised float32 B x 3 x H x W
(RGB in 0..1, minus ``mean``, divided by ``std``; batch, height and width dynamic); first (only) output
``logits``, the fused logits B x K x H x W at the input size. The metadata (``metadata_props``) holds
``mean``, ``std``, ``class_names``, ``class_colors``, ``train_ids`` and the ``model_config`` (JSON).

Why the export was not trusted before it was checked: a plain ``torch.onnx.export`` of the naive
DANet-R50 measured max abs diff 18.7 against PyTorch. The graph was right; the reference was not. The
model had been wrapped in a fresh ``nn.Module`` (training mode by default); the exporter traces in eval
mode and then restores the *wrapper's* mode recursively, so the DANet came back in training mode and the
PyTorch forward used after the export ran BatchNorm on batch statistics (and updated its running stats).
Here the export works on a deep copy in eval mode, the reference is computed on that copy, and the check
runs the exported bytes in ONNX Runtime at two sizes (dynamic H/W) before anything is written.

The efficient PAM is exported as the naive one (same result, tested): its block loop is sized from the
trace's N as a Python int, so a graph traced at one size would be wrong at another. ONNX Runtime then
holds the N x N attention (N = H/8 * W/8): 0.27 GB at 512x1024, 4.3 GB at 1024x2048 per image.

onnx and onnxruntime are an optional extra (``pip install -e ".[onnx]"``), imported only here.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from danet_core.files import atomic_write_bytes
from danet_core.models import Segmenter

OPSET = 17
# max |onnx - torch| <= REL_TOL * max(1, max |torch logit|): fp32 kernels differ in summation order;
# measured 3.5e-5 at a logit scale of 15 (DANet-R50, 128x256), i.e. 2.3e-6 relative.
REL_TOL = 1e-4
CHECK_SIZES = ((64, 96), (80, 56))


class OnnxExportError(ValueError):
    """The optional dependencies are missing, or the exported graph does not match PyTorch."""


@dataclass(frozen=True)
class ExportCheck:
    size: tuple[int, int]
    max_abs_diff: float
    logit_scale: float
    tolerance: float


class _FusedLogits(nn.Module):
    def __init__(self, model: Segmenter) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)["out"]


def _require_onnx() -> tuple[Any, Any]:
    try:
        import onnx
        import onnxruntime
    except ImportError as exc:
        raise OnnxExportError(
            f"ONNX export needs the optional packages onnx and onnxruntime ({exc}); "
            'install them with: pip install -e ".[onnx]"'
        ) from exc
    return onnx, onnxruntime


def export_copy(model: Segmenter) -> nn.Module:
    """An eval-mode CPU copy of ``model`` returning the fused logits, with the naive PAM (see module doc)."""
    net = copy.deepcopy(model).cpu().eval()
    net.set_pam_impl("naive")
    return _FusedLogits(net).eval()


def metadata(model: Segmenter) -> dict[str, str]:
    """The ``metadata_props`` of the exported file (all values are JSON text)."""
    meta = getattr(model, "meta", None)
    classes = meta.classes if meta is not None else []
    out = {
        "producer": "danet-annotator",
        "input": "RGB float32 B x 3 x H x W: (pixel / 255 - mean) / std",
        "output": "logits B x K x H x W (fused DANet output at the input size)",
        "mean": json.dumps(list(meta.mean) if meta is not None else [0.485, 0.456, 0.406]),
        "std": json.dumps(list(meta.std) if meta is not None else [0.229, 0.224, 0.225]),
        "class_names": json.dumps([c["name"] for c in classes]),
        "class_colors": json.dumps([list(c["color"]) for c in classes]),
        "train_ids": json.dumps([c["train_id"] for c in classes]),
        "model_config": json.dumps(model.config.to_dict()),
    }
    return out


def _trace(net: nn.Module, opset: int) -> bytes:
    dynamic = {0: "batch", 2: "height", 3: "width"}
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        traced = Path(tmp) / "model.onnx"
        torch.onnx.export(
            net,
            (torch.zeros(1, 3, *CHECK_SIZES[0]),),
            traced,
            dynamo=False,
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": dynamic, "logits": dynamic},
            opset_version=opset,
        )
        data = traced.read_bytes()
    if net.training:  # the exporter restores modes; our copy must still be in eval mode
        raise OnnxExportError("the model left the export in training mode; refusing to compare")
    return data


def check_against_torch(
    net: nn.Module, onnx_bytes: bytes, sizes: tuple[tuple[int, int], ...] = CHECK_SIZES, seed: int = 0
) -> list[ExportCheck]:
    """Run ``onnx_bytes`` in ONNX Runtime (CPU) and ``net`` in PyTorch on the same random inputs."""
    _, ort = _require_onnx()
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    gen = torch.Generator().manual_seed(seed)
    checks = []
    for h, w in sizes:
        x = torch.randn(1, 3, h, w, generator=gen)
        with torch.no_grad():
            ref = net(x).numpy()
        got = session.run(None, {"input": x.numpy()})[0]
        if got.shape != ref.shape:
            raise OnnxExportError(f"ONNX output shape {got.shape} at {h}x{w}; PyTorch gives {ref.shape}")
        scale = float(np.abs(ref).max())
        checks.append(ExportCheck((h, w), float(np.abs(got - ref).max()), scale, REL_TOL * max(1.0, scale)))
    return checks


def export_onnx(model: Segmenter, out: str | os.PathLike[str], *, opset: int = OPSET) -> list[ExportCheck]:
    """Export ``model`` (from ``load_model``) to ``out`` atomically, after checking it in ONNX Runtime.

    Raises :class:`OnnxExportError` (nothing written) when onnx/onnxruntime are missing or the outputs
    differ from PyTorch by more than the tolerance; returns the checks otherwise.
    """
    onnx, _ = _require_onnx()
    net = export_copy(model)
    graph = onnx.load_from_string(_trace(net, opset))
    for key, value in metadata(model).items():
        graph.metadata_props.add(key=key, value=value)
    data = graph.SerializeToString()
    checks = check_against_torch(net, data)
    bad = [c for c in checks if not c.max_abs_diff <= c.tolerance]
    if bad:
        worst = bad[0]
        raise OnnxExportError(
            f"exported graph differs from PyTorch at {worst.size[0]}x{worst.size[1]}: max abs diff "
            f"{worst.max_abs_diff:.3g} > tolerance {worst.tolerance:.3g} "
            f"(logit scale {worst.logit_scale:.3g})"
        )
    atomic_write_bytes(out, data)
    return checks
