"""The canvas tools as a small state machine: one object per tool, fed with image coordinates.

The canvas (``app.widgets.canvas.CanvasView``, a :class:`ToolHost`) turns mouse events into image
coordinates and forwards left-button presses, moves, releases, double clicks and a few keys to the active
tool; panning (middle button, Space + drag, the pan tool) is handled by the canvas itself. Tools compute
edits with the pure helpers of :mod:`app.model.edit_ops` and hand them to the canvas, which records them
for undo.

Decisions:
- Brush / eraser: one undo step per stroke (press to release); Shift + click draws a straight line
  from the end of the previous stroke. The "paint only over" lock applies to both.
- Polygon: click to add vertices; double click, Enter, or a click on the first vertex closes and fills
  with the current class; Backspace removes the last vertex, Escape cancels.
- Fill: fills the 4-connected area of equal class under the click.
- Eyedropper: picks the class under the click (an unlabeled pixel picks nothing).
- Replace: pixels of class A inside a region become the current class B. The region is a dragged
  rectangle, or a polygon started with a click (without dragging) and closed as with the polygon tool.
  A is the lock class when one is set, otherwise the class under the first point; the canvas shows
  "Replace A -> B" (:meth:`Tool.hint`) before and during the gesture, since A is otherwise invisible.
- Attention: a click inside the image emits ``attention_clicked(x, y)``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsRectItem, QGraphicsScene

from app.model.edit_ops import (
    Point,
    StrokeRecorder,
    flood_region,
    paint,
    polygon_region,
    rect_region,
    segment_region,
)
from app.model.view_hints import replace_hint

if TYPE_CHECKING:
    from app.model.document import AnnotationDocument
    from app.model.edit_ops import MaskEdit


class ToolHost(Protocol):
    """What a tool needs from the view it works in (``CanvasView`` implements it; tests may fake it).

    Why a protocol: the canvas owns the tools, so the tools must not import the canvas back.
    """

    document: AnnotationDocument | None

    def scene(self) -> QGraphicsScene: ...
    def current_class(self) -> int: ...
    def lock_class(self) -> int | None: ...
    def set_current_class(self, index: int) -> None: ...
    def brush_size(self) -> int: ...
    def image_size(self) -> tuple[int, int]: ...
    def screen_distance(self, a: Point, b: Point) -> float: ...
    def push_edit(self, edit: MaskEdit, text: str, *, applied: bool) -> None: ...
    def report_class_picked(self, index: int) -> None: ...
    def report_attention_click(self, x: int, y: int) -> None: ...


logger = logging.getLogger(__name__)

TOOL_NAMES: tuple[str, ...] = (
    "brush",
    "eraser",
    "polygon",
    "fill",
    "eyedropper",
    "replace",
    "attention",
    "pan",
)
CLOSE_DISTANCE_PX = 8.0  # a click this close (screen pixels) to the first vertex closes a polygon
DRAG_THRESHOLD_PX = 4.0


def _pt(p: QPointF) -> Point:
    return float(p.x()), float(p.y())


def _preview_pen() -> QPen:
    pen = QPen(QColor(255, 220, 0), 0)
    pen.setCosmetic(True)
    return pen


class Tool:
    """Base tool: ignores everything. ``pos`` arguments are image (scene) coordinates."""

    name = ""
    cursor = Qt.CursorShape.CrossCursor
    shows_brush = False  # draw the round brush outline under the mouse
    pans = False  # left-drag pans the view instead of reaching the tool

    def __init__(self, canvas: ToolHost) -> None:
        self.canvas = canvas

    def activate(self) -> None:
        """Called when the tool becomes the active one."""

    def cancel(self) -> None:
        """Abandon any gesture in progress (tool switch, Escape, document change)."""

    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        """Left button pressed."""

    def move(self, pos: QPointF) -> None:
        """Mouse moved (pressed or not)."""

    def release(self, pos: QPointF) -> None:
        """Left button released."""

    def double_click(self, pos: QPointF) -> None:
        """Left button double-clicked."""

    def key(self, key: int) -> bool:
        """A key press; return True when the tool used it."""
        return False

    def hint(self, pos: QPointF | None) -> str:
        """What a click at ``pos`` (the mouse, None when outside) would do, for the canvas hint; "" none."""
        return ""


class BrushTool(Tool):
    """Round brush painting the current class (or unlabeled for the eraser); one undo step per stroke."""

    shows_brush = True

    def __init__(self, canvas: ToolHost, *, erase: bool) -> None:
        super().__init__(canvas)
        self.erase = erase
        self.name = "eraser" if erase else "brush"
        self._recorder: StrokeRecorder | None = None
        self._last: Point | None = None
        self._stroke_end: Point | None = None

    def _value(self) -> int:
        doc = self.canvas.document
        assert doc is not None
        return doc.ignore_index if self.erase else self.canvas.current_class()

    def _stamp(self, p0: Point, p1: Point) -> None:
        doc = self.canvas.document
        if doc is None or self._recorder is None:
            return
        region = segment_region(doc.shape, p0, p1, self.canvas.brush_size())
        edit = paint(doc.mask, region, self._value(), lock=self.canvas.lock_class())
        if edit is not None:
            doc.apply_live(edit)
            self._recorder.add(edit)

    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        if self.canvas.document is None:
            return
        self._recorder = StrokeRecorder()
        p = _pt(pos)
        start = (
            self._stroke_end if (modifiers & Qt.KeyboardModifier.ShiftModifier and self._stroke_end) else p
        )
        self._stamp(start, p)
        self._last = p

    def move(self, pos: QPointF) -> None:
        if self._recorder is None or self._last is None:
            return
        p = _pt(pos)
        self._stamp(self._last, p)
        self._last = p

    def release(self, pos: QPointF) -> None:
        if self._recorder is None:
            return
        self.move(pos)
        self._finish()

    def _finish(self) -> None:
        doc, recorder = self.canvas.document, self._recorder
        self._recorder = None
        self._stroke_end = self._last
        self._last = None
        if doc is None or recorder is None:
            return
        edit = recorder.merged(doc.mask)
        if edit is not None:
            self.canvas.push_edit(edit, "Erase" if self.erase else "Brush stroke", applied=True)

    def cancel(self) -> None:
        # a stroke interrupted (tool switch) is kept and recorded, never lost half-way
        if self._recorder is not None:
            self._finish()


class PolygonCollector:
    """Collects polygon vertices with a live preview; calls ``on_close(points)`` when closed."""

    def __init__(self, canvas: ToolHost, on_close: Callable[[list[Point]], None]) -> None:
        self.canvas = canvas
        self.on_close = on_close
        self.points: list[Point] = []
        self._hover: Point | None = None
        self._item: QGraphicsPathItem | None = None

    @property
    def active(self) -> bool:
        return bool(self.points)

    def add(self, pos: QPointF) -> None:
        p = _pt(pos)
        if len(self.points) >= 3 and self.canvas.screen_distance(p, self.points[0]) <= CLOSE_DISTANCE_PX:
            self.close()
            return
        if self.points and self.points[-1] == p:
            return  # the press of a double click repeats the last vertex
        self.points.append(p)
        self._update_preview()

    def hover(self, pos: QPointF) -> None:
        if self.points:
            self._hover = _pt(pos)
            self._update_preview()

    def pop(self) -> None:
        if self.points:
            self.points.pop()
            self._update_preview()

    def finish(self, pos: QPointF) -> None:
        """Double click: its position is the last vertex (a repeat of the press before it is ignored)."""
        if self.points:
            self.add(pos)
        if self.points:
            self.close()

    def close(self) -> None:
        points = self.points
        self.cancel()
        if len(points) >= 3:
            self.on_close(points)

    def cancel(self) -> None:
        self.points = []
        self._hover = None
        if self._item is not None:
            self.canvas.scene().removeItem(self._item)
            self._item = None

    def _update_preview(self) -> None:
        if not self.points:
            self.cancel()
            return
        if self._item is None:
            self._item = QGraphicsPathItem()
            self._item.setPen(_preview_pen())
            self._item.setZValue(90)
            self.canvas.scene().addItem(self._item)
        path = QPainterPath(QPointF(*self.points[0]))
        for p in self.points[1:]:
            path.lineTo(QPointF(*p))
        if self._hover is not None:
            path.lineTo(QPointF(*self._hover))
        self._item.setPath(path)

    def key(self, key: int) -> bool:
        if not self.points:
            return False
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.close()
        elif key == Qt.Key.Key_Escape:
            self.cancel()
        elif key == Qt.Key.Key_Backspace:
            self.pop()
        else:
            return False
        return True


class PolygonTool(Tool):
    name = "polygon"

    def __init__(self, canvas: ToolHost) -> None:
        super().__init__(canvas)
        self.collector = PolygonCollector(canvas, self._fill)

    def _fill(self, points: list[Point]) -> None:
        doc = self.canvas.document
        if doc is None:
            return
        region = polygon_region(doc.shape, points)
        edit = paint(doc.mask, region, self.canvas.current_class(), lock=self.canvas.lock_class())
        if edit is not None:
            self.canvas.push_edit(edit, "Polygon fill", applied=False)

    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        if self.canvas.document is not None:
            self.collector.add(pos)

    def move(self, pos: QPointF) -> None:
        self.collector.hover(pos)

    def double_click(self, pos: QPointF) -> None:
        self.collector.finish(pos)

    def key(self, key: int) -> bool:
        return self.collector.key(key)

    def cancel(self) -> None:
        self.collector.cancel()


class FillTool(Tool):
    name = "fill"

    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        doc = self.canvas.document
        if doc is None:
            return
        region = flood_region(doc.mask, math.floor(pos.x()), math.floor(pos.y()))
        edit = paint(doc.mask, region, self.canvas.current_class(), lock=self.canvas.lock_class())
        if edit is not None:
            self.canvas.push_edit(edit, "Fill", applied=False)


class EyedropperTool(Tool):
    name = "eyedropper"

    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        doc = self.canvas.document
        if doc is None:
            return
        value = doc.label_at(pos.x(), pos.y())
        if value is None or value == doc.ignore_index:
            return
        self.canvas.set_current_class(value)
        self.canvas.report_class_picked(value)


class ReplaceTool(Tool):
    name = "replace"

    def __init__(self, canvas: ToolHost) -> None:
        super().__init__(canvas)
        self.collector = PolygonCollector(canvas, self._replace_polygon)
        self._source: int | None = None
        self._start: QPointF | None = None
        self._dragging = False
        self._rect_item: QGraphicsRectItem | None = None

    def _replace(self, region_fn: Callable[[tuple[int, int]], object]) -> None:
        doc, source = self.canvas.document, self._source
        if doc is None or source is None:
            return
        region = region_fn(doc.shape)
        edit = paint(doc.mask, region, self.canvas.current_class(), lock=source)
        if edit is not None:
            self.canvas.push_edit(edit, "Replace class", applied=False)

    def _replace_polygon(self, points: list[Point]) -> None:
        self._replace(lambda shape: polygon_region(shape, points))

    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        doc = self.canvas.document
        if doc is None:
            return
        if self.collector.active:
            self.collector.add(pos)
            return
        lock = self.canvas.lock_class()
        self._source = lock if lock is not None else doc.label_at(pos.x(), pos.y())
        self._start = pos
        self._dragging = False

    def move(self, pos: QPointF) -> None:
        if self.collector.active:
            self.collector.hover(pos)
            return
        if self._start is None:
            return
        if not self._dragging and self.canvas.screen_distance(_pt(pos), _pt(self._start)) > DRAG_THRESHOLD_PX:
            self._dragging = True
        if self._dragging:
            if self._rect_item is None:
                self._rect_item = QGraphicsRectItem()
                self._rect_item.setPen(_preview_pen())
                self._rect_item.setZValue(90)
                self.canvas.scene().addItem(self._rect_item)
            self._rect_item.setRect(QRectF(self._start, pos).normalized())

    def release(self, pos: QPointF) -> None:
        start, self._start = self._start, None
        if start is None:
            return
        if self._dragging:
            self._drop_rect()
            self._replace(lambda shape: rect_region(shape, _pt(start), _pt(pos)))
        else:
            self.collector.add(start)
        self._dragging = False

    def double_click(self, pos: QPointF) -> None:
        self.collector.finish(pos)

    def key(self, key: int) -> bool:
        return self.collector.key(key)

    def hint(self, pos: QPointF | None) -> str:
        """ "Replace A -> B": A is fixed once a region is started, else the lock or the class at ``pos``."""
        doc = self.canvas.document
        if doc is None:
            return ""
        lock = self.canvas.lock_class()
        if self._start is not None or self.collector.active:
            source = self._source
        elif lock is not None:
            source = lock
        else:
            source = None if pos is None else doc.label_at(pos.x(), pos.y())
        return replace_hint(doc.label_set, source, self.canvas.current_class(), locked=lock is not None)

    def _drop_rect(self) -> None:
        if self._rect_item is not None:
            self.canvas.scene().removeItem(self._rect_item)
            self._rect_item = None

    def cancel(self) -> None:
        self.collector.cancel()
        self._drop_rect()
        self._start = None
        self._dragging = False


class AttentionTool(Tool):
    name = "attention"

    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        x, y = math.floor(pos.x()), math.floor(pos.y())
        w, h = self.canvas.image_size()
        if 0 <= x < w and 0 <= y < h:
            self.canvas.report_attention_click(x, y)


class PanTool(Tool):
    name = "pan"
    cursor = Qt.CursorShape.OpenHandCursor
    pans = True


def make_tools(canvas: ToolHost) -> dict[str, Tool]:
    """One instance of every tool, keyed by :data:`TOOL_NAMES`."""
    tools: dict[str, Tool] = {
        "brush": BrushTool(canvas, erase=False),
        "eraser": BrushTool(canvas, erase=True),
        "polygon": PolygonTool(canvas),
        "fill": FillTool(canvas),
        "eyedropper": EyedropperTool(canvas),
        "replace": ReplaceTool(canvas),
        "attention": AttentionTool(canvas),
        "pan": PanTool(canvas),
    }
    assert tuple(tools) == TOOL_NAMES
    return tools
