"""Joint image/mask augmentation with torchvision.transforms.v2 (train and eval presets).

Why v2 + ``tv_tensors.Mask``: geometric transforms are applied to the image and the mask with the same
parameters, and masks are automatically resized with nearest-neighbour interpolation and padded with the
fill value given for Mask (255 = ignore), so labels never get interpolated or shifted.

Presets (the shape of torchvision's segmentation references and mmsegmentation's pipelines):

* train: fixed ``base_scale`` resize -> random scale in ``scale_range`` -> random crop ``crop_size`` (images
  smaller than the crop are padded: image with 0, mask with 255 so the padding is ignored by the loss) ->
  horizontal flip -> photometric jitter -> float, normalised.
* eval: fixed ``base_scale`` resize only -> float, normalised (the metric is computed on the
  original-resolution mask by the evaluator).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

IGNORE_INDEX = 255


class RandomScale(v2.Transform):
    """Resize image and mask by one factor drawn uniformly from ``[lo, hi]`` (aspect ratio kept)."""

    def __init__(self, lo: float, hi: float) -> None:
        super().__init__()
        self.lo, self.hi = float(lo), float(hi)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        h, w = v2.query_size(flat_inputs)
        s = self.lo + float(torch.rand(())) * (self.hi - self.lo)
        return {"size": [max(1, round(h * s)), max(1, round(w * s))]}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        # Masks are resized with NEAREST by v2 whatever interpolation is requested here.
        return self._call_kernel(F.resize, inpt, size=params["size"], antialias=True)


class FixedScale(v2.Transform):
    """Resize by a constant factor (``base_scale``, e.g. 0.5 for half resolution); identity at 1.0."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = float(scale)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        h, w = v2.query_size(flat_inputs)
        return {"size": [max(1, round(h * self.scale)), max(1, round(w * self.scale))]}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if self.scale == 1.0:
            return inpt
        return self._call_kernel(F.resize, inpt, size=params["size"], antialias=True)


class MaskToLong(v2.Transform):
    """Mask uint8 1 x H x W -> int64 H x W (what cross-entropy wants); images pass through."""

    _transformed_types = (tv_tensors.Mask,)

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        return tv_tensors.wrap(inpt.squeeze(0).to(torch.int64), like=inpt)


def _normalise(mean: tuple[float, ...], std: tuple[float, ...]) -> list[v2.Transform]:
    return [v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean=list(mean), std=list(std)), MaskToLong()]


def train_transform(
    *,
    crop_size: tuple[int, int],
    scale_range: tuple[float, float] = (0.5, 2.0),
    base_scale: float = 1.0,
    hflip: bool = True,
    color_jitter: float = 0.25,
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406),
    std: tuple[float, float, float] = (0.229, 0.224, 0.225),
) -> v2.Compose:
    """The train preset; call it as ``t(image_tv, mask_tv)``, see :func:`to_tv`."""
    steps: list[v2.Transform] = [FixedScale(base_scale), RandomScale(*scale_range)]
    steps.append(
        v2.RandomCrop(
            list(crop_size), pad_if_needed=True, fill={tv_tensors.Image: 0, tv_tensors.Mask: IGNORE_INDEX}
        )
    )
    if hflip:
        steps.append(v2.RandomHorizontalFlip(0.5))
    if color_jitter > 0:
        j = float(color_jitter)
        steps.append(v2.ColorJitter(brightness=j, contrast=j, saturation=j, hue=min(0.5, j / 5)))
    return v2.Compose(steps + _normalise(mean, std))


def eval_transform(
    *,
    base_scale: float = 1.0,
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406),
    std: tuple[float, float, float] = (0.229, 0.224, 0.225),
) -> v2.Compose:
    """The eval preset: deterministic resize by ``base_scale`` and normalisation."""
    return v2.Compose([FixedScale(base_scale), *_normalise(mean, std)])


def to_tv(image: np.ndarray, mask: np.ndarray) -> tuple[tv_tensors.Image, tv_tensors.Mask]:
    """uint8 H x W x 3 image and uint8 H x W mask -> tv_tensors (3 x H x W, 1 x H x W)."""
    img = tv_tensors.Image(torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1))
    msk = tv_tensors.Mask(torch.from_numpy(np.ascontiguousarray(mask))[None])
    return img, msk
