"""Fine-tune plan: the recipe one click trains with, decided from the project and the device.

One plan function for the app's Fine-tune action and ``danet bench assist`` (the simulated annotator),
so the measured figures in docs/finetune.md describe what the button does. Torch-free (the app reads it
on the GUI thread); the advanced panel edits a copy and :meth:`FinetunePlan.validated` refuses bad values
with one message naming the field and the expected range.

Defaults (CPU: the recipe ``danet bench assist`` measured on CamVid, docs/finetune.md; CUDA: not
measured here, the paper's settings scaled to one GPU):
- Nothing to train on is an error: fine-tuning needs at least one reviewed image.
- Held-out part: 20% of the reviewed images (deterministic by path, see the training engine's
  ``val_fraction``) once there are at least ``MIN_FOR_HOLDOUT`` of them; with fewer, every image trains
  and the old/new comparison is skipped. A comparison on fewer than ``MIN_HELDOUT_TO_JUDGE`` held-out
  images decides nothing by itself: the app asks (see ``app.model.finetune_eval.decide``).
- CPU: DANet-R18 (or the active model's depth), images at half resolution (``scale`` 0.5; full
  resolution when half would be smaller than the crop), 128 px crops, batch 4, SGD lr 0.01 over a long
  horizon (the poly schedule stays ~constant, so every round trains at the same rate whatever the
  machine's speed), 3 minutes of wall-clock time per run — whichever comes first, the time does —,
  and class-weighted loss (inverse square root of each class's pixel frequency in the reviewed masks,
  computed by the engine when the run starts), so thin and rare classes are not drowned by road and sky.
  Models trained at half resolution also predict at half resolution (``scale`` is stored with the
  model version and becomes the predictor's input scale).
- CUDA: 512 px crops at full resolution, batch 8, bf16, ~30 passes over the training images (30 to
  2000 iterations) within 10 s per image (1 to 30 minutes).
- Continuing from the active model keeps its depth and starts from its weights.
- Fast fine-tune (CPU, ``keep_backbone``: the backbone the run starts from is worth keeping, i.e. an
  imported model's or one fine-tuned from it, or ImageNet's for a new model; never a backbone trained
  a few minutes from random): the backbone is frozen, its features are cached once per image and the
  head trains on the cache; layer4 is unfrozen after ``FAST_RECIPE["unfreeze_after"]`` of the budget
  (danet_core.training.frozen; measured in docs/finetune.md, "Fast fine-tune (frozen backbone)").
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING

from danet_core.options import PRECISIONS

if TYPE_CHECKING:
    from danet_core.training.config import TrainConfig

MIN_FOR_HOLDOUT = 4
MIN_HELDOUT_TO_JUDGE = 3  # held-out images a comparison needs before it may switch the model by itself
EPOCHS = 30
CPU_RECIPE = {
    "scale": 0.5,
    "crop": 128,
    "batch": 4,
    "lr": 0.01,
    "seconds": 180.0,
    "horizon": 100_000,
    # loss weights frequency ** -0.5 over the reviewed masks (training.class_balance): the sweep's best
    # held-out share, mIoU and error-region count after round 1 (docs/finetune.md, issue 12)
    "class_weight_power": 0.5,
}
AUG_SCALE = (0.75, 1.5)  # random rescale range of the measured recipe
# the frozen-backbone variant of the CPU recipe (same budget, crops and batch; docs/finetune.md)
FAST_RECIPE = {"unfreeze_after": 0.5, "log_interval": 10}
DEPTHS = (18, 34, 50, 101)
DEVICES = ("cpu", "cuda")
__all__ = ["DEPTHS", "PRECISIONS", "FinetunePlan", "default_plan", "to_train_config"]


@dataclass(frozen=True)
class FinetunePlan:
    """Everything one fine-tune run needs besides the project and the paths (plain values, JSON-able)."""

    depth: int = 18
    scale: float = 1.0  # images are trained (and then predicted) at this fraction of their size
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
    # fast fine-tune: frozen backbone, cached features; layer4 unfreezes after this share of the budget
    freeze_backbone: bool = False
    unfreeze_after: float | None = None
    seed: int = 0
    class_weight_power: float = 0.0  # 0 = unweighted; 0.5 = inverse square root of the class frequency

    def validated(self) -> FinetunePlan:
        """Return self when every value is in range, else raise ValueError naming the field."""
        _check(self.depth in DEPTHS, "depth", self.depth, f"one of {DEPTHS}")
        _check(0.1 <= self.scale <= 1.0, "scale", self.scale, "between 0.1 and 1 (1 = full resolution)")
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
        _check(0 <= self.class_weight_power <= 2, "class_weight_power", self.class_weight_power, "0 .. 2")
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
        _check(
            self.unfreeze_after is None or (self.freeze_backbone and 0 < self.unfreeze_after < 1),
            "unfreeze_after",
            self.unfreeze_after,
            "None, or a share of the budget in (0, 1) with freeze_backbone",
        )
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
        """One line for the panel, e.g. "DANet-R18 at 1/2 resolution, 128 px crops, batch 4, 3 min"."""
        if self.max_time_s is not None and self.max_iters >= 10_000:
            limit = f"{self.max_time_s / 60:.0f} min"  # the horizon is not a limit anyone reaches
        else:
            limit = f"up to {self.max_iters} it" + (
                f" or {self.max_time_s / 60:.0f} min" if self.max_time_s is not None else ""
            )
        where = "" if self.scale == 1.0 else f" at {self.scale:g}x resolution"
        fast = ", frozen backbone (fast)" if self.freeze_backbone else ""
        return f"DANet-R{self.depth}{where}, {self.crop} px crops, batch {self.batch_size}, {limit}{fast}"


def _check(ok: bool, name: str, value: object, expected: str) -> None:
    if not ok:
        raise ValueError(f"fine-tune option {name}={value!r}; expected {expected}")


def default_plan(
    n_reviewed: int,
    *,
    device: str = "cpu",
    active_depth: int | None = None,
    min_image_side: int | None = None,
    keep_backbone: bool = False,
) -> FinetunePlan:
    """The plan the one-click action (and ``danet bench assist``) trains with; see the module docstring.

    ``n_reviewed``: reviewed images in the project; ``device``: "cpu" or "cuda[:N]" (resolved, not
    "auto"); ``active_depth``: the backbone depth of the active model (None: no model, train a fresh
    one); ``min_image_side``: the smallest side of the reviewed images in pixels, when known;
    ``keep_backbone``: the backbone the run starts from is worth keeping (an imported model's, or ImageNet's
    for a new one): on a CPU the plan is then the fast fine-tune (module docstring).
    """
    if n_reviewed <= 0:
        raise ValueError(
            "the project has no reviewed images; correct at least one pre-segmentation and mark it "
            "reviewed before fine-tuning"
        )
    val_fraction = 0.2 if n_reviewed >= MIN_FOR_HOLDOUT else 0.0
    n_train = max(1, round(n_reviewed * (1 - val_fraction)))
    cuda = device.split(":")[0] == "cuda"
    base = FinetunePlan(
        depth=active_depth if active_depth is not None else (50 if cuda else 18),
        val_fraction=val_fraction,
        device=device,
        init_from_active=active_depth is not None,
    )
    if cuda:
        return _cuda_plan(base, n_reviewed, n_train, min_image_side)
    scale = CPU_RECIPE["scale"]
    crop = int(CPU_RECIPE["crop"])
    if min_image_side is not None and min_image_side * scale < crop:
        scale = 1.0  # small images: train at full size rather than below the crop
        crop = max(64, min(crop, (min_image_side // 8) * 8))
    return replace(
        base,
        scale=scale,
        crop=crop,
        batch_size=max(1, min(int(CPU_RECIPE["batch"]), n_train)),
        max_iters=int(CPU_RECIPE["horizon"]),
        max_time_s=CPU_RECIPE["seconds"],
        lr=CPU_RECIPE["lr"],
        class_weight_power=CPU_RECIPE["class_weight_power"],
        val_interval=int(CPU_RECIPE["horizon"]),  # validate once, at the end
        precision="fp32",
        workers=0,
        freeze_backbone=keep_backbone,
        unfreeze_after=FAST_RECIPE["unfreeze_after"] if keep_backbone else None,
    ).validated()


def _cuda_plan(base: FinetunePlan, n_reviewed: int, n_train: int, min_image_side: int | None) -> FinetunePlan:
    crop, batch = 512, 8
    if min_image_side is not None:
        crop = max(64, min(crop, (min_image_side // 8) * 8))
    batch = max(1, min(batch, n_train))
    iters = int(min(2000, max(30, math.ceil(EPOCHS * n_train / batch))))
    return replace(
        base,
        crop=crop,
        batch_size=batch,
        max_iters=iters,
        max_time_s=min(1800.0, max(60.0, 10.0 * n_reviewed)),
        lr=0.002 if base.init_from_active else 0.01,
        val_interval=max(10, iters // 4),
        precision="bf16",
        workers=4,
    ).validated()


def expected_quality(plan: FinetunePlan, n_reviewed: int) -> str:
    """What a run of ``plan`` on ``n_reviewed`` images can be expected to give, said before it starts
    (figures: ``danet bench assist`` on CamVid, docs/finetune.md)."""
    if not plan.init_from_active:
        if n_reviewed < 8:
            return (
                f"From scratch on {n_reviewed} image(s): expect a rough first model. On CamVid the "
                "benchmark still needed ~23% of the pixels corrected after 8 images and 3 minutes."
            )
        return (
            f"From scratch on {n_reviewed} images: a first model; on CamVid the benchmark needed ~23% of "
            "the pixels corrected after 8 images, 12-20% (held-out) after 24-80."
        )
    return f"Continuing from the active model on {n_reviewed} images: it should correct its own mistakes."


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
    Augmentation is the measured recipe's (random scale 0.75-1.5 after the fixed ``scale``, crop,
    flip); validation (and so the app's old/new comparison) runs at the plan's scale.
    """
    from danet_core.training import TrainConfig

    iters = plan.max_iters
    return TrainConfig(
        # evaluated at the scale it is trained at: half-resolution models also predict at half resolution
        eval_mode="whole" if plan.scale == 1.0 else "multiscale",
        eval_scales=(plan.scale,),
        base_scale=plan.scale,
        scale_range=AUG_SCALE,
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
        class_weight_power=plan.class_weight_power,
        log_interval=_log_interval(plan),
        max_time_s=plan.max_time_s,
        freeze_backbone=plan.freeze_backbone,
        unfreeze_at=[plan.unfreeze_after] if plan.unfreeze_after is not None else [],
    ).validate()


def _log_interval(plan: FinetunePlan) -> int:
    if plan.freeze_backbone:  # cached-feature iterations take milliseconds
        return int(FAST_RECIPE["log_interval"])
    # a CPU iteration takes seconds: log each one so the curves and the ETA move from the start
    return 1 if plan.device == "cpu" else max(1, min(10, plan.max_iters // 100))
