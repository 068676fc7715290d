"""What marks a folder as a project has one owner: danet_core.project.is_project_dir (the catalog)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from danet_core.project import CATALOG_NAME, Project, ProjectError, is_project_dir


def test_only_the_catalog_marks_a_project(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(images / "a.png")
    (images / "project.json").write_text("{}")  # another tool's file in an image folder
    assert not is_project_dir(images)
    with pytest.raises(ProjectError, match="not a project folder"):
        Project.open(images)
    assert not is_project_dir(tmp_path / "missing")
    pdir = tmp_path / "project"
    Project.create(pdir, images, "camvid").close()
    assert is_project_dir(pdir) and (pdir / CATALOG_NAME).is_file()


def test_the_app_uses_the_same_test() -> None:
    from app.model import settings

    assert settings.is_project_dir is is_project_dir
