"""Fixtures of the Qt-free app-state tests: a tiny random-weight DANet and a small synthetic project."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="session")
def tiny_danet_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DANet-18 with random weights and the 11 CamVid classes, saved as a native checkpoint."""
    import torch

    from danet_core.checkpoints import save_checkpoint
    from danet_core.labels import get_label_set
    from danet_core.models import get_model

    torch.manual_seed(0)
    model = get_model("danet", depth=18, num_classes=11).eval()
    classes = [
        {"name": c.name, "color": list(c.color), "train_id": c.train_id}
        for c in get_label_set("camvid").train_classes()
    ]
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, model, classes=classes, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    return path


@pytest.fixture
def small_project(tmp_path: Path) -> Path:
    """A CamVid-label project over six random 48 x 64 images; three of them reviewed with masks."""
    from danet_core.project import ImageStatus, Project

    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(images / f"f{i}.png")
    pdir = tmp_path / "project"
    with Project.create(pdir, images, "camvid") as project:
        for rec in project.images()[:3]:
            project.image_size(rec.id)
            project.save_mask(
                rec.id, rng.integers(0, 11, (48, 64), dtype=np.uint8), status=ImageStatus.REVIEWED
            )
    return pdir
