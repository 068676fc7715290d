"""QActions for the canvas (tools, brush size, overlay toggles, undo/redo, zoom), for menus and toolbars.

The main window composes these into its menus; :func:`build_canvas_actions` also adds them to a widget
so that the shortcuts work even before they are in a menu. Keys: brush B, eraser E, polygon P, fill F,
eyedropper I, replace R, attention A, pan H; [ and ] brush size; O overlay, Shift+O outline;
Ctrl+Z / Ctrl+Shift+Z undo/redo; Ctrl++ / Ctrl+- zoom, Ctrl+0 fit, Ctrl+1 actual size; Shift+A accepts
the prediction as the mask.

Undo and Redo keep the fixed texts "Undo" / "Redo" (the command they would undo is in the tooltip):
QUndoStack's own actions rename themselves after every edit ("Undo Brush stroke"), which made the toolbar
reflow and pushed "Mark reviewed and go to next" into its overflow menu.
"""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QUndoStack
from PySide6.QtWidgets import QWidget

from app.widgets.canvas import CanvasView

# Short toolbar texts (the menus keep the long ones) so that the main toolbar fits a 1366-px-wide screen.
TOOLBAR_TEXTS = {
    "polygon": "Polygon",
    "fill": "Fill",
    "eyedropper": "Pick",
    "replace": "Replace",
    "fit": "Fit",
}

TOOL_ACTIONS: tuple[tuple[str, str, str, str], ...] = (
    # name, label, key, tooltip
    ("brush", "&Brush", "B", "Paint the current class with a round brush"),
    ("eraser", "&Eraser", "E", "Make pixels unlabeled"),
    ("polygon", "&Polygon fill", "P", "Click vertices; double click or Enter fills; Esc cancels"),
    ("fill", "&Fill region", "F", "Fill the connected area of one class under the click"),
    ("eyedropper", "Pick class (&eyedropper)", "I", "Take the class under the click"),
    ("replace", "&Replace class in region", "R", "Drag a rectangle (or click a polygon): class A becomes B"),
    ("attention", "&Attention", "A", "Click a pixel to show where the model attends from it"),
    ("pan", "Pa&n", "H", "Drag to move the view (also: middle button, or Space + drag)"),
)


def _action(parent: QWidget, text: str, keys: list[QKeySequence] | QKeySequence | str, tip: str) -> QAction:
    action = QAction(text, parent)
    seqs = keys if isinstance(keys, list) else [QKeySequence(keys)]
    action.setShortcuts(seqs)
    action.setToolTip(f"{tip} ({seqs[0].toString(QKeySequence.SequenceFormat.NativeText)})")
    parent.addAction(action)
    return action


def build_canvas_actions(canvas: CanvasView, parent: QWidget) -> dict[str, QAction]:
    """Create the canvas actions (parented to and added to ``parent``), keyed by name.

    Names: the tool names of :data:`TOOL_ACTIONS` (checkable, exclusive), ``brush_smaller``,
    ``brush_larger``, ``toggle_overlay``, ``outline``, ``undo``, ``redo``, ``zoom_in``, ``zoom_out``,
    ``fit``, ``actual_size``, ``accept_prediction``.
    """
    actions = _tool_actions(canvas, parent)
    actions["brush_smaller"] = _action(parent, "Smaller brush", "[", "Decrease the brush size")
    actions["brush_smaller"].triggered.connect(lambda: canvas.grow_brush(-1))
    actions["brush_larger"] = _action(parent, "Larger brush", "]", "Increase the brush size")
    actions["brush_larger"].triggered.connect(lambda: canvas.grow_brush(1))

    overlay = _action(parent, "Show class &overlay", "O", "Show or hide the class mask")
    overlay.setCheckable(True)
    overlay.setChecked(canvas.overlay_visible())
    overlay.toggled.connect(canvas.set_overlay_visible)
    actions["toggle_overlay"] = overlay
    outline = _action(parent, "Outline only", "Shift+O", "Draw only the class boundaries")
    outline.setCheckable(True)
    outline.setChecked(canvas.outline_mode())
    outline.toggled.connect(canvas.set_outline_mode)
    actions["outline"] = outline

    redo_keys = list(QKeySequence.keyBindings(QKeySequence.StandardKey.Redo))
    if QKeySequence("Ctrl+Shift+Z") not in redo_keys:
        redo_keys.append(QKeySequence("Ctrl+Shift+Z"))
    undo_keys = QKeySequence.keyBindings(QKeySequence.StandardKey.Undo)
    actions["undo"] = HistoryAction(parent, canvas.undo_stack, "Undo", undo_keys)
    actions["redo"] = HistoryAction(parent, canvas.undo_stack, "Redo", redo_keys)
    actions.update(_zoom_actions(canvas, parent))
    accept = _action(parent, "&Accept prediction as mask", "Shift+A", "Start from the model's prediction")
    accept.triggered.connect(
        lambda: canvas.accept_prediction() if canvas.document and canvas.document.has_prediction else None
    )
    actions["accept_prediction"] = accept
    for name, text in TOOLBAR_TEXTS.items():
        actions[name].setIconText(text)
    return actions


