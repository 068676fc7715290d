"""The app's model side without a window: predictor choice by image size, loading, importing."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.model.predictor import AdaptivePredictor, import_checkpoint, load_predictor
from app.model.settings import AppSettings
from danet_core.project import Project


def test_settings_are_the_predict_options() -> None:
    s = AppSettings(device="cpu", precision="bf16", mode="whole", crop=256, stride=128)
    o = s.predict_options()
    assert (o.device, o.precision, o.mode, o.crop, o.stride) == (
        "cpu",
        "bf16",
        "whole",
        (256, 256),
        (128, 128),
    )
    assert s.predict_options(mode="slide").mode == "slide"


def test_large_images_go_through_the_sliding_window(tiny_checkpoint: Path) -> None:
    settings = AppSettings(device="cpu", crop=64, stride=48, slide_above=80)
    predictor, classes = load_predictor(tiny_checkpoint, settings)
    assert isinstance(predictor, AdaptivePredictor) and len(classes) == 11
    assert predictor.choose(64, 80) is predictor.whole and predictor.whole.mode == "whole"
    assert predictor.choose(64, 81) is predictor.slide and predictor.slide.mode == "slide"
    assert predictor.slide.crop == (64, 64) and predictor.slide.stride == (48, 48)
    image = np.random.default_rng(0).integers(0, 255, (40, 96, 3), dtype=np.uint8)
    pred = predictor.predict(image)
    assert pred.label.shape == (40, 96) and pred.label.max() < 11
    slide_only = AdaptivePredictor(predictor.whole.model, AppSettings(device="cpu", mode="slide", crop=64))
    assert slide_only.whole is slide_only.slide


def test_import_stores_a_native_checkpoint_and_activates_it(
    small_project: Path, tiny_checkpoint: Path
) -> None:
    from danet_core.checkpoints import load_checkpoint

    with Project.open(small_project) as project:
        version = import_checkpoint(project, tiny_checkpoint)
        assert project.active_model_version() == version
        assert version.metrics["imported_from"] == str(tiny_checkpoint)
        assert version.metrics["architecture"]["depth"] == 18  # the plan needs no checkpoint read
        stored = load_checkpoint(version.path)
        assert stored["extra"]["imported_from"] == str(tiny_checkpoint)
        assert version.path.parent != tiny_checkpoint.parent  # copied into the project


def test_the_preview_is_planned_from_the_counted_flops_and_predicted_at_its_scale(
    tiny_checkpoint: Path, monkeypatch
) -> None:
    from app.model import preview

    predictor, _ = load_predictor(tiny_checkpoint, AppSettings(device="cpu"))
    assert predictor.preview_plan(96, 128) is None  # a tiny model on a small image: predicted once
    full = predictor.gflop_at(96, 128)
    monkeypatch.setattr(preview, "PREVIEW_GFLOP_BUDGET", full / 5)
    plan = predictor.preview_plan(96, 128)
    assert plan is not None and plan.denominator >= 2 and plan.gflop <= full / 5
    assert plan.full_gflop == full and (96, 128) in predictor._gflop  # counted once, then cached
    image = np.random.default_rng(1).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    pred = predictor.predict_preview(image, plan)
    assert pred.label.shape == (96, 128) and pred.confidence.shape == (96, 128)
