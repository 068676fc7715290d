"""Heatmap controller: confidence / entropy / margin overlays, the PAM attention of a clicked pixel and
the CAM (channel attention) matrix, each computed off the GUI thread when not already at hand.

Where the maps come from: the low-confidence map from the project's cached prediction (8-bit, always
there once an image is pre-segmented; while a quick preview is shown, the preview's); entropy and margin
from the prediction shown (the preview, or the full prediction kept in memory for recently predicted
images), or recomputed in a worker; attention and CAM from the predictor
(``pam_row`` / ``cam_matrix``) in a worker. A result for an image that is no longer open is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import QObject

from app.controllers.presegment import PresegmentController
from app.controllers.session import SessionController
from app.model.predictor import AdaptivePredictor
from app.model.render import attention_heatmap
from app.widgets.cam_view import CamView
from app.widgets.canvas import CanvasView
from app.widgets.heatmap_panel import HeatmapPanel
from app.workers.base import FunctionWorker
from app.workers.inference import PredictionResult
from danet_core.jobs import ProgressFn, StopFn

log = logging.getLogger(__name__)


def _full_prediction(
    predictor: AdaptivePredictor,
    rgb: np.ndarray,
    *,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> Any:
    return predictor.predict(rgb, progress=progress, should_stop=should_stop)


def _pam(predictor: AdaptivePredictor, rgb: np.ndarray, y: int, x: int) -> np.ndarray:
    return attention_heatmap(predictor.pam_row(rgb, (y, x)), rgb.shape[0], rgb.shape[1])


class HeatmapController(QObject):
    def __init__(
        self,
        session: SessionController,
        presegment: PresegmentController,
        canvas: CanvasView,
        panel: HeatmapPanel,
        cam_view: CamView,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.session, self.presegment, self.canvas = session, presegment, canvas
        self.panel, self.cam_view = panel, cam_view
        self.attention: tuple[int, np.ndarray] | None = None  # (image id, H x W map)
        self.full: dict[int, Any] = {}  # image id -> object with entropy / margin (recomputed)
        self.cam_visible = False
        self._cam_for: int | None = None
        self._busy: dict[str, FunctionWorker] = {}
        panel.kind_changed.connect(self._kind_changed)
        panel.opacity_changed.connect(lambda _o: self.refresh())
        canvas.attention_clicked.connect(self.show_attention)
        session.image_opened.connect(self._image_opened)
        session.project_closed.connect(self._forget)
        presegment.prediction_ready.connect(self._prediction_ready)
        presegment.preview_ready.connect(self._prediction_ready)  # the maps follow what is shown
        presegment.model_changed.connect(self._forget)

    # -- slots ------------------------------------------------------------------------------------
    def _kind_changed(self, kind: str) -> None:
        if kind == "attention" and self.canvas.tool() != "attention":
            self.canvas.set_tool("attention")
        self.refresh()

    def _image_opened(self, _image_id: int) -> None:
        self.attention = None
        self.refresh()
        if self.cam_visible:
            self.update_cam()

    def _prediction_ready(self, result: PredictionResult) -> None:
        if result.image_id == self.session.image_id:
            self.refresh()

    def _forget(self) -> None:
        self.attention, self._cam_for = None, None
        self.full.clear()
        self.refresh()
        self.cam_view.set_matrix(None, reason="No channel attention: no model or no image.")

    def set_cam_visible(self, visible: bool) -> None:
        self.cam_visible = visible
        if visible:
            self.update_cam()

    # -- heatmap ----------------------------------------------------------------------------------
    def _show(self, values: np.ndarray | None, status: str = "") -> None:
        self.canvas.set_heatmap(values, opacity=self.panel.opacity_value())
        self.panel.set_status(status)

    def refresh(self) -> None:
        """Show the panel's heatmap kind for the open image (or start computing it)."""
        kind, image_id = self.panel.kind(), self.session.image_id
        if kind == "off" or image_id is None or self.session.document is None:
            self._show(None)
            return
        if kind == "attention":
            if self.attention is not None and self.attention[0] == image_id:
                self._show(self.attention[1])
            elif not self.presegment.has_model():
                self._show(None, "The attention map needs a model.")
            else:
                self._show(None, "Click a pixel with the attention tool (A) to see where the model looks.")
            return
        if kind == "confidence":
            conf = self.session.confidence
            if conf is None:
                self._show(None, self._no_prediction_text())
            else:
                self._show(1.0 - conf)
            return
        full = self.presegment.shown_result(image_id) or self.full.get(image_id)
        if full is not None and getattr(full, kind, None) is not None:
            values = full.entropy if kind == "entropy" else 1.0 - full.margin
            self._show(np.clip(values, 0.0, 1.0))
        elif not self.presegment.has_model() or self.presegment.needs_prediction(image_id):
            self._show(None, self._no_prediction_text())  # the queue's result will bring the maps
        else:
            self._show(None, f"Computing the {kind} map …")
            self._start("full", _full_prediction, self._full_done, callbacks=True)

    def _no_prediction_text(self) -> str:
        if self.presegment.has_model():
            return "Waiting for the pre-segmentation of this image …"
        return "No prediction for this image: heatmaps need a model."

    def _full_done(self, image_id: int, prediction: Any) -> None:
        self.full = {image_id: prediction}  # one image: full-resolution float maps are large
        if image_id == self.session.image_id:
            self.refresh()

    # -- attention and CAM --------------------------------------------------------------------------
    def show_attention(self, x: int, y: int) -> None:
        """PAM attention of image pixel (x, y), computed in a worker, then shown as the heatmap."""
        rgb = self.session.rgb
        if rgb is None or not (0 <= y < rgb.shape[0] and 0 <= x < rgb.shape[1]):
            return
        if not self.presegment.has_model():
            self.panel.set_status("The attention map needs a model.")
            return
        if self.panel.kind() != "attention":
            self.panel.set_kind("attention")
        self.panel.set_status(f"Computing the attention of pixel ({x}, {y}) …")
        self._start("attention", lambda p, img: _pam(p, img, y, x), self._attention_done, callbacks=False)

    def _attention_done(self, image_id: int, values: np.ndarray) -> None:
        self.attention = (image_id, values)
        if image_id == self.session.image_id and self.panel.kind() == "attention":
            self._show(values)

    def update_cam(self) -> None:
        image_id = self.session.image_id
        if image_id is None or not self.presegment.has_model():
            self.cam_view.set_matrix(None, reason="No channel attention: open an image with a model loaded.")
            return
        if self._cam_for == image_id:
            return
        self._cam_for = image_id
        self._start("cam", lambda p, img: p.cam_matrix(img), self._cam_done, callbacks=False)

    def _cam_done(self, image_id: int, matrix: np.ndarray) -> None:
        if image_id == self.session.image_id:
            self.cam_view.set_matrix(matrix)

    def _start(
        self, key: str, fn: Callable[..., Any], on_done: Callable[[int, Any], None], *, callbacks: bool
    ) -> None:
        """Run ``fn(predictor, rgb)`` for the open image; the previous job of this ``key`` is cancelled."""
        image_id, rgb, predictor = self.session.image_id, self.session.rgb, self.presegment.predictor
        old = self._busy.pop(key, None)
        if old is not None:
            old.cancel()
        worker = FunctionWorker(fn, predictor, rgb, callbacks=callbacks, name=f"{key} map")
        worker.finished.connect(
            lambda value, i=image_id, k=key, w=worker: on_done(i, value) if self._busy.get(k) is w else None
        )
        worker.failed.connect(self.session.error)
        worker.failed.connect(lambda *_: self.panel.set_status(f"The {key} map failed; see the log."))
        worker.done.connect(lambda k=key, w=worker: self._busy.pop(k) if self._busy.get(k) is w else None)
        self._busy[key] = worker
        worker.start()
