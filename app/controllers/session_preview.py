"""The session controller's quick preview: showing it, then bringing the full result in (issue 12).

A mixin of :class:`app.controllers.session.SessionController` (kept apart so the controller stays small).
The decisions are in :mod:`app.model.preview`; this wires them:

- A preview is shown only when a prediction would restart the document anyway (no saved mask, no edit:
  ``restarts_from_prediction``); the document then starts from the preview and the canvas note says
  "Preview (1/6 scale) — full result in about N s …" (counting down). Nothing is stored.
- When the full result of that image arrives: untouched, the document restarts from it (as without a
  preview); edited, the full result is merged in as one undo step ("Full-resolution result"): the
  user's changed pixels are kept, the others take the full result. Ctrl+Z goes back to the edited
  preview; Shift+A (Accept prediction) replaces the edits with the full result. The note says "Full
  resolution" for a few seconds.
- Switching image (or closing the project) drops the preview; edits made on it are saved as the mask,
  as any edit. The full prediction keeps running and is stored; reopening the image shows the saved mask
  (Shift+A takes the full result).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QTimer

from app.model.document import AnnotationDocument, restarts_from_prediction
from app.model.preview import edited_pixels, merge_full_result
from app.model.view_hints import full_result_note, preview_note

if TYPE_CHECKING:
    from app.widgets.canvas import CanvasView
    from app.workers.inference import PredictionResult
    from danet_core.project import Project

# Stored predictions and previews are already project mask indices (the pre-segmentation controller maps).
IDENTITY_LUT = np.arange(256, dtype=np.uint8)
NOTE_SECONDS = 6  # how long "Full resolution" stays on the canvas


class PreviewMixin:
    """See the module docstring."""

    project: Project | None
    image_id: int | None
    document: AnnotationDocument | None
    confidence: np.ndarray | None
    canvas: CanvasView
    image_opened: Any  # Signal(int) of the controller

    def _init_preview(self) -> None:
        self.preview: PredictionResult | None = None  # the preview the open document started from
        self._full_due = 0.0  # time.monotonic() when the full result should arrive
        self._note_timer = QTimer(self)  # the mixin is a QObject
        self._note_timer.setInterval(1000)
        self._note_timer.timeout.connect(self._update_note)
        self._note_hide = QTimer(self)
        self._note_hide.setSingleShot(True)
        self._note_hide.timeout.connect(lambda: self.canvas.set_prediction_note(None))

    def show_preview(self, result: PredictionResult) -> bool:
        """Show a quick preview of the open image; True when the document now starts from it."""
        doc, project = self.document, self.project
        if result.image_id != self.image_id or doc is None or project is None or result.preview is None:
            return False
        if not restarts_from_prediction(doc.revision, project.record(result.image_id).has_mask):
            return False  # the user's mask stays; the full result comes as before
        self.document = AnnotationDocument(
            result.label.copy(),
            project.label_set,
            (result.label, result.confidence),
            prediction_lut=IDENTITY_LUT,
        )
        self.confidence = result.confidence
        self.preview = result
        self.canvas.set_document(self.document)
        self._full_due = time.monotonic() + result.preview.full_seconds(result.seconds)
        self._note_hide.stop()
        self._update_note()
        self._note_timer.start()
        return True

    def _update_note(self) -> None:
        if self.preview is None or self.preview.preview is None:
            self._note_timer.stop()
            return
        remaining = self._full_due - time.monotonic()
        self.canvas.set_prediction_note(preview_note(self.preview.preview.label, remaining))

    def end_preview(self) -> None:
        """Forget the preview and its note: another image (or none) is shown, or no full result will come
        (it failed, the model changed); the document and its edits stay as they are."""
        self.preview = None
        self._note_timer.stop()
        self._note_hide.stop()
        self.canvas.set_prediction_note(None)

    def _replace_preview(self, label: np.ndarray, confidence: np.ndarray) -> None:
        """The full result of the previewed open image arrived: restart or merge (module docstring)."""
        preview, doc, project = self.preview, self.document, self.project
        self.end_preview()
        if preview is None or doc is None or project is None:
            return
        restart = doc.revision == 0
        if restart:  # untouched: the full result replaces the preview
            kept = 0
            self.document = AnnotationDocument(
                label.copy(), project.label_set, (label, confidence), prediction_lut=IDENTITY_LUT
            )
            self.canvas.set_document(self.document)
        else:
            kept = edited_pixels(doc.mask, preview.label)
            edit = merge_full_result(doc.mask, preview.label, label)
            doc.replace_prediction(label, confidence)
            if edit is not None:
                self.canvas.push_edit(edit, "Full-resolution result", applied=False)
        self.canvas.set_prediction_note(full_result_note(kept))
        self._note_hide.start(NOTE_SECONDS * 1000)
        if restart and self.image_id is not None:
            self.image_opened.emit(self.image_id)
