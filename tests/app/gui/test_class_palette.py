"""ClassPalette: order, search, number-key hotkeys, lock selector, and the link to the canvas."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMainWindow

from app.model.document import AnnotationDocument
from app.widgets.canvas import CanvasView
from app.widgets.class_palette import ClassPalette
from danet_core.labels import get_label_set

pytestmark = pytest.mark.gui


@pytest.fixture
def palette(qtbot):
    window = QMainWindow()
    pal = ClassPalette()
    window.setCentralWidget(pal)
    pal.hotkey_actions(window)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    pal._test_window = window  # pytest-qt keeps only weak references
    return pal


def shown(pal: ClassPalette) -> list[str]:
    return [pal.list.item(r).text() for r in range(pal.list.count()) if not pal.list.item(r).isHidden()]


def test_cityscapes_order_puts_evaluated_classes_on_the_hotkeys(palette, qtbot) -> None:
    palette.set_label_set(get_label_set("cityscapes"))
    assert shown(palette)[:3] == ["1  road", "2  sidewalk", "3  building"]
    assert palette.current_index() == 7  # road's label id
    palette.list.setFocus()
    with qtbot.waitSignal(palette.class_selected) as sig:
        QTest.keyClick(palette.list, Qt.Key.Key_3)
    assert sig.args == [11] and palette.current_index() == 11
    QTest.keyClick(palette.list, Qt.Key.Key_0)
    assert (
        palette.current_index() == get_label_set("cityscapes").by_name("terrain").index
    )  # 10th: road .. vegetation, terrain


def test_search_filters_keeps_numbers_and_enter_picks(palette, qtbot) -> None:
    palette.set_label_set(get_label_set("cityscapes"))
    palette.search.setFocus()
    QTest.keyClicks(palette.search, "car")
    assert shown(palette) == ["    car", "    caravan"]  # 14th and 19th: no number key
    with qtbot.waitSignal(palette.class_selected) as sig:
        QTest.keyClick(palette.search, Qt.Key.Key_Return)
    assert sig.args == [26]
    palette.search.clear()
    assert len(shown(palette)) == len(get_label_set("cityscapes").classes)
    with pytest.raises(ValueError, match="not in the label set"):
        palette.set_current_index(200)


def test_lock_selector_and_palette_canvas_wiring(palette, qtbot) -> None:
    camvid = get_label_set("camvid")
    palette.set_label_set(camvid)
    assert palette.lock_selector.lock() is None
    with qtbot.waitSignal(palette.lock_changed) as sig:
        palette.lock_selector.set_lock(255)
    assert sig.args == [255]
    palette.lock_selector.set_lock(3)
    assert palette.lock_selector.lock() == 3

    canvas = CanvasView()
    qtbot.addWidget(canvas)
    palette.class_selected.connect(canvas.set_current_class)
    palette.lock_changed.connect(canvas.set_lock_class)
    canvas.class_picked.connect(palette.set_current_index)
    palette.set_current_index(8)
    palette.lock_selector.set_lock(None)
    assert canvas.current_class() == 8 and canvas.lock_class() is None
    mask = np.full((10, 10), 4, np.uint8)
    canvas.set_image(np.zeros((10, 10, 3), np.uint8))
    canvas.set_document(AnnotationDocument(mask, camvid))
    canvas.resize(200, 200)
    canvas.show()
    canvas.set_tool("eyedropper")
    QTest.mouseClick(
        canvas.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
        canvas.mapFromScene(QPointF(5, 5)),
    )
    assert palette.current_index() == 4 and canvas.current_class() == 4


def test_number_keys_keep_their_class_after_a_search(palette, qtbot) -> None:
    """Issue 10: after a search, "1" selected the first *filtered* class (Pedestrian)."""
    camvid = get_label_set("camvid")
    palette.set_label_set(camvid)
    palette.set_current_index(camvid.by_name("Car").index)
    palette.search.setFocus()
    QTest.keyClicks(palette.search, "ped")
    assert shown(palette) == ["0  Pedestrian"]  # the row keeps its own key
    palette.list.setFocus()
    with qtbot.waitSignal(palette.class_selected) as sig:
        QTest.keyClick(palette.list, Qt.Key.Key_1)
    assert sig.args == [camvid.by_name("Sky").index]
    assert palette.search.text() == "" and len(shown(palette)) == len(camvid.classes)  # Sky is in view
    QTest.keyClicks(palette.search, "ped")
    palette.list.setFocus()
    QTest.keyClick(palette.list, Qt.Key.Key_0)
    assert palette.current_index() == camvid.by_name("Pedestrian").index
    assert palette.search.text() == "ped"  # the class was shown: the search stays
