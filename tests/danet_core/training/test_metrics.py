"""Confusion-matrix metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from danet_core.training.metrics import ConfusionMatrix, metrics_from_confusion


def test_confusion_matrix_counts_and_ignores_255() -> None:
    target = torch.tensor([[0, 0, 1, 1], [2, 2, 255, 255]])
    pred = torch.tensor([[0, 1, 1, 1], [2, 0, 2, 0]])
    cm = ConfusionMatrix(3)
    cm.update(pred, target)
    # rows = ground truth, columns = prediction; the two 255 pixels are not counted
    assert cm.mat.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    m = cm.compute()
    # IoU0 = 1/(2+2-1) = 1/3, IoU1 = 2/(2+3-2) = 2/3, IoU2 = 1/(2+1-1) = 1/2
    assert m.iou == pytest.approx([1 / 3, 2 / 3, 1 / 2])
    assert m.miou == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)
    assert m.pixel_acc == pytest.approx(4 / 6)
    assert m.mean_acc == pytest.approx((1 / 2 + 1 + 1 / 2) / 3)
    assert m.pixels == 6


def test_absent_class_is_nan_and_left_out_of_the_mean() -> None:
    mat = np.array([[5, 0, 0], [0, 0, 0], [1, 0, 4]])
    m = metrics_from_confusion(mat)
    assert math.isnan(m.iou[1])
    assert m.miou == pytest.approx((5 / 6 + 4 / 5) / 2)
    d = m.to_dict(["a", "b", "c"])
    assert d["per_class_iou"]["b"] is None  # JSON has no NaN


def test_class_predicted_but_absent_counts_as_zero() -> None:
    m = metrics_from_confusion(np.array([[3, 1], [0, 0]]))
    assert m.iou.tolist() == pytest.approx([0.75, 0.0])
    assert m.miou == pytest.approx(0.375)


def test_accumulates_over_updates_and_rejects_foreign_classes() -> None:
    cm = ConfusionMatrix(2)
    cm.update(np.array([0, 1]), np.array([0, 1]))
    cm.update(np.array([1]), np.array([0]))
    assert cm.mat.tolist() == [[1, 1], [0, 1]]
    with pytest.raises(ValueError, match="target holds class 5"):
        cm.update(np.array([0]), np.array([5]))
    with pytest.raises(ValueError, match="pixels"):
        cm.update(np.array([0, 1]), np.array([0]))
