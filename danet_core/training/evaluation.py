"""Evaluation: whole-image, sliding-window or multi-scale(+flip) prediction through the inference API,
scored with a confusion matrix at the mask's original resolution.

Why through :class:`danet_core.inference.Predictor`: the numbers a user reads after training must be those
of the model they will run in the app, with the same preprocessing, tiling and test-time augmentation.
Under DDP each process scores every ``world_size``-th image and the confusion matrices are summed.
"""

from __future__ import annotations

import logging
import time
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
    """A Predictor over an in-memory model (training's val) with the run's normalisation."""
    from danet_core.inference import Predictor

    kwargs: dict[str, Any] = {"device": str(device), "precision": precision, "mode": mode, "flip": flip}
    if mode == "multiscale":
        kwargs["scales"] = tuple(scales)
    if crop is not None:
        kwargs["crop"] = tuple(crop)
    if stride is not None:
        kwargs["stride"] = tuple(stride)
    return Predictor(model, mean=tuple(mean), std=tuple(std), **kwargs)


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
