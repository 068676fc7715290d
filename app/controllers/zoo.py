"""Model ▸ Get a pretrained model…: the zoo dialog, the download in a worker, then the usual import.

The download (``danet_core.zoo.fetch``: cache, resume, checksum, timeout) runs in a FunctionWorker with
progress and cancel in the status bar's job indicator (key ``"zoo"``); the verified file then goes
through :meth:`PresegmentController.load_model_file`, i.e. the same import as Model ▸ Load model…
(native checkpoint inside the project, classes mapped onto the project's label set). A failure (offline,
wrong checksum, not a checkpoint) is one message from danet_core.zoo naming the URL and where to place
the file by hand.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from app.controllers.job_slot import JobSlot
from app.controllers.presegment import PresegmentController
from app.controllers.session import SessionController
from app.model.zoo_choice import download_status, zoo_rows
from app.widgets.status_bar import JobIndicator
from app.widgets.zoo_dialog import ZooDialog
from app.workers.base import FunctionWorker
from danet_core import zoo

JOB_KEY = "zoo"


class ZooController(QObject):
    """Signals ``error(message, details)`` and ``downloaded(str)`` (the verified file's path)."""

    error = Signal(str, str)
    downloaded = Signal(str)

    def __init__(
        self,
        session: SessionController,
        presegment: PresegmentController,
        jobs: JobIndicator,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.presegment = presegment
        self.slot = JobSlot(jobs, JOB_KEY)

    @property
    def worker(self) -> FunctionWorker | None:
        return self.slot.worker

    def _parent_widget(self) -> QWidget | None:
        parent = self.parent()
        return parent if isinstance(parent, QWidget) else None

    def open_dialog(self) -> None:
        project = self.session.project
        if project is None:
            QMessageBox.information(self._parent_widget(), "Pretrained models", "Open a project first.")
            return
        dialog = ZooDialog(zoo_rows(project.label_set.name), str(zoo.cache_dir()), self._parent_widget())
        if dialog.exec() == ZooDialog.DialogCode.Accepted and dialog.chosen():
            self.download(str(dialog.chosen()))

    def download(self, name: str, url: str | None = None) -> None:
        """Fetch zoo entry ``name`` (``url``: a mirror) in a worker, then import it into the project."""
        if self.worker is not None:
            return
        entry = zoo.get_entry(name)
        worker = FunctionWorker(zoo.fetch, entry, url=url, name=f"download {name}")
        worker.finished.connect(self._fetched)
        worker.failed.connect(self.error)
        total = int(entry.approx_mb * 1e6)
        self.slot.start(worker, f"Downloading {name}", total, lambda d, t, _m: download_status(d, t))

    def cancel(self) -> None:
        self.slot.cancel()

    def _fetched(self, path: object) -> None:
        self.downloaded.emit(str(path))
        try:
            self.presegment.load_model_file(str(path))
        except ValueError as exc:
            self.error.emit(str(exc), "")
