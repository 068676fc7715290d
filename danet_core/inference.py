"""Inference API: image (path or array) -> label map, confidence, entropy, margin at the original size.

Modes: ``"whole"`` (one forward of the full image), ``"slide"`` (crop x crop windows every stride, logits of
overlapping windows averaged, as mmsegmentation's slide inference; one window covering the image equals
``"whole"``), ``"multiscale"`` (the image resized by each scale, optionally flipped, each pass run whole or
sliding when ``crop`` is given and the scaled image exceeds it; softmax probabilities averaged at the
original size, as mmsegmentation's aug_test). Precision: fp32, or bf16/fp16 autocast (attention energies
and softmax stay fp32 inside the model; logits are upcast before the softmax here).

Normalisation comes from the checkpoint (``model.meta.mean/std`` on RGB in 0..1), ImageNet's otherwise.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from danet_core import protocols
from danet_core.cpu_memory import tune_allocator
from danet_core.images import load_image
from danet_core.jobs import ProgressFn, StopFn, check_stop
from danet_core.models.backbone import OUTPUT_STRIDE
from danet_core.options import PredictOptions
from danet_core.options import resolve_device as resolve_device_name

if TYPE_CHECKING:
    from danet_core.models import DANetHead, Segmenter

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Option names and defaults live in danet_core.options (torch-free, shared with the CLI, training, app);
# this is the one map from a precision name to its autocast dtype (training and benchmarks use it too).
AUTOCAST_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}

ImageLike = str | os.PathLike[str] | np.ndarray


@dataclass
class Prediction:
    """Per-pixel results at the image's original H x W.

    label: uint8 model class ids; confidence: float32 max softmax; entropy: float32 softmax entropy
    divided by log(K) (0 = certain, 1 = uniform); margin: float32 top-1 minus top-2 probability;
    probabilities: float32 K x H x W, only when ``predict(..., return_probabilities=True)``.
    """

    label: np.ndarray
    confidence: np.ndarray
    entropy: np.ndarray
    margin: np.ndarray
    probabilities: np.ndarray | None = None


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """:func:`danet_core.options.resolve_device` as a ``torch.device``."""
    return torch.device(resolve_device_name(device))


def cpu_has_native(precision: str) -> bool:
    """Whether this CPU computes ``precision`` natively (AVX512-BF16/AMX for bf16, AVX512-FP16/AMX for fp16).

    Without it PyTorch emulates the type and autocast is far slower than fp32 (measured ~100x slower for a
    bf16 matmul on the AVX2-only development machine), so the Predictor warns. Unknown platforms: True.
    """
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as fh:
            flags = fh.read()
    except OSError:
        return True
    wanted = {"bf16": ("avx512_bf16", "amx_bf16"), "fp16": ("avx512_fp16", "amx_fp16")}.get(precision, ())
    return not wanted or any(f in flags for f in wanted)


def as_rgb_array(image: ImageLike) -> np.ndarray:
    """uint8 H x W x 3 RGB from a path (EXIF, grayscale, RGBA, 16-bit handled) or an array."""
    if not isinstance(image, np.ndarray):
        return load_image(image)
    arr = image
    if arr.dtype == np.uint16:
        arr = (arr.astype(np.float32) / (65535.0 if arr.max(initial=0) > 255 else 255.0) * 255 + 0.5).astype(
            np.uint8
        )
    if arr.dtype != np.uint8:
        raise ValueError(f"image array of dtype {arr.dtype}; expected uint8 (or uint16) H x W [x 1/3/4]")
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4) or min(arr.shape[:2]) < 1:
        raise ValueError(f"image array of shape {arr.shape}; expected H x W, H x W x 3 or H x W x 4")
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif arr.shape[2] == 4:  # composite on black, as load_image does for RGBA files
        alpha = arr[..., 3:4].astype(np.float32) / 255.0
        arr = (arr[..., :3].astype(np.float32) * alpha + 0.5).astype(np.uint8)
    return np.ascontiguousarray(arr)


def slide_windows(
    h: int, w: int, crop: tuple[int, int], stride: tuple[int, int]
) -> list[tuple[int, int, int, int]]:
    """(y1, y2, x1, x2) windows covering an h x w image, mmsegmentation's grid (last window flush)."""
    rows = max(h - crop[0] + stride[0] - 1, 0) // stride[0] + 1
    cols = max(w - crop[1] + stride[1] - 1, 0) // stride[1] + 1
    out = []
    for r in range(rows):
        for c in range(cols):
            y2, x2 = min(r * stride[0] + crop[0], h), min(c * stride[1] + crop[1], w)
            out.append((max(y2 - crop[0], 0), y2, max(x2 - crop[1], 0), x2))
    return out