def _tool_actions(canvas: CanvasView, parent: QWidget) -> dict[str, QAction]:
    """One checkable, exclusive action per tool, kept checked as the canvas's tool changes."""
    actions: dict[str, QAction] = {}
    group = QActionGroup(parent)
    group.setExclusive(True)
    for name, text, key, tip in TOOL_ACTIONS:
        a = _action(parent, text, key, tip)
        a.setCheckable(True)
        a.setChecked(canvas.tool() == name)
        a.triggered.connect(lambda _=False, n=name: canvas.set_tool(n))
        group.addAction(a)
        actions[name] = a
    canvas.tool_changed.connect(lambda n: actions[n].setChecked(True))
    return actions


def _zoom_actions(canvas: CanvasView, parent: QWidget) -> dict[str, QAction]:
    actions = {
        "zoom_in": _action(parent, "Zoom &in", [QKeySequence(QKeySequence.StandardKey.ZoomIn)], "Zoom in"),
        "zoom_out": _action(
            parent, "Zoom &out", [QKeySequence(QKeySequence.StandardKey.ZoomOut)], "Zoom out"
        ),
        "fit": _action(parent, "&Fit to window", "Ctrl+0", "Show the whole image"),
        "actual_size": _action(parent, "Actual size", "Ctrl+1", "One image pixel per screen pixel"),
    }
    actions["zoom_in"].triggered.connect(lambda: canvas.zoom_by(1.25))
    actions["zoom_out"].triggered.connect(lambda: canvas.zoom_by(0.8))
    actions["fit"].triggered.connect(canvas.fit_to_window)
    actions["actual_size"].triggered.connect(lambda: canvas.set_zoom(1.0))
    return actions


class HistoryAction(QAction):
    """Undo or Redo with a fixed text; the tooltip names the command ("Undo Brush stroke (Ctrl+Z)").

    Its state comes from the stack's signals' arguments, into slots of this object, so that whichever
    of the stack and the action is destroyed first, no call reaches a deleted object (a stack being
    destroyed still emits its signals from clear())."""

    def __init__(self, parent: QWidget, stack: QUndoStack, verb: str, keys: list[QKeySequence]) -> None:
        super().__init__(f"&{verb}", parent)
        self.verb = verb
        self.setShortcuts(keys)
        self._key = f" ({keys[0].toString(QKeySequence.SequenceFormat.NativeText)})" if keys else ""
        undo = verb == "Undo"
        self._can = stack.canUndo() if undo else stack.canRedo()
        self._command = stack.undoText() if undo else stack.redoText()
        (stack.canUndoChanged if undo else stack.canRedoChanged).connect(self.set_possible)
        (stack.undoTextChanged if undo else stack.redoTextChanged).connect(self.set_command)
        self.triggered.connect(stack.undo if undo else stack.redo)
        self._show()
        parent.addAction(self)

    @Slot(bool)
    def set_possible(self, can: bool) -> None:
        self._can = can
        self._show()

    @Slot(str)
    def set_command(self, command: str) -> None:
        self._command = command
        self._show()

    def _show(self) -> None:
        self.setEnabled(self._can)
        what = f"{self.verb} {self._command}".strip() if self._can else f"Nothing to {self.verb.lower()}"
        self.setToolTip(what + self._key)
        self.setStatusTip(what)
