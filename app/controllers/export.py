"""Export controller: the Export dialog, then ``danet_core.formats.export_project`` in a worker.

The dialog starts from the project's saved export settings (``<project>/export_settings.json``; the
proposal when there are none, with a note when the file cannot be used), and hands back a checked
:class:`~app.model.export_settings.ExportPlan`: formats, folder(s), statuses and, for Cityscapes,
``mapping``, ``split`` and ``city`` - the options of ``danet export``. The settings are saved in the
project when the export starts. The open image is saved first so the export contains the latest strokes.
The job (``run_export_plan``) runs in a :class:`FunctionWorker` with progress and cancel in the status bar;
the end shows ``export_summary``: the folder of each format, images per format (per split for
Cityscapes) and one line per failed image. Every decision is in ``app.model.export_settings``.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from app.controllers.job_slot import JobSlot
from app.controllers.session import SessionController
from app.model.export_settings import (
    ExportJob,
    ExportPlan,
    ExportSettings,
    export_summary,
    load_export_settings,
    plan_export,
    run_export_plan,
    save_export_settings,
)
from app.widgets.export_dialog import ExportDialog
from app.widgets.status_bar import JobIndicator
from app.workers.base import FunctionWorker
from danet_core.formats import EXPORT_FORMATS, BatchReport
from danet_core.project import Project

log = logging.getLogger(__name__)

# format name of danet_core.formats.export_project -> dialog label
FORMAT_LABELS: dict[str, str] = {
    "cityscapes": "Cityscapes (labelIds, color, instanceIds, polygons)",
    "labelme": "labelme JSON",
    "palette": "Palette PNG (colour-indexed export ids)",
    "mask": "Plain 8-bit masks (export ids)",
}


def available_formats() -> dict[str, str]:
    """Format name -> dialog label, for every format danet_core.formats can export."""
    return {f: FORMAT_LABELS.get(f, f) for f in EXPORT_FORMATS}


class ExportController(QObject):
    """Signals ``finished(list[(format, BatchReport)])`` and ``error(message, details)``."""

    error = Signal(str, str)
    finished = Signal(object)

    def __init__(self, session: SessionController, jobs: JobIndicator, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.slot = JobSlot(jobs, "export")
        self.last_folder = ""  # this session's last export folder, for a project without saved settings
        self._plan: ExportPlan | None = None

    def _parent_widget(self) -> QWidget | None:
        parent = self.parent()
        return parent if isinstance(parent, QWidget) else None

    def saved_settings(self, project: Project) -> tuple[ExportSettings, str]:
        """The project's export settings (the proposal when none are saved) and a note about the file."""
        loaded = load_export_settings(project.project_dir, project.label_set)
        settings = loaded.settings
        if not settings.folder and self.last_folder:
            settings = dataclasses.replace(settings, folder=self.last_folder)
        return settings, loaded.note

    def make_dialog(self) -> ExportDialog | None:
        """The Export dialog for the open project (None, with a message, when no project is open)."""
        project = self.session.project
        if project is None:
            QMessageBox.information(self._parent_widget(), "Export", "Open a project first.")
            return None
        settings, note = self.saved_settings(project)
        return ExportDialog(available_formats(), settings, project.label_set, note, self._parent_widget())

    def open_dialog(self) -> None:
        dialog = self.make_dialog()
        if dialog is None or dialog.exec() != ExportDialog.DialogCode.Accepted or dialog.plan is None:
            return
        self.remember(dialog.settings())
        self.start(dialog.plan)

    def remember(self, settings: ExportSettings) -> None:
        """Save the dialog's choices in the project; a failure is shown and the export goes on."""
        project = self.session.project
        if project is None:
            return
        self.last_folder = settings.folder
        try:
            save_export_settings(project.project_dir, settings, project.label_set)
        except OSError as exc:
            self.error.emit(f"The export settings could not be saved in the project ({exc})", "")

    def export(self, formats: list[str], folder: Path, *, reviewed_only: bool = True) -> None:
        """Export ``formats`` into ``folder`` with the project's saved Cityscapes options (or the
        proposal), as the dialog would; a plan that does not check out is one error message."""
        project = self.session.project
        if project is None or not formats:
            return
        saved, _note = self.saved_settings(project)
        settings = dataclasses.replace(
            saved, formats=tuple(formats), folder=str(folder), reviewed_only=reviewed_only
        )
        try:
            plan = plan_export(settings, project.label_set)
        except ValueError as exc:
            self.error.emit(f"Export: {exc}", "")
            return
        self.start(plan)

    def start(self, plan: ExportPlan) -> None:
        """Save the open image, then run ``plan`` in a worker (nothing when an export is running)."""
        project = self.session.project
        if project is None or self.slot.worker is not None:
            return
        self.session.save_current()
        self._plan = plan
        worker = FunctionWorker(run_export_plan, project, plan, name="export")
        worker.finished.connect(self._done)
        worker.failed.connect(self.error)
        worker.cancelled.connect(self._cancelled)
        self.slot.start(worker, "Exporting", 1000 * len(plan.jobs))

    def cancel(self) -> None:
        self.slot.cancel()

    def _cancelled(self) -> None:
        folders = ", ".join(str(job.folder) for job in self._plan.jobs) if self._plan else ""
        QMessageBox.information(
            self._parent_widget(),
            "Export cancelled",
            f"Export cancelled; what was written stays in {folders}",
        )

    def _done(self, results: list[tuple[ExportJob, BatchReport]]) -> None:
        self.finished.emit([(job.fmt, report) for job, report in results])
        text, ok = export_summary(results)
        box = QMessageBox.information if ok else QMessageBox.warning
        box(self._parent_widget(), "Export finished", text)
