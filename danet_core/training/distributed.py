"""DDP from ``torchrun`` environment variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT).

Why env-var initialisation only: it is what torchrun, SLURM wrappers and the PyTorch docs use, and a plain
``python -m danet_core.cli train`` (no variables) stays a single process with no process group at all.
The backend is NCCL on CUDA and gloo on CPU (the CI tests run two gloo processes).
"""

from __future__ import annotations

import datetime
import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_dist_info() -> DistInfo:
    """What torchrun asked for (a single process when the variables are absent)."""
    try:
        return DistInfo(
            rank=int(os.environ.get("RANK", 0)),
            world_size=int(os.environ.get("WORLD_SIZE", 1)),
            local_rank=int(os.environ.get("LOCAL_RANK", 0)),
        )
    except ValueError as exc:
        raise ValueError(f"torchrun environment variables are not integers ({exc})") from exc


def init_distributed(device: torch.device) -> DistInfo:
    """Join the process group when launched by torchrun; idempotent."""
    info = env_dist_info()
    if not info.distributed or dist.is_initialized():
        return info
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(info.local_rank)
    dist.init_process_group(backend=backend, timeout=datetime.timedelta(minutes=30))
    log.info("DDP: rank %d/%d (local %d), backend %s", info.rank, info.world_size, info.local_rank, backend)
    return info


def cleanup_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def all_reduce_mean(t: torch.Tensor) -> torch.Tensor:
    """Mean of ``t`` over processes (a copy; ``t`` itself when not distributed)."""
    if not (dist.is_available() and dist.is_initialized()):
        return t
    out = t.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / dist.get_world_size()


def any_true(flag: bool, device: torch.device) -> bool:
    """True on every process when ``flag`` is True on any (so all ranks stop at the same iteration)."""
    if not (dist.is_available() and dist.is_initialized()):
        return flag
    t = torch.tensor([1 if flag else 0], dtype=torch.int32, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())
