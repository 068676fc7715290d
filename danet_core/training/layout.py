"""The run-folder layout: the one owner of the file names a training run writes and its readers read.

Writers: the training engine (:mod:`danet_core.training.rundir`). Readers: ``danet train --resume``, the
curve plots, and the desktop app's fine-tune child process and its tail of the log. All of them take the
names from here, so a change of layout is one edit. Torch-free, so the app imports it at start-up::

    <run>/config.json            the resolved TrainConfig (what --resume re-reads)
    <run>/metrics.jsonl          one JSON object per line, "type": "train" | "val" | "end"
    <run>/checkpoints/last.pt    the latest state (model + optimiser/scheduler/scaler/RNG)
    <run>/checkpoints/best.pt    the best validation mIoU so far
    <run>/STOP                   created by anyone who wants the run to stop at the next iteration
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
STOP_FILE = "STOP"
CHECKPOINT_DIR = "checkpoints"
LAST_CHECKPOINT = "last.pt"
BEST_CHECKPOINT = "best.pt"


@dataclass(frozen=True)
class RunLayout:
    """Paths inside one run folder (nothing is created or read here)."""

    path: Path

    @classmethod
    def of(cls, path: str | os.PathLike[str]) -> RunLayout:
        return cls(Path(path))

    @classmethod
    def of_checkpoint(cls, checkpoint: str | os.PathLike[str]) -> RunLayout:
        """The run a ``<run>/checkpoints/<name>.pt`` belongs to."""
        return cls(Path(checkpoint).parent.parent)

    @property
    def config(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def metrics(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def stop(self) -> Path:
        return self.path / STOP_FILE

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINT_DIR

    @property
    def last(self) -> Path:
        return self.checkpoints / LAST_CHECKPOINT

    @property
    def best(self) -> Path:
        return self.checkpoints / BEST_CHECKPOINT


def read_metrics(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """All complete records of a ``metrics.jsonl`` (a trailing partial line is skipped)."""
    records = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.endswith("\n"):
                break
            line = line.strip()
            if line:
                records.append(json.loads(line))
    return records
