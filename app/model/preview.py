"""The quick preview of a pre-segmentation: at which scale, whether at all, and how the full result
joins the user's edits. Qt-free and torch-free (the FLOP count is passed in), unit-tested in
``tests/app/model/test_preview.py``.

Why a preview: a full-resolution forward of DANet-R50 on a 1024 x 2048 frame is ~4.4 TFLOP, about a
minute on a 2-core CPU. The user should see (and start correcting) a pre-segmentation within seconds, so
the image the user opens is first predicted at a reduced input scale, then at full resolution.

Decisions:

- **The scale comes from a FLOP budget**, not from a fixed factor: :data:`PREVIEW_GFLOP_BUDGET` (120
  GFLOP) is what a 2-core CPU computes in ~2-2.5 s (55-65 GFLOP/s fp32 at best, real forwards reach
  70-85 % of it), which leaves room within the 3 s target for decoding, the bilinear upsampling of the
  logits to the image size and the confidence/entropy maps. FLOPs are counted for the model that runs
  (``danet_core.models.flops``: depth, head, input size), so a DANet-R18 previews at a larger scale than
  a R50 and a small image at a larger scale than a big one.
- **Scales are 1/n of the image** (n = 2..16), the largest that fits the budget, so the canvas can say
  "1/6 scale". A convolution's cost grows with the square of the scale and PAM's with its fourth power,
  so ``(1/n)^2 x full`` bounds the cost from above: the search starts at the smallest n that bound
  admits and tries larger scales while the exact count fits (2-3 counts, cached per image size).
- **No preview when the full forward is already cheap** (at most :data:`SKIP_FACTOR` = 2 x the budget:
  the preview would save at most a few seconds and then cost a second forward), or on a GPU (a full
  forward takes well under the target there; the budget is a CPU figure).
- **A model trained at a reduced scale** (``input_scale`` < 1, the CPU fine-tune recipe) already predicts
  at that scale; its full result is costed at that scale and the preview's 1/n is always below it.
- **A preview is never stored** as the model's prediction of the image (the catalog and the
  prediction cache hold only full results); only the image the user opened gets one, never the
  prefetched images or a "Pre-segment all" batch, since nobody looks at those while they run.
- **Merging the full result** (:func:`merge_full_result`): pixels whose label differs from the preview
  the user started from are the user's edits and keep their label; every other pixel takes the full
  result. "Touched" is read from the mask, not tracked: an undone stroke is no edit, and a stroke that
  painted the preview's own class changed nothing. The merge is one undo step; "Accept prediction"
  (Shift+A) afterwards replaces the user's edits with the full result too (also undoable).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from app.model.edit_ops import MaskEdit, crop_to_change

# GFLOP of one preview forward (conv + matmul, 2 per multiply-add); see the module docstring.
PREVIEW_GFLOP_BUDGET = 120.0
# No preview when the full forward costs at most this many preview budgets.
SKIP_FACTOR = 2.0
DENOMINATORS = tuple(range(2, 17))  # preview scales 1/2 .. 1/16 of the image
MIN_SIDE = 32  # a preview input side below this (4 feature cells at stride 8) says nothing useful

# (height, width) of the model's input -> GFLOP of one forward at that size
GflopFn = Callable[[int, int], float]


@dataclass(frozen=True)
class PreviewPlan:
    """A preview at ``1/denominator`` of the image (``scale``), and what it and the full result cost."""

    denominator: int
    gflop: float
    full_gflop: float

    @property
    def scale(self) -> float:
        return 1.0 / self.denominator

    @property
    def label(self) -> str:
        return f"1/{self.denominator} scale"

    def full_seconds(self, preview_seconds: float) -> float:
        """How long the full result should take, from how long the preview took (FLOPs scale it)."""
        return preview_seconds * self.full_gflop / max(self.gflop, 1e-9)


def _size(height: int, width: int, scale: float) -> tuple[int, int]:
    return max(1, round(height * scale)), max(1, round(width * scale))


def plan_preview(
    height: int,
    width: int,
    gflop_at: GflopFn,
    *,
    input_scale: float = 1.0,
    on_gpu: bool = False,
    budget: float | None = None,
) -> PreviewPlan | None:
    """The preview for a ``height x width`` image, or None when the image is predicted once.

    ``gflop_at(h, w)`` counts one forward of the model at an input of that size; ``input_scale`` is the
    scale the model predicts at (1 for full resolution). ``budget`` defaults to the module's
    :data:`PREVIEW_GFLOP_BUDGET` read at call time (tests and the benchmark lower it)."""
    budget = PREVIEW_GFLOP_BUDGET if budget is None else float(budget)
    if on_gpu or budget <= 0:
        return None
    full = gflop_at(*_size(height, width, input_scale))
    if full <= SKIP_FACTOR * budget:
        return None
    fits = [
        n for n in DENOMINATORS if 1.0 / n < input_scale and min(_size(height, width, 1.0 / n)) >= MIN_SIDE
    ]
    if not fits:
        return None
    # (1/n / input_scale)^2 * full bounds the cost at 1/n from above: start at the first n it admits
    bound = math.sqrt(budget / full) * input_scale
    i = next((k for k, n in enumerate(fits) if 1.0 / n <= bound), len(fits) - 1)
    cost = gflop_at(*_size(height, width, 1.0 / fits[i]))
    while cost > budget:  # rounding (or an odd model) put it over: smaller scales
        if i == len(fits) - 1:
            return None  # even the smallest preview is over the budget (a huge image): predict once
        i += 1
        cost = gflop_at(*_size(height, width, 1.0 / fits[i]))
    best = PreviewPlan(fits[i], cost, full)
    while i > 0:  # larger scales while the exact count fits
        cost = gflop_at(*_size(height, width, 1.0 / fits[i - 1]))
        if cost > budget:
            break
        i -= 1
        best = PreviewPlan(fits[i], cost, full)
    return best


def merge_full_result(mask: np.ndarray, preview: np.ndarray, full: np.ndarray) -> MaskEdit | None:
    """The edit that brings the full result into ``mask`` without losing the user's edits.

    ``preview`` is the mask the document started from (the preview's labels), ``full`` the full result
    (both label-set indices, the mask's shape). Pixels where ``mask`` differs from ``preview`` keep their
    value; all others take ``full``. None when nothing changes."""
    if not (mask.shape == preview.shape == full.shape):
        raise ValueError(f"shapes differ: mask {mask.shape}, preview {preview.shape}, full {full.shape}")
    merged = np.where(mask != preview, mask, full).astype(np.uint8, copy=False)
    return crop_to_change(0, 0, mask, merged)


def edited_pixels(mask: np.ndarray, preview: np.ndarray) -> int:
    """How many pixels the user changed since the preview (what a merge keeps)."""
    return int(np.count_nonzero(mask != preview))
