"""The app shell with real CamVid images: open a project, switch images, paint through the canvas,
autosave timing, crash recovery, "reviewed and next", worker errors shown while the app keeps running."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from danet_core.project import ImageStatus, Project

pytestmark = pytest.mark.gui


def _open(qtbot, window, project_dir) -> None:
    session = window.controller("session")
    with qtbot.waitSignal(session.image_opened, timeout=10_000):
        session.open_project(project_dir)


def _click(qtbot, canvas, x: float, y: float) -> None:
    pos = canvas.mapFromScene(QPointF(x, y))
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def test_open_project_lists_images_and_shows_the_first(qtbot, window, project_dir, camvid_small):
    _open(qtbot, window, project_dir)
    session = window.controller("session")
    names = sorted(p.name for p in camvid_small.iterdir())
    assert [window.image_list.model.record(i).rel_path for i in window.image_list.visible_ids()] == names
    assert session.image_id == window.image_list.visible_ids()[0]
    assert session.rgb.shape == (120, 160, 3)
    assert window.canvas.document is session.document
    assert (session.document.mask == 255).all()  # no model, no mask: everything unlabeled
    assert "DANet" in window.model_label.text() or "No model" in window.model_label.text()
    assert project_dir.name in window.windowTitle()


def test_switch_images_via_the_list(qtbot, window, project_dir):
    _open(qtbot, window, project_dir)
    session, panel = window.controller("session"), window.image_list
    third = panel.visible_ids()[2]
    with qtbot.waitSignal(session.image_opened, timeout=10_000) as blocker:
        index = panel.row_index(2)
        panel.view.clicked.emit(index)
    assert blocker.args == [third]
    assert session.image_id == third
    with qtbot.waitSignal(session.image_opened, timeout=10_000):
        window.actions_by_name["next"].trigger()
    assert session.image_id == panel.visible_ids()[3]
    panel.set_status_filter("Reviewed")
    assert panel.visible_ids() == []


def test_paint_autosaves_after_the_delay_pixel_by_pixel(qtbot, window, project_dir):
    _open(qtbot, window, project_dir)
    session, canvas = window.controller("session"), window.canvas
    image_id = session.image_id
    canvas.set_tool("brush")
    canvas.set_brush_size(9)
    window.palette.set_current_index(3)  # Road
    t0 = time.monotonic()
    _click(qtbot, canvas, 40, 30)
    mask = session.document.mask
    assert mask[30, 40] == 3 and (mask == 3).sum() > 20
    assert session.document.is_modified
    mask_file = project_dir / "masks" / f"{image_id}.png"
    assert not mask_file.exists()  # not yet: autosave waits for a pause
    qtbot.waitUntil(mask_file.exists, timeout=5000)
    elapsed = time.monotonic() - t0
    assert elapsed >= 0.3 * 0.9  # autosave_delay_ms=300 in the fixture
    with Project.open(project_dir) as p:
        saved = p.load_mask(image_id)
        assert p.record(image_id).status == ImageStatus.IN_PROGRESS
    np.testing.assert_array_equal(saved, session.document.mask)
    # erase part of it, undo the erase: the saved mask follows each step
    canvas.set_tool("eraser")
    _click(qtbot, canvas, 40, 30)
    assert session.document.mask[30, 40] == 255
    canvas.undo_stack.undo()
    assert session.document.mask[30, 40] == 3
    qtbot.waitUntil(lambda: not session.document.is_modified, timeout=5000)
    with Project.open(project_dir) as p:
        np.testing.assert_array_equal(p.load_mask(image_id), session.document.mask)


def test_switch_saves_immediately_and_a_killed_session_reopens_with_every_edit(
    qtbot, window, project_dir, messages
):
    from app.main_window import MainWindow
    from app.model.settings import AppSettings

    window.settings.autosave_delay_ms = 60_000  # only the switch can save here
    _open(qtbot, window, project_dir)
    session, canvas = window.controller("session"), window.canvas
    first = session.image_id
    canvas.set_tool("brush")
    window.palette.set_current_index(8)  # Car
    _click(qtbot, canvas, 80, 60)
    expected = session.document.mask.copy()
    with qtbot.waitSignal(session.image_opened, timeout=10_000):
        window.actions_by_name["next"].trigger()
    # a second window opens the project while the first one is still "running" (as after a kill:
    # nothing was closed cleanly) and sees the saved mask of the first image
    other = MainWindow(settings=AppSettings(), recent=window.recent)
    qtbot.addWidget(other)
    s2 = other.controller("session")
    with qtbot.waitSignal(s2.image_opened, timeout=10_000):
        s2.open_project(project_dir)
    assert s2.image_id == first
    np.testing.assert_array_equal(s2.document.mask, expected)
    s2.close_project()


def test_mark_reviewed_and_next(qtbot, window, project_dir):
    _open(qtbot, window, project_dir)
    session = window.controller("session")
    ids = window.image_list.visible_ids()
    with qtbot.waitSignal(session.image_opened, timeout=10_000):
        window.actions_by_name["reviewed_next"].trigger()
    assert session.image_id == ids[1]
    with Project.open(project_dir) as p:
        assert p.record(ids[0]).status == ImageStatus.REVIEWED
        assert (p.load_mask(ids[0]) == 255).all()
    assert window.image_list.model.record(ids[0]).status == ImageStatus.REVIEWED


def test_a_failing_worker_is_reported_and_the_app_keeps_running(
    qtbot, window, project_dir, camvid_small, messages
):
    _open(qtbot, window, project_dir)
    session = window.controller("session")
    ids = window.image_list.visible_ids()
    broken = camvid_small / window.image_list.model.record(ids[3]).rel_path
    broken.write_bytes(b"not a png")
    session.cache.clear()  # prefetch may have decoded it before it broke
    session.open_image(ids[3])
    qtbot.waitUntil(lambda: any(broken.name in m for m, _ in messages), timeout=30_000)
    message, details = next((m, d) for m, d in messages if broken.name in m)
    assert "cannot read image" in message and "Traceback" in details
    assert session.image_id == ids[0]  # still on the image that was open
    qtbot.waitUntil(lambda: session._loader is None, timeout=10_000)  # no retry of the broken file
    assert sum(broken.name in m for m, _ in messages) == 1
    with qtbot.waitSignal(session.image_opened, timeout=10_000):
        session.open_image(ids[2])
    assert session.image_id == ids[2]


def test_uncaught_exception_in_a_slot_goes_to_the_log_and_a_message(qtbot, window, messages, tmp_path):
    from app import logging_setup

    log_path = logging_setup.configure_logging(path=tmp_path / "app.log")
    restore = logging_setup.install_excepthook(lambda m, d: window.errors.report.emit(m, d))
    try:
        window.image_list.image_activated.connect(lambda _i: 1 / 0)
        window.image_list.image_activated.emit(12345)
        qtbot.waitUntil(lambda: any("ZeroDivisionError" in m for m, _ in messages), timeout=5000)
    finally:
        restore()
    assert "ZeroDivisionError" in log_path.read_text()
    assert window.isVisible()


def test_a_failed_save_keeps_the_edits_and_the_image(qtbot, window, project_dir, messages, monkeypatch):
    _open(qtbot, window, project_dir)
    session, canvas = window.controller("session"), window.canvas
    first = session.image_id
    real_save = session.project.save_mask
    disk = {"full": True}

    def save_mask(*args, **kwargs):
        if disk["full"]:
            raise OSError(28, "No space left on device")
        return real_save(*args, **kwargs)

    monkeypatch.setattr(session.project, "save_mask", save_mask)
    canvas.set_tool("brush")
    _click(qtbot, canvas, 20, 20)
    qtbot.waitUntil(lambda: len(messages) > 0, timeout=5000)
    assert "No space left" in messages[0][0]
    assert session.document.is_modified  # nothing dropped
    window.actions_by_name["next"].trigger()  # switching must not discard the unsaved edits
    assert session.image_id == first and session.document.is_modified
    disk["full"] = False
    with qtbot.waitSignal(session.image_opened, timeout=10_000):
        window.actions_by_name["next"].trigger()
    with Project.open(project_dir) as p:
        assert p.load_mask(first)[20, 20] != 255
