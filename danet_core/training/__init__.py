"""The training engine: datasets, augmentation, losses, schedules, metrics, DDP, run directory.

Public entry points: :func:`train` (with :class:`TrainConfig`) and :func:`evaluate`; see docs/training.md
for the run directory (:mod:`danet_core.training.layout`) and the JSON-lines records the app reads.

Lazy, like :mod:`danet_core`: ``import danet_core.training.layout`` (or ``.config``) must not import
torch, so the desktop app can read the shared names at start-up. Each name below is imported from its
module on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ConfigError": "config",
    "TrainConfig": "config",
    "DatasetError": "datasets",
    "SegDataset": "datasets",
    "TrainingDiverged": "engine",
    "train": "engine",
    "TrainResult": "rundir",
    "evaluate": "evaluation",
    "make_predictor": "evaluation",
    "score_checkpoint": "evaluation",
    "ConfusionMatrix": "metrics",
    "SegMetrics": "metrics",
    "metrics_from_confusion": "metrics",
    "ResumeError": "state",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'danet_core.training' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
