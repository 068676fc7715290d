"""What the canvas shows while painting (issue 10): the paint-only-over banner, the replace tool's
"A -> B", the attention query cross, the class under the cursor after an edit, re-fit on resize."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.model.document import AnnotationDocument
from danet_core.labels import get_label_set
from tests.app.gui.gui_helpers import H, W, canvas_signal, click, make_canvas, vp

pytestmark = pytest.mark.gui


@pytest.fixture
def camvid():
    return get_label_set("camvid")


@pytest.fixture
def setup(qtbot, camvid):
    canvas, doc, actions = make_canvas(qtbot, camvid)
    doc.mask[:, : W // 2] = camvid.by_name("Car").index
    doc.mask[:, W // 2 :] = camvid.by_name("Road").index
    return canvas, doc


def test_lock_banner_stays_across_images_and_esc_or_a_click_clears_it(setup, camvid) -> None:
    canvas, doc = setup
    road = camvid.by_name("Road").index
    assert canvas.lock_banner_text() is None
    canvas.set_lock_class(road)
    assert canvas.lock_banner_text() == "Painting only over Road — Esc or click here to clear"
    banner = canvas._banner
    assert canvas.viewport().geometry().contains(banner.geometry())  # on the canvas, at its top
    canvas.set_document(AnnotationDocument.empty(H, W, camvid))  # the next image: the lock is kept
    assert canvas.lock_class() == road and canvas.lock_banner_text() is not None
    with canvas_signal(canvas.lock_cleared) as cleared:
        QTest.keyClick(canvas, Qt.Key.Key_Escape)
    assert cleared == [()] and canvas.lock_class() is None and canvas.lock_banner_text() is None
    canvas.set_lock_class(255)
    assert canvas.lock_banner_text().startswith("Painting only over unlabeled pixels")
    with canvas_signal(canvas.lock_cleared) as cleared:
        QTest.mouseClick(banner, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(5, 5))
    assert cleared == [()] and canvas.lock_class() is None
    # Esc cancels a polygon in progress first; the lock stays until the next Esc
    canvas.set_lock_class(road)
    canvas.set_tool("polygon")
    click(canvas, 10.5, 10.5)
    QTest.keyClick(canvas, Qt.Key.Key_Escape)
    assert canvas.lock_class() == road
    QTest.keyClick(canvas, Qt.Key.Key_Escape)
    assert canvas.lock_class() is None


def test_replace_tool_names_the_class_it_replaces(setup, camvid) -> None:
    canvas, doc = setup
    canvas.set_current_class(camvid.by_name("Sky").index)
    canvas.set_tool("replace")
    QTest.mouseMove(canvas.viewport(), vp(canvas, 10.5, 10.5))
    assert canvas.tool_hint_text().startswith("Replace Car → Sky: drag a rectangle")
    QTest.mouseMove(canvas.viewport(), vp(canvas, 70.5, 10.5))
    assert canvas.tool_hint_text().startswith("Replace Road → Sky")
    # while dragging from Road over Car, A stays the class under the first point
    view_pts = [vp(canvas, 70.5, 10.5), vp(canvas, 60.5, 20.5), vp(canvas, 30.5, 30.5)]
    QTest.mousePress(
        canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, view_pts[0]
    )
    for p in view_pts[1:]:
        QTest.mouseMove(canvas.viewport(), p)
    assert canvas.tool_hint_text().startswith("Replace Road → Sky")
    QTest.mouseRelease(
        canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, view_pts[-1]
    )
    assert canvas.tool_hint_text().startswith("Replace Car → Sky")  # the mouse is over Car again
    canvas.set_lock_class(camvid.by_name("Road").index)
    assert "Road (paint-only-over class) → Sky" in canvas.tool_hint_text()
    canvas.set_tool("brush")
    assert canvas.tool_hint_text() is None


def test_attention_click_is_marked_with_a_cross_until_the_image_changes(setup, camvid) -> None:
    canvas, _doc = setup
    canvas.set_tool("attention")
    click(canvas, 33.5, 22.5)
    assert canvas.attention_marker() == (33.5, 22.5)
    x, y = click(canvas, 5.2, 7.7)
    assert canvas.attention_marker() == (int(x) + 0.5, int(y) + 0.5)  # the centre of the clicked pixel
    canvas.set_document(AnnotationDocument.empty(H, W, camvid))
    assert canvas.attention_marker() is None


def test_class_under_the_cursor_is_reported_again_after_a_fill_and_an_undo(setup, camvid) -> None:
    canvas, doc = setup
    canvas.set_current_class(camvid.by_name("Sky").index)
    canvas.set_tool("fill")
    QTest.mouseMove(canvas.viewport(), vp(canvas, 10.5, 10.5))
    with canvas_signal(canvas.cursor_moved) as moves:
        QTest.mousePress(
            canvas.viewport(),
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
            vp(canvas, 10.5, 10.5),
        )
    assert moves == [(10, 10)] and doc.mask[10, 10] == camvid.by_name("Sky").index
    with canvas_signal(canvas.cursor_moved) as moves:
        canvas.undo_stack.undo()
    assert moves == [(10, 10)] and doc.mask[10, 10] == camvid.by_name("Car").index


def test_image_is_refitted_on_resize_until_the_user_zooms(setup) -> None:
    canvas, _doc = setup
    window = canvas.window()
    canvas.fit_to_window()
    fitted = canvas.zoom()
    window.resize(900, 700)
    QApplication.processEvents()
    assert canvas.zoom() > fitted * 1.3
    assert canvas.mapToScene(canvas.viewport().rect()).boundingRect().contains(canvas.sceneRect())
    with canvas_signal(canvas.zoom_changed) as zooms:
        canvas.zoom_by(1.25)
    assert zooms == [pytest.approx(canvas.zoom())]
    zoomed = canvas.zoom()
    window.resize(520, 420)
    QApplication.processEvents()
    assert canvas.zoom() == pytest.approx(zoomed)  # the user's zoom is kept
    canvas.fit_to_window()  # Ctrl+0: fitted again, so resizes re-fit again
    refitted = canvas.zoom()
    window.resize(800, 650)
    QApplication.processEvents()
    assert canvas.zoom() > refitted * 1.3
