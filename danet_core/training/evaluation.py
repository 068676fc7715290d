"""Evaluation: whole-image, sliding-window or multi-scale(+flip) prediction through the inference API,
scored with a confusion matrix at the mask's original resolution.

Why through :class:`danet_core.inference.Predictor`: the numbers a user reads after training must be those
of the model they will run in the app, with the same preprocessing, tiling and test-time augmentation.
Under DDP each process scores every ``world_size``-th image and the confusion matrices are summed.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from danet_core.jobs import ProgressFn, StopFn, check_stop
from danet_core.options import PredictOptions

from .datasets import SegDataset
from .metrics import ConfusionMatrix, SegMetrics

if TYPE_CHECKING:
    from danet_core.inference import Predictor
    from danet_core.models import Segmenter

log = logging.getLogger(__name__)


def make_predictor(
    model: Segmenter,
    *,
    mean: tuple[float, float, float],
    std: tuple[float, float, float],
    options: PredictOptions | None = None,
) -> Predictor:
    """A Predictor over an in-memory model (training's val) with the run's normalisation.

    The Predictor reads normalisation from ``model.meta``; a model under training has none yet, so a
    :class:`danet_core.checkpoints.ModelMeta` with the run's mean/std is attached first.
    """
    from danet_core.checkpoints import ModelMeta
    from danet_core.inference import Predictor

    if getattr(model, "meta", None) is None or tuple(model.meta.mean) != tuple(mean):
        model.meta = ModelMeta(config=model.config, classes=[], mean=(*mean,), std=(*std,), source="training")
    return Predictor(model, options or PredictOptions())


def evaluate(
    predictor: Any,
    dataset: SegDataset,
    *,
    num_classes: int | None = None,
    rank: int = 0,
    world_size: int = 1,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> SegMetrics:
    """Score ``predictor.predict(image).label`` against every target of ``dataset`` (255 ignored).

    ``dataset`` yields raw images (its ``load_raw``); predictions come back at the original resolution
    from the Predictor, whatever scales it ran at. Returns the metrics of the summed confusion matrix.
    """
    k = num_classes or dataset.num_classes
    cm = ConfusionMatrix(k)
    indices = list(range(rank, len(dataset), world_size))
    t0 = time.perf_counter()
    for n, i in enumerate(indices):
        check_stop(should_stop)
        image, target = dataset.load_raw(i)
        pred = predictor.predict(image).label
        if pred.shape != target.shape:
            raise ValueError(
                f"{dataset.items[i].image}: prediction is {pred.shape} but the mask is {target.shape}"
            )
        cm.update(torch.from_numpy(pred), torch.from_numpy(target))
        if progress is not None:
            progress(n + 1, len(indices), f"evaluating {n + 1}/{len(indices)}")
    cm.all_reduce()
    log.debug("evaluated %d images in %.1f s", len(indices), time.perf_counter() - t0)
    return cm.compute()


def score_checkpoint(
    checkpoint: str | Path,
    dataset: SegDataset,
    *,
    options: PredictOptions,
    class_names: list[str] | None = None,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> tuple[SegMetrics, list[str]]:
    """The one way a stored model is scored: load it, run it through a :class:`Predictor` with
    ``options``, compare with ``dataset``'s targets. Returns the metrics and the model's class names.

    ``class_names``: the classes ``dataset``'s targets are numbered in; a model that predicts other
    classes (or another count) is refused with a ValueError naming the checkpoint.
    """
    from danet_core.checkpoints import load_model
    from danet_core.inference import Predictor

    model = load_model(checkpoint)
    names = [c["name"] for c in model.meta.classes]
    if class_names is not None and names != list(class_names):
        raise ValueError(
            f"{checkpoint}: the model predicts {len(names)} classes ({', '.join(names[:4])} ...) that differ "
            f"from the data's {len(class_names)}; expected a model of the same label set"
        )
    if len(names) != dataset.num_classes:
        raise ValueError(
            f"{checkpoint}: the model predicts {len(names)} classes but the label set has "
            f"{dataset.num_classes} train classes; expected the label set the model was trained on"
        )
    metrics = evaluate(
        Predictor(model, options), dataset, num_classes=len(names), progress=progress, should_stop=should_stop
    )
    return metrics, names


def evaluate_checkpoint(
    checkpoint: str | Path,
    *,
    dataset: str,
    data_root: str,
    split: str = "val",
    label_set: str = "camvid",
    void_ids: list[int] | None = None,
    mask_dir_suffix: str = "annot",
    limit: int | None = None,
    options: PredictOptions | None = None,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> dict[str, Any]:
    """``danet eval``: score a native checkpoint on one split (:func:`score_checkpoint`), as a JSON-able
    dict; the per-class IoUs are named by the checkpoint's class names (what the model was trained on)."""
    from .config import TrainConfig
    from .loaders import build_split

    opts = options or PredictOptions(crop=None, scales=(1.0,))
    cfg = TrainConfig(
        dataset=dataset, data_root=data_root, label_set=label_set, void_ids=list(void_ids or []),
        mask_dir_suffix=mask_dir_suffix, val_split=split,
    )  # fmt: skip
    if dataset == "project":
        from .project_dataset import project_split

        ds = project_split(cfg, split)
        ds.items = ds.items if limit is None else ds.items[:limit]
    else:
        ds = build_split(cfg, split, limit, train=False)
    t0 = time.perf_counter()
    metrics, names = score_checkpoint(
        checkpoint, ds, options=opts, progress=progress, should_stop=should_stop
    )
    seconds = time.perf_counter() - t0
    return {
        "checkpoint": str(checkpoint),
        "dataset": dataset,
        "data_root": str(data_root),
        "split": split,
        "images": len(ds),
        "mode": opts.mode,
        "scales": list(opts.scales),
        "flip": opts.flip,
        "precision": opts.precision,
        **metrics.to_dict(names),
        "seconds": round(seconds, 3),
        "images_per_s": round(len(ds) / max(seconds, 1e-9), 3),
    }
