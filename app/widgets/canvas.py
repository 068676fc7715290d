"""The annotation canvas: image, class-mask overlay and heatmap layers in a zoomable, pannable view.

Why it stays fast on 2048 x 1024 and usable on 8000 x 6000: the overlay is one full-size 32-bit buffer
shared with a QImage (no copy); an edit re-renders only its rectangle of that buffer
(``render_overlay_into``) and invalidates only that rectangle of the scene, and each layer draws only
its exposed part. Opacity is applied by the layer item, so moving the slider re-renders nothing.

Input: the wheel zooms at the cursor; the middle button, Space + left drag, or the pan tool pan; the
left button goes to the active tool (``app.widgets.tools``). Changing the document clears the undo
history (its commands refer to the previous document).

What the user must see while painting is drawn on the canvas (``app.widgets.canvas_overlays``): a banner
while "paint only over" is set (Esc or a click on it clears the lock), the active tool's hint (the replace
tool's "A -> B"), and a cross at the attention query pixel. The image stays fitted to the window through
resizes until the user zooms (``app.model.view_hints.AutoFit``). After every edit the class under the
cursor is reported again (``cursor_moved``), so the status bar is never stale after a fill or an undo.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent, QPainter, QResizeEvent, QUndoStack, QWheelEvent
from PySide6.QtWidgets import QFrame, QGraphicsScene, QGraphicsView, QWidget

from app.model.document import AnnotationDocument
from app.model.edit_ops import MaskEdit, Point, snap_brush_center
from app.model.render import overlay_lut, render_heatmap, render_overlay_into
from app.model.view_hints import AutoFit, lock_banner
from app.widgets.canvas_layers import BrushCursor, ImageLayer, QueryMarker
from app.widgets.canvas_overlays import LockBanner, PredictionNote, ToolHint
from app.widgets.qimage import CHANNEL_ORDER, rgb_to_wrapped, wrap_buffer
from app.widgets.tools import TOOL_NAMES, Tool, make_tools
from app.widgets.undo import MaskEditCommand

logger = logging.getLogger(__name__)

MIN_ZOOM, MAX_ZOOM = 0.01, 64.0
MAX_BRUSH = 500
_FULL_RENDER_BAND = 512  # rows per band when re-rendering the whole overlay (bounded temporaries)


class CanvasView(QGraphicsView):
    """View of one image and its :class:`AnnotationDocument`; see the module docstring."""

    cursor_moved = Signal(int, int)  # image pixel under the mouse; (-1, -1) outside the image
    attention_clicked = Signal(int, int)
    document_edited = Signal()
    class_picked = Signal(int)
    tool_changed = Signal(str)
    brush_size_changed = Signal(int)
    zoom_changed = Signal(float)
    lock_cleared = Signal()  # the user cleared "paint only over" on the canvas (Esc, banner click)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontAdjustForAntialiasing, True)
        self.setMouseTracking(True)
        self.viewport().setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.undo_stack = QUndoStack(self)

        self._image_layer = ImageLayer(smooth=True, z=0)
        self._overlay_layer = ImageLayer(smooth=False, z=1)
        self._heatmap_layer = ImageLayer(smooth=True, z=2)
        self._brush_cursor = BrushCursor()
        self._query_marker = QueryMarker()
        layers = (self._image_layer, self._overlay_layer, self._heatmap_layer)
        for item in (*layers, self._brush_cursor, self._query_marker):
            self.scene().addItem(item)
        self._overlay_layer.setOpacity(0.5)
        self._heatmap_layer.hide()

        self.document: AnnotationDocument | None = None
        self._image_size = (0, 0)
        self._lut: np.ndarray | None = None
        self._outline = False
        self._current_class = 0
        self._brush_size = 15
        self._lock: int | None = None
        self._tools = make_tools(self)
        self._tool: Tool = self._tools["brush"]
        self._tool_pressed = False
        self._pan_from: QPoint | None = None
        self._space = False
        self._last_pos: QPointF | None = None
        self._fit = AutoFit()
        self._banner = LockBanner(self)
        self._banner.clicked.connect(self.clear_lock)
        self._hint = ToolHint(self)
        self._note = PredictionNote(self)
        # pixels re-rendered by the last document change (the benchmark and tests check this stays small)
        self.last_render_rect: tuple[int, int, int, int] = (0, 0, 0, 0)
        self.viewport().setCursor(self._tool.cursor)

    # --- content ---------------------------------------------------------------------------------
    def set_image(self, rgb: np.ndarray | None) -> None:
        """Show an RGB uint8 H x W x 3 image. A document of another size is dropped (it belonged to
        the previous image)."""
        if rgb is None:
            self._query_marker.hide()
            self.set_document(None)
            self._image_layer.set_image(None)
            self._image_size = (0, 0)
            self.zoom_changed.emit(0.0)
            return
        wrapped = rgb_to_wrapped(rgb)
        self._image_layer.set_image(wrapped)
        self._image_size = (wrapped.width, wrapped.height)
        if self.document is not None and self.document.shape != (wrapped.height, wrapped.width):
            logger.debug("new image size; dropping the previous document")
            self.set_document(None)
        self.scene().setSceneRect(QRectF(0, 0, wrapped.width, wrapped.height))
        self._heatmap_layer.set_image(self._heatmap_layer.wrapped, self._size_f())

    def set_document(self, doc: AnnotationDocument | None) -> None:
        """Edit ``doc`` (its mask must have the image's size) or nothing; clears the undo history."""
        if doc is not None and self._image_size != (0, 0) and doc.shape != self._image_size[::-1]:
            raise ValueError(
                f"document is {doc.width}x{doc.height} but the image is "
                f"{self._image_size[0]}x{self._image_size[1]}; expected the same size"
            )
        self._tool.cancel()
        if self.document is not None:
            self.document.remove_listener(self._on_document_changed)
        self.undo_stack.clear()
        self.document = doc
        self._query_marker.hide()  # it marked a pixel of the previous document's attention
        self._show_lock()
        self._show_hint()
        if doc is None:
            self._overlay_layer.set_image(None)
            return
        if self._image_size == (0, 0):
            self._image_size = (doc.width, doc.height)
            self.scene().setSceneRect(QRectF(0, 0, doc.width, doc.height))
        self._lut = overlay_lut(doc.label_set, order=CHANNEL_ORDER)
        self._overlay_layer.set_image(wrap_buffer(np.zeros((doc.height, doc.width, 4), dtype=np.uint8)))
        self._render_all()
        doc.add_listener(self._on_document_changed)

    def set_heatmap(self, values: np.ndarray | None, *, cmap: str = "inferno", opacity: float = 0.6) -> None:
        """Overlay a float map in 0..1 (NaN = transparent) over the image, or remove it (None).

        Any resolution is accepted: a map smaller than the image (e.g. a PAM row at 1/8) is stretched
        over the whole image with bilinear smoothing."""
        if values is None:
            self._heatmap_layer.set_image(None)
            self._heatmap_layer.hide()
            return
        wrapped = wrap_buffer(np.ascontiguousarray(render_heatmap(values, cmap, order=CHANNEL_ORDER)))
        self._heatmap_layer.set_image(wrapped, self._size_f() if self._image_size != (0, 0) else None)
        self._heatmap_layer.setOpacity(float(np.clip(opacity, 0.0, 1.0)))
        self._heatmap_layer.show()

    def _size_f(self) -> tuple[float, float]:
        return float(self._image_size[0]), float(self._image_size[1])

    def image_size(self) -> tuple[int, int]:
        """(width, height) of the shown image (or document), (0, 0) when empty."""
        return self._image_size

    # --- overlay rendering -----------------------------------------------------------------------
    def _render_all(self) -> None:
        doc, wrapped = self.document, self._overlay_layer.wrapped
        if doc is None or wrapped is None or self._lut is None:
            return
        for y in range(0, doc.height, _FULL_RENDER_BAND):
            band = min(_FULL_RENDER_BAND, doc.height - y)
            render_overlay_into(
                wrapped.buffer, doc.mask, self._lut, (0, y, doc.width, band), outline=self._outline
            )
        self.last_render_rect = (0, 0, doc.width, doc.height)
        self._overlay_layer.update()

    def _on_document_changed(self, x: int, y: int, w: int, h: int) -> None:
        wrapped, doc = self._overlay_layer.wrapped, self.document
        if wrapped is not None and doc is not None and self._lut is not None:
            rect = render_overlay_into(
                wrapped.buffer, doc.mask, self._lut, (x, y, w, h), outline=self._outline
            )
            self.last_render_rect = rect
            self._overlay_layer.update(QRectF(*rect))
        self.document_edited.emit()
        self._report_cursor()  # the class under the cursor may have changed (a fill, an undo)

    def set_overlay_opacity(self, opacity: float) -> None:
        self._overlay_layer.setOpacity(float(np.clip(opacity, 0.0, 1.0)))

    def overlay_opacity(self) -> float:
        return float(self._overlay_layer.opacity())

    def set_overlay_visible(self, visible: bool) -> None:
        self._overlay_layer.setVisible(bool(visible))

    def overlay_visible(self) -> bool:
        return self._overlay_layer.isVisible()

    def set_outline_mode(self, outline: bool) -> None:
        if bool(outline) != self._outline:
            self._outline = bool(outline)
            self._render_all()

    def outline_mode(self) -> bool:
        return self._outline

    def overlay_pixels(self) -> np.ndarray | None:
        """The overlay buffer (H x W x 4 in the QImage's channel order), for tests and screenshots."""
        wrapped = self._overlay_layer.wrapped
        return None if wrapped is None else wrapped.buffer

    # --- editing state ---------------------------------------------------------------------------
    def set_tool(self, name: str) -> None:
        if name not in self._tools:
            raise ValueError(f"unknown tool {name!r}; expected one of {list(TOOL_NAMES)}")
        if self._tools[name] is self._tool:
            return
        self._tool.cancel()
        self._tool_pressed = False
        self._tool = self._tools[name]
        self._tool.activate()
        self.viewport().setCursor(self._tool.cursor)
        if not self._tool.shows_brush:
            self._brush_cursor.hide()
        elif self._last_pos is not None:
            self._place_brush_cursor(self._last_pos)
        self._show_hint()
        self.tool_changed.emit(name)

    def tool(self) -> str:
        return self._tool.name

    def set_current_class(self, index: int) -> None:
        self._current_class = int(index)
        self._show_hint()

    def current_class(self) -> int:
        return self._current_class

    def set_lock_class(self, index: int | None) -> None:
        """Paint only over pixels of this class (255: only unlabeled ones); None paints everywhere.

        The lock stays until it is cleared (also across images): the banner on the canvas shows it."""
        self._lock = None if index is None else int(index)
        self._show_lock()
        self._show_hint()

    def lock_class(self) -> int | None:
        return self._lock

    def clear_lock(self) -> None:
        """Paint everywhere again (Esc, a click on the banner); ``lock_cleared`` tells the palette."""
        if self._lock is not None:
            self.set_lock_class(None)
            self.lock_cleared.emit()

    def lock_banner_text(self) -> str | None:
        """The banner's text while it is shown (tests and screenshots), else None."""
        return self._banner.text() if self._banner.isVisibleTo(self) else None

    def set_prediction_note(self, text: str | None) -> None:
        """Say which prediction is shown (a preview, the full result); None hides the note."""
        if self._note.show_text(text):
            self._place_overlays()

    def prediction_note_text(self) -> str | None:
        return self._note.text() if self._note.isVisibleTo(self) else None

    def tool_hint_text(self) -> str | None:
        """The tool hint's text while it is shown, else None."""
        return self._hint.text() if self._hint.isVisibleTo(self) else None

    def attention_marker(self) -> tuple[float, float] | None:
        """Scene position of the attention query cross while it is shown, else None."""
        pos = self._query_marker.pos()
        return (pos.x(), pos.y()) if self._query_marker.isVisible() else None

    def set_brush_size(self, size: int) -> None:
        size = int(np.clip(size, 1, MAX_BRUSH))
        if size != self._brush_size:
            self._brush_size = size
            if self._last_pos is not None and self._tool.shows_brush:
                self._place_brush_cursor(self._last_pos)
            self.brush_size_changed.emit(size)

    def brush_size(self) -> int:
        return self._brush_size

    def grow_brush(self, steps: int = 1) -> None:
        """[ and ]: about 15 % per step (at least one pixel), so small and large brushes both adjust."""
        size = self._brush_size
        for _ in range(abs(steps)):
            delta = max(1, round(size * 0.15))
            size = size + delta if steps > 0 else size - delta
        self.set_brush_size(size)

    def push_edit(self, edit: MaskEdit, text: str, *, applied: bool) -> None:
        """Record ``edit`` as one undo step (applying it now unless ``applied``)."""
        if self.document is None:
            return
        self.undo_stack.push(MaskEditCommand(self.document, edit, text, applied=applied))

    def accept_prediction(
        self, lut: np.ndarray | None = None, *, min_confidence: float | None = None
    ) -> bool:
        """Replace the mask by the document's prediction as one undo step; False when nothing changed."""
        if self.document is None:
            return False
        edit = self.document.prediction_edit(lut, min_confidence=min_confidence)
        if edit is None:
            return False
        self.push_edit(edit, "Accept prediction", applied=False)
        return True

    # --- view ------------------------------------------------------------------------------------
    def fit_to_window(self) -> None:
        rect = self.scene().sceneRect()
        if rect.isEmpty() or self._image_size == (0, 0):
            self.zoom_changed.emit(0.0)  # no image: no zoom to show (was a nonsense "zoom 3281 %")
            return
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        self._fit.fitted()
        self.zoom_changed.emit(self.zoom())

    def zoom(self) -> float:
        return float(self.transform().m11())

    def set_zoom(self, factor: float) -> None:
        """Set the zoom (screen pixels per image pixel), keeping the centre of the view in place."""
        self.zoom_by(float(np.clip(factor, MIN_ZOOM, MAX_ZOOM)) / self.zoom())

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Multiply the zoom keeping the image point under ``anchor`` (a viewport position; default:
        the centre) at the same place on screen."""
        anchor = QPointF(self.viewport().rect().center()) if anchor is None else QPointF(anchor)
        fixed = self.to_image(anchor)
        target = float(np.clip(self.zoom() * factor, MIN_ZOOM, MAX_ZOOM))
        self._fit.zoomed()
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.scale(target / self.zoom(), target / self.zoom())
        moved = self.viewportTransform().map(fixed) - anchor
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + round(moved.x()))
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + round(moved.y()))
        self.zoom_changed.emit(self.zoom())

    def report_class_picked(self, index: int) -> None:
        """ToolHost: the eyedropper picked ``index``."""
        self.class_picked.emit(index)

    def report_attention_click(self, x: int, y: int) -> None:
        """ToolHost: the attention tool clicked image pixel (x, y): marked with a cross, then reported."""
        self._query_marker.place(x, y)
        self.attention_clicked.emit(x, y)

    def screen_distance(self, a: Point, b: Point) -> float:
        """Distance between two image points in screen pixels at the current zoom."""
        return math.hypot(a[0] - b[0], a[1] - b[1]) * self.zoom()

    def to_image(self, view_pos: QPointF) -> QPointF:
        """Viewport position -> image coordinates (sub-pixel; mapToScene would round to integers)."""
        inverse, _ = self.viewportTransform().inverted()
        return inverse.map(QPointF(view_pos))

    def _place_brush_cursor(self, pos: QPointF) -> None:
        cx, cy = snap_brush_center(pos.x(), pos.y(), self._brush_size)
        self._brush_cursor.place(QPointF(cx, cy), float(self._brush_size))

    def _report_cursor(self) -> None:
        """Emit ``cursor_moved`` for the image pixel under the mouse ((-1, -1) outside the image)."""
        if self._last_pos is None:
            return
        x, y = math.floor(self._last_pos.x()), math.floor(self._last_pos.y())
        w, h = self._image_size
        self.cursor_moved.emit(*((x, y) if 0 <= x < w and 0 <= y < h else (-1, -1)))

    # --- text over the canvas ----------------------------------------------------------------------
    def _show_lock(self) -> None:
        doc = self.document
        if self._banner.show_text(None if doc is None else lock_banner(doc.label_set, self._lock)):
            self._place_overlays()

    def _show_hint(self) -> None:
        if self._hint.show_text(self._tool.hint(self._last_pos)):
            self._place_overlays()

    def _place_overlays(self) -> None:
        area = self.viewport().geometry()
        self._banner.place(area)
        self._hint.place(area)
        self._note.place(area)

    def _pan(self, view_pos: QPoint) -> None:
        if self._pan_from is None:
            return
        delta = view_pos - self._pan_from
        self._pan_from = view_pos
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())

    # --- events ----------------------------------------------------------------------------------
    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(1.25**steps, event.position())
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        button = event.button()
        pans = button == Qt.MouseButton.MiddleButton or (
            button == Qt.MouseButton.LeftButton and (self._space or self._tool.pans)
        )
        if pans:
            self._pan_from = event.position().toPoint()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
        elif button == Qt.MouseButton.LeftButton:
            self._tool_pressed = True
            self._tool.press(self.to_image(event.position()), event.modifiers())
            self._show_hint()
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = self.to_image(event.position())
        self._last_pos = pos
        if self._pan_from is not None:
            self._pan(event.position().toPoint())
        else:
            self._tool.move(pos)
        if self._tool.shows_brush:
            self._place_brush_cursor(pos)
        self._show_hint()
        self._report_cursor()
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None and event.button() in (
            Qt.MouseButton.MiddleButton,
            Qt.MouseButton.LeftButton,
        ):
            self._pan_from = None
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor if self._space else self._tool.cursor)
        elif event.button() == Qt.MouseButton.LeftButton and self._tool_pressed:
            self._tool_pressed = False
            self._tool.release(self.to_image(event.position()))
            self._show_hint()
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and not self._space and not self._tool.pans:
            self._tool.double_click(self.to_image(event.position()))
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        elif self._tool.key(event.key()):
            self._show_hint()
        elif event.key() == Qt.Key.Key_Escape and self._lock is not None:
            self.clear_lock()  # Esc first cancels a polygon in progress (the tool took it above)
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.viewport().setCursor(self._tool.cursor)
            event.accept()
            return
        super().keyReleaseEvent(event)

    def leaveEvent(self, event: QEvent) -> None:
        self._brush_cursor.hide()
        self._last_pos = None
        self.cursor_moved.emit(-1, -1)
        self._show_hint()
        super().leaveEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Keep the overlays in place, and the image fitted unless the user zoomed since it opened."""
        super().resizeEvent(event)
        self._place_overlays()
        if self._fit.refit_on_resize():
            self.fit_to_window()

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        painter.fillRect(rect, self.palette().dark())
