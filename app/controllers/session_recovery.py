"""The session controller's answers to a damaged catalog and to a mask changed on disk (issue 13, 10).

A mixin of :class:`app.controllers.session.SessionController` (kept apart so the controller stays small):
it uses the session's project, open image, document, signals and ``try_save``/``reload_current``. Both
answers keep everything: the damaged catalog file is kept when it is rebuilt from the masks; both sides
of a save conflict are kept under ``<project>/conflicts/`` before the user chooses.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QMessageBox

from app.workers.base import FunctionWorker
from danet_core.project import CatalogDamaged, ImageStatus, RebuildReport, rebuild_catalog

if TYPE_CHECKING:
    from PySide6.QtCore import QTimer

    from app.model.document import AnnotationDocument
    from app.model.settings import AppSettings
    from danet_core.project import MaskStamp, Project


class RecoveryMixin:
    """See the module docstring."""

    project: Project | None
    image_id: int | None
    document: AnnotationDocument | None
    mask_stamp: MaskStamp | None
    settings: AppSettings
    autosave_timer: QTimer
    choose_conflict: Callable[[str], str]
    _opener: FunctionWorker | None
    error: Any  # Signal(str, str) of the controller
    message: Any  # Signal(str)

    def try_save(self, status: ImageStatus | None = None) -> bool:
        raise NotImplementedError

    def reload_current(self) -> None:
        raise NotImplementedError

    def open_project(self, project_dir: str | Path) -> None:
        raise NotImplementedError

    # -- a damaged catalog ---------------------------------------------------------------------------
    def offer_rebuild(self, exc: CatalogDamaged) -> None:
        """The masks on disk are the truth: offer to rebuild the catalog from them (in a worker), then
        open the project. Nothing is rebuilt without the user's yes; the damaged file is kept."""
        folder = exc.project_dir
        if folder is None:
            self.error.emit(str(exc), "")
            return
        question = (
            f"{exc}\n\nRebuild the catalog of {folder} from the masks on disk now? The damaged file is kept."
        )
        if not self.ask("Project catalog damaged", question):
            return
        worker = FunctionWorker(rebuild_catalog, folder, callbacks=False, name="rebuild catalog")
        worker.finished.connect(lambda report, f=folder: self._rebuilt(f, report))
        worker.failed.connect(self.error)
        self._opener = worker
        self.message.emit(f"Rebuilding the catalog of {folder} …")
        worker.start()

    def _rebuilt(self, folder: Path, report: RebuildReport) -> None:
        self.message.emit(report.summary())
        try:
            self.open_project(folder)
        except (OSError, ValueError) as exc:
            self.error.emit(str(exc), "")

    def ask(self, title: str, text: str) -> bool:
        return QMessageBox.question(None, title, text) == QMessageBox.StandardButton.Yes

    # -- save conflicts -----------------------------------------------------------------------------
    def _ask_conflict(self, text: str) -> str:
        box = QMessageBox(QMessageBox.Icon.Warning, "Mask changed on disk", text)
        mine = box.addButton("Keep mine", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Load theirs", QMessageBox.ButtonRole.RejectRole)
        box.exec()
        return "mine" if box.clickedButton() is mine else "theirs"

    def _resolve_conflict(self, reason: str, status: ImageStatus | None) -> bool:
        """The mask changed on disk since it was opened: keep both versions and ask which one stays.

        Both are kept as files under ``<project>/conflicts/`` first, so either answer loses nothing.
        Returns True when the user's mask was saved ("mine").
        """
        project, image_id, doc = self.project, self.image_id, self.document
        if project is None or image_id is None or doc is None:
            return False
        try:
            theirs = project.load_mask(image_id)
            mine_copy = project.keep_conflict_copy(image_id, doc.mask, "mine")
            theirs_copy = (
                project.keep_conflict_copy(image_id, theirs, "theirs") if theirs is not None else None
            )
        except (OSError, ValueError) as exc:
            self.error.emit(f"Could not save the mask: {reason}; keeping copies failed too ({exc})", "")
            self.autosave_timer.start(max(self.settings.autosave_delay_ms, 5000))
            return False
        copies = f"Both versions are kept: {mine_copy}" + (f" and {theirs_copy}" if theirs_copy else "")
        choice = self.choose_conflict(
            f"{reason}.\n\n{copies}.\n\nKeep your mask (overwrite theirs) or load theirs?"
        )
        if choice == "mine":
            self.mask_stamp = project.mask_stamp(image_id)
            return self.try_save(status)
        doc.mark_saved(doc.revision)  # the window's mask is in the conflict copy
        self.message.emit(f"Loaded the mask from disk; yours is kept as {mine_copy}")
        self.reload_current()
        return False
