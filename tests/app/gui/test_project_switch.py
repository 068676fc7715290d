"""Opening folders as a new user does (issue 10): an empty folder says "no images found" and creates
nothing; switching projects resets the canvas and the list filters; unreadable images are marked."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.gui


def test_an_empty_folder_says_so_and_creates_nothing(qtbot, window, messages, tmp_path: Path) -> None:
    from app.model.settings import default_project_dir

    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "notes.txt").write_text("no images here")
    window.open_path(empty)
    qtbot.waitUntil(lambda: any("No images found" in m for m, _ in messages), timeout=5000)
    assert not default_project_dir(empty).exists() and window.session.project is None


def test_switching_projects_resets_canvas_and_filters(
    qtbot, window, project_dir, camvid_small, tmp_path
) -> None:
    from PIL import Image

    from danet_core.project import Project

    session, panel = window.session, window.image_list
    with qtbot.waitSignal(session.image_opened, timeout=10_000):
        session.open_project(project_dir)
    panel.search.setText("zzz-no-such-name")
    assert panel.visible_ids() == []
    other_images = tmp_path / "other"
    other_images.mkdir()
    Image.open(next(camvid_small.iterdir())).save(other_images / "frame.png")
    (other_images / "zbroken.png").write_bytes(b"not an image")
    Project.create(tmp_path / "other_project", other_images, "camvid").close()
    with qtbot.waitSignal(session.image_opened, timeout=10_000):
        session.open_project(tmp_path / "other_project")
    assert panel.search.text() == "" and len(panel.visible_ids()) == 2  # the old filter is gone
    names = {panel.model.record(i).rel_path: i for i in panel.visible_ids()}
    qtbot.waitUntil(lambda: names["zbroken.png"] in panel.model.unreadable(), timeout=10_000)
    assert "unreadable" in panel.model.data(panel.model.index(panel.model.row_of(names["zbroken.png"])))
    session.close_project()
    assert window.canvas.image_size() == (0, 0)  # nothing of the closed project stays on the canvas
