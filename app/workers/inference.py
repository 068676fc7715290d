"""Pre-segmentation off the GUI thread: one serial queue of images to predict, with priorities.

Why one serial queue: the CPU (or GPU) is shared; predicting two images at once makes both slower and
makes the image the user just opened wait for prefetches. The queue runs one job at a time, always taking
the highest-priority image next: the image the user opened ("current"), then the next images of the list
("prefetch"), then a "pre-segment all" batch ("batch"). A job loads the image, predicts, maps the model's
classes onto the project's label set and stores the prediction through the project store (thread-safe,
atomic writes), so a result survives even if the window closes right after.

Previews (``app.model.preview``): ``request(id, "current", preview=True)`` first runs a "preview" job for
the opened image (a reduced-scale forward, when the plan says one is worth it), which is emitted as
``previewed`` and never stored, then the full job as before. Only the opened image gets a preview; a newer
"current" request drops a queued preview and cancels a running one (its result would be for an image no
longer shown). A running full prediction is never interrupted for a preview: a whole-image forward
cannot stop halfway, and its result is stored and reused.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.model.class_mapping import ClassMapping
from app.model.preview import PreviewPlan
from app.model.review_queue import uncertainty_score
from app.workers.base import FunctionWorker
from danet_core.cpu_memory import release_memory
from danet_core.images import load_image
from danet_core.jobs import ProgressFn, StopFn, check_stop

log = logging.getLogger(__name__)

PRIORITIES = ("current", "prefetch", "batch")
PREVIEW = "preview"  # the internal queue above "current": previews of the opened image


@dataclass
class PredictionResult:
    """A stored prediction plus the maps the heatmaps need (all H x W at the image resolution)."""

    image_id: int
    model_version: int | None
    label: np.ndarray  # uint8 label-set indices (mapped), as stored in the project
    confidence: np.ndarray  # float32 0..1
    entropy: np.ndarray | None  # float32 0..1
    margin: np.ndarray | None  # float32 0..1
    uncertainty: float | None
    seconds: float = 0.0  # the job's time (a preview: its forward only, what scales the full estimate)
    preview: PreviewPlan | None = None  # set for a quick preview (not stored); None for a full result


@dataclass
class BatchSummary:
    total: int
    done: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)  # (image id, message)
    cancelled: bool = False


def predict_and_store(
    project: Any,
    predictor: Any,
    mapping: ClassMapping,
    image_id: int,
    model_version: int | None,
    *,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> PredictionResult:
    """Load image ``image_id``, predict it, map classes, save the prediction in ``project``."""
    import time

    t0 = time.perf_counter()
    image = load_image(project.image_path(image_id))
    check_stop(should_stop)
    pred = predictor.predict(image, progress=progress, should_stop=should_stop)
    label = mapping.apply(pred.label)
    uncertainty = uncertainty_score(pred.entropy) if pred.entropy is not None else None
    check_stop(should_stop)  # a model switched meanwhile must not overwrite the new cache
    project.save_prediction(
        image_id, label, pred.confidence, model_version=model_version, uncertainty=uncertainty
    )
    return PredictionResult(
        image_id=image_id,
        model_version=model_version,
        label=label,
        confidence=np.asarray(pred.confidence, dtype=np.float32),
        entropy=pred.entropy,
        margin=pred.margin,
        uncertainty=uncertainty,
        seconds=time.perf_counter() - t0,
    )


def predict_preview(
    project: Any,
    predictor: Any,
    mapping: ClassMapping,
    image_id: int,
    model_version: int | None,
    *,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> PredictionResult | None:
    """A quick reduced-scale prediction of image ``image_id`` (None when its plan says predict once).

    Nothing is stored: the project's prediction of an image is always a full result."""
    import time

    image = load_image(project.image_path(image_id))
    plan = predictor.preview_plan(*image.shape[:2])
    if plan is None:
        return None
    check_stop(should_stop)
    t1 = time.perf_counter()
    pred = predictor.predict_preview(image, plan, progress=progress, should_stop=should_stop)
    seconds = time.perf_counter() - t1  # the forward only: what the full result's estimate scales
    check_stop(should_stop)  # the user opened another image meanwhile
    return PredictionResult(
        image_id=image_id,
        model_version=model_version,
        label=mapping.apply(pred.label),
        confidence=np.asarray(pred.confidence, dtype=np.float32),
        entropy=pred.entropy,
        margin=pred.margin,
        uncertainty=None,
        seconds=seconds,
        preview=plan,
    )


