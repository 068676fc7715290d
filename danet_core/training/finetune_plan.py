"""Fine-tune plan: sensible training settings from the project and the device, plus validated overrides.

Qt-free so the defaults and the validation are unit-tested without a window. The plan is what the
"Fine-tune" action trains with; the advanced panel edits a copy and :meth:`FinetunePlan.validated`
refuses bad values with one message naming the field and the expected range.

Defaults (decided here; the issue leaves them open):
- Nothing to train on is an error: fine-tuning needs at least one reviewed image.
- Held-out part: 20% of the reviewed images (deterministic by path, see the training engine's
  ``val_fraction``) once there are at least ``MIN_FOR_HOLDOUT`` of them; with fewer, every image trains
  and the old/new comparison is skipped (a one-image "validation" would decide nothing).
- Backbone: the active model's architecture when there is one (the run starts from its weights); a fresh
  model is DANet ResNet-18 on CPU (a ResNet-50 step is ~5x slower there) and ResNet-50 on CUDA.
- Crop and batch: 256 px / batch 4 on CPU, 512 px / batch 8 on CUDA, the crop never larger than the
  smallest reviewed image side (rounded down to a multiple of 8).
- Length: about ``EPOCHS`` passes over the training images, between 30 and 2000 iterations, and a time
  budget that grows with the number of images (CPU: 20 s per image, 2 to 15 minutes; CUDA: 10 s per
  image, 1 to 30 minutes) so one click never blocks the machine for an afternoon. Whichever limit comes
  first ends the run; the last checkpoint is kept either way.
- Learning rate: 0.01 from scratch (the paper's), 0.002 when continuing from the active model so a
  handful of corrections refines it instead of overwriting it.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING

from danet_core.options import PRECISIONS

if TYPE_CHECKING:
    from danet_core.training.config import TrainConfig

MIN_FOR_HOLDOUT = 4
EPOCHS = 30
DEPTHS = (18, 34, 50, 101)
DEVICES = ("cpu", "cuda")
__all__ = ["DEPTHS", "PRECISIONS", "FinetunePlan", "default_plan", "to_train_config"]


@dataclass(frozen=True)
class FinetunePlan:
    """Everything one fine-tune run needs besides the project and the paths (plain values, JSON-able)."""

    depth: int = 18
    crop: int = 256
    batch_size: int = 4
    max_iters: int = 200
    max_time_s: float | None = 300.0
    lr: float = 0.01
    val_fraction: float = 0.2
    val_interval: int = 50
    device: str = "cpu"
    precision: str = "fp32"
    workers: int = 0
    init_from_active: bool = True
    # a new model's backbone: ImageNet weights from the torch cache or downloaded, else random (said
    # plainly in the run's log); False = random from the start
    pretrained_backbone: bool = True
    seed: int = 0

    def validated(self) -> FinetunePlan:
        """Return self when every value is in range, else raise ValueError naming the field."""
        _check(self.depth in DEPTHS, "depth", self.depth, f"one of {DEPTHS}")
        _check(
            isinstance(self.crop, int) and 64 <= self.crop <= 4096 and self.crop % 8 == 0,
            "crop",
            self.crop,
            "a multiple of 8 between 64 and 4096 pixels",
        )
        _check(1 <= self.batch_size <= 64, "batch_size", self.batch_size, "1..64")
        _check(1 <= self.max_iters <= 200_000, "max_iters", self.max_iters, "1..200000")
        _check(
            self.max_time_s is None or 10 <= self.max_time_s <= 7 * 24 * 3600,
            "max_time_s",
            self.max_time_s,
            "None (no limit) or 10 s .. 7 days",
        )
        _check(isinstance(self.lr, float | int) and 0 < self.lr <= 1, "lr", self.lr, "0 < lr <= 1")
        _check(0 <= self.val_fraction <= 0.5, "val_fraction", self.val_fraction, "0 .. 0.5")
        _check(self.val_interval >= 1, "val_interval", self.val_interval, "at least 1")
        base = self.device.split(":")[0]
        _check(base in DEVICES, "device", self.device, "cpu, cuda or cuda:N")
        _check(self.precision in PRECISIONS, "precision", self.precision, f"one of {PRECISIONS}")
        _check(
            not (self.precision == "fp16" and base == "cpu"),
            "precision",
            self.precision,
            "fp32 or bf16 on a CPU (fp16 autocast is CUDA-only)",
        )
        _check(0 <= self.workers <= 32, "workers", self.workers, "0..32")
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> FinetunePlan:
        """Build a plan from saved settings; unknown keys are an error (a typo must not pass silently)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fine-tune option(s) {', '.join(unknown)}; expected {sorted(known)}")
        return cls(**data).validated()

    def with_overrides(self, **overrides: object) -> FinetunePlan:
        return FinetunePlan.from_dict({**self.to_dict(), **overrides})

    def describe(self) -> str:
        """One line for the panel, e.g. "DANet-R18, 256 px crops, batch 4, up to 200 it or 5 min"."""
        limit = f"{self.max_iters} it"
        if self.max_time_s is not None:
            limit += f" or {self.max_time_s / 60:.0f} min"
        return f"DANet-R{self.depth}, {self.crop} px crops, batch {self.batch_size}, up to {limit}"


