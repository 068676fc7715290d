"""Helpers of the GUI tests: a canvas in a window, mouse input in image coordinates, chart texts."""

from __future__ import annotations

import numpy as np
import shiboken6
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QGraphicsTextItem, QMainWindow

from app.model.document import AnnotationDocument
from app.widgets.canvas import CanvasView
from app.widgets.canvas_actions import build_canvas_actions

H, W = 64, 96
ZOOM = 4.0


def make_canvas(qtbot, labels):
    """A window with a canvas showing a random 96x64 image and an unlabeled document at zoom 4."""
    window = QMainWindow()
    canvas = CanvasView()
    window.setCentralWidget(canvas)
    actions = build_canvas_actions(canvas, window)
    window.resize(520, 420)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    rgb = np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8)
    canvas.set_image(rgb)
    doc = AnnotationDocument.empty(H, W, labels)
    canvas.set_document(doc)
    canvas.set_zoom(ZOOM)
    canvas.setFocus()
    QApplication.processEvents()
    canvas._test_window = window  # pytest-qt keeps only weak references to widgets
    return canvas, doc, actions


def vp(canvas: CanvasView, x: float, y: float) -> QPoint:
    return canvas.mapFromScene(QPointF(x, y))


def img(canvas: CanvasView, p: QPoint) -> tuple[float, float]:
    q = canvas.to_image(QPointF(p))
    return q.x(), q.y()


def drag(canvas: CanvasView, points: list[tuple[float, float]], button=Qt.MouseButton.LeftButton, mod=None):
    """Press at the first point, move through the others, release at the last; returns image points."""
    mod = Qt.KeyboardModifier.NoModifier if mod is None else mod
    view_pts = [vp(canvas, *p) for p in points]
    QTest.mousePress(canvas.viewport(), button, mod, view_pts[0])
    for p in view_pts[1:]:
        QTest.mouseMove(canvas.viewport(), p)
    QTest.mouseRelease(canvas.viewport(), button, mod, view_pts[-1])
    return [img(canvas, p) for p in view_pts]


def click(canvas: CanvasView, x: float, y: float, mod=None) -> tuple[float, float]:
    p = vp(canvas, x, y)
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, mod or Qt.KeyboardModifier.NoModifier, p)
    return img(canvas, p)


class canvas_signal:
    """Collect a signal's emissions during a block (synchronous signals; no waiting needed)."""

    def __init__(self, signal) -> None:
        self.signal, self.values = signal, []

    def __enter__(self):
        self.signal.connect(self._got)
        return self.values

    def _got(self, *args) -> None:
        self.values.append(args[0] if len(args) == 1 else args)

    def __exit__(self, *exc):
        self.signal.disconnect(self._got)
        return False


def chart_texts(chart_view) -> list[str]:
    """Every visible text of a QChartView (axis labels, legend, title): QtCharts keeps its items private,
    so they are read back as the QGraphicsTextItems they are (they derive from QGraphicsObject only)."""
    kind = QGraphicsTextItem().type()
    texts = []
    for item in chart_view.scene().items():
        if item.type() == kind and item.isVisible():
            address = shiboken6.getCppPointer(item.toGraphicsObject())[0]
            texts.append(shiboken6.wrapInstance(address, QGraphicsTextItem).toPlainText())
    return [t for t in texts if t]