class InferenceQueue(QObject):
    """Serial, prioritised pre-segmentation of project images.

    Signals: ``predicted(PredictionResult)``, ``previewed(PredictionResult)`` (a quick preview, see the
    module docstring), ``image_failed(id, message, traceback)`` (outside a
    batch; batch failures go to the summary),
    ``batch_progress(done, total)``, ``batch_finished(BatchSummary)``, ``busy_changed(bool)``.
    """

    predicted = Signal(object)
    previewed = Signal(object)
    image_failed = Signal(int, str, str)
    started_image = Signal(int, str)  # id, priority
    batch_progress = Signal(int, int)
    batch_finished = Signal(object)
    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project: Any = None
        self.predictor: Any = None
        self.mapping: ClassMapping | None = None
        self.model_version: int | None = None
        self._queues: dict[str, OrderedDict[int, None]] = {p: OrderedDict() for p in (PREVIEW, *PRIORITIES)}
        self._worker: FunctionWorker | None = None
        self._running: tuple[int, str] | None = None
        self._batch: BatchSummary | None = None
        self._batch_ids: set[int] = set()

    # -- configuration ----------------------------------------------------------------------------
    def set_model(
        self, project: Any, predictor: Any, mapping: ClassMapping | None, model_version: int | None
    ) -> None:
        """Use this predictor from now on (None: no model). Stops the running job and clears queues."""
        self.clear()
        self.project, self.predictor, self.mapping = project, predictor, mapping
        self.model_version = model_version

    def has_model(self) -> bool:
        return self.predictor is not None and self.mapping is not None and self.project is not None

    # -- requests ---------------------------------------------------------------------------------
    def request(self, image_id: int, priority: str = "current", *, preview: bool = False) -> None:
        """Queue ``image_id`` (moved up if already queued with a lower priority); ``preview`` (only with
        "current") runs a quick preview of it first."""
        if priority not in PRIORITIES:
            raise ValueError(f"priority {priority!r}; expected one of {', '.join(PRIORITIES)}")
        if priority == "current":
            self.drop_previews(keep=image_id if preview else None)
        running_full = self._running is not None and self._running[1] != PREVIEW
        if not self.has_model() or (running_full and self._running and self._running[0] == image_id):
            return
        if preview and priority == "current" and self._running != (image_id, PREVIEW):
            self._queues[PREVIEW][image_id] = None
        rank = PRIORITIES.index(priority)
        for p in PRIORITIES[: rank + 1]:
            if image_id in self._queues[p]:
                return
        for p in PRIORITIES[rank + 1 :]:
            self._queues[p].pop(image_id, None)
        if priority == "current":
            self._drop_queue("current")  # only the latest opened image matters
        self._queues[priority][image_id] = None
        self._pump()

    def prefetch(self, image_ids: list[int]) -> None:
        """Replace the prefetch list (the next images after the one just opened)."""
        self._drop_queue("prefetch")
        for i in image_ids:
            self.request(i, "prefetch")

    def start_batch(self, image_ids: list[int]) -> BatchSummary:
        """Pre-segment ``image_ids`` in the background; progress and a summary come as signals."""
        if not self.has_model():
            raise ValueError("no model is loaded; load or import a model before pre-segmenting")
        self._batch = BatchSummary(total=len(image_ids))
        self._batch_ids = set(image_ids)
        for i in image_ids:
            self.request(i, "batch")
        self.batch_progress.emit(0, len(image_ids))
        if not image_ids:
            self._finish_batch()
        return self._batch

    def cancel_batch(self) -> None:
        """Drop the queued batch images and stop the running one if it belongs to the batch."""
        if self._batch is None:
            return
        self._batch.cancelled = True
        self._queues["batch"].clear()
        for i in list(self._queues["prefetch"]):
            if i in self._batch_ids:
                self._queues["prefetch"].pop(i)
        if self._worker is not None and self._running and self._running[0] in self._batch_ids:
            self._worker.cancel()
        if self._worker is None:
            self._finish_batch()

    def clear(self) -> None:
        """Forget everything queued and stop the running job (model switch, project close)."""
        for q in self._queues.values():
            q.clear()
        if self._worker is not None:
            self._worker.cancel()
        if self._batch is not None:
            self._batch.cancelled = True
            if self._worker is None:
                self._finish_batch()

    def is_busy(self) -> bool:
        return self._worker is not None

    def wait_idle(self, timeout_ms: int = 30_000) -> bool:
        """Block until the running job ended (shutdown/tests); queued jobs are not started."""
        return self._worker is None or self._worker.wait(timeout_ms)

    # -- internals ---------------------------------------------------------------------------------
    def drop_previews(self, keep: int | None = None) -> None:
        """A newer opened image: previews of other images (all but ``keep``) are of no use any more."""
        for i in [i for i in self._queues[PREVIEW] if i != keep]:
            self._queues[PREVIEW].pop(i)
        if self._worker is not None and self._running and self._running[1] == PREVIEW:
            if self._running[0] != keep:
                self._worker.cancel()

    def _drop_queue(self, priority: str) -> None:
        """Empty one queue; images of a running batch go back to the batch queue (still to be done)."""
        for i in self._queues[priority]:
            if i in self._batch_ids and self._batch is not None and not self._batch.cancelled:
                self._queues["batch"][i] = None
        self._queues[priority].clear()

    def _next(self) -> tuple[int, str] | None:
        for p in (PREVIEW, *PRIORITIES):
            if self._queues[p]:
                image_id, _ = self._queues[p].popitem(last=False)
                return image_id, p
        return None

    def _pump(self) -> None:
        if self._worker is not None or not self.has_model():
            return
        nxt = self._next()
        if nxt is None:
            self.busy_changed.emit(False)
            # the allocator keeps a forward's peak for the next one (danet_core.cpu_memory); idle, the
            # window hands it back, off the GUI thread (malloc_trim walks the whole heap)
            threading.Thread(target=release_memory, name="release-memory", daemon=True).start()
            return
        image_id, priority = nxt
        worker = FunctionWorker(
            predict_preview if priority == PREVIEW else predict_and_store,
            self.project,
            self.predictor,
            self.mapping,
            image_id,
            self.model_version,
            name=f"pre-segmentation of image {image_id}",
        )
        worker.finished.connect(self._on_finished)
        worker.failed.connect(lambda msg, tb, i=image_id: self._on_failed(i, msg, tb))
        worker.cancelled.connect(lambda i=image_id: self._on_cancelled(i))
        worker.done.connect(self._on_done)
        self._worker, self._running = worker, (image_id, priority)
        self.busy_changed.emit(True)
        self.started_image.emit(image_id, priority)
        worker.start()

    def _on_finished(self, result: PredictionResult | None) -> None:
        if result is None:
            return  # a preview that was not worth it: the full job follows
        if result.preview is not None:
            self.previewed.emit(result)
            return
        self._count_batch(result.image_id)
        self.predicted.emit(result)

    def _on_failed(self, image_id: int, message: str, tb: str) -> None:
        """Batch failures are collected for the summary; others are reported at once."""
        if self._running == (image_id, PREVIEW):
            log.warning("preview of image %d failed (the full prediction follows): %s", image_id, message)
            return
        if self._batch is not None and image_id in self._batch_ids:
            self._batch.failed.append((image_id, message))
            self._count_batch(image_id)
            return
        self.image_failed.emit(image_id, message, tb)

    def _on_cancelled(self, image_id: int) -> None:
        log.debug("prediction of image %d cancelled", image_id)

    def _count_batch(self, image_id: int) -> None:
        if self._batch is not None and image_id in self._batch_ids:
            self._batch_ids.discard(image_id)
            self._batch.done += 1
            self.batch_progress.emit(self._batch.done, self._batch.total)

    def _on_done(self) -> None:
        self._worker, self._running = None, None
        if self._batch is not None and (self._batch.cancelled or not self._batch_ids):
            self._finish_batch()
        self._pump()

    def _finish_batch(self) -> None:
        summary, self._batch = self._batch, None
        self._batch_ids = set()
        if summary is not None:
            self.batch_finished.emit(summary)
