"""Small image folders for the project-store tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def write_image(path: Path, width: int, height: int, seed: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(path)


@pytest.fixture
def make_image():
    """The image writer, as a fixture (test folders are not packages, so no relative imports)."""
    return write_image


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """a.png 40x30, sub/b.jpg 20x10, sub/deeper/c.PNG 16x16, plus files that must be ignored."""
    root = tmp_path / "images"
    write_image(root / "a.png", 40, 30, 1)
    write_image(root / "sub" / "b.jpg", 20, 10, 2)
    write_image(root / "sub" / "deeper" / "c.PNG", 16, 16, 3)
    write_image(root / ".hidden" / "x.png", 8, 8, 4)
    (root / "notes.txt").write_text("not an image")
    return root
