"""Pre-segmentation controller: the active model, its predictor, and which images to predict when.

- On project open the active model version is loaded in a worker (never the GUI thread). Without one the
  app stays a manual labeling tool and says how to get a model (``model_status``).
- When an image opens it is predicted first unless its cached prediction comes from the active model;
  the next ``prefetch`` images of the list follow. The opened image gets a quick reduced-scale preview
  first when its full forward is expensive (``app.model.preview``; never stored, never for prefetch or
  batch images); ``preview_ready`` announces it and the full result replaces it
  (``app.controllers.session_preview``). "Pre-segment all" queues every image that is not
  reviewed and has no up-to-date prediction, with progress, cancel and a summary of failures.
- :meth:`reload_model` (ADR 0001, called by fine-tuning) re-reads ``project.active_model_version()``,
  invalidates the predictions of unreviewed images and pre-segments them again in the background.
- Importing a checkpoint (native, official DANet, mmsegmentation) converts it to a native checkpoint
  inside the project, so every model version of a project is native and can seed fine-tuning.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.controllers.session import SessionController
from app.model.class_mapping import ClassMapping, build_class_mapping
from app.model.predictor import AdaptivePredictor, import_checkpoint, load_predictor, version_input_scale
from app.model.settings import AppSettings
from app.workers.base import FunctionWorker
from app.workers.inference import BatchSummary, InferenceQueue, PredictionResult
from danet_core.project import Project

log = logging.getLogger(__name__)

NO_MODEL_HINT = (
    "No model: label by hand, get a pretrained one (Model ▸ Get a pretrained model…), load a checkpoint "
    "(Model ▸ Load model…: native, official DANet or mmsegmentation), or review a few images and "
    "fine-tune one (Model ▸ Fine-tune)."
)


class PresegmentController(QObject):
    """See the module docstring. Signals: ``model_status(str)``, ``model_changed()`` (a model version is
    loaded and active), ``prediction_ready(PredictionResult)``, ``batch_started(int)``,
    ``batch_progress(int, int)``, ``batch_finished(BatchSummary)``, ``preview_ready(PredictionResult)``
    (a quick preview of the open image is on the canvas), ``error``."""

    model_status = Signal(str)
    model_changed = Signal()
    prediction_ready = Signal(object)
    preview_ready = Signal(object)
    batch_started = Signal(int)
    batch_progress = Signal(int, int)
    batch_finished = Signal(object)
    error = Signal(str, str)

    def __init__(
        self, session: SessionController, settings: AppSettings, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.settings = settings
        self.queue = InferenceQueue(self)
        self.predictor: AdaptivePredictor | None = None
        self.mapping: ClassMapping | None = None
        self.model_version: int | None = None
        self.results: OrderedDict[int, PredictionResult] = OrderedDict()  # recent full predictions
        self._loader: FunctionWorker | None = None
        self._pending_invalidate = False
        session.project_opened.connect(lambda _p: self._load_active(invalidate=False))
        session.project_closed.connect(self._unload)
        session.image_opened.connect(self._on_image_opened)
        self.queue.predicted.connect(self._on_predicted)
        self.queue.previewed.connect(self._on_previewed)
        self.queue.image_failed.connect(self._on_failed)
        self.queue.batch_progress.connect(self.batch_progress)
        self.queue.batch_finished.connect(self.batch_finished)

    # -- model ------------------------------------------------------------------------------------
    def has_model(self) -> bool:
        return self.predictor is not None

    def reload_model(self) -> None:
        """ADR entry point: use ``project.active_model_version()`` from now on, re-pre-segment."""
        self._load_active(invalidate=True)

    def load_model_file(self, path: str | Path, source: str = "auto") -> None:
        """Import a checkpoint into the project (worker), make it active and pre-segment with it."""
        project = self.session.project
        if project is None:
            raise ValueError("open a project before loading a model (the model is stored in the project)")
        self.model_status.emit(f"Importing {Path(path).name} …")
        worker = FunctionWorker(
            import_checkpoint, project, Path(path), source, callbacks=False, name="import model"
        )
        worker.finished.connect(lambda _v: self.reload_model())
        worker.failed.connect(self.error)
        worker.failed.connect(lambda *_: self._announce())
        worker.start()
        self._loader = worker

    def apply_settings(self, settings: AppSettings) -> None:
        """New device/precision/window options: rebuild the predictor (no invalidation: same model)."""
        self.settings = settings
        if self.session.project is not None and self.predictor is not None:
            self._load_active(invalidate=False)

    def _load_active(self, *, invalidate: bool) -> None:
        project = self.session.project
        self.queue.set_model(None, None, None, None)
        self.session.end_preview()  # its full result will not come from this model
        self.predictor, self.mapping, self.model_version = None, None, None
        self.results.clear()
        version = project.active_model_version() if project is not None else None
        if version is None:
            self._announce()
            return
        self.model_status.emit(f"Loading model version {version.id} …")
        self._pending_invalidate = invalidate
        worker = FunctionWorker(
            load_predictor,
            version.path,
            self.settings,
            version_input_scale(version),
            callbacks=False,
            name="load model",
        )
        worker.finished.connect(lambda res, v=version.id, p=project: self._model_loaded(p, v, *res))
        worker.failed.connect(self.error)
        worker.failed.connect(lambda *_: self._announce())
        self._loader = worker
        worker.start()

    def _model_loaded(
        self, project: Project, version_id: int, predictor: AdaptivePredictor, classes: list[dict]
    ) -> None:
        if project is not self.session.project:
            return  # the project was closed meanwhile
        try:
            mapping = build_class_mapping(classes, project.label_set)
        except ValueError as exc:
            self.error.emit(f"model version {version_id}: {exc}", "")
            self._announce()
            return
        self.predictor, self.mapping, self.model_version = predictor, mapping, version_id
        self.queue.set_model(project, predictor, mapping, version_id)
        self._announce()
        if self._pending_invalidate:
            stale = [r.id for r in project.images() if str(r.status) != "reviewed"]
            project.invalidate_predictions(stale)
            self.session.refresh_records()
            self.start_batch(stale)
        if self.session.image_id is not None:
            self._on_image_opened(self.session.image_id)
        self.model_changed.emit()

    def _unload(self) -> None:
        self.queue.set_model(None, None, None, None)
        self.predictor, self.mapping, self.model_version = None, None, None
        self.results.clear()
        self._announce()

    def _announce(self) -> None:
        if self.predictor is None or self.mapping is None:
            self.model_status.emit(NO_MODEL_HINT)
        else:
            self.model_status.emit(f"Model version {self.model_version}: {self.mapping.describe()}")

    # -- which images -------------------------------------------------------------------------------
    def needs_prediction(self, image_id: int) -> bool:
        project = self.session.project
        if project is None or self.predictor is None:
            return False
        rec = project.record(image_id)
        return not (rec.has_prediction and rec.model_version == self.model_version)

    def _on_image_opened(self, image_id: int) -> None:
        if self.predictor is None:
            return
        if self.needs_prediction(image_id):
            self.queue.request(image_id, "current", preview=True)
        else:
            self.queue.drop_previews()  # a preview of the image just left is of no use
        ahead = [i for i in self.session.next_ids(self.settings.prefetch) if self.needs_prediction(i)]
        self.queue.prefetch(ahead)

    def start_batch(self, image_ids: list[int] | None = None) -> BatchSummary | None:
        """Pre-segment ``image_ids`` (default: every unreviewed image without an up-to-date prediction)."""
        project = self.session.project
        if project is None or self.predictor is None:
            self.model_status.emit(NO_MODEL_HINT)
            what = "Open a project first." if project is None else "Pre-segmenting needs a model."
            self.error.emit(f"{what} {NO_MODEL_HINT}", "")  # said, not silently ignored
            return None
        if image_ids is None:
            image_ids = [
                r.id for r in project.images() if str(r.status) != "reviewed" and self.needs_prediction(r.id)
            ]
        summary = self.queue.start_batch(list(image_ids))
        self.batch_started.emit(len(image_ids))
        return summary

    def cancel_batch(self) -> None:
        self.queue.cancel_batch()

    # -- results ------------------------------------------------------------------------------------
    def _on_predicted(self, result: PredictionResult) -> None:
        if result.model_version != self.model_version:
            return
        self.results[result.image_id] = result
        while len(self.results) > 6:  # full-resolution float maps: keep only a few
            self.results.popitem(last=False)
        self.session.set_prediction(result.image_id, result.label, result.confidence)
        self.prediction_ready.emit(result)

    def _on_previewed(self, result: PredictionResult) -> None:
        if result.model_version == self.model_version and self.session.show_preview(result):
            self.preview_ready.emit(result)

    def shown_result(self, image_id: int) -> PredictionResult | None:
        """The prediction shown for ``image_id`` with its maps: the quick preview while it is on the
        canvas, else a recent full result (the heatmaps follow whichever is shown)."""
        preview = self.session.preview
        if preview is not None and preview.image_id == image_id:
            return preview
        return self.results.get(image_id)

    def _on_failed(self, image_id: int, message: str, tb: str) -> None:
        if image_id == self.session.image_id:
            self.session.end_preview()  # no full result is coming: the note must not promise one
        self.error.emit(message, tb)
