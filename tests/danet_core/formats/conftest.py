"""A small CamVid project (real images and masks) for the format tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

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
