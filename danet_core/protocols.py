"""Inference protocols of the reference code bases, so that their evaluations can be reproduced.

``official`` is the official DANet code's ``MultiEvalModule.forward`` (encoding/models/sseg/base.py):
for each scale the long side becomes ``ceil(base_size * scale)`` and the short one
``int(short * long / long_side + 0.5)``; the normalised float image is resized bilinearly with
``align_corners=True``; an image (or window) smaller than the crop is padded with black (``-mean/std``);
windows start every ``stride = int(crop * 2/3)`` and do not end flush (the last one is padded); a pass
is ``exp(logits + flip(logits(flip(x))))`` with flip; window sums are divided by their counts, resized
back with ``align_corners=True`` and summed over scales. The argmax of that sum is their prediction.

``mmseg`` is mmsegmentation 1.x: the uint8 image is resized with OpenCV's bilinear filter to mmcv's
sizes (``rescale_size``: ``int(x * factor + 0.5)``, with ``Resize(scale=resize_to, keep_ratio=True)``
for one scale and ``Resize(scale_factor=r, keep_ratio=True)`` per TTA ratio), normalised, run whole or
in mmseg's flush window grid, flipped back, resized to the original size with the model's
``align_corners``; views (ratios x flips) are fused by averaging their softmax (``SegTTAModel``).

Both take a ``logits`` callable (normalised 1 x 3 x h x w -> float32 1 x K x h x w) and call ``step()``
after every forward, so the Predictor keeps its progress and cancel.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F

LogitsFn = Callable[[torch.Tensor], torch.Tensor]
Window = tuple[int, int, int, int]


# -- official --------------------------------------------------------------------------------------
def official_size(h: int, w: int, scale: float, base_size: int) -> tuple[int, int]:
    long_size = int(math.ceil(base_size * scale))
    if h > w:
        return long_size, int(1.0 * w * long_size / h + 0.5)
    return int(1.0 * h * long_size / w + 0.5), long_size


def official_windows(height: int, width: int, crop: int, stride: int) -> list[Window] | None:
    """None when the scaled image fits one padded crop; else the official grid (not flush)."""
    if max(height, width) <= crop:
        return None
    ph, pw = max(height, crop), max(width, crop)
    rows = int(math.ceil(1.0 * (ph - crop) / stride)) + 1
    cols = int(math.ceil(1.0 * (pw - crop) / stride)) + 1
    return [
        (r * stride, min(r * stride + crop, ph), c * stride, min(c * stride + crop, pw))
        for r in range(rows)
        for c in range(cols)
    ]


def official_forwards(
    h: int, w: int, crop: int, stride: int, scales: Sequence[float], base_size: int, flip: bool
) -> int:
    n = 0
    for s in scales:
        windows = official_windows(*official_size(h, w, s, base_size), crop, stride)
        n += len(windows) if windows else 1
    return n * (2 if flip else 1)


def _pad(x: torch.Tensor, crop: int, pad_values: torch.Tensor) -> torch.Tensor:
    _, _, h, w = x.shape
    ph, pw = max(crop - h, 0), max(crop - w, 0)
    if not ph and not pw:
        return x
    out = pad_values.view(1, 3, 1, 1).expand(x.shape[0], 3, h + ph, w + pw).clone()
    out[:, :, :h, :w] = x
    return out


def _official_pass(logits: LogitsFn, x: torch.Tensor, flip: bool, step: Callable[[], None]) -> torch.Tensor:
    out = logits(x)
    step()
    if flip:
        out = out + logits(x.flip(-1)).flip(-1)
        step()
    return out.exp()


def official_scores(
    x: torch.Tensor,
    logits: LogitsFn,
    *,
    crop: int,
    stride: int,
    scales: Sequence[float],
    base_size: int,
    flip: bool,
    pad_values: torch.Tensor,
    step: Callable[[], None],
) -> torch.Tensor:
    """The official sum of exp-scores K x H x W for a normalised 1 x 3 x H x W image."""
    _, _, h, w = x.shape
    scores: torch.Tensor | None = None
    for scale in scales:
        height, width = official_size(h, w, scale, base_size)
        cur = F.interpolate(x, (height, width), mode="bilinear", align_corners=True)
        windows = official_windows(height, width, crop, stride)
        if windows is None:
            outputs = _official_pass(logits, _pad(cur, crop, pad_values), flip, step)[:, :, :height, :width]
        else:
            img = _pad(cur, crop, pad_values)
            acc, count = None, torch.zeros(1, 1, *img.shape[-2:], device=x.device)
            for h0, h1, w0, w1 in windows:
                out = _official_pass(logits, _pad(img[:, :, h0:h1, w0:w1], crop, pad_values), flip, step)
                if acc is None:
                    acc = torch.zeros(1, out.shape[1], *img.shape[-2:], device=x.device)
                acc[:, :, h0:h1, w0:w1] += out[:, :, : h1 - h0, : w1 - w0]
                count[:, :, h0:h1, w0:w1] += 1
            assert acc is not None  # at least one window
            outputs = (acc / count)[:, :, :height, :width]
        score = F.interpolate(outputs, (h, w), mode="bilinear", align_corners=True)
        scores = score if scores is None else scores + score
    assert scores is not None  # PredictOptions: scales is not empty
    return scores[0]


# -- mmseg -----------------------------------------------------------------------------------------
def mmcv_scale_size(w: int, h: int, factor: float) -> tuple[int, int]:
    """mmcv ``_scale_size``: (w, h) * factor rounded half up (``int(x + 0.5)``), not Python's round()."""
    return int(w * float(factor) + 0.5), int(h * float(factor) + 0.5)


