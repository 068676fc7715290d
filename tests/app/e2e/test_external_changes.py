"""Another process changes the open project (issue 10 blocker 2): a `danet project import` run in a
second process while the window is open. The window notices, refreshes the statuses and shows the
imported mask of the open image; with unsaved edits it keeps them and asks on save, never overwriting
the import unseen. A second window on the same project is allowed: the same rules protect both."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPointF, Qt

from danet_core.project import ImageStatus

pytestmark = pytest.mark.gui

REPO = Path(__file__).resolve().parents[3]  # tests/app/e2e -> the repository


def _import(project_dir: Path, masks: Path, *extra: str) -> None:
    argv = [sys.executable, "-m", "danet_core.cli", "project", "import", str(project_dir), str(masks)]
    done = subprocess.run([*argv, "--format", "mask", *extra], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def _masks(folder: Path, names: list[str], value: int, size: tuple[int, int]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        Image.fromarray(np.full((size[1], size[0]), value, np.uint8)).save(folder / Path(name).name)
    return folder


def test_an_import_by_another_process_is_noticed_and_never_overwritten(
    qtbot, window, project_dir, tmp_path, messages
) -> None:
    window.settings.autosave_delay_ms = 60_000
    session = window.controller("session")
    with qtbot.waitSignal(session.image_opened, timeout=10_000):
        session.open_project(project_dir)
    image_id = session.image_id
    names = [r.rel_path for r in session.queue.records()]
    size = (session.document.width, session.document.height)
    # 1. untouched image: the window shows the imported mask and the new statuses
    _import(project_dir, _masks(tmp_path / "gt3", names, 3, size), "--status", "reviewed")
    qtbot.waitUntil(lambda: (session.document.mask == 3).all(), timeout=15_000)
    assert all(r.status == ImageStatus.REVIEWED for r in session.queue.records())
    # 2. unsaved edits: kept; saving asks instead of overwriting the second import
    canvas = window.canvas
    canvas.set_tool("brush")
    window.palette.set_current_index(8)
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=canvas.mapFromScene(QPointF(40, 30)))
    assert session.document.is_modified
    _import(project_dir, _masks(tmp_path / "gt5", names, 5, size), "--overwrite")
    qtbot.waitUntil(
        lambda: session.check_external_changes() or session.document.mask[30, 40] == 8, timeout=5000
    )
    assert session.document.mask[30, 40] == 8 and session.document.is_modified  # the edit is still there
    asked: list[str] = []
    session.choose_conflict = lambda text: asked.append(text) or "theirs"
    with qtbot.waitSignal(session.image_opened, timeout=10_000):
        session.try_save()
    assert asked and (session.document.mask == 5).all()
    mine = sorted((project_dir / "conflicts").glob(f"{image_id}-mine-*.png"))
    assert len(mine) == 1 and np.asarray(Image.open(mine[0]))[30, 40] == 8  # nothing is lost either way