def _check(ok: bool, name: str, value: object, expected: str) -> None:
    if not ok:
        raise ValueError(f"fine-tune option {name}={value!r}; expected {expected}")


def default_plan(
    n_reviewed: int,
    *,
    device: str = "cpu",
    active_depth: int | None = None,
    min_image_side: int | None = None,
) -> FinetunePlan:
    """The plan the one-click action uses.

    ``n_reviewed``: reviewed images in the project; ``device``: "cpu" or "cuda[:N]" (the app resolves
    "auto"); ``active_depth``: the backbone depth of the active model (None: no model, train a fresh
    one); ``min_image_side``: the smallest side of the reviewed images in pixels, when known.
    """
    if n_reviewed <= 0:
        raise ValueError(
            "the project has no reviewed images; correct at least one pre-segmentation and mark it "
            "reviewed before fine-tuning"
        )
    cuda = device.split(":")[0] == "cuda"
    val_fraction = 0.2 if n_reviewed >= MIN_FOR_HOLDOUT else 0.0
    n_train = max(1, round(n_reviewed * (1 - val_fraction)))
    crop, batch = (512, 8) if cuda else (256, 4)
    if min_image_side is not None:
        crop = max(64, min(crop, (min_image_side // 8) * 8))
    batch = max(1, min(batch, n_train))
    iters = int(min(2000, max(30, math.ceil(EPOCHS * n_train / batch))))
    per_image, lo, hi = (10.0, 60.0, 1800.0) if cuda else (20.0, 120.0, 900.0)
    return FinetunePlan(
        depth=active_depth if active_depth is not None else (50 if cuda else 18),
        crop=crop,
        batch_size=batch,
        max_iters=iters,
        max_time_s=min(hi, max(lo, per_image * n_reviewed)),
        lr=0.002 if active_depth is not None else 0.01,
        val_fraction=val_fraction,
        val_interval=max(10, iters // 4),
        device=device,
        precision="bf16" if cuda else "fp32",
        workers=4 if cuda else 0,
        init_from_active=active_depth is not None,
    ).validated()


def to_train_config(
    plan: FinetunePlan,
    *,
    project_dir: str | os.PathLike[str],
    run_dir: str | os.PathLike[str],
    init_checkpoint: str | os.PathLike[str] | None,
) -> TrainConfig:
    """The engine's ``TrainConfig`` for ``plan`` on the reviewed images of the project.

    ``init_checkpoint``: the active model's checkpoint when the plan continues from it (the engine
    re-initialises classifier layers whose class count differs, e.g. after a label-set change).
    Augmentation is the paper's (random scale 0.5-2.0, crop, flip); validation runs on the held-out
    reviewed images a few times per run so the panel can draw a val mIoU curve.
    """
    from danet_core.training import TrainConfig

    iters = plan.max_iters
    return TrainConfig(
        dataset="project",
        data_root=str(project_dir),
        train_split="train",
        val_split="val" if plan.val_fraction > 0 else None,
        val_fraction=plan.val_fraction,
        crop_size=(plan.crop, plan.crop),
        model="danet",
        model_options={
            "depth": plan.depth,
            "pretrained_backbone": "auto" if plan.pretrained_backbone else False,
        },
        init_checkpoint=str(init_checkpoint) if (init_checkpoint and plan.init_from_active) else None,
        batch_size=plan.batch_size,
        max_iters=iters,
        lr=plan.lr,
        precision=plan.precision,
        val_interval=plan.val_interval if plan.val_fraction > 0 else 0,
        run_dir=str(run_dir),
        seed=plan.seed,
        device=plan.device,
        num_workers=plan.workers,
        # a CPU iteration takes seconds: log each one so the curves and the ETA move from the start
        log_interval=1 if plan.device == "cpu" else max(1, min(10, iters // 100)),
        max_time_s=plan.max_time_s,
    ).validate()
