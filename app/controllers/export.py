"""Export controller: the export dialog, then the chosen ``danet_core.formats`` exporters in a worker.

Every exporter has the signature ``export_x(project, out_dir, *, statuses, progress, should_stop) ->
BatchReport`` (danet_core.formats.common). The current image is saved first so the export contains the
latest strokes. With several formats each goes into a subfolder named after it (``cityscapes/``,
``labelme/``, ``palette/``); with one, straight into the chosen folder. The end shows the exporter's
summary (done, skipped, one line per failed image).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from app.widgets.dialogs import ExportDialog
from app.workers.base import FunctionWorker
from danet_core.project import ImageStatus

log = logging.getLogger(__name__)

# label -> (subfolder, module, function); only formats whose module is installed are offered.
FORMATS: dict[str, tuple[str, str, str]] = {
    "Cityscapes (labelIds, color, instanceIds, polygons)": (
        "cityscapes",
        "danet_core.formats.cityscapes",
        "export_cityscapes",
    ),
    "labelme JSON": ("labelme", "danet_core.formats.labelme", "export_labelme"),
    "Palette PNG": ("palette", "danet_core.formats.palette", "export_palette"),
}


def available_formats() -> dict[str, Callable[..., Any]]:
    out: dict[str, Callable[..., Any]] = {}
    for label, (_sub, module, fn) in FORMATS.items():
        try:
            out[label] = getattr(importlib.import_module(module), fn)
        except (ImportError, AttributeError) as exc:
            log.info("export format %s unavailable: %s", label, exc)
    return out


def run_exports(
    project: Any,
    jobs: list[tuple[str, Callable[..., Any], Path]],
    statuses: tuple[ImageStatus, ...] | None,
    *,
    progress: Any = None,
    should_stop: Any = None,
) -> list[tuple[str, Any]]:
    """Run each exporter in turn; returns (format label, BatchReport) pairs."""
    reports = []
    for n, (label, fn, out) in enumerate(jobs):

        def step(done: int, total: int, message: str, n: int = n, label: str = label) -> None:
            if progress is not None:
                progress(n * 1000 + int(1000 * done / max(total, 1)), 1000 * len(jobs), f"{label}: {message}")

        reports.append((label, fn(project, out, statuses=statuses, progress=step, should_stop=should_stop)))
    return reports


class ExportController(QObject):
    error = Signal(str, str)
    finished = Signal(object)  # list of (label, BatchReport)

    def __init__(self, session: Any, jobs: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.jobs = jobs
        self.worker: FunctionWorker | None = None
        self.last_folder = ""

    def open_dialog(self) -> None:
        parent = self.parent() if isinstance(self.parent(), QWidget) else None
        if self.session.project is None:
            QMessageBox.information(parent, "Export", "Open a project first.")
            return
        formats = available_formats()
        if not formats:
            QMessageBox.warning(parent, "Export", "No export format is installed (danet_core.formats).")
            return
        dialog = ExportDialog(list(formats), self.last_folder, parent)
        if dialog.exec() != ExportDialog.DialogCode.Accepted:
            return
        labels, folder, reviewed_only = dialog.values()
        self.export([(label, formats[label]) for label in labels], folder, reviewed_only=reviewed_only)

    def export(
        self, chosen: list[tuple[str, Callable[..., Any]]], folder: Path, *, reviewed_only: bool
    ) -> None:
        """Save the open image, then export ``chosen`` formats into ``folder`` in a worker."""
        project = self.session.project
        if project is None or self.worker is not None:
            return
        self.session.save_current()
        self.last_folder = str(folder)
        jobs = [
            (label, fn, folder / FORMATS[label][0] if len(chosen) > 1 else folder) for label, fn in chosen
        ]
        statuses = (ImageStatus.REVIEWED,) if reviewed_only else None
        worker = FunctionWorker(run_exports, project, jobs, statuses, name="export")
        worker.progress.connect(self.jobs.update_progress)
        worker.finished.connect(self._done)
        worker.failed.connect(self.error)
        worker.cancelled.connect(lambda: self.jobs.stop())
        worker.done.connect(self._worker_done)
        self.jobs.start("Exporting", 1000 * len(jobs))
        self.worker = worker
        worker.start()

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()

    def _worker_done(self) -> None:
        self.worker = None
        self.jobs.stop()

    def _done(self, reports: list[tuple[str, Any]]) -> None:
        self.finished.emit(reports)
        text = "\n\n".join(f"{label}: {report.summary()}" for label, report in reports)
        parent = self.parent() if isinstance(self.parent(), QWidget) else None
        box = QMessageBox.warning if any(r.errors for _, r in reports) else QMessageBox.information
        box(parent, "Export finished", text)
