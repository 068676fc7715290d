"""Where a run starts: the checkpoint ``--resume`` continues from and the run folder it writes to.

Kept apart from the engine's loop (:mod:`danet_core.training.engine`) because it is decided once,
before any model exists, from the config and the process group alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch.distributed as dist

from .config import TrainConfig
from .distributed import DistInfo
from .layout import RunLayout
from .rundir import RunDir, default_run_dir
from .state import ResumeError


def load_resume_checkpoint(cfg: TrainConfig) -> tuple[dict[str, Any] | None, Path]:
    """``(checkpoint, its path)`` of ``cfg.resume`` (a run folder or a ``last.pt``); ``(None, Path())``
    for a new run. Refuses a checkpoint without training state (an exported model)."""
    if not cfg.resume:
        return None, Path()
    from danet_core.checkpoints import load_checkpoint

    path = Path(cfg.resume)
    if path.is_dir():
        path = RunLayout(path).last
    ckpt = load_checkpoint(path)
    if not isinstance(ckpt.get("train_state"), dict):
        raise ResumeError(
            f"{path}: checkpoint has no training state; expected a checkpoints/last.pt of a run"
        )
    return ckpt, path


def open_run_dir(cfg: TrainConfig, ckpt: dict[str, Any] | None, resume_path: Path, info: DistInfo) -> RunDir:
    """The run folder (``run_dir``, the resumed run's, or a new timestamped one), the same on every rank;
    a new run refuses a folder that already holds one."""
    if cfg.run_dir:
        path = Path(cfg.run_dir)
    elif ckpt is not None:
        path = resume_path.parent.parent
    else:
        path = default_run_dir(cfg)
    if info.distributed:  # every rank must use rank 0's folder (timestamps may differ)
        box = [str(path)]
        dist.broadcast_object_list(box, src=0)
        path = Path(box[0])
    rd = RunDir(path, writer=info.is_main)
    if info.is_main and ckpt is None and rd.last.exists():
        raise ValueError(
            f"{rd.path}: already holds a run (checkpoints/last.pt); use --resume {rd.path} to continue "
            "it or choose another run_dir"
        )
    rd.clear_stop()
    return rd
