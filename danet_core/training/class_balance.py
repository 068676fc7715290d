"""Class weights for the loss from the corrected masks: rare classes count more.

Why: with a handful of images from random initialisation the loss is dominated by road, sky and
buildings, and thin or rare classes (pole, sign, pedestrian, bicyclist) are the ones the annotator keeps
correcting. Weighting each class by an inverse power of its pixel frequency (inverse square root by
default: milder than inverse frequency, which over-weights classes seen in a few pixels) gives them a
larger share of the gradient. The weights are normalised to mean 1 over the classes present, so the
loss keeps its scale, and clipped so a class seen in a dozen pixels cannot dominate.

Torch-free (numpy only). ``TrainConfig.class_weight_power`` (the plan's, so the app's Fine-tune and
``danet bench assist`` alike) makes the training engine compute them from the training split's masks
when a run starts (:func:`training_class_weights`); ``TrainConfig.class_weights`` gives them explicitly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_POWER = 0.5
DEFAULT_CLIP = (0.2, 5.0)


def class_pixel_counts(masks: Iterable[np.ndarray], num_classes: int, ignore_index: int = 255) -> np.ndarray:
    """Labelled pixels per class over ``masks`` (uint8 class-id arrays); ``ignore_index`` is skipped.

    Ids that are neither a class nor ``ignore_index`` are an error: they would silently shift weights.
    """
    counts = np.zeros(num_classes, dtype=np.int64)
    for mask in masks:
        values = np.asarray(mask).ravel()
        values = values[values != ignore_index]
        if values.size and int(values.max()) >= num_classes:
            raise ValueError(f"mask has class id {int(values.max())}; expected 0..{num_classes - 1}")
        counts += np.bincount(values, minlength=num_classes)[:num_classes]
    return counts


def balanced_weights(
    counts: np.ndarray | Iterable[int],
    *,
    power: float = DEFAULT_POWER,
    clip: tuple[float, float] = DEFAULT_CLIP,
) -> list[float]:
    """Per-class weights ``frequency ** -power``, normalised to mean 1 over the present classes, clipped.

    Classes with no pixel get 1.0 (no target pixel carries the weight, so its value does not matter);
    no labelled pixel at all gives all ones. ``power`` 0 = unweighted, 1 = inverse frequency.
    """
    lo, hi = clip
    if not 0 < lo <= 1 <= hi:
        raise ValueError(f"clip={clip}; expected 0 < low <= 1 <= high")
    if power < 0:
        raise ValueError(f"power={power}; expected >= 0")
    c = np.asarray(list(counts) if not isinstance(counts, np.ndarray) else counts, dtype=np.float64)
    weights = np.ones_like(c)
    present = c > 0
    if not present.any():
        return weights.tolist()
    raw = (c[present] / c[present].sum()) ** -power
    weights[present] = np.clip(raw / raw.mean(), lo, hi)
    log.debug("class weights %s from pixel counts %s", np.round(weights, 3).tolist(), c.astype(int).tolist())
    return [float(w) for w in weights]


class MaskSource(Protocol):
    """What :func:`training_class_weights` reads of a ``SegDataset`` (kept torch-free here)."""

    @property
    def items(self) -> Sequence[Any]: ...

    @property
    def lut(self) -> np.ndarray: ...

    def read_mask(self, item: Any) -> np.ndarray: ...


def training_class_weights(dataset: MaskSource, num_classes: int, power: float) -> list[float]:
    """Weights from every mask of a training ``SegDataset`` (stored values mapped to train ids by its
    ``lut``, void = 255), read once when the run starts (masks only, no images)."""
    items = dataset.items
    counts = class_pixel_counts((dataset.lut[dataset.read_mask(item)] for item in items), num_classes)
    weights = balanced_weights(counts, power=power)
    log.info(
        "class weights (power %g) from %d training masks: %s",
        power,
        len(items),
        np.round(weights, 2).tolist(),
    )
    return weights