def mmcv_rescale_size(w: int, h: int, scale: tuple[int, int]) -> tuple[int, int]:
    """mmcv ``rescale_size`` with a (long, short) scale and keep_ratio: the (w, h) that fits it."""
    factor = min(max(scale) / max(h, w), min(scale) / min(h, w))
    return mmcv_scale_size(w, h, factor)


def mmseg_sizes(
    h: int, w: int, ratios: Sequence[float] | None, resize_to: tuple[int, int] | None
) -> list[tuple[int, int]]:
    """(h, w) of each view: Resize(scale=resize_to) without ratios, else Resize(scale_factor=r) each."""
    if ratios is None:
        if resize_to is None:
            return [(h, w)]
        nw, nh = mmcv_rescale_size(w, h, resize_to)
        return [(nh, nw)]
    sizes = []
    for r in ratios:
        nw, nh = mmcv_rescale_size(w, h, mmcv_scale_size(w, h, r))
        sizes.append((nh, nw))
    return sizes


def resize_uint8(rgb: np.ndarray, h: int, w: int) -> np.ndarray:
    """mmcv ``imresize(..., interpolation='bilinear')``: OpenCV INTER_LINEAR on the uint8 image."""
    if rgb.shape[:2] == (h, w):
        return rgb
    return cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LINEAR)


def mmseg_logits(
    x: torch.Tensor,
    logits: LogitsFn,
    windows: list[Window] | None,
    step: Callable[[], None],
) -> torch.Tensor:
    """Whole-image logits, or mmseg's ``slide_inference`` (flush windows, summed / counted)."""
    if windows is None:
        out = logits(x)
        step()
        return out
    _, _, h, w = x.shape
    acc, count = None, torch.zeros(1, 1, h, w, device=x.device)
    for y1, y2, x1, x2 in windows:
        out = logits(x[:, :, y1:y2, x1:x2])
        step()
        if acc is None:
            acc = torch.zeros(1, out.shape[1], h, w, device=x.device)
        acc[:, :, y1:y2, x1:x2] += out
        count[:, :, y1:y2, x1:x2] += 1
    assert acc is not None
    return acc / count
