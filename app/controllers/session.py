"""Session controller: the open project, the image being edited, autosave, "reviewed and next".

Decisions (README section ``app``):

- Opening an image never blocks the GUI: the file is decoded in a worker (or taken from the LRU cache
  that prefetch fills) and shown when ready; a newer request supersedes an older one.
- The starting mask of an image without a saved mask is its cached prediction (mapped onto the project
  label set): pre-segmentation is the point of the app. Nothing is written until the user edits or marks
  the image reviewed, so an untouched image stays "pre-segmented".
- Autosave: a single-shot timer restarted on every edit fires ``autosave_delay_ms`` (2 s) after the last
  one; the mask is also saved on every image switch, on "reviewed and next" and on close. Saves go
  through ``Project.save_mask`` (atomic PNG, then the catalog row), so a kill at any moment leaves the
  last saved mask intact and reopening shows every edit up to it.
- Time spent on an image: :class:`app.model.work_timer.WorkTimer` (gaps between user events, capped).
- Which image opens next: the :class:`app.model.image_queue.ImageQueue` this controller owns (the image
  list is its view); the starting mask: :func:`app.model.document.starting_mask`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from app.controllers.session_preview import IDENTITY_LUT, PreviewMixin
from app.controllers.session_recovery import RecoveryMixin
from app.model.document import AnnotationDocument, restarts_from_prediction, starting_mask
from app.model.image_queue import ImageQueue
from app.model.review_queue import weak_acceptance_question
from app.model.settings import AppSettings, RecentProjects, default_project_dir, is_project_dir
from app.model.work_timer import WorkTimer
from app.widgets.canvas import CanvasView
from app.widgets.image_list import ImageListPanel
from app.widgets.status_bar import CursorInfo
from app.workers.base import FunctionWorker
from app.workers.loading import ImageBundle, ImageCache, ThumbnailLoader, load_bundle, warm_cache
from danet_core.project import (
    ImageRecord,
    ImageStatus,
    MaskConflict,
    MaskStamp,
    Project,
)
from danet_core.project.catalog import GUI_BUSY_TIMEOUT_MS
from danet_core.project.scan import has_images

log = logging.getLogger(__name__)

WATCH_MS = 1500


class SessionController(PreviewMixin, RecoveryMixin, QObject):
    """Owns the :class:`Project`, the current :class:`AnnotationDocument` and the autosave timer."""

    project_opened = Signal(object)
    project_closed = Signal()
    image_opened = Signal(int)  # the document of this image is now on the canvas
    image_saved = Signal(int)
    records_changed = Signal()  # the catalog was re-read (a rescan, an import, another process)
    message = Signal(str)  # status-bar text
    error = Signal(str, str)  # one-line message, details

    def __init__(
        self,
        canvas: CanvasView,
        image_list: ImageListPanel,
        settings: AppSettings,
        recent: RecentProjects,
        cursor_info: CursorInfo | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.canvas = canvas
        self.image_list = image_list
        self.queue: ImageQueue = image_list.queue
        self.settings = settings
        self.recent = recent
        self.cursor_info = cursor_info
        self.project: Project | None = None
        self.image_id: int | None = None
        self.rgb: np.ndarray | None = None
        self.document: AnnotationDocument | None = None
        self.confidence: np.ndarray | None = None
        self.mask_stamp: MaskStamp | None = None  # the open image's mask file as loaded or last saved
        # How a save conflict is resolved: "mine" (overwrite) or "theirs" (reload); replaceable in tests.
        self.choose_conflict: Callable[[str], str] = self._ask_conflict
        self.cache = ImageCache()
        self.thumbnails = ThumbnailLoader(parent=self)
        self._pending_open: int | None = None
        self._loader: FunctionWorker | None = None
        self._opener: FunctionWorker | None = None
        self.timer = WorkTimer()
        self._init_preview()
        # Changes made by another process (a `danet project import`, a second window) are picked up
        # every WATCH_MS: statuses refresh and the open image reloads when the user has not edited it.
        self.watch_timer = QTimer(self)
        self.watch_timer.setInterval(WATCH_MS)
        self.watch_timer.timeout.connect(self.check_external_changes)
        self._data_version: int | None = None
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setSingleShot(True)
        self.autosave_timer.timeout.connect(self.try_save)
        self.thumbnails.thumbnail_ready.connect(image_list.set_thumbnail)
        self.thumbnails.thumbnail_failed.connect(image_list.mark_unreadable)
        image_list.thumbnails_needed.connect(self._thumbnails_needed)
        image_list.image_activated.connect(self.open_image)
        canvas.document_edited.connect(self._on_edited)
        canvas.cursor_moved.connect(self._on_cursor)

    # -- project life cycle ---------------------------------------------------------------------
    def open_path(self, path: str | Path, label_set: str | None = None) -> None:
        """A project folder opens; an image folder opens (or creates) its project in the default place.

        Creating a project scans the folder in a worker; ``project_opened`` is emitted when ready.
        """
        p = Path(path).expanduser().resolve()
        if is_project_dir(p):
            self.open_project(p)
            return
        if not p.is_dir():
            raise ValueError(f"{p}: not a folder; expected an image folder or a project folder")
        if not has_images(p) and not is_project_dir(default_project_dir(p)):
            raise ValueError(
                f"No images found in {p} (expected .png, .jpg, .jpeg, .bmp, .tif or .webp files, also in "
                "sub-folders); no project was created"
            )
        target = default_project_dir(p)
        if is_project_dir(target):
            self.open_project(target)
            return
        spec = label_set or self.settings.default_label_set
        self.message.emit(f"Creating a project for {p} …")
        worker = FunctionWorker(Project.create, target, p, spec, name=f"create project for {p}")
        worker.finished.connect(self._adopt_project)
        worker.failed.connect(self.error)
        self._opener = worker
        worker.start()

    def open_project(self, project_dir: str | Path) -> None:
        """Open an existing project (fast: no scan); a rescan for new files runs in the background."""
        project = Project.open(project_dir)
        self._adopt_project(project)
        worker = FunctionWorker(project.rescan, name="rescan")
        worker.finished.connect(lambda _r, pr=project: self._after_rescan(pr))
        worker.failed.connect(self.error)
        self._opener = worker
        worker.start()

    def _adopt_project(self, project: Project) -> None:
        self.close_project()
        self.image_list.reset_filters()  # a filter of the previous project must not hide this one's images
        self.project = project
        self.recent.add(project.project_dir, project.image_root)
        self._data_version = project.catalog.data_version()
        self.watch_timer.start()
        self.refresh_records()
        log.info("opened project %s (%d images)", project.project_dir, len(self.queue))
        self.project_opened.emit(project)
        counts = project.counts()
        self.message.emit(
            f"{counts['total']} images · {counts['reviewed']} reviewed · {counts['in_progress']} in progress"
        )

    def _after_rescan(self, project: Project) -> None:
        if project is self.project:
            self.refresh_records()

    def check_external_changes(self) -> bool:
        """Pick up what another process changed; True when something did. The open image is reloaded
        only when the user has no unsaved edits (otherwise saving asks: never overwritten unseen)."""
        project = self.project
        if project is None:
            return False
        try:
            version = project.catalog.data_version()
        except OSError as exc:
            log.debug("cannot poll the catalog: %s", exc)
            return False
        if version == self._data_version:
            return False
        self._data_version = version
        self.refresh_records()
        image_id, doc = self.image_id, self.document
        if image_id is not None and doc is not None and project.mask_stamp(image_id) != self.mask_stamp:
            if doc.is_modified:
                self.message.emit("This mask was changed by another program; saving will ask which to keep.")
            else:
                self.message.emit("This mask was changed by another program; showing the new version.")
                self.reload_current()
        return True

    def reload_current(self) -> None:
        """Open the current image again from disk (its decoded pixels may come from the cache)."""
        if self.image_id is None:
            return
        reopen, self.image_id = self.image_id, None
        self.open_image(reopen)

    def refresh_records(self) -> None:
        """Re-read every image record from the catalog into the queue (and so the list)."""
        self.image_list.set_records(self.project.images() if self.project is not None else [])
        if self.image_id is not None:
            self.image_list.set_current(self.image_id)
        self.records_changed.emit()

    def update_record(self, image_id: int) -> ImageRecord | None:
        """Re-read one image's record (status, prediction, effort) into the queue; returns it."""
        if self.project is None:
            return None
        record = self.project.record(image_id)
        self.image_list.update_record(record)
        return record

    def close_project(self) -> None:
        """Save the current image and close the project (also on window close)."""
        if self.project is None:
            return
        self.save_current()
        self._commit_seconds()
        self.thumbnails.clear()
        self.cache.clear()
        self.end_preview()
        self.canvas.set_image(None)  # nothing of the previous project stays on the canvas
        self.watch_timer.stop()
        self.project.close()
        self.project, self.image_id, self.document, self.rgb, self.confidence = None, None, None, None, None
        self.image_list.set_records([])
        self.project_closed.emit()

    # -- images -------------------------------------------------------------------------------------
    def open_image(self, image_id: int) -> None:
        """Save the current image, then load ``image_id`` in a worker and show it when decoded."""
        if self.project is None or image_id == self.image_id:
            return
        if not self.try_save():
            return  # stay on the image whose edits could not be saved
        self._commit_seconds()
        self._pending_open = image_id
        if self._loader is None:
            self._start_load(image_id)

    def _start_load(self, image_id: int) -> None:
        worker = FunctionWorker(
            load_bundle, self.project, image_id, self.cache, callbacks=False, name="open image"
        )
        worker.finished.connect(self._show_bundle)
        worker.failed.connect(lambda msg, tb, i=image_id: self._load_failed(i, msg, tb))
        worker.done.connect(self._load_done)
        self._loader = worker
        worker.start()

    def _load_failed(self, image_id: int, message: str, details: str) -> None:
        """Report once and stay on the current image (no retry loop on a broken file)."""
        if self._pending_open == image_id:
            self._pending_open = None
            if self.image_id is not None:
                self.image_list.set_current(self.image_id)
        self.error.emit(message, details)

    def _load_done(self) -> None:
        self._loader = None
        if self._pending_open is not None and self._pending_open != self.image_id:
            self._start_load(self._pending_open)

    def _show_bundle(self, bundle: ImageBundle) -> None:
        if bundle.image_id != self._pending_open or self.project is None:
            return  # superseded by a newer request; the next load starts in _load_done
        self._pending_open = None
        label_set = self.project.label_set
        prediction = bundle.prediction
        mask = starting_mask(
            bundle.mask,
            None if prediction is None else prediction[0],
            bundle.rgb.shape[:2],
            label_set.ignore_index,
        )
        try:  # built before anything is assigned: a refused mask leaves the previous image as it was
            document = AnnotationDocument(mask, label_set, prediction, prediction_lut=IDENTITY_LUT)
        except ValueError as exc:
            self._load_failed(bundle.image_id, f"Cannot open the mask: {exc}", "")
            return
        self.end_preview()
        self.document = document
        self.mask_stamp = bundle.mask_stamp
        self.rgb = bundle.rgb
        self.confidence = None if prediction is None else prediction[1]
        self.image_id = bundle.image_id
        rec = self.project.record(bundle.image_id)
        self.timer.restart(rec.seconds_spent or 0.0)
        self.canvas.set_image(bundle.rgb)
        self.canvas.set_document(self.document)
        self.canvas.fit_to_window()
        self.image_list.set_current(bundle.image_id)
        self.image_opened.emit(bundle.image_id)
        self._prefetch_images()

    def set_prediction(self, image_id: int, label: np.ndarray, confidence: np.ndarray) -> None:
        """A prediction arrived for ``image_id``. When it is the open image and the user has not edited
        it (no saved mask, no edits), the document restarts from the prediction; otherwise only the
        confidence under the cursor is updated and the user's mask is kept. After a quick preview the
        full result restarts or is merged in (``session_preview``)."""
        record = self.update_record(image_id)
        if record is None or image_id != self.image_id or self.document is None or self.rgb is None:
            return
        self.confidence = confidence
        if self.preview is not None:
            self._replace_preview(label, confidence)
            return
        if restarts_from_prediction(self.document.revision, record.has_mask):
            self.document = AnnotationDocument(
                label.copy(), self.project.label_set, (label, confidence), prediction_lut=IDENTITY_LUT
            )
            self.canvas.set_document(self.document)
            self.image_opened.emit(image_id)

    def next_ids(self, count: int) -> list[int]:
        """The ``count`` images after the current one in the list's displayed order."""
        return self.queue.following(self.image_id, count)

    def _prefetch_images(self) -> None:
        ids = self.next_ids(max(1, self.settings.prefetch))
        if ids and self.project is not None:
            FunctionWorker(warm_cache, self.project, ids, self.cache, name="prefetch images").start()

    # -- saving -------------------------------------------------------------------------------------
    def _on_edited(self) -> None:
        self.timer.tick()
        self.autosave_timer.start(self.settings.autosave_delay_ms)

    def save_current(self, status: ImageStatus | None = None) -> bool:
        """Write the current mask if it changed (or when ``status`` is given). True when written."""
        self.autosave_timer.stop()
        doc, image_id, project = self.document, self.image_id, self.project
        if doc is None or image_id is None or project is None:
            return False
        if not doc.is_modified and status is None:
            return False
        seconds = self.timer.tick()
        revision = doc.revision
        self.mask_stamp = project.save_mask(
            image_id,
            doc.mask,
            status=status,
            pixels_changed=doc.pixels_changed_from_prediction(),
            seconds_spent=seconds,
            expected=self.mask_stamp,
            busy_timeout_ms=GUI_BUSY_TIMEOUT_MS,  # a locked catalog must not freeze the window
        )
        doc.mark_saved(revision)
        self.update_record(image_id)
        self.image_saved.emit(image_id)
        log.debug("saved mask of image %d (revision %d)", image_id, revision)
        return True

    def try_save(self, status: ImageStatus | None = None) -> bool:
        """:meth:`save_current`, reporting a failure (disk full, permissions) instead of raising.

        False when the save failed: the edits stay in the document (still modified) and the autosave
        timer is restarted, so nothing is lost and the next attempt retries.
        """
        try:
            self.save_current(status)
        except MaskConflict as exc:
            return self._resolve_conflict(str(exc), status)
        except (OSError, ValueError) as exc:
            log.warning("saving the mask of image %s failed: %s", self.image_id, exc)
            self.error.emit(f"Could not save the mask: {exc}. Your edits are kept; saving is retried.", "")
            self.autosave_timer.start(max(self.settings.autosave_delay_ms, 5000))
            return False
        return True

    def mark_reviewed_and_next(self) -> None:
        """Save the mask as reviewed and open the next image that is not reviewed yet."""
        if self.image_id is None or self.project is None:
            return
        question = self._weak_acceptance()
        if question and not self.ask("Mark as reviewed?", question):
            return
        nxt = self.queue.next_to_review(self.image_id)  # asked before the save re-sorts the queue
        if not self.try_save(status=ImageStatus.REVIEWED):
            return
        if nxt is None:
            self.message.emit("All images in the list are reviewed.")
            return
        self.open_image(nxt)

    def _weak_acceptance(self) -> str:
        doc, project, image_id = self.document, self.project, self.image_id
        if doc is None or project is None or image_id is None:
            return ""
        version = project.record(image_id).model_version
        miou = None
        if version is not None:
            try:
                value = project.model_version(version).metrics.get("heldout_miou")
                miou = float(value) if isinstance(value, int | float) else None
            except ValueError:
                version = None  # the version is gone: nothing to judge it by
        return weak_acceptance_question(
            doc.pixels_changed_from_prediction(), doc.width * doc.height, version, miou
        )

    def go_relative(self, step: int) -> None:
        nxt = self.queue.step(self.image_id, step)
        if nxt is not None:
            self.open_image(nxt)

    # -- time and cursor ----------------------------------------------------------------------------
    def _commit_seconds(self) -> None:
        """Store the time spent on an image that was viewed but not edited since its last save."""
        if self.project is None or self.image_id is None:
            return
        self.timer.tick()
        rec = self.project.record(self.image_id)
        extra = self.timer.unsaved(rec.seconds_spent or 0.0)
        if extra > 0.5:
            self.project.add_seconds(self.image_id, extra)

    def _on_cursor(self, x: int, y: int) -> None:
        self.timer.tick()
        if self.cursor_info is None:
            return
        doc = self.document
        if doc is None or x < 0 or y < 0 or y >= doc.height or x >= doc.width:
            self.cursor_info.show_pixel(-1, -1, None, None)
            return
        value = int(doc.mask[y, x])
        name = None
        if value != doc.ignore_index:
            try:
                name = self.project.label_set.by_index(value).name if self.project else None
            except KeyError:
                name = f"index {value}"
        conf = None if self.confidence is None else float(self.confidence[y, x])
        self.cursor_info.show_pixel(x, y, name, conf)

    def _thumbnails_needed(self, ids: list[int]) -> None:
        if self.project is None:
            return
        root = self.project.image_root
        items = []
        for i in ids:
            rec = self.queue.record(i)
            if rec is not None:
                items.append((i, root / rec.rel_path))
        self.thumbnails.request(items)
