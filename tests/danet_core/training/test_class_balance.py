"""Class weights from corrected masks (numpy only), on hand-made counts."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from danet_core.training.class_balance import balanced_weights, class_pixel_counts, training_class_weights

V = 255


def test_counts_skip_void_and_refuse_unknown_ids() -> None:
    a = np.array([[0, 0, 1], [V, 2, 2]], dtype=np.uint8)
    b = np.array([[2, V]], dtype=np.uint8)
    assert class_pixel_counts([a, b], 4).tolist() == [2, 1, 3, 0]
    assert class_pixel_counts([], 2).tolist() == [0, 0]
    with pytest.raises(ValueError, match="class id 4; expected 0..3"):
        class_pixel_counts([np.array([[4]], dtype=np.uint8)], 4)


def test_inverse_sqrt_weights_mean_one_over_present_classes() -> None:
    # frequencies 0.64, 0.16, 0.16, 0.04 -> freq^-0.5 = 1.25, 2.5, 2.5, 5 (mean 2.8125)
    w = balanced_weights([64, 16, 16, 4, 0], clip=(0.01, 100.0))
    raw = np.array([1.25, 2.5, 2.5, 5.0])
    assert w[:4] == pytest.approx((raw / raw.mean()).tolist())
    assert np.mean(w[:4]) == pytest.approx(1.0)
    assert w[4] == 1.0  # absent class: no pixel carries its weight
    assert w[3] > w[1] > w[0]  # rarer counts more


def test_clip_power_and_degenerate_cases() -> None:
    # raw 1 and 100, normalised 0.0198 and 1.98: both clipped
    assert balanced_weights([10_000, 1], clip=(0.5, 1.5)) == pytest.approx([0.5, 1.5])
    assert balanced_weights([5, 50, 500], power=0.0) == pytest.approx([1.0, 1.0, 1.0])
    assert balanced_weights([0, 0]) == [1.0, 1.0]
    assert balanced_weights(np.array([3, 3])) == pytest.approx([1.0, 1.0])
    with pytest.raises(ValueError, match="clip"):
        balanced_weights([1, 2], clip=(1.5, 2.0))
    with pytest.raises(ValueError, match="power"):
        balanced_weights([1, 2], power=-1)


def test_module_is_torch_free() -> None:
    code = "import sys, danet_core.training.class_balance; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_engine_weights_the_loss_from_the_training_masks(tmp_path, caplog) -> None:
    import logging

    from danet_core.training import train
    from danet_core.training.loaders import build_data
    from tests.danet_core.training.train_helpers import make_folder_dataset, tiny_config

    root = make_folder_dataset(tmp_path / "data")
    cfg = tiny_config(root, tmp_path / "run", class_weight_power=0.5, max_iters=1, val_split=None)
    train_set = build_data(cfg).train
    expected = balanced_weights(
        class_pixel_counts((train_set.lut[train_set.read_mask(i)] for i in train_set.items), 3), power=0.5
    )
    assert training_class_weights(train_set, 3, 0.5) == expected
    assert max(expected) > 1 > min(expected)  # the synthetic classes are unequally frequent
    with caplog.at_level(logging.INFO, logger="danet_core.training.class_balance"):
        train(cfg)
    assert "class weights (power 0.5) from 6 training masks" in caplog.text
