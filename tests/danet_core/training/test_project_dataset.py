"""The project dataset: reviewed images only, targets through the training LUT, a stable held-out split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from train_helpers import tiny_config

from danet_core.images import atomic_save_png
from danet_core.project import ImageStatus, Project
from danet_core.training import DatasetError, train
from danet_core.training.loaders import build_data
from danet_core.training.project_dataset import split_fraction, split_reviewed


def test_split_is_stable_and_does_not_move_images_when_others_are_added() -> None:
    paths = [f"city/img{i:03d}.png" for i in range(200)]
    train_a, val_a = split_reviewed(paths[:100], 0.2)
    train_b, val_b = split_reviewed(paths, 0.2)
    assert set(val_a) <= set(val_b) and set(train_a) <= set(train_b)
    assert 0.1 < len(val_b) / 200 < 0.3
    assert split_fraction("a/b.png") == split_fraction("a\\b.png")  # same split on Windows paths
    assert split_reviewed(paths[:1], 0.2) == (paths[:1], [])
    assert len(split_reviewed(paths[:2], 1e-9)[1]) == 1  # few images: one is still held out
    assert split_reviewed(paths[:5], 0.0) == (sorted(paths[:5]), [])


def _project(tmp_path: Path, n: int = 8) -> Path:
    images = tmp_path / "images"
    rng = np.random.default_rng(1)
    for i in range(n):
        atomic_save_png(images / f"im{i}.png", rng.integers(0, 255, (40, 56, 3), dtype=np.uint8))
    pdir = tmp_path / "proj"
    with Project.create(pdir, images, "camvid") as p:
        recs = p.images()
        for k, rec in enumerate(recs):
            mask = np.full((40, 56), 255, np.uint8)
            mask[:20] = 3  # Road
            mask[20:, :10] = k % 11
            if k < n - 2:
                p.save_mask(rec.id, mask, status=ImageStatus.REVIEWED)
            elif k == n - 2:
                p.save_mask(rec.id, mask, status=ImageStatus.IN_PROGRESS)  # not reviewed: never trained on
    return pdir


def test_project_dataset_reads_only_reviewed_masks_and_trains(tmp_path: Path) -> None:
    pdir = _project(tmp_path)
    cfg = tiny_config(
        pdir, tmp_path / "run", dataset="project", val_split="val", val_fraction=0.3, max_iters=2
    )
    data = build_data(cfg)
    keys = sorted(it.key for it in data.train.items) + sorted(it.key for it in data.val.items)
    assert sorted(keys) == [f"im{i}.png" for i in range(6)]
    assert data.num_classes == 11 and data.class_names[3] == "Road"
    _, target = data.train.load_raw(0)
    assert (target[:20] == 3).all() and set(np.unique(target)) <= set(range(11)) | {255}
    result = train(cfg)
    assert result.iterations == 2 and result.best is not None
    everything = build_data(cfg.with_overrides({}, nulls=["val_split"]))
    assert len(everything.train) == 6 and everything.val is None


def test_project_without_reviewed_images_is_refused(tmp_path: Path) -> None:
    images = tmp_path / "images"
    atomic_save_png(images / "a.png", np.zeros((8, 8, 3), np.uint8))
    with Project.create(tmp_path / "p", images, "camvid"):
        pass
    cfg = tiny_config(tmp_path / "p", tmp_path / "run", dataset="project")
    with pytest.raises(DatasetError, match="no reviewed images"):
        build_data(cfg)
