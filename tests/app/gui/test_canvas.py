"""CanvasView through real mouse and key events: every tool, undo/redo, view controls, layers.

Each test drives the viewport with QTest events and checks the resulting mask pixel by pixel against
the pure helpers of app.model.edit_ops (tested on their own in tests/app/model).
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.model.document import AnnotationDocument
from app.model.edit_ops import polygon_region, rect_region, segment_region
from app.model.render import overlay_lut, render_overlay
from app.widgets.canvas import CanvasView
from app.widgets.qimage import CHANNEL_ORDER
from danet_core.labels import get_label_set
from tests.app.gui.gui_helpers import H, W, canvas_signal, click, drag, img, make_canvas, vp

pytestmark = pytest.mark.gui


@pytest.fixture
def labels():
    return get_label_set("camvid")


@pytest.fixture
def setup(qtbot, labels):
    """A window with a canvas showing a random 96x64 image and an unlabeled document at zoom 4."""
    return make_canvas(qtbot, labels)


def expected_stroke(shape, pts, size) -> np.ndarray:
    out = np.zeros(shape, bool)
    for a, b in zip(pts[:-1], pts[1:], strict=True):
        r = segment_region(shape, a, b, size)
        if r is not None:
            out[r.slices] |= r.inside
    return out


def test_brush_stroke_paints_exact_footprint_and_is_one_undo_step(setup) -> None:
    canvas, doc, _ = setup
    canvas.set_current_class(3)
    canvas.set_brush_size(5)
    pts = drag(canvas, [(10.5, 10.5), (20.5, 14.5), (40.5, 14.5), (41.5, 30.5)])
    expected = expected_stroke(doc.shape, pts, 5)
    assert np.array_equal(doc.mask == 3, expected) and (doc.mask[~expected] == 255).all()
    assert canvas.undo_stack.count() == 1
    canvas.undo_stack.undo()
    assert (doc.mask == 255).all()
    canvas.undo_stack.redo()
    assert np.array_equal(doc.mask == 3, expected)
    # the overlay buffer shows exactly the mask
    lut = overlay_lut(doc.label_set, order=CHANNEL_ORDER)
    assert np.array_equal(canvas.overlay_pixels(), render_overlay(doc.mask, lut))


def test_only_the_dirty_rectangle_is_re_rendered(setup) -> None:
    canvas, doc, _ = setup
    canvas.set_current_class(1)
    canvas.set_brush_size(3)
    click(canvas, 50.5, 30.5)
    x, y, w, h = canvas.last_render_rect
    assert (w, h) == (3, 3) and (x, y) == (49, 29)
    assert (doc.mask == 1).sum() == 9


def test_eraser_with_lock_erases_only_the_locked_class(setup) -> None:
    canvas, doc, actions = setup
    doc.apply(_region_edit(doc, (0, 0), (48, 64), 3))
    doc.apply(_region_edit(doc, (48, 0), (96, 64), 5))
    canvas.set_lock_class(3)
    QTest.keyClick(canvas, Qt.Key.Key_E)
    assert canvas.tool() == "eraser" and actions["eraser"].isChecked()
    canvas.set_brush_size(9)
    pts = drag(canvas, [(30.5, 20.5), (70.5, 20.5)])
    swept = expected_stroke(doc.shape, pts, 9)
    assert (doc.mask[swept & (np.arange(W) < 48)[None, :]] == 255).all()
    assert (doc.mask[:, 48:] == 5).all() and (doc.mask[~swept] != 255).all()


def _region_edit(doc, p0, p1, value):
    from app.model.edit_ops import paint

    return paint(doc.mask, rect_region(doc.shape, p0, p1), value)


def test_fill_polygon_replace_eyedropper_through_mouse(setup) -> None:
    canvas, doc, _ = setup
    doc.apply(_region_edit(doc, (0, 0), (40, 64), 1))  # class 1 on the left, unlabeled on the right
    canvas.set_current_class(2)
    QTest.keyClick(canvas, Qt.Key.Key_F)
    click(canvas, 60.5, 10.5)
    assert (doc.mask[:, 40:] == 2).all() and (doc.mask[:, :40] == 1).all()

    QTest.keyClick(canvas, Qt.Key.Key_P)
    canvas.set_current_class(4)
    verts = [click(canvas, *p) for p in [(10.0, 10.0), (30.0, 10.0), (30.0, 25.0)]]
    dbl = vp(canvas, 10.0, 25.0)
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, dbl)
    QTest.mouseDClick(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, dbl)
    r = polygon_region(doc.shape, [*verts, img(canvas, dbl)])
    poly = np.zeros(doc.shape, bool)
    poly[r.slices] = r.inside
    assert poly.sum() == 20 * 15 and np.array_equal(doc.mask == 4, poly)

    QTest.keyClick(canvas, Qt.Key.Key_R)  # replace class 1 (under the drag start) by 6 in a rectangle
    canvas.set_current_class(6)
    a, b = drag(canvas, [(2.0, 40.0), (20.0, 50.0), (60.0, 60.0)])[::2]
    rect = np.zeros(doc.shape, bool)
    rr = rect_region(doc.shape, a, b)
    rect[rr.slices] = rr.inside
    assert (doc.mask[rect & (np.arange(W) < 40)[None, :]] == 6).all()
    assert (doc.mask[rect & (np.arange(W) >= 40)[None, :]] == 2).all()
    assert (doc.mask[~rect & (doc.mask == 6)] == 6).sum() == 0

    QTest.keyClick(canvas, Qt.Key.Key_I)
    with canvas_signal(canvas.class_picked) as picked:
        click(canvas, 70.5, 5.5)
    assert picked == [2] and canvas.current_class() == 2
    assert canvas.undo_stack.count() == 3
    for _ in range(3):
        canvas.undo_stack.undo()
    assert (doc.mask[:, :40] == 1).all() and (doc.mask[:, 40:] == 255).all()


def test_replace_inside_a_clicked_polygon_and_polygon_keys(setup) -> None:
    canvas, doc, _ = setup
    doc.apply(_region_edit(doc, (0, 0), (96, 64), 1))
    canvas.set_current_class(8)
    canvas.set_tool("replace")
    verts = [click(canvas, *p) for p in [(4.0, 4.0), (24.0, 4.0), (24.0, 20.0), (4.0, 20.0)]]
    QTest.keyClick(canvas, Qt.Key.Key_Return)
    r = polygon_region(doc.shape, verts)
    assert r.inside.all() and (doc.mask[r.slices] == 8).all() and (doc.mask == 8).sum() == 20 * 16

    canvas.set_tool("polygon")
    for p in [(50.0, 4.0), (60.0, 4.0), (60.0, 14.0)]:
        click(canvas, *p)
    QTest.keyClick(canvas, Qt.Key.Key_Escape)  # cancelled: nothing filled
    click(canvas, 50.0, 40.0)
    click(canvas, 60.0, 40.0)
    click(canvas, 55.0, 50.0)
    QTest.keyClick(canvas, Qt.Key.Key_Backspace)  # drop the third vertex: only 2 left, Enter fills nothing
    QTest.keyClick(canvas, Qt.Key.Key_Return)
    assert (doc.mask == 8).sum() == 20 * 16 and canvas.undo_stack.count() == 1


def test_undo_redo_shortcuts_and_brush_keys(setup) -> None:
    canvas, doc, actions = setup
    canvas.set_current_class(2)
    size = canvas.brush_size()
    QTest.keyClick(canvas, Qt.Key.Key_BracketRight)
    assert canvas.brush_size() > size
    QTest.keyClick(canvas, Qt.Key.Key_BracketLeft)
    QTest.keyClick(canvas, Qt.Key.Key_BracketLeft)
    assert canvas.brush_size() < size
    drag(canvas, [(20.5, 20.5), (30.5, 20.5)])
    drag(canvas, [(20.5, 40.5), (30.5, 40.5)])
    painted = doc.mask.copy()
    assert canvas.undo_stack.count() == 2
    QTest.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert (doc.mask == 255).all()
    QTest.keyClick(
        canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    QTest.keyClick(
        canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert np.array_equal(doc.mask, painted)


def test_overlay_toggle_outline_and_opacity(setup) -> None:
    canvas, doc, actions = setup
    doc.apply(_region_edit(doc, (10, 10), (30, 30), 4))
    buf = canvas.overlay_pixels()
    assert buf[20, 20, 3] == 255
    QTest.keyClick(canvas, Qt.Key.Key_O, Qt.KeyboardModifier.ShiftModifier)
    assert canvas.outline_mode() and buf[20, 20, 3] == 0 and buf[10, 20, 3] == 255
    QTest.keyClick(canvas, Qt.Key.Key_O)
    assert not canvas.overlay_visible()
    QTest.keyClick(canvas, Qt.Key.Key_O)
    assert canvas.overlay_visible()
    canvas.set_overlay_opacity(0.25)
    assert canvas.overlay_opacity() == pytest.approx(0.25)


def test_attention_click_cursor_and_heatmap(setup) -> None:
    canvas, doc, _ = setup
    QTest.keyClick(canvas, Qt.Key.Key_A)
    with canvas_signal(canvas.attention_clicked) as clicks:
        click(canvas, 33.5, 22.5)
    assert clicks == [(33, 22)] and (doc.mask == 255).all()
    with canvas_signal(canvas.cursor_moved) as moves:
        QTest.mouseMove(canvas.viewport(), vp(canvas, 7.5, 9.5))
        QTest.mouseMove(canvas.viewport(), vp(canvas, -3.0, 9.5))
    assert moves[-2:] == [(7, 9), (-1, -1)]
    canvas.set_heatmap(
        np.random.default_rng(0).random((8, 12), dtype=np.float32), cmap="viridis", opacity=0.4
    )
    layer = canvas._heatmap_layer
    assert layer.isVisible() and layer.boundingRect().width() == W and layer.opacity() == pytest.approx(0.4)
    canvas.set_heatmap(None)
    assert not layer.isVisible()


def test_zoom_at_cursor_pan_and_fit(setup) -> None:
    canvas, doc, _ = setup
    canvas.set_current_class(1)
    canvas.set_zoom(8.0)  # both directions scroll, so the point under the cursor can stay put
    anchor = vp(canvas, 60.0, 30.0)
    before = img(canvas, anchor)
    event = QWheelEvent(
        QPointF(anchor),
        QPointF(canvas.viewport().mapToGlobal(anchor)),
        QPoint(0, 0),
        QPoint(0, 240),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(canvas.viewport(), event)
    assert canvas.zoom() == pytest.approx(8.0 * 1.25**2)
    after = img(canvas, anchor)
    assert after[0] == pytest.approx(before[0], abs=0.5) and after[1] == pytest.approx(before[1], abs=0.5)
    # middle-button drag pans and does not paint
    h0 = canvas.horizontalScrollBar().value()
    drag(canvas, [(60.0, 30.0), (50.0, 30.0)], button=Qt.MouseButton.MiddleButton)
    assert canvas.horizontalScrollBar().value() != h0
    # Space + left drag pans too
    h1 = canvas.horizontalScrollBar().value()
    QTest.keyPress(canvas, Qt.Key.Key_Space)
    drag(canvas, [(50.0, 30.0), (45.0, 30.0)])
    QTest.keyRelease(canvas, Qt.Key.Key_Space)
    assert canvas.horizontalScrollBar().value() != h1
    assert (doc.mask == 255).all() and canvas.undo_stack.count() == 0
    canvas.fit_to_window()
    vis = canvas.mapToScene(canvas.viewport().rect()).boundingRect()
    assert vis.contains(canvas.sceneRect())


def test_accept_prediction_is_undoable_and_sizes_are_checked(qtbot, labels) -> None:
    canvas = CanvasView()
    qtbot.addWidget(canvas)
    canvas.set_image(np.zeros((8, 10, 3), np.uint8))
    label = np.full((8, 10), 3, np.uint8)
    doc = AnnotationDocument.empty(8, 10, labels, prediction=label)
    canvas.set_document(doc)
    with canvas_signal(canvas.document_edited) as edited:
        assert canvas.accept_prediction()
    assert edited and (doc.mask == 3).all()
    canvas.undo_stack.undo()
    assert (doc.mask == 255).all()
    with pytest.raises(ValueError, match="same size"):
        canvas.set_document(AnnotationDocument.empty(9, 10, labels))
    canvas.set_image(np.zeros((5, 5, 3), np.uint8))  # another image: the old document is dropped
    assert canvas.document is None and canvas.undo_stack.count() == 0


def test_shift_click_line_and_tool_switch_mid_stroke_keeps_the_stroke(setup) -> None:
    canvas, doc, _ = setup
    canvas.set_current_class(5)
    canvas.set_brush_size(3)
    first = click(canvas, 10.5, 10.5)
    second = click(canvas, 50.5, 30.5, Qt.KeyboardModifier.ShiftModifier)
    assert np.array_equal(doc.mask == 5, expected_stroke(doc.shape, [first, first, second], 3))
    assert canvas.undo_stack.count() == 2
    # switching tool while the button is down records the stroke so far as one step
    QTest.mousePress(
        canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, vp(canvas, 70.5, 50.5)
    )
    QTest.mouseMove(canvas.viewport(), vp(canvas, 80.5, 50.5))
    canvas.set_tool("fill")
    QTest.mouseRelease(
        canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, vp(canvas, 90.5, 50.5)
    )
    assert canvas.undo_stack.count() == 3 and doc.mask[50, 75] == 5 and doc.mask[50, 90] == 255


def test_actions_follow_the_canvas_and_controls_stay_in_sync(setup, labels) -> None:
    from app.widgets.edit_controls import BrushSizeSpin, OpacitySlider

    canvas, doc, actions = setup
    spin, slider = BrushSizeSpin(canvas), OpacitySlider(canvas)
    canvas.set_tool("polygon")
    assert actions["polygon"].isChecked() and not actions["brush"].isChecked()
    actions["fill"].trigger()
    assert canvas.tool() == "fill"
    QTest.keyClick(canvas, Qt.Key.Key_BracketRight)
    assert spin.value() == canvas.brush_size()
    spin.setValue(40)
    assert canvas.brush_size() == 40
    slider.setValue(80)
    assert canvas.overlay_opacity() == pytest.approx(0.8)
    with pytest.raises(ValueError, match="unknown tool"):
        canvas.set_tool("lasso")
    # Shift+A accepts the prediction when there is one (and is a no-op without)
    QTest.keyClick(canvas, Qt.Key.Key_A, Qt.KeyboardModifier.ShiftModifier)
    assert (doc.mask == 255).all() and canvas.undo_stack.count() == 0
    predicted = AnnotationDocument.empty(H, W, labels, prediction=np.full((H, W), 2, np.uint8))
    canvas.set_document(predicted)
    QTest.keyClick(canvas, Qt.Key.Key_A, Qt.KeyboardModifier.ShiftModifier)
    assert (predicted.mask == 2).all() and canvas.undo_stack.count() == 1
