"""Confusion-matrix segmentation metrics: mIoU, per-class IoU, pixel accuracy, with ignore.

Why a confusion matrix: it is additive, so it can be accumulated image by image and summed across
processes (``all_reduce``) before any ratio is taken; averaging per-image or per-process mIoUs would be
wrong. Conventions (those of mmsegmentation and the Cityscapes benchmark):

* pixels whose target is ``ignore_index`` (255) are not counted;
* a class with no ground-truth pixel and no predicted pixel has IoU ``NaN`` and is left out of the mean;
* rows are the ground truth, columns the prediction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class SegMetrics:
    """Metrics from a K x K confusion matrix (``iou`` and ``acc`` per class, NaN where undefined)."""

    miou: float
    pixel_acc: float
    mean_acc: float
    iou: np.ndarray  # float64 K
    acc: np.ndarray  # float64 K (recall per class)
    pixels: int

    def to_dict(self, class_names: list[str] | None = None) -> dict:
        names = class_names or [str(i) for i in range(len(self.iou))]
        return {
            "miou": _clean(self.miou),
            "pixel_acc": _clean(self.pixel_acc),
            "mean_acc": _clean(self.mean_acc),
            "per_class_iou": {n: _clean(v) for n, v in zip(names, self.iou, strict=True)},
            "pixels": int(self.pixels),
        }


def _clean(v: float) -> float | None:
    """JSON has no NaN: undefined values are written as null."""
    return None if math.isnan(float(v)) else round(float(v), 6)


class ConfusionMatrix:
    """Accumulates a K x K int64 confusion matrix from label maps (numpy arrays or CPU/GPU tensors).

    Torch-free unless :meth:`all_reduce` runs under DDP, so the app and the benchmarks score with it too:
    this class and :func:`metrics_from_confusion` are the project's one definition of mIoU.
    """

    def __init__(self, num_classes: int, ignore_index: int = 255) -> None:
        self.num_classes = int(num_classes)
        self.ignore_index = ignore_index
        self.mat = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)

    def update(self, pred: Any, target: Any) -> None:
        """Add one prediction/target pair (any shape, equal pixel counts; target ``ignore_index`` skipped)."""
        pred, target = _flat_int64(pred), _flat_int64(target)
        if pred.shape != target.shape:
            raise ValueError(f"prediction has {pred.size} pixels but the target has {target.size}")
        keep = target != self.ignore_index
        pred, target = pred[keep], target[keep]
        k = self.num_classes
        if target.size and (int(target.max()) >= k or int(target.min()) < 0):
            raise ValueError(
                f"target holds class {int(target.max())}; expected 0..{k - 1} or {self.ignore_index}"
            )
        if pred.size and (int(pred.max()) >= k or int(pred.min()) < 0):
            raise ValueError(f"prediction holds class {int(pred.max())}; expected 0..{k - 1}")
        self.mat += np.bincount(target * k + pred, minlength=k * k).reshape(k, k)

    def all_reduce(self) -> None:
        """Sum the matrices of all processes (no-op when not distributed)."""
        import torch
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            t = torch.from_numpy(self.mat)
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
            self.mat = t.numpy()

    def compute(self) -> SegMetrics:
        return metrics_from_confusion(self.mat)


def _flat_int64(values: Any) -> np.ndarray:
    if hasattr(values, "detach"):  # a torch tensor, possibly on a GPU
        values = values.detach().cpu().numpy()
    return np.asarray(values).reshape(-1).astype(np.int64, copy=False)


def metrics_from_confusion(mat: np.ndarray) -> SegMetrics:
    """IoU_c = TP / (TP + FP + FN); pixel acc = trace / total; mean acc = mean of per-class recall."""
    mat = np.asarray(mat, dtype=np.float64)
    tp = np.diag(mat)
    gt = mat.sum(axis=1)
    pred = mat.sum(axis=0)
    union = gt + pred - tp
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, tp / union, np.nan)
        acc = np.where(gt > 0, tp / gt, np.nan)
    total = mat.sum()
    valid_iou = iou[~np.isnan(iou)]
    valid_acc = acc[~np.isnan(acc)]
    return SegMetrics(
        miou=float(valid_iou.mean()) if valid_iou.size else float("nan"),
        pixel_acc=float(tp.sum() / total) if total else float("nan"),
        mean_acc=float(valid_acc.mean()) if valid_acc.size else float("nan"),
        iou=iou,
        acc=acc,
        pixels=int(total),
    )
