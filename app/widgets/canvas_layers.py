"""Graphics items of the canvas: a layer that draws a (shared-memory) QImage, the brush cursor and the
attention query marker.

The layer draws only the exposed part of its image (``option.exposedRect``), so repainting after a
brush dab costs the dab's rectangle, not the whole 2048 x 1024 (or 8000 x 6000) image.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsItemGroup,
    QGraphicsLineItem,
    QStyleOptionGraphicsItem,
    QWidget,
)

from app.widgets.qimage import WrappedImage


class ImageLayer(QGraphicsItem):
    """Draws a :class:`WrappedImage` stretched over ``size`` scene units (default: its own pixels).

    ``smooth``: bilinear sampling when scaled (photos, heatmaps); off for the class mask so label
    pixels stay crisp when zoomed in.
    """

    def __init__(self, *, smooth: bool, z: float) -> None:
        super().__init__()
        self._wrapped: WrappedImage | None = None
        self._size = (0.0, 0.0)
        self._smooth = smooth
        self.setZValue(z)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    @property
    def wrapped(self) -> WrappedImage | None:
        return self._wrapped

    def set_image(self, wrapped: WrappedImage | None, size: tuple[float, float] | None = None) -> None:
        """Show ``wrapped`` over ``size`` = (width, height) scene units (default: its pixel size)."""
        self.prepareGeometryChange()
        self._wrapped = wrapped
        if wrapped is None:
            self._size = (0.0, 0.0)
        else:
            self._size = size if size is not None else (float(wrapped.width), float(wrapped.height))
        self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(0.0, 0.0, self._size[0], self._size[1])

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        w = self._wrapped
        if w is None or self._size[0] <= 0:
            return
        sx, sy = w.width / self._size[0], w.height / self._size[1]
        exposed = option.exposedRect.intersected(self.boundingRect())
        if exposed.isEmpty():
            return
        # Source pixels covering the exposed area, widened to whole pixels so that edges do not seam.
        src = QRectF(exposed.x() * sx, exposed.y() * sy, exposed.width() * sx, exposed.height() * sy)
        src = QRectF(src.toAlignedRect()).intersected(QRectF(0, 0, w.width, w.height))
        target = QRectF(src.x() / sx, src.y() / sy, src.width() / sx, src.height() / sy)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self._smooth)
        painter.drawImage(target, w.image, src)


class BrushCursor(QGraphicsItemGroup):
    """Round outline of the brush footprint under the mouse: white solid plus black dashed circle, one
    screen pixel wide at any zoom, so it is visible on dark and bright images alike."""

    def __init__(self) -> None:
        super().__init__()
        self.setZValue(100)
        self._outer = QGraphicsEllipseItem()
        self._inner = QGraphicsEllipseItem()
        white = QPen(QColor(255, 255, 255, 230), 0)
        white.setCosmetic(True)
        black = QPen(QColor(0, 0, 0, 230), 0, Qt.PenStyle.DashLine)
        black.setCosmetic(True)
        self._outer.setPen(white)
        self._inner.setPen(black)
        self.addToGroup(self._outer)
        self.addToGroup(self._inner)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.hide()

    def place(self, center: QPointF, diameter: float) -> None:
        r = diameter / 2.0
        rect = QRectF(center.x() - r, center.y() - r, diameter, diameter)
        self._outer.setRect(rect)
        self._inner.setRect(rect)
        self.show()


class QueryMarker(QGraphicsItemGroup):
    """A cross at the attention query pixel, so the heatmap can be read against where the user clicked.

    Fixed screen size at any zoom (``ItemIgnoresTransformations``), white over black for any image.
    """

    ARM = 9.0  # screen pixels from the centre to the end of each arm

    def __init__(self) -> None:
        super().__init__()
        self.setZValue(95)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        for width, color in ((3, QColor(0, 0, 0, 220)), (1, QColor(255, 255, 255, 240))):
            pen = QPen(color, width)
            pen.setCosmetic(True)
            for line in ((-self.ARM, 0.0, self.ARM, 0.0), (0.0, -self.ARM, 0.0, self.ARM)):
                item = QGraphicsLineItem(*line)
                item.setPen(pen)
                self.addToGroup(item)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.hide()

    def place(self, x: int, y: int) -> None:
        """Mark image pixel (x, y) at its centre."""
        self.setPos(QPointF(x + 0.5, y + 0.5))
        self.show()
