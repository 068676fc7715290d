"""Review queue: which image to open next, and how much correcting the user has done (Qt-free).

Why uncertainty first: the fine-tune loop learns most from the images the model is least sure about
(classic uncertainty sampling in active learning), and those are also the images whose pre-segmentation
needs the most correcting, so labeling them early makes the next model better sooner. Sorting by name
stays available because annotators often work through a sequence in order (video frames).

Decisions where the issue is silent:
- The uncertainty of an image is the mean normalised entropy of the per-pixel softmax (0 = certain,
  1 = uniform over the classes); the alternative "margin" score is the share of pixels whose top-1/top-2
  probability margin is below 0.1. The score is computed once per prediction and stored with it by the
  project store (``save_prediction(..., uncertainty=...)``), so ordering never decodes an image.
- The queue holds every image that is not reviewed; images without a prediction yet (uncertainty None)
  come after all scored ones, by name, so "next" never jumps to an image nobody has looked at while
  informative ones wait. Ties are broken by name so the order is deterministic.
- "Next" (:meth:`app.model.image_queue.ImageQueue.next_to_review`): in uncertainty order the most
  uncertain queued image other than the current one (the queue re-sorts as predictions change); in name
  order the first queued image after the current one by name, wrapping around to the start.
- Effort: pixels changed from the prediction and seconds spent, as the project store records them on
  save. The project figure is the share of pixels changed over reviewed images that have both figures
  (manual labeling from scratch = 100%), plus totals, and the same share per model version so the user
  sees whether fine-tuning is paying off.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

ORDERS = ("uncertainty", "name")
UNCERTAINTY_METHODS = ("entropy", "margin")
LOW_MARGIN = 0.1
REVIEWED = "reviewed"


class ImageRecordLike(Protocol):
    """The fields of ``danet_core.project.ImageRecord`` this module reads."""

    id: int
    rel_path: str
    status: str
    width: int
    height: int
    model_version: object
    pixels_changed: int | None
    seconds_spent: float | None
    uncertainty: float | None


def uncertainty_score(
    entropy: np.ndarray | None = None,
    margin: np.ndarray | None = None,
    *,
    method: str = "entropy",
    low_margin: float = LOW_MARGIN,
) -> float:
    """One scalar per image from a prediction's per-pixel maps (both float32 H x W).

    ``entropy`` is the normalised entropy in 0..1 (``Prediction.entropy``); ``margin`` the top-1 minus
    top-2 probability (``Prediction.margin``). Returns a value in 0..1, higher = less certain.
    """
    if method not in UNCERTAINTY_METHODS:
        raise ValueError(f"uncertainty method {method!r}; expected one of {', '.join(UNCERTAINTY_METHODS)}")
    values = entropy if method == "entropy" else margin
    if values is None:
        raise ValueError(f"uncertainty method {method!r} needs the {method} map of the prediction")
    arr = np.asarray(values, dtype=np.float32)
    if arr.size == 0:
        raise ValueError("cannot score an empty prediction map")
    finite = arr[np.isfinite(arr)]
    if finite.size == 0:
        raise ValueError(f"the {method} map has no finite values")
    if method == "entropy":
        return float(np.clip(finite.mean(dtype=np.float64), 0.0, 1.0))
    return float((finite < low_margin).mean(dtype=np.float64))


def record_status(record: ImageRecordLike) -> str:
    # ImageStatus is a str enum; str() of it may include the class name, .value never does
    return str(getattr(record.status, "value", record.status))


def sort_key(record: ImageRecordLike, order: str = "uncertainty") -> tuple:
    """Sort key of one record for a list showing *all* images in review order.

    "uncertainty": unreviewed scored images, most uncertain first; then unreviewed unscored ones; then
    reviewed ones; by name within each group. "name": by relative path.
    """
    if order == "name":
        return (0, 0.0, record.rel_path)
    if order != "uncertainty":
        raise ValueError(f"queue order {order!r}; expected one of {', '.join(ORDERS)}")
    if record_status(record) == REVIEWED:
        return (2, 0.0, record.rel_path)
    u = record.uncertainty
    if u is None or not np.isfinite(u):
        return (1, 0.0, record.rel_path)
    return (0, -float(u), record.rel_path)


@dataclass(frozen=True)
class ImageEffort:
    """Correction effort on one image: pixels changed from the prediction and seconds spent."""

    image_id: int
    pixels_changed: int | None
    seconds_spent: float | None
    pixels: int

    @property
    def share_changed(self) -> float | None:
        if self.pixels_changed is None or self.pixels <= 0:
            return None
        return self.pixels_changed / self.pixels


def image_effort(record: ImageRecordLike) -> ImageEffort:
    return ImageEffort(
        image_id=record.id,
        pixels_changed=record.pixels_changed,
        seconds_spent=record.seconds_spent,
        pixels=int(record.width or 0) * int(record.height or 0),
    )


@dataclass(frozen=True)
class ProjectEffort:
    """Effort over the reviewed images of a project (shares in 0..1; None when nothing is measured)."""

    images: int
    reviewed: int
    measured: int  # reviewed images with pixels_changed recorded
    pixels_changed: int
    pixels: int
    seconds_spent: float
    share_changed: float | None
    seconds_per_image: float | None
    share_by_model_version: dict[str, float] = field(default_factory=dict)


def project_effort(records: Iterable[ImageRecordLike]) -> ProjectEffort:
    """Totals over reviewed images; per model version the share of pixels changed (the loop's payoff)."""
    records = list(records)
    reviewed = [r for r in records if record_status(r) == REVIEWED]
    changed = total = 0
    by_version: dict[str, list[int]] = {}
    measured = 0
    for r in reviewed:
        e = image_effort(r)
        if e.pixels_changed is None or e.pixels <= 0:
            continue
        measured += 1
        changed += e.pixels_changed
        total += e.pixels
        acc = by_version.setdefault("none" if r.model_version is None else str(r.model_version), [0, 0])
        acc[0] += e.pixels_changed
        acc[1] += e.pixels
    timed = [float(r.seconds_spent) for r in reviewed if r.seconds_spent is not None]
    seconds = float(sum(timed))
    return ProjectEffort(
        images=len(records),
        reviewed=len(reviewed),
        measured=measured,
        pixels_changed=changed,
        pixels=total,
        seconds_spent=seconds,
        share_changed=(changed / total) if total else None,
        seconds_per_image=(seconds / len(timed)) if timed else None,
        share_by_model_version={k: v[0] / v[1] for k, v in by_version.items() if v[1]},
    )


def format_effort(effort: ProjectEffort) -> str:
    """One status-bar line, e.g. "12/40 reviewed · 18.5% of pixels corrected · 42 s per image"."""
    parts = [f"{effort.reviewed}/{effort.images} reviewed"]
    if effort.share_changed is not None:
        parts.append(f"{100 * effort.share_changed:.1f}% of pixels corrected")
    if effort.seconds_per_image is not None:
        parts.append(f"{effort.seconds_per_image:.0f} s per image")
    return " · ".join(parts)


# A prediction accepted with less than this share of its pixels changed, from a model whose held-out
# mIoU is unknown or below WEAK_MODEL_MIOU, is asked about before it becomes "reviewed": one key
# (Ctrl+Enter) must not turn a weak model's output into training data unseen.
BARELY_CHANGED = 0.01
WEAK_MODEL_MIOU = 0.35


def weak_acceptance_question(
    pixels_changed: int | None, pixels: int, model_version: int | None, model_miou: float | None
) -> str:
    """The question to ask before marking such an image reviewed ("" when there is nothing to ask)."""
    if pixels_changed is None or pixels <= 0 or model_version is None:
        return ""
    share = pixels_changed / pixels
    if share >= BARELY_CHANGED or (model_miou is not None and model_miou >= WEAK_MODEL_MIOU):
        return ""
    quality = "an unmeasured" if model_miou is None else f"a weak (held-out mIoU {100 * model_miou:.0f}%)"
    return (
        f"You changed {100 * share:.1f}% of the pixels predicted by model v{model_version}, {quality} "
        "model. Reviewed images train the next model: mark this one reviewed as it is?"
    )
