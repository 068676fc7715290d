"""The app's model: loading the active version, predicting any image size, importing checkpoints.

Qt-free (called in workers by the pre-segmentation controller, unit-tested without a window); torch is
imported inside the functions so that importing this module at start-up stays cheap.

- :class:`AdaptivePredictor` predicts whole images, switching to a sliding window above
  ``AppSettings.slide_above`` so an 8000 x 6000 photo never allocates a 48 Mpx feature pyramid at once.
- :meth:`AdaptivePredictor.preview_plan` / :meth:`~AdaptivePredictor.predict_preview`: the quick
  reduced-scale preview of :mod:`app.model.preview` (FLOPs counted on meta tensors, cached per input
  size, so only the first image of a size pays the ~0.2 s count; called in the inference worker).
- :func:`load_predictor` loads a project model version (always native) for it.
- :func:`import_checkpoint` validates any checkpoint (native, official DANet, mmsegmentation) by
  loading it, stores it in the project as a native checkpoint and makes it active, so every model
  version of a project can seed fine-tuning.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from app.model.preview import PreviewPlan, plan_preview
from app.model.settings import AppSettings
from danet_core.project import ModelVersion, Project


class AdaptivePredictor:
    """Whole-image prediction, switching to a sliding window for images larger than ``slide_above``."""

    def __init__(self, model: Any, settings: AppSettings, *, input_scale: float = 1.0) -> None:
        from danet_core.inference import Predictor

        self.model, self.settings = model, settings
        self._gflop: dict[tuple[int, int], float] = {}  # input (h, w) -> GFLOP of one forward
        self._previews: dict[float, Any] = {}  # preview scale -> Predictor
        if input_scale != 1.0:
            # a model trained at a reduced scale (the CPU fine-tune recipe) sees images at that scale;
            # "multiscale" with one scale resizes, predicts (sliding above the crop) and upsamples back
            scaled = settings.predict_options(mode="multiscale", scales=(input_scale,), flip=False)
            self.whole = self.slide = Predictor(model, scaled)
            self.slide_above = settings.slide_above
            self.input_scale = input_scale
            return
        slide = Predictor(model, settings.predict_options(mode="slide"))
        self.whole = slide if settings.mode == "slide" else Predictor(model, settings.predict_options())
        self.slide = slide
        self.slide_above = settings.slide_above
        self.input_scale = 1.0

    def choose(self, height: int, width: int) -> Any:
        """The Predictor an image of this size goes through."""
        return self.slide if max(height, width) > self.slide_above else self.whole

    def predict(self, image: np.ndarray, **kwargs: Any) -> Any:
        h, w = image.shape[:2]
        return self.choose(h, w).predict(image, **kwargs)

    def gflop_at(self, height: int, width: int) -> float:
        """GFLOP of one forward of this model at a ``height x width`` input (counted once per size)."""
        key = (int(height), int(width))
        if key not in self._gflop:
            from danet_core.models.flops import count_forward_flops

            self._gflop[key] = count_forward_flops(self.model.config, *key).total / 1e9
        return self._gflop[key]

    def preview_plan(self, height: int, width: int, budget: float | None = None) -> PreviewPlan | None:
        """The quick preview of an image of this size, or None (:func:`app.model.preview.plan_preview`)."""
        on_gpu = self.whole.device.type != "cpu"
        config = getattr(self.model, "config", None)
        if config is None or on_gpu:
            return None  # a model without a config cannot be counted: predicted once, as before
        return plan_preview(
            height, width, self.gflop_at, input_scale=self.input_scale, on_gpu=on_gpu, budget=budget
        )

    def predict_preview(self, image: np.ndarray, plan: PreviewPlan, **kwargs: Any) -> Any:
        """Predict at ``plan.scale`` ("multiscale" with one scale: resize, predict, upsample back)."""
        from danet_core.inference import Predictor

        scale = plan.scale
        if scale not in self._previews:
            options = self.settings.predict_options(mode="multiscale", scales=(scale,), flip=False)
            self._previews[scale] = Predictor(self.model, options)
        return self._previews[scale].predict(image, **kwargs)

    def pam_row(self, image: np.ndarray, yx: tuple[int, int]) -> np.ndarray:
        return self.whole.pam_row(image, yx)

    def cam_matrix(self, image: np.ndarray) -> np.ndarray:
        return self.whole.cam_matrix(image)


def load_predictor(
    path: Path, settings: AppSettings, input_scale: float = 1.0
) -> tuple[AdaptivePredictor, list[dict]]:
    """Load a native checkpoint and wrap it in a predictor; also returns the model's classes."""
    from danet_core.checkpoints import load_model
    from danet_core.models.fuse import for_inference

    model = for_inference(load_model(path))  # BN folded once; the original is dropped
    return AdaptivePredictor(model, settings, input_scale=input_scale), list(model.meta.classes)


def version_input_scale(version: ModelVersion) -> float:
    """The scale a model version was trained at (the fine-tune plan it records; 1 for imported ones)."""
    scale = (version.metrics.get("plan") or {}).get("scale", 1.0)
    try:
        value = float(scale)
    except (TypeError, ValueError):
        return 1.0
    return value if 0.1 <= value <= 1.0 else 1.0


def import_checkpoint(project: Project, path: Path, source: str = "auto") -> ModelVersion:
    """Validate a checkpoint by loading it, store it in the project as native, make it active."""
    from danet_core.checkpoints import load_model, save_checkpoint

    model = load_model(path, source=source)
    meta = model.meta
    with tempfile.TemporaryDirectory() as tmp:
        native = Path(tmp) / "imported.pt"
        save_checkpoint(
            native,
            model,
            classes=meta.classes,
            mean=meta.mean,
            std=meta.std,
            extra={"imported_from": str(path), "source": meta.source},
        )
        version = project.add_model_version(
            native,
            # the architecture is recorded so the fine-tune plan never reads the checkpoint on the GUI thread
            metrics={
                "imported_from": str(path),
                "source": meta.source,
                "architecture": meta.config.to_dict(),
            },
        )
    project.set_active_model(version.id)
    return version
