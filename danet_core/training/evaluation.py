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
from typing import Any

import torch
from torch import nn

from danet_core.jobs import ProgressFn, StopFn, check_stop

from .datasets import SegDataset
from .metrics import ConfusionMatrix, SegMetrics

log = logging.getLogger(__name__)


def make_predictor(
    model: nn.Module,
    *,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    mode: str = "whole",
    scales: tuple[float, ...] = (1.0,),
    flip: bool = False,
    crop: tuple[int, int] | None = None,
    stride: tuple[int, int] | None = None,
    precision: str = "fp32",
    device: str | torch.device = "auto",
) -> Any:
    """A Predictor over an in-memory model (training's val) with the run's normalisation.

    The Predictor reads normalisation from ``model.meta``; a model under training has none yet, so a
    :class:`danet_core.checkpoints.ModelMeta` with the run's mean/std is attached first.
    """
    from danet_core.checkpoints import ModelMeta
    from danet_core.inference import Predictor

    if getattr(model, "meta", None) is None or tuple(model.meta.mean) != tuple(mean):
        model.meta = ModelMeta(
            config=model.config, classes=[], mean=tuple(mean), std=tuple(std), source="training"
        )
    return Predictor(
        model,
        device=str(device),
        precision=precision,
        mode=mode,
        crop=tuple(crop) if crop is not None else None,
        stride=tuple(stride) if stride is not None else None,
        scales=tuple(scales),
        flip=flip,
    )


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
    mode: str = "whole",
    scales: tuple[float, ...] = (1.0,),
    flip: bool = False,
    crop: tuple[int, int] | None = None,
    stride: tuple[int, int] | None = None,
    precision: str = "fp32",
    device: str = "auto",
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> dict[str, Any]:
    """``danet eval``: load a native checkpoint, score it on one split, return a JSON-able dict.

    The checkpoint's class count must equal the label set's train classes; the per-class IoUs are named
    by the checkpoint's class names (what the model was trained on).
    """
    from danet_core.checkpoints import load_model
    from danet_core.inference import Predictor

    from .config import TrainConfig
    from .data import build_split

    cfg = TrainConfig(
        dataset=dataset, data_root=data_root, label_set=label_set, void_ids=list(void_ids or []),
        mask_dir_suffix=mask_dir_suffix, val_split=split,
    )  # fmt: skip
    if dataset == "project":
        from .project_data import project_split

        ds = project_split(cfg, split)
        ds.items = ds.items if limit is None else ds.items[:limit]
    else:
        ds = build_split(cfg, split, limit, train=False)
    model = load_model(checkpoint)
    names = [c["name"] for c in model.meta.classes]
    if len(names) != ds.num_classes:
        raise ValueError(
            f"{checkpoint}: the model predicts {len(names)} classes but the {dataset} label set has "
            f"{ds.num_classes} train classes; expected the label set the model was trained on"
        )
    predictor = Predictor(
        model,
        device=device,
        precision=precision,
        mode=mode,
        crop=crop,
        stride=stride,
        scales=scales,
        flip=flip,
    )
    t0 = time.perf_counter()
    metrics = evaluate(predictor, ds, progress=progress, should_stop=should_stop)
    seconds = time.perf_counter() - t0
    return {
        "checkpoint": str(checkpoint),
        "dataset": dataset,
        "data_root": str(data_root),
        "split": split,
        "images": len(ds),
        "mode": mode,
        "scales": list(scales),
        "flip": flip,
        "precision": precision,
        **metrics.to_dict(names),
        "seconds": round(seconds, 3),
        "images_per_s": round(len(ds) / max(seconds, 1e-9), 3),
    }
