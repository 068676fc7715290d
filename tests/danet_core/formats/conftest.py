"""A small CamVid project (real images and masks) for the format tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from danet_core.formats.masks import import_masks
from danet_core.project import Project


@pytest.fixture
def camvid_project(tmp_path: Path, camvid_root: Path):
    """4 real CamVid images in images/ (two sub-folders) with their real masks imported as reviewed."""
    names = sorted(p.name for p in (camvid_root / "val").glob("*.png"))[::30][:4]
    annots = tmp_path / "annot"
    annots.mkdir()
    for i, n in enumerate(names):
        sub = tmp_path / "images" / ("a" if i % 2 else "b")
        sub.mkdir(parents=True, exist_ok=True)
        shutil.copy(camvid_root / "val" / n, sub / n)
        shutil.copy(camvid_root / "valannot" / n, annots / n)
    project = Project.create(tmp_path / "proj", tmp_path / "images", "camvid")
    report = import_masks(project, annots)
    assert report.done == len(names), report.summary()
    yield project
    project.close()


def _write(path: Path, w: int = 24, h: int = 16) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)


@pytest.fixture
def write_image():
    """Writes a random 24 x 16 (or w x h) RGB image (test folders are not packages: a fixture)."""
    return _write


@pytest.fixture
def small(tmp_path: Path):
    """Three synthetic 24 x 16 images, each with a reviewed mask (a Road rectangle)."""
    for name in ("a.png", "b.png", "c.png"):
        _write(tmp_path / "images" / name)
    p = Project.create(tmp_path / "proj", tmp_path / "images", "camvid")
    for rec in p.images():
        m = np.zeros((16, 24), np.uint8)
        m[4:12, 6:18] = 3
        p.save_mask(rec.id, m, status="reviewed")
    yield p
    p.close()
