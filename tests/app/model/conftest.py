"""Fixtures of the Qt-free app-state tests: a small synthetic project (the tiny DANet: tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


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
