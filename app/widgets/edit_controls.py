"""Small controls bound to a canvas: brush size and overlay opacity (one control per class)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSlider, QSpinBox, QWidget

from app.widgets.canvas import MAX_BRUSH, CanvasView


class BrushSizeSpin(QSpinBox):
    """Brush diameter in image pixels, kept in sync with the canvas ([ and ] change both)."""

    def __init__(self, canvas: CanvasView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setRange(1, MAX_BRUSH)
        self.setSuffix(" px")
        self.setToolTip("Brush size in image pixels ([ and ])")
        self.setValue(canvas.brush_size())
        self.valueChanged.connect(canvas.set_brush_size)
        canvas.brush_size_changed.connect(self.setValue)


class OpacitySlider(QSlider):
    """Opacity of the class overlay, 0..100 %."""

    def __init__(self, canvas: CanvasView, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setRange(0, 100)
        self.setToolTip("Class overlay opacity")
        self.setValue(round(canvas.overlay_opacity() * 100))
        self.valueChanged.connect(lambda v: canvas.set_overlay_opacity(v / 100.0))