def summarise_probabilities(probs: torch.Tensor) -> tuple[np.ndarray, ...]:
    """label, confidence, normalised entropy, margin (numpy) from K x H x W probabilities."""
    k = probs.shape[0]
    top = probs.topk(min(2, k), dim=0)
    confidence = top.values[0]
    margin = top.values[0] - top.values[1] if k > 1 else torch.ones_like(confidence)
    ent = -(probs * probs.clamp_min(1e-12).log()).sum(0)
    ent = ent / math.log(k) if k > 1 else torch.zeros_like(ent)
    label = top.indices[0].to(torch.uint8)
    return tuple(t.cpu().numpy() for t in (label, confidence, ent.clamp(0, 1), margin))


def feature_cell(coord: int, cells: int, stride: int = OUTPUT_STRIDE) -> int:
    """The feature cell whose centre is nearest to pixel ``coord``: cell i is centred on pixel
    ``stride * i`` (stride-2 3x3 convs with padding 1 and the 3x3/2 max-pool keep centres aligned), so
    ``floor(coord / stride + 0.5)``, clamped to the map."""
    return min(int(math.floor(coord / stride + 0.5)), cells - 1)


def forward_logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The inference forward of every prediction and of ``danet bench model``: B x 3 x H x W -> B x K x H x W.

    Call under ``torch.inference_mode()`` (the folded copy has no gradients). The first call tunes the
    allocator for large tensors (:mod:`danet_core.cpu_memory`).
    """
    from danet_core.models import Segmenter
    from danet_core.models.fuse import cached_folded_copy

    tune_allocator()
    if isinstance(model, Segmenter):
        return cast(Segmenter, cached_folded_copy(model)).forward_out(x)
    return model(x)["out"]


class Predictor:
    """Runs a segmentation model on images; see the module docstring for modes and precision.

    ``crop``/``stride``: (h, w) window and step for "slide" (stride defaults to 2/3 of the crop) and the
    optional per-scale sliding in "multiscale". The model is switched to eval mode and moved to ``device``.
    """

    def __init__(self, model: nn.Module, options: PredictOptions | None = None, /, **changes: Any) -> None:
        """``options`` (default :class:`PredictOptions`) with ``changes`` applied, e.g.
        ``Predictor(model, device="cpu", mode="slide", crop=512)``; invalid values raise ValueError."""
        opts = (options or PredictOptions()).replace(**changes)
        self.options = opts
        self.crop, self.stride, self.scales = opts.crop, opts.stride, opts.scales
        self.device = resolve_device(opts.device)
        precision = opts.precision
        self.precision, self.mode, self.flip = precision, opts.mode, opts.flip
        if self.device.type == "cpu" and precision != "fp32" and not cpu_has_native(precision):
            log.warning(
                "%s requested but this CPU has no native %s support: expect it to be much slower "
                "than fp32 (use --precision fp32 here)",
                precision,
                precision,
            )
        self.model = model.to(self.device).eval()
        meta = getattr(model, "meta", None)
        mean, std = (meta.mean, meta.std) if meta is not None else (IMAGENET_MEAN, IMAGENET_STD)
        self._mean = torch.tensor(mean, dtype=torch.float32, device=self.device).view(3, 1, 1)
        self._std = torch.tensor(std, dtype=torch.float32, device=self.device).view(3, 1, 1)
        self._feature_cache: tuple[str, torch.Tensor, torch.Tensor] | None = None

    # -- preprocessing -------------------------------------------------------------------------------
    def to_tensor(self, rgb: np.ndarray) -> torch.Tensor:
        """uint8 H x W x 3 -> normalised float 1 x 3 x H x W on the device."""
        t = torch.from_numpy(rgb).to(self.device).permute(2, 0, 1).float().div_(255.0)
        return ((t - self._mean) / self._std).unsqueeze(0)

    def _autocast(self) -> torch.autocast:
        dtype = AUTOCAST_DTYPES[self.precision]
        return torch.autocast(
            device_type=self.device.type, dtype=dtype or torch.float32, enabled=dtype is not None
        )

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """One forward: normalised 1 x 3 x h x w -> float32 fused logits 1 x K x h x w.

        Our models run as their BN-folded inference copy (:mod:`danet_core.models.fuse`, shared by all
        predictors over one model and refreshed when its weights change) and return only the fused
        output (:meth:`Segmenter.forward_out`); other modules run as they are.
        """
        with torch.inference_mode(), self._autocast():
            return forward_logits(self.model, x).float()

    # -- passes ----------------------------------------------------------------------------------------
    def _plan(self, h: int, w: int) -> list[tuple[float, bool, int]]:
        """(scale, flipped, number of forwards) for every pass, to count progress up front."""
        scales = self.scales if self.mode == "multiscale" else (1.0,)
        flips = (False, True) if self.flip else (False,)
        plan = []
        for s in scales:
            sh, sw = max(1, round(h * s)), max(1, round(w * s))
            n = 1
            if self.mode == "slide" or (
                self.mode == "multiscale" and self.crop and (sh > self.crop[0] or sw > self.crop[1])
            ):
                # PredictOptions: "slide" requires a crop, and a crop always gets a stride
                assert self.crop is not None and self.stride is not None
                n = len(slide_windows(sh, sw, self.crop, self.stride))
            plan += [(s, f, n) for f in flips]
        return plan

    def _slide_logits(self, x: torch.Tensor, step: Callable[[], None]) -> torch.Tensor:
        _, _, h, w = x.shape
        total, count = None, torch.zeros(1, 1, h, w, device=x.device)
        # only reached for a plan that slides, so crop (and the stride derived from it) are set
        assert self.crop is not None and self.stride is not None
        for y1, y2, x1, x2 in slide_windows(h, w, self.crop, self.stride):
            out = self.logits(x[:, :, y1:y2, x1:x2])
            if total is None:
                total = torch.zeros(1, out.shape[1], h, w, device=x.device)
            total[:, :, y1:y2, x1:x2] += out
            count[:, :, y1:y2, x1:x2] += 1
            step()
        assert total is not None  # slide_windows always returns at least one window
        return total / count

    def _count_forwards(self, h: int, w: int) -> int:
        o = self.options
        if o.protocol == "official":
            crop = o.crop[0] if o.crop else max(h, w)
            stride = o.stride[0] if o.stride else crop
            return protocols.official_forwards(
                h, w, crop, stride, self._scales(), o.base_size or max(h, w), o.flip
            )
        if o.protocol == "mmseg":
            return sum(len(self._mmseg_windows(sh, sw) or [0]) for sh, sw in self._mmseg_sizes(h, w)) * (
                2 if o.flip else 1
            )
        return sum(n for *_, n in self._plan(h, w))

    def _scales(self) -> tuple[float, ...]:
        return self.scales if self.mode == "multiscale" else (1.0,)

    def probabilities(
        self, rgb: np.ndarray, *, progress: ProgressFn | None = None, should_stop: StopFn | None = None
    ) -> torch.Tensor:
        """Averaged softmax probabilities K x H x W (float32, on the device) for a uint8 RGB image.

        With the official protocol: its score sum normalised per pixel (same argmax as theirs)."""
        h, w = rgb.shape[:2]
        total_steps, done = self._count_forwards(h, w), 0

        def step() -> None:
            nonlocal done
            done += 1
            if progress is not None:
                progress(done, total_steps, f"forward {done}/{total_steps}")
            check_stop(should_stop)

        check_stop(should_stop)
        if self.options.protocol == "official":
            scores = self._official(rgb, step)
            return scores / scores.sum(0, keepdim=True)
        if self.options.protocol == "mmseg":
            return self._mmseg(rgb, step)
        plan = self._plan(h, w)
        x = self.to_tensor(rgb)
        acc = None
        for scale, flipped, n in plan:
            xs = (
                x
                if scale == 1.0
                else F.interpolate(
                    x,
                    scale_factor=None,
                    size=(max(1, round(h * scale)), max(1, round(w * scale))),
                    mode="bilinear",
                    align_corners=False,
                )
            )
            if flipped:
                xs = xs.flip(-1)
            if n > 1 or self.mode == "slide":
                out = self._slide_logits(xs, step)
            else:
                out = self.logits(xs)
                step()
            if flipped:
                out = out.flip(-1)
            if out.shape[-2:] != (h, w):
                out = F.interpolate(out, size=(h, w), mode="bilinear", align_corners=False)
            p = out.softmax(dim=1)[0]
            acc = p if acc is None else acc.add_(p)
        assert acc is not None  # the plan has at least one pass (PredictOptions: scales is not empty)
        return acc / len(plan)

    # -- reference protocols (danet_core.protocols) ------------------------------------------------------
    def _official(self, rgb: np.ndarray, step: Callable[[], None]) -> torch.Tensor:
        """The official MultiEvalModule's score sum K x H x W (exp space)."""
        h, w = rgb.shape[:2]
        crop = self.crop[0] if self.crop else max(h, w)
        return protocols.official_scores(
            self.to_tensor(rgb),
            self.logits,
            crop=crop,
            stride=self.stride[0] if self.stride else crop,
            scales=self._scales(),
            base_size=self.options.base_size or max(h, w),
            flip=self.flip,
            pad_values=(-self._mean / self._std).flatten(),
            step=step,
        )

    def _mmseg_sizes(self, h: int, w: int) -> list[tuple[int, int]]:
        ratios = self.scales if self.mode == "multiscale" else None
        return protocols.mmseg_sizes(h, w, ratios, self.options.resize_to)

    def _mmseg_windows(self, h: int, w: int) -> list[tuple[int, int, int, int]] | None:
        sliding = self.mode == "slide" or (self.mode == "multiscale" and self.crop is not None)
        if not sliding:
            return None
        assert self.crop is not None and self.stride is not None  # a sliding mode has both
        return slide_windows(h, w, self.crop, self.stride)

    def _mmseg(self, rgb: np.ndarray, step: Callable[[], None]) -> torch.Tensor:
        """mmseg 1.x: uint8 resize, whole/slide, flip back, resize with align_corners, mean of softmax."""
        h, w = rgb.shape[:2]
        align = bool(getattr(getattr(self.model, "config", None), "align_corners", False))
        acc, views = None, 0
        for sh, sw in self._mmseg_sizes(h, w):
            x = self.to_tensor(protocols.resize_uint8(rgb, sh, sw))
            for flipped in (False, True) if self.flip else (False,):
                xs = x.flip(-1) if flipped else x
                out = protocols.mmseg_logits(xs, self.logits, self._mmseg_windows(sh, sw), step)
                out = out.flip(-1) if flipped else out
                if out.shape[-2:] != (h, w):
                    out = F.interpolate(out, size=(h, w), mode="bilinear", align_corners=align)
                p = out.softmax(dim=1)[0]
                acc, views = (p if acc is None else acc.add_(p)), views + 1
        assert acc is not None
        return acc / views

    def predict(
        self,
        image: ImageLike,
        *,
        progress: ProgressFn | None = None,
        should_stop: StopFn | None = None,
        return_probabilities: bool = False,
    ) -> Prediction:
        """Predict one image (path or array); raises danet_core.jobs.Cancelled when asked to stop."""
        rgb = as_rgb_array(image)
        probs = self.probabilities(rgb, progress=progress, should_stop=should_stop)
        if probs.shape[0] > 255:
            raise ValueError(f"model has {probs.shape[0]} classes; uint8 label maps hold at most 255")
        label, confidence, entropy, margin = summarise_probabilities(probs)
        extra = probs.cpu().numpy() if return_probabilities else None
        return Prediction(
            label, confidence.astype(np.float32), entropy.astype(np.float32), margin.astype(np.float32), extra
        )

    # -- attention maps ----------------------------------------------------------------------------------
    def _danet_head(self) -> DANetHead:
        """The model's DANet head; ValueError when it has no PAM/CAM (an FCN, a foreign model)."""
        head = getattr(self.model, "head", None)
        if not (hasattr(head, "pam") and hasattr(head, "cam")):
            raise ValueError("attention maps need a DANet model; this model has no PAM/CAM head")
        # duck-typed just above (nn.Module attributes read as Tensor | Module): a DANetHead
        return cast("DANetHead", head)

    def _attention_inputs(self, image: ImageLike) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
        """Inputs of the PAM and CAM modules (1 x C x h/8 x w/8), cached for the last image."""
        head = self._danet_head()
        rgb = as_rgb_array(image)
        key = hashlib.blake2b(rgb.tobytes(), digest_size=16).hexdigest() + str(rgb.shape)
        if self._feature_cache is None or self._feature_cache[0] != key:
            with torch.inference_mode(), self._autocast():
                c4 = cast("Segmenter", self.model).backbone(self.to_tensor(rgb))[1]  # a DANet: see above
                self._feature_cache = (key, head.pam_in(c4).float(), head.cam_in(c4).float())
        return rgb, self._feature_cache[1], self._feature_cache[2]

    def pam_row(self, image: ImageLike, yx: tuple[int, int]) -> np.ndarray:
        """PAM attention of the query pixel (y, x) (image coordinates) over all positions: float32 h/8 x w/8.

        Computed from one query row (N energies), never the N x N matrix; sums to 1.
        """
        rgb, pam_in, _ = self._attention_inputs(image)
        h, w = rgb.shape[:2]
        y, x = int(yx[0]), int(yx[1])
        if not (0 <= y < h and 0 <= x < w):
            raise ValueError(f"query pixel (y={y}, x={x}) outside the {h} x {w} image")
        fh, fw = pam_in.shape[-2:]
        fy, fx = feature_cell(y, fh), feature_cell(x, fw)
        with torch.inference_mode():
            row = self._danet_head().pam.attention_row(pam_in, fy, fx)[0]
        return row.float().cpu().numpy()

    def cam_matrix(self, image: ImageLike) -> np.ndarray:
        """The CAM channel attention softmax(rowmax(XX^T) - XX^T): float32 C x C (rows sum to 1)."""
        from danet_core.models import cam_attention_matrix

        _, _, cam_in = self._attention_inputs(image)
        with torch.inference_mode():
            return cam_attention_matrix(cam_in)[0].cpu().numpy()
