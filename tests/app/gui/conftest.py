"""Fixtures of the app-shell GUI tests: a small project of real CamVid images, a tiny random-weight
DANet checkpoint, and a MainWindow whose message boxes are recorded instead of blocking."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

N_IMAGES = 4
# Real CamVid frames, downscaled 3x (160 x 120) so a random-weight DANet-18 predicts one in well under
# a second on a shared 2-core CPU.
SIZE = (160, 120)


@pytest.fixture
def camvid_small(tmp_path: Path, camvid_root: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    for src in sorted((camvid_root / "val").glob("*.png"))[:N_IMAGES]:
        Image.open(src).convert("RGB").resize(SIZE, Image.BILINEAR).save(folder / src.name)
    return folder


@pytest.fixture
def project_dir(tmp_path: Path, camvid_small: Path) -> Path:
    from danet_core.project import Project

    pdir = tmp_path / "project"
    Project.create(pdir, camvid_small, "camvid").close()
    return pdir


@pytest.fixture
def project_with_model(project_dir: Path, tiny_checkpoint: Path) -> Path:
    from danet_core.project import Project

    with Project.open(project_dir) as p:
        p.add_model_version(tiny_checkpoint, metrics={"test": True})
    return project_dir


@pytest.fixture
def messages(monkeypatch) -> list[tuple[str, str]]:
    """Every error box / warning / question the app would show, as (title-or-message, text); nothing
    blocks (questions are answered Yes)."""
    seen: list[tuple[str, str]] = []
    from PySide6.QtWidgets import QMessageBox

    import app.main_window as mw

    monkeypatch.setattr(
        mw, "show_error", lambda parent, message, details, log_path="": seen.append((message, details))
    )
    for name in ("warning", "information", "critical"):
        monkeypatch.setattr(
            QMessageBox, name, staticmethod(lambda parent, title, text, *a, **k: seen.append((title, text)))
        )

    def question(parent, title, text, *a, **k):  # answered "Yes" (tests that need "No" patch it)
        seen.append((title, text))
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    return seen


@pytest.fixture
def window(qtbot, messages):
    from app.main_window import MainWindow
    from app.model.settings import AppSettings, RecentProjects

    settings = AppSettings(autosave_delay_ms=300, prefetch=1)
    w = MainWindow(settings=settings, recent=RecentProjects.load())
    qtbot.addWidget(w)
    w.resize(1000, 700)
    w.show()
    yield w
    w.controller("session").close_project()
    from app.workers.base import shutdown_all

    shutdown_all(10_000)
