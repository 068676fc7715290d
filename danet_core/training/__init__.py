"""The training engine: datasets, augmentation, losses, schedules, metrics, DDP, run directory.

Public entry points: :func:`train` (with :class:`TrainConfig`) and :func:`evaluate`; see docs/training.md
for the run directory and the JSON-lines records the app reads.
"""

from __future__ import annotations

from .config import ConfigError, TrainConfig
from .datasets import DatasetError, SegDataset
from .engine import TrainingDiverged, TrainResult, train
from .evaluation import evaluate, make_predictor
from .metrics import ConfusionMatrix, SegMetrics, metrics_from_confusion
from .state import ResumeError

__all__ = [
    "ConfigError",
    "ConfusionMatrix",
    "DatasetError",
    "ResumeError",
    "SegDataset",
    "SegMetrics",
    "TrainConfig",
    "TrainResult",
    "TrainingDiverged",
    "evaluate",
    "make_predictor",
    "metrics_from_confusion",
    "train",
]
