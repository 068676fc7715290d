"""File ▸ Import labels…: the import dialog, its dry run in a worker, then the import in a worker.

The dry run is ``app.model.import_preview.inspect_folder`` (format guess + ``danet_core.formats.
preview_labels``) in a FunctionWorker: a folder of thousands of JSON files never freezes the window, and a
newer request (another folder or format) cancels the older one, whose result is ignored. The import is
``danet_core.formats.import_labels`` (the same entry point as ``danet project import``) in a
FunctionWorker with progress and cancel in the status bar's job indicator (key ``"import"``).

Order: the open image is saved when the dialog opens (so the preview sees its latest mask) and again
before the import starts (an import never starts over unsaved edits: a failed save stops it). Afterwards
the image list is refreshed and the open image is handled by ``app.model.import_preview.after_import``:
reopened when its mask changed and the user had no unsaved edits, else the store's conflict question
(both versions kept). The end is one summary box: imported, kept, unmatched, failed with one line per
file; a cancel keeps what was imported before it.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from app.controllers.job_slot import JobSlot
from app.controllers.session import SessionController
from app.model.import_preview import (
    FolderInspection,
    ImportRequest,
    after_import,
    inspect_folder,
    result_summary,
)
from app.widgets.import_dialog import ImportDialog
from app.widgets.status_bar import JobIndicator
from app.workers.base import FunctionWorker
from danet_core.formats import BatchReport, import_labels

log = logging.getLogger(__name__)

JOB_KEY = "import"


class ImportController(QObject):
    """Signals ``inspected(FolderInspection)``, ``finished(BatchReport)``, ``cancelled()``, ``error``."""

    error = Signal(str, str)
    inspected = Signal(object)
    finished = Signal(object)
    cancelled = Signal()

    def __init__(self, session: SessionController, jobs: JobIndicator, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.slot = JobSlot(jobs, JOB_KEY)
        jobs.cancel_requested.connect(lambda key: self.cancel() if key == JOB_KEY else None)
        self.dialog: ImportDialog | None = None
        self.last_folder = ""
        self._inspector: FunctionWorker | None = None
        self._request: ImportRequest | None = None
        self.dialog_parent = parent if isinstance(parent, QWidget) else None  # parent of the dialog and boxes

    # -- the dialog and its dry run ----------------------------------------------------------------
    def open_dialog(self) -> ImportDialog | None:
        """Show the dialog (window-modal, not blocking); Import starts :meth:`start_import`."""
        if self.session.project is None:
            QMessageBox.information(self.dialog_parent, "Import labels", "Open a project first.")
            return None
        if self.slot.worker is not None:
            QMessageBox.information(self.dialog_parent, "Import labels", "An import is already running.")
            return None
        self.session.try_save()  # the preview then sees the open image's latest mask
        dialog = ImportDialog(self.last_folder, self.dialog_parent)
        dialog.inspect_requested.connect(self.inspect)
        dialog.accepted.connect(lambda d=dialog: self._dialog_accepted(d))
        dialog.finished.connect(lambda _r, d=dialog: self._dialog_closed(d))
        self.dialog = dialog
        dialog.open()
        if self.last_folder:
            dialog.inspect_folder()
        return dialog

    def inspect(self, folder: str, fmt: str, guess: bool) -> None:
        """Dry-run ``folder`` as ``fmt`` (``guess``: guess the format first) in a worker."""
        project = self.session.project
        if project is None:
            return
        if self._inspector is not None:
            self._inspector.cancel()  # superseded: its result is ignored
        worker = FunctionWorker(inspect_folder, project, folder, fmt, guess, name="import preview")
        worker.progress.connect(lambda d, t, _m, w=worker: self._inspect_progress(w, d, t))
        worker.finished.connect(lambda result, w=worker: self._inspected(w, result))
        worker.failed.connect(lambda msg, tb, w=worker: self._inspect_failed(w, msg, tb))
        self._inspector = worker
        worker.start()

    def _inspect_progress(self, worker: FunctionWorker, done: int, total: int) -> None:
        if worker is self._inspector and self.dialog is not None:
            self.dialog.show_checking(done, total)

    def _inspected(self, worker: FunctionWorker, inspection: FolderInspection) -> None:
        if worker is not self._inspector:
            return
        self._inspector = None
        if self.dialog is not None:
            self.dialog.show_inspection(inspection)
        self.inspected.emit(inspection)

    def _inspect_failed(self, worker: FunctionWorker, message: str, details: str) -> None:
        if worker is not self._inspector:
            return
        self._inspector = None
        log.warning("import preview failed: %s\n%s", message, details)
        if self.dialog is not None:
            self.dialog.show_failure(f"Could not check the folder: {message}")

    def _dialog_accepted(self, dialog: ImportDialog) -> None:
        request = dialog.request()
        if request is not None:
            self.start_import(request)

    def _dialog_closed(self, dialog: ImportDialog) -> None:
        if self._inspector is not None:
            self._inspector.cancel()
            self._inspector = None
        if self.dialog is dialog:
            self.dialog = None
        dialog.deleteLater()

    # -- the import ----------------------------------------------------------------------------------
    def start_import(self, request: ImportRequest) -> bool:
        """Save the open image, then import in a worker; False when nothing started."""
        project = self.session.project
        if project is None or self.slot.worker is not None:
            return False
        if not self.session.try_save():
            return False  # the session said why; importing now could meet the unsaved edits
        self.last_folder = str(request.folder)
        self._request = request
        worker = FunctionWorker(
            import_labels, project, request.folder, request.fmt, name="import labels", **request.options()
        )
        worker.finished.connect(self._done)
        worker.failed.connect(self._failed)
        worker.cancelled.connect(self._cancelled)
        self.slot.start(worker, "Importing labels", 0, lambda d, t, _m: f"Importing labels {d}/{t}")
        return True

    def cancel(self) -> None:
        self.slot.cancel()

    def _done(self, report: BatchReport) -> None:
        self._after_import()
        request = self._request
        text, warn = (
            result_summary(report, request.status) if request is not None else (report.summary(), False)
        )
        self.finished.emit(report)
        box = QMessageBox.warning if warn else QMessageBox.information
        box(self.dialog_parent, "Import finished", text)

    def _failed(self, message: str, details: str) -> None:
        self._after_import()
        self.error.emit(f"Import stopped: {message}", details)

    def _cancelled(self) -> None:
        self._after_import()
        self.cancelled.emit()
        QMessageBox.information(
            self.dialog_parent,
            "Import cancelled",
            "Import cancelled. The masks imported before the cancel are kept (see the image list).",
        )

    def _after_import(self) -> None:
        """Refresh the list; reopen the open image when the import changed it, or ask (unsaved edits)."""
        session, project = self.session, self.session.project
        if project is None:
            return
        session.refresh_records()
        image_id, doc = session.image_id, session.document
        if image_id is None or doc is None:
            return
        action = after_import(project.mask_stamp(image_id) != session.mask_stamp, doc.is_modified)
        if action == "reopen":
            session.reload_current()
        elif action == "ask":
            session.try_save()  # the store refuses the stale save: both kept, "Keep mine" / "Load theirs"
