"""Issue 13 in the window: a locked catalog is a failed save that retries (D01), a mask changed by
another process is never overwritten unseen — both versions are kept and the user chooses (D01 with
the app issue's conflict rule), an image replaced by one of another size is refused before anything
is assigned (D11), and a damaged catalog is offered a rebuild from the masks (D02)."""

from __future__ import annotations

import os
import sqlite3
import time

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPointF, Qt

from danet_core.project import CATALOG_NAME, ImageStatus, Project

pytestmark = pytest.mark.gui


def _open(qtbot, window, project_dir) -> None:
    session = window.controller("session")
    with qtbot.waitSignal(session.image_opened, timeout=10_000):
        session.open_project(project_dir)


def _paint(qtbot, window, x: float = 40, y: float = 30, cls: int = 3) -> None:
    canvas = window.canvas
    canvas.set_tool("brush")
    canvas.set_brush_size(9)
    window.palette.set_current_index(cls)
    pos = canvas.mapFromScene(QPointF(x, y))
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def test_a_locked_catalog_is_a_failed_save_that_retries(qtbot, window, project_dir, messages) -> None:
    window.settings.autosave_delay_ms = 60_000
    _open(qtbot, window, project_dir)
    session = window.controller("session")
    _paint(qtbot, window)
    holder = sqlite3.connect(project_dir / CATALOG_NAME, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process is writing
    try:
        t0 = time.monotonic()
        assert session.try_save() is False
        assert time.monotonic() - t0 < 2.0  # the window does not freeze for the busy timeout
        assert session.document.is_modified and session.autosave_timer.isActive()  # retried later
        assert not (project_dir / "masks" / f"{session.image_id}.png").exists()
        qtbot.waitUntil(lambda: any("locked by another process" in m for m, _ in messages), timeout=5000)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert session.try_save() is True and not session.document.is_modified


def test_a_mask_changed_on_disk_keeps_both_and_asks(qtbot, window, project_dir) -> None:
    window.settings.autosave_delay_ms = 60_000
    _open(qtbot, window, project_dir)
    session = window.controller("session")
    image_id = session.image_id
    _paint(qtbot, window, cls=3)
    assert session.try_save()
    _paint(qtbot, window, 80, 60, cls=8)  # an unsaved edit ...
    with Project.open(project_dir) as other:  # ... while `danet project import` writes the image
        theirs = np.full_like(session.document.mask, 5)
        other.save_mask(image_id, theirs, status=ImageStatus.REVIEWED)
    asked: list[str] = []
    session.choose_conflict = lambda text: asked.append(text) or "mine"
    mine = session.document.mask.copy()
    assert session.try_save()
    assert len(asked) == 1 and "changed on disk" in asked[0]
    with Project.open(project_dir) as p:
        np.testing.assert_array_equal(p.load_mask(image_id), mine)
    copies = sorted((project_dir / "conflicts").glob(f"{image_id}-*.png"))
    assert [c.name.split("-")[1] for c in copies] == ["mine", "theirs"]
    np.testing.assert_array_equal(np.asarray(Image.open(copies[1])), theirs)
    # the other way round: the user takes theirs; the window reloads it, the user's mask is kept
    _paint(qtbot, window, 20, 20, cls=1)
    with Project.open(project_dir) as other:
        other.save_mask(image_id, theirs, status=ImageStatus.REVIEWED)
    session.choose_conflict = lambda text: "theirs"
    with qtbot.waitSignal(session.image_opened, timeout=10_000):
        session.try_save()
    np.testing.assert_array_equal(session.document.mask, theirs)
    assert len(list((project_dir / "conflicts").glob(f"{image_id}-mine-*.png"))) == 2


def test_an_image_replaced_by_another_size_is_refused_before_anything_changes(
    qtbot, window, project_dir, camvid_small, messages
) -> None:
    _open(qtbot, window, project_dir)
    session = window.controller("session")
    ids = window.image_list.visible_ids()
    first = session.image_id
    with Project.open(project_dir) as p:
        w, h = p.image_size(ids[1])
        p.save_mask(ids[1], np.zeros((h, w), np.uint8))
        path = p.image_path(ids[1])
    Image.new("RGB", (w // 2, h // 2)).save(path)
    doc = session.document
    session.open_image(ids[1])
    qtbot.waitUntil(lambda: any("replaced on disk" in m for m, _ in messages), timeout=10_000)
    assert session.image_id == first and session.document is doc and window.canvas.document is doc


def test_a_damaged_catalog_is_offered_a_rebuild(qtbot, window, project_dir, messages) -> None:
    with Project.open(project_dir) as p:
        rec = p.images()[0]
        w, h = p.image_size(rec.id)
        p.save_mask(rec.id, np.full((h, w), 3, np.uint8), status=ImageStatus.REVIEWED)
    data = bytearray((project_dir / CATALOG_NAME).read_bytes())
    for offset in range(4096, len(data), 4096):
        data[offset : offset + 64] = os.urandom(64)
    (project_dir / CATALOG_NAME).write_bytes(bytes(data))
    session = window.controller("session")
    asked: list[str] = []
    session.ask = lambda title, text: asked.append(text) or True
    # the damaged meta page may have lost the image folder: the rebuild then says so, in one message
    window.open_path(project_dir)
    qtbot.waitUntil(lambda: bool(asked), timeout=5000)
    assert "damaged" in asked[0]
    qtbot.waitUntil(lambda: session.project is not None or bool(messages), timeout=20_000)
    if session.project is None:
        assert any("image folder" in m or "--images" in m for m, _ in messages), messages
    else:
        assert session.project.record(rec.id).has_mask
