"""Helpers of the training tests: a tiny synthetic folder dataset and a tiny-model config builder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from danet_core.images import atomic_save_png
from danet_core.training import TrainConfig

TINY_LABELS = {
    "name": "tiny",
    "classes": [
        {"name": "red", "color": [200, 30, 30]},
        {"name": "green", "color": [30, 200, 30]},
        {"name": "blue", "color": [30, 30, 200]},
    ],
}


def make_folder_dataset(
    root: Path, *, n_train: int = 6, n_val: int = 2, size: tuple[int, int] = (48, 64)
) -> Path:
    """``root/{train,trainannot,val,valannot}``: images whose colour says the class (learnable), plus a
    label-set file ``root/labels.json`` with 3 classes; masks hold export ids 0..2 and 255 (ignore)."""
    rng = np.random.default_rng(0)
    colors = np.array([c["color"] for c in TINY_LABELS["classes"]], dtype=np.uint8)
    h, w = size
    for split, n in (("train", n_train), ("val", n_val)):
        for i in range(n):
            mask = np.zeros((h, w), dtype=np.uint8)
            cut_y, cut_x = rng.integers(h // 4, 3 * h // 4), rng.integers(w // 4, 3 * w // 4)
            mask[:cut_y, cut_x:] = 1
            mask[cut_y:, :] = 2
            mask[:2, :2] = 255
            noise = rng.integers(-20, 20, size=(h, w, 3))
            image = np.clip(colors[np.minimum(mask, 2)].astype(int) + noise, 0, 255).astype(np.uint8)
            atomic_save_png(root / split / f"img{i:02d}.png", image)
            atomic_save_png(root / f"{split}annot" / f"img{i:02d}.png", mask)
    (root / "labels.json").write_text(json.dumps(TINY_LABELS))
    return root


def tiny_config(root: Path, run_dir: Path, **overrides) -> TrainConfig:
    """A config that trains DANet-R18 on 32x32 crops for a few iterations in about a second."""
    base = dict(
        dataset="folder",
        data_root=str(root),
        label_set=str(root / "labels.json"),
        model="danet",
        model_options={"depth": 18},
        crop_size=(32, 32),
        batch_size=2,
        max_iters=4,
        lr=0.01,
        log_interval=1,
        val_interval=0,
        num_workers=0,
        run_dir=str(run_dir),
        threads=1,
        color_jitter=0.0,
        val_split=None,  # tests that validate turn it on ("val")
    )
    base.update(overrides)
    return TrainConfig(**base).validate()


def train_losses(run_dir: Path | str) -> list[float]:
    from danet_core.training.rundir import read_metrics

    return [r["loss"] for r in read_metrics(Path(run_dir) / "metrics.jsonl") if r["type"] == "train"]
