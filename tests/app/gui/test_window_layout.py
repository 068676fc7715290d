"""The main window at 1366 x 768 and at its default size, with a real CamVid project (issue 10): the
toolbar does not reflow, dock tabs are not elided, a panel enabled in View > Panels is raised, the image
is re-fitted after a resize, and the canvas, palette and status bar agree about the lock, zoom and class."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QTabBar, QToolBar

from app.model.view_hints import zoom_text
from tests.app.gui.gui_helpers import chart_texts

pytestmark = pytest.mark.gui

SIZES = [(1366, 768), (1400, 900)]  # a common laptop screen, and the window's default size


def _open(qtbot, window, project_dir) -> None:
    session = window.controller("session")
    with qtbot.waitSignal(session.image_opened, timeout=10_000):
        session.open_project(project_dir)


def _resize(window, w: int, h: int) -> None:
    window.resize(w, h)
    QTest.qWait(20)  # the layout settles in posted events


def _hidden_toolbar_actions(window) -> list[str]:
    toolbar = window.findChild(QToolBar, "toolbar_main")
    return [
        a.iconText()
        for a in toolbar.actions()
        if not a.isSeparator() and not toolbar.widgetForAction(a).isVisible()
    ]


def _dock_tab_bars(window) -> list[QTabBar]:
    bars = window.findChildren(QTabBar, options=Qt.FindChildOption.FindDirectChildrenOnly)
    return [b for b in bars if b.isVisible() and b.count()]


@pytest.mark.parametrize("size", SIZES)
def test_toolbar_keeps_its_layout_when_the_undo_text_changes(qtbot, window, project_dir, size) -> None:
    _open(qtbot, window, project_dir)
    _resize(window, *size)
    toolbar = window.findChild(QToolBar, "toolbar_main")
    a = window.actions_by_name
    assert toolbar.actions()[0] is a["reviewed_next"]  # first: the last to overflow
    assert _hidden_toolbar_actions(window) == []
    undo_button = toolbar.widgetForAction(a["undo"])
    geometry = undo_button.geometry(), toolbar.widgetForAction(a["reviewed_next"]).geometry()
    window.canvas.set_tool("fill")
    window.canvas.set_current_class(3)
    pos = window.canvas.mapFromScene(QPointF(20.5, 20.5))
    QTest.mouseMove(window.canvas.viewport(), pos)
    QTest.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
    QApplication.processEvents()
    assert a["undo"].text() == "&Undo" and a["undo"].isEnabled()
    assert a["undo"].toolTip() == "Undo Fill (Ctrl+Z)"
    assert (undo_button.geometry(), toolbar.widgetForAction(a["reviewed_next"]).geometry()) == geometry
    assert _hidden_toolbar_actions(window) == []
    # the status bar names the new class under the cursor at once (it was stale after a fill)
    assert window.cursor_info.klass.text() == window.session.project.label_set.by_index(3).name
    window.canvas.undo_stack.undo()
    assert a["undo"].toolTip() == "Nothing to undo (Ctrl+Z)" and not a["undo"].isEnabled()
    assert a["redo"].toolTip().startswith("Redo Fill (")  # Ctrl+Y or Ctrl+Shift+Z, by platform


@pytest.mark.parametrize("size", SIZES)
def test_dock_tabs_are_not_elided_and_enabling_cam_raises_it(qtbot, window, size) -> None:
    _resize(window, *size)
    cam = window.docks["cam"]
    toggle = cam.toggleViewAction()
    if toggle.isChecked():  # a layout saved by an earlier test of this process (QSettings) showed it
        toggle.trigger()
    assert not cam.isVisible()
    assert toggle.text() == "Channel attention (CAM)"
    toggle.trigger()  # View > Panels > Channel attention (CAM)
    qtbot.waitUntil(lambda: not cam.visibleRegion().isEmpty(), timeout=2000)  # raised, not behind a tab
    QApplication.processEvents()
    bars = _dock_tab_bars(window)
    assert bars
    for bar in bars:
        texts = [bar.tabText(i) for i in range(bar.count())]
        assert bar.elideMode() == Qt.TextElideMode.ElideNone, texts
        needed = sum(bar.tabSizeHint(i).width() for i in range(bar.count()))
        assert needed <= bar.width(), (texts, needed, bar.width())  # every tab whole, no scrolling
        if "CAM" in texts:
            i = texts.index("CAM")
            assert bar.currentIndex() == i and bar.tabToolTip(i) == "Channel attention (CAM)"


def test_docked_finetune_curves_read_at_1366x768(qtbot, window) -> None:
    _resize(window, 1366, 768)
    window.docks["finetune"].raise_()
    curves = window.finetune_panel.curves
    for i in range(0, 400, 20):
        curves.add_record(
            {"type": "train", "iter": i, "loss": 2.5 - i / 200, "loss_pam": 0.6, "loss_cam": 0.5}
        )
        if i % 100 == 0:
            curves.add_record({"type": "val", "iter": i, "miou": 0.1 + i / 1000})
    qtbot.waitUntil(lambda: curves.loss_chart.isVisible(), timeout=2000)
    QTest.qWait(50)
    texts = chart_texts(curves.loss_chart) + chart_texts(curves.miou_chart)
    assert {"total", "pam", "cam", "380"} <= set(texts)
    assert not [t for t in texts if "..." in t or "…" in t]


def test_canvas_is_refitted_after_a_resize_and_the_zoom_is_shown(qtbot, window, project_dir) -> None:
    _open(qtbot, window, project_dir)
    canvas = window.canvas

    def fits() -> bool:
        shown = canvas.mapToScene(canvas.viewport().rect()).boundingRect()
        return shown.contains(canvas.sceneRect()) and (
            shown.width() < canvas.sceneRect().width() * 1.05
            or shown.height() < canvas.sceneRect().height() * 1.05
        )

    for size in [(1366, 768), (1400, 900), (1000, 700)]:
        _resize(window, *size)
        assert fits(), size
        assert window.cursor_info.zoom.text() == zoom_text(canvas.zoom())
    window.actions_by_name["zoom_in"].trigger()
    zoomed = canvas.zoom()
    assert window.cursor_info.zoom.text() == zoom_text(zoomed)
    _resize(window, 1366, 768)
    assert canvas.zoom() == pytest.approx(zoomed)  # the user's zoom is left alone


def test_lock_banner_in_the_window_survives_image_switches_and_esc_clears_the_palette(
    qtbot, window, project_dir
) -> None:
    _open(qtbot, window, project_dir)
    canvas, palette, session = window.canvas, window.palette, window.controller("session")
    label_set = session.project.label_set
    palette.lock_selector.set_lock(label_set.by_name("Road").index)
    assert canvas.lock_banner_text().startswith("Painting only over Road")
    with qtbot.waitSignal(session.image_opened, timeout=10_000):
        window.actions_by_name["next"].trigger()
    assert canvas.lock_class() == label_set.by_name("Road").index  # kept: the banner says so
    assert canvas.lock_banner_text().startswith("Painting only over Road")
    canvas.setFocus()
    QTest.keyClick(canvas, Qt.Key.Key_Escape)
    assert palette.lock_selector.lock() is None and canvas.lock_class() is None
    assert canvas.lock_banner_text() is None
