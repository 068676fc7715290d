"""The run directory's writer: resolved config, JSON-lines metrics log, checkpoints, and the STOP file.

Layout: :mod:`danet_core.training.layout` (the one owner of the file names; see docs/training.md).

Only rank 0 writes here. Log lines are appended and flushed one at a time so a reader never sees half a
record except, at worst, a trailing partial line it must skip until the newline arrives.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import torch

from danet_core.files import atomic_write_bytes, named, remove_stale_temp_files

from .config import TrainConfig
from .distributed import all_reduce_mean
from .layout import RunLayout, read_metrics


@dataclass
class TrainResult:
    """Where a finished run left its files and its final/best validation metrics."""

    run_dir: Path
    best: Path | None
    last: Path
    metrics: dict[str, Any] = field(default_factory=dict)
    status: str = "completed"
    iterations: int = 0


def default_run_dir(cfg: TrainConfig) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{cfg.model}-{cfg.dataset}-{stamp}"


log = logging.getLogger(__name__)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


class RunDir:
    """Paths and writers of one run directory (create with ``writer=True`` on rank 0 only)."""

    def __init__(self, path: str | Path, *, writer: bool = True) -> None:
        self.path = Path(path)
        self.layout = RunLayout(self.path)
        self.writer = writer
        if writer:
            self.checkpoints.mkdir(parents=True, exist_ok=True)
            # a killed checkpoint write leaves .last.pt.<pid>.<rand>.tmp (hundreds of MB each)
            removed = remove_stale_temp_files(self.checkpoints)
            if removed:
                log.info("removed %d temp files of killed checkpoint writes in %s", removed, self.checkpoints)

    @property
    def checkpoints(self) -> Path:
        return self.layout.checkpoints

    @property
    def last(self) -> Path:
        return self.layout.last

    @property
    def best(self) -> Path:
        return self.layout.best

    @property
    def metrics_path(self) -> Path:
        return self.layout.metrics

    @property
    def stop_path(self) -> Path:
        return self.layout.stop

    def stop_requested(self) -> bool:
        return self.stop_path.exists()

    def clear_stop(self) -> None:
        """A STOP left by a previous, cancelled run must not stop the resumed one immediately."""
        if self.writer and self.stop_path.exists():
            self.stop_path.unlink()
            log.info("removed the STOP file of the previous run in %s", self.path)

    def write_config(self, data: dict[str, Any]) -> None:
        if self.writer:
            atomic_write_bytes(self.layout.config, (json.dumps(data, indent=2) + "\n").encode())

    def log(self, record: dict[str, Any]) -> None:
        """Append one record (``type`` first, ``time`` = Unix seconds added)."""
        if not self.writer:
            return
        rec = {"type": record["type"], **{k: v for k, v in record.items() if k != "type"}}
        rec.setdefault("time", round(time.time(), 3))
        line = json.dumps(_json_safe(rec), allow_nan=False)
        try:
            with open(self.metrics_path, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
                fh.flush()
        except OSError as exc:
            raise named(exc, self.metrics_path) from exc

    def truncate_after(self, iteration: int) -> None:
        """On resume: drop records logged after the checkpoint (they will be produced again) and any
        "end" record, so the log reads as one uninterrupted run."""
        if not self.writer or not self.metrics_path.exists():
            return
        kept = []
        for rec in read_metrics(self.metrics_path):
            if rec.get("type") == "end" or int(rec.get("iter", 0)) > iteration:
                continue
            kept.append(json.dumps(rec))
        atomic_write_bytes(self.metrics_path, ("\n".join(kept) + "\n" if kept else "").encode())


class LossWindow:
    """Loss terms and throughput averaged over one logging interval."""

    count: int
    images: int
    sums: dict[str, float]
    t0: float

    def __init__(self) -> None:
        self._reset()
        self.last = float("nan")

    def _reset(self) -> None:
        self.count, self.images, self.sums, self.t0 = 0, 0, {}, time.perf_counter()

    def add(self, loss: torch.Tensor, terms: dict[str, torch.Tensor], images: int) -> None:
        self.last = float(loss)
        self.count += 1
        self.images += images
        for k, v in {"loss": loss, **{f"loss_{n}": t for n, t in terms.items()}}.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(all_reduce_mean(v))

    def flush(self) -> dict[str, Any]:
        dt = max(1e-9, time.perf_counter() - self.t0)
        rec: dict[str, Any] = {k: v / max(1, self.count) for k, v in self.sums.items()}
        rec["images_per_s"] = round(self.images / dt, 3)
        self._reset()
        return rec
