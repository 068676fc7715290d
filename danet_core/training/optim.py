"""SGD with the paper's poly schedule, optional linear warm-up and a 10x head learning rate.

DANet (like PSPNet/DeepLab before it) uses SGD momentum 0.9, weight decay 1e-4 and
``lr = base_lr * (1 - iter / max_iter) ** 0.9``; the randomly initialised head commonly gets 10x the
backbone's learning rate when the backbone is pre-trained. The schedule is a ``LambdaLR`` stepped once per
iteration so its state (``last_epoch``) is saved and restored exactly by ``--resume``.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

log = logging.getLogger(__name__)


def param_groups(model: nn.Module, *, lr: float, head_lr_mult: float) -> list[dict]:
    """Two groups: parameters under ``backbone.`` at ``lr`` and everything else at ``lr * head_lr_mult``.

    ``initial_lr`` is kept per group so the schedule multiplies each group's own base rate.
    """
    backbone: list[nn.Parameter] = []
    head: list[nn.Parameter] = []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        bare = name.removeprefix("module.")
        (backbone if bare.startswith("backbone.") else head).append(p)
    if head_lr_mult != 1.0 and not backbone:
        log.warning(
            "head_lr_mult=%s but the model has no 'backbone.' parameters: one rate for all", head_lr_mult
        )
    groups = []
    if backbone:
        groups.append({"params": backbone, "lr": lr, "name": "backbone"})
    if head:
        groups.append({"params": head, "lr": lr * head_lr_mult, "name": "head"})
    return groups


def build_optimizer(
    model: nn.Module, *, lr: float, momentum: float, weight_decay: float, head_lr_mult: float = 1.0
) -> torch.optim.SGD:
    groups = param_groups(model, lr=lr, head_lr_mult=head_lr_mult)
    return torch.optim.SGD(groups, lr=lr, momentum=momentum, weight_decay=weight_decay)


def poly_factor(
    it: int, *, max_iters: int, power: float, warmup_iters: int = 0, warmup_ratio: float = 0.1
) -> float:
    """Multiplier of the base rate at iteration ``it`` (0-based): linear warm-up, then poly decay."""
    poly = max(0.0, 1.0 - it / max(1, max_iters)) ** power
    if it < warmup_iters:
        k = warmup_ratio + (1.0 - warmup_ratio) * it / warmup_iters
        return poly * k
    return poly


def build_scheduler(
    optimizer: torch.optim.Optimizer, *, max_iters: int, power: float, warmup_iters: int, warmup_ratio: float
) -> torch.optim.lr_scheduler.LambdaLR:
    def fn(it: int) -> float:
        return poly_factor(
            it, max_iters=max_iters, power=power, warmup_iters=warmup_iters, warmup_ratio=warmup_ratio
        )

    return torch.optim.lr_scheduler.LambdaLR(optimizer, fn)
