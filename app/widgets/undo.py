"""Undo commands for mask edits: each wraps one :class:`~app.model.edit_ops.MaskEdit` payload.

A command stores only the changed rectangle (before and after values), so the history is unlimited
(QUndoStack's default) and its memory grows with what was painted, not with the image size. A brush
stroke is merged into one edit before it is pushed (``StrokeRecorder``), so one Ctrl+Z undoes one
stroke.
"""

from __future__ import annotations

from PySide6.QtGui import QUndoCommand, QUndoStack

from app.model.document import AnnotationDocument
from app.model.edit_ops import MaskEdit


class MaskEditCommand(QUndoCommand):
    """Apply/revert one rectangle edit on a document.

    ``applied=True`` means the edit is already on the document (a stroke painted live), so the first
    ``redo()`` that ``QUndoStack.push`` performs does nothing instead of rewriting the rectangle.
    """

    def __init__(self, document: AnnotationDocument, edit: MaskEdit, text: str, *, applied: bool) -> None:
        super().__init__(text)
        self.document = document
        self.edit = edit
        self._skip_redo = applied

    def redo(self) -> None:
        if self._skip_redo:
            self._skip_redo = False
            return
        self.document.apply(self.edit)

    def undo(self) -> None:
        self.document.revert(self.edit)


def history_bytes(stack: QUndoStack) -> int:
    """Bytes held by the mask payloads of every command in ``stack`` (for the memory benchmark)."""
    total = 0
    for i in range(stack.count()):
        cmd = stack.command(i)
        if isinstance(cmd, MaskEditCommand):
            total += cmd.edit.nbytes
    return total
