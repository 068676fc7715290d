"""Export controller: the export dialog, then ``danet_core.formats.export_project`` in a worker.

Exports go through ``export_project(project, out_dir, fmt, statuses=..., progress=..., should_stop=...)
-> BatchReport``, the same entry point as ``danet export``. The open image is saved first so the export
contains the latest strokes. With several formats each goes into a subfolder named after it
(``cityscapes/``, ``labelme/``, ``palette/``, ``mask/``); with one, straight into the chosen folder. The
end shows the exporter's summary (done, skipped, one line per failed image).
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from app.controllers.job_slot import JobSlot
from app.controllers.session import SessionController
from app.widgets.dialogs import ExportDialog
from app.widgets.status_bar import JobIndicator
from app.workers.base import FunctionWorker
from danet_core.formats import BatchReport
from danet_core.jobs import ProgressFn, StopFn
from danet_core.project import ImageStatus, Project

log = logging.getLogger(__name__)

# format name of danet_core.formats.export_project -> dialog label
FORMAT_LABELS: dict[str, str] = {
    "cityscapes": "Cityscapes (labelIds, color, instanceIds, polygons)",
    "labelme": "labelme JSON",
    "palette": "Palette PNG (colour-indexed export ids)",
    "mask": "Plain 8-bit masks (export ids)",
}


def available_formats() -> dict[str, str]:
    """Dialog label -> format name, for every format danet_core.formats can export."""
    from danet_core.formats import EXPORT_FORMATS

    return {FORMAT_LABELS.get(f, f): f for f in EXPORT_FORMATS}


def run_exports(
    project: Project,
    jobs: list[tuple[str, Path]],
    statuses: tuple[ImageStatus, ...] | None,
    *,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> list[tuple[str, BatchReport]]:
    """Export each (format, folder) in turn; returns (format, BatchReport) pairs."""
    from danet_core.formats import export_project

    reports = []
    for n, (fmt, out) in enumerate(jobs):

        def step(done: int, total: int, message: str, n: int = n, fmt: str = fmt) -> None:
            if progress is not None:
                progress(n * 1000 + int(1000 * done / max(total, 1)), 1000 * len(jobs), f"{fmt}: {message}")

        report = export_project(project, out, fmt, statuses=statuses, progress=step, should_stop=should_stop)
        reports.append((fmt, report))
    return reports


class ExportController(QObject):
    """Signals ``finished(list[(format, BatchReport)])`` and ``error(message, details)``."""

    error = Signal(str, str)
    finished = Signal(object)

    def __init__(self, session: SessionController, jobs: JobIndicator, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.slot = JobSlot(jobs, "export")
        self.last_folder = ""

    def _parent_widget(self) -> QWidget | None:
        parent = self.parent()
        return parent if isinstance(parent, QWidget) else None

    def open_dialog(self) -> None:
        if self.session.project is None:
            QMessageBox.information(self._parent_widget(), "Export", "Open a project first.")
            return
        formats = available_formats()
        dialog = ExportDialog(list(formats), self.last_folder, self._parent_widget())
        if dialog.exec() != ExportDialog.DialogCode.Accepted:
            return
        labels, folder, reviewed_only = dialog.values()
        self.export([formats[label] for label in labels], folder, reviewed_only=reviewed_only)

    def export(self, formats: list[str], folder: Path, *, reviewed_only: bool = True) -> None:
        """Save the open image, then export ``formats`` into ``folder`` in a worker."""
        project = self.session.project
        if project is None or self.slot.worker is not None or not formats:
            return
        self.session.save_current()
        self.last_folder = str(folder)
        jobs = [(fmt, Path(folder) / fmt if len(formats) > 1 else Path(folder)) for fmt in formats]
        statuses = (ImageStatus.REVIEWED,) if reviewed_only else None
        worker = FunctionWorker(run_exports, project, jobs, statuses, name="export")
        worker.finished.connect(self._done)
        worker.failed.connect(self.error)
        self.slot.start(worker, "Exporting", 1000 * len(jobs))

    def cancel(self) -> None:
        self.slot.cancel()

    def _done(self, reports: list[tuple[str, BatchReport]]) -> None:
        self.finished.emit(reports)
        text = "\n\n".join(f"{fmt}: {report.summary()}" for fmt, report in reports)
        box = QMessageBox.warning if any(r.errors for _, r in reports) else QMessageBox.information
        box(self._parent_widget(), "Export finished", text)
