"""The training engine: ``train(cfg)`` runs iterations of SGD on a segmentation model, validates, logs
JSON lines and writes ``last``/``best`` checkpoints; exact ``--resume``; DDP under torchrun.

Stopping, in the order they are checked at the start of every iteration (all processes agree):

* ``should_stop()`` returns True, a ``STOP`` file appears in the run directory, or Ctrl-C: the last
  checkpoint is saved, an ``"end"`` record with ``"status": "cancelled"`` is written and
  :class:`danet_core.jobs.Cancelled` is raised (``--resume`` continues the run later);
* ``max_time_s`` elapsed: treated as the planned end of a run (the fine-tune's time budget): final
  validation, checkpoints, ``"status": "completed"``, ``"reason": "max_time"``;
* a non-finite loss: nothing is stepped or saved, ``"status": "failed"`` and :class:`TrainingDiverged`; the
  last good checkpoint is left untouched. Weights are also checked to be finite before every save.
"""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from danet_core.inference import AUTOCAST_DTYPES, resolve_device
from danet_core.jobs import Cancelled, ProgressFn, StopFn

from .config import TrainConfig
from .distributed import DistInfo, cleanup_distributed, init_distributed
from .evaluation import evaluate, make_predictor
from .frozen import BackboneFreezer, FeatureCache, batch_generator, build_cache, head_outputs
from .loaders import DataBundle, batches_per_epoch, build_data, make_loader, make_sampler, verify_dataset
from .losses import SegLoss, run_class_weights
from .optim import build_optimizer, build_scheduler
from .run_setup import load_resume_checkpoint, open_run_dir
from .rundir import LossWindow, TrainResult
from .state import (
    build_fresh_model,
    build_from_checkpoint,
    load_train_state,
    non_finite_entries,
    rng_state,
    set_rng_state,
    unwrap,
    write_checkpoint,
)

log = logging.getLogger(__name__)


class TrainingDiverged(ValueError):
    """The loss became NaN/inf; the last good checkpoint is kept."""


def train(
    cfg: TrainConfig, *, progress: ProgressFn | None = None, should_stop: StopFn | None = None
) -> TrainResult:
    """Run (or resume) training as configured; see the module docstring for how a run ends.

    ``progress(done, total, message)`` is called after every iteration (``done`` = iterations so far) and
    during validation; ``should_stop()`` is polled once per iteration.
    """
    cfg.validate()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    owned_group = not (dist.is_available() and dist.is_initialized())
    info = init_distributed(device)
    if info.distributed and device.type == "cuda":
        device = torch.device("cuda", info.local_rank)
    try:
        return _Trainer(cfg, device, info, progress, should_stop).run()
    finally:
        if owned_group:
            cleanup_distributed()


class _Trainer:
    """One run's state; methods are the steps of :func:`train` (kept small to read one at a time)."""

    def __init__(
        self,
        cfg: TrainConfig,
        device: torch.device,
        info: DistInfo,
        progress: ProgressFn | None,
        stop: StopFn | None,
    ) -> None:
        self.cfg, self.device, self.info = cfg, device, info
        self.progress, self.should_stop = progress, stop
        self.iteration = 0
        self.best_miou = -math.inf
        self.best_metrics: dict[str, Any] = {}
        self.last_metrics: dict[str, Any] = {}
        self.last_val_iter = -1
        self.max_iters = cfg.max_iters
        self._lrs: list[float] = []
        self._cache: FeatureCache | None = None
        self.t_start = time.monotonic()

    # ------------------------------------------------------------------ set-up
    def run(self) -> TrainResult:
        ckpt, self.resume_path = load_resume_checkpoint(self.cfg)
        self.run_dir = open_run_dir(self.cfg, ckpt, self.resume_path, self.info)
        try:
            self._setup(ckpt)
        except Cancelled:
            self._end("cancelled", "callback", message="cancelled before the first iteration")
            raise
        except BaseException as exc:
            self._end("failed", "error", message=str(exc))
            raise
        return self._loop()

    def _setup(self, ckpt: dict[str, Any] | None) -> None:
        self.data: DataBundle = build_data(self.cfg)
        if self.info.is_main:
            for ds in (self.data.train, self.data.val):
                if ds is not None:
                    verify_dataset(ds, progress=self.progress, should_stop=self.should_stop)
        self.bpe = batches_per_epoch(self.data.train, self.cfg, self.info)
        self.max_iters = self.cfg.epochs * self.bpe if self.cfg.epochs else self.cfg.max_iters
        self._build_model()
        if ckpt is not None:
            self._restore(ckpt)
        else:
            self.run_dir.write_config(self.cfg.to_dict())
            # dropout streams differ per rank, reproducibly
            torch.manual_seed(self.cfg.seed + 7919 * self.info.rank)
        log.info(
            "training %s (%d classes) on %d images, %d iterations of batch %d x %d process(es); run dir %s",
            self.cfg.model, self.data.num_classes, len(self.data.train), self.max_iters,
            self.cfg.batch_size, self.info.world_size, self.run_dir.path,
        )  # fmt: skip

    def _build_model(self) -> None:
        cfg, k = self.cfg, self.data.num_classes
        torch.manual_seed(cfg.seed)  # identical initial weights on every rank and every rerun
        model = (
            build_from_checkpoint(cfg.init_checkpoint, k)
            if cfg.init_checkpoint
            else build_fresh_model(cfg, k)
        )
        if cfg.sync_bn and self.info.distributed:
            if self.device.type != "cuda":
                raise ValueError("sync_bn=true needs CUDA devices (SyncBatchNorm has no CPU kernel)")
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        model.to(self.device)
        if cfg.channels_last:
            model.to(memory_format=torch.channels_last)
        # "random", "imagenet:<weights>" or "checkpoint": in every train record, so a reader of the log
        # (the app's fine-tune panel) can say plainly when a new model fell back to random weights
        self.backbone_init = (
            "checkpoint" if cfg.init_checkpoint else str(getattr(model, "backbone_init", "random"))
        )
        self.model = model
        self.ddp = (
            DistributedDataParallel(
                model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
            if self.info.distributed
            else model
        )
        self.optimizer = build_optimizer(
            model,
            lr=cfg.lr,
            momentum=cfg.momentum,
            weight_decay=cfg.weight_decay,
            head_lr_mult=cfg.head_lr_mult,
        )
        self.scheduler = build_scheduler(
            self.optimizer,
            max_iters=self.max_iters,
            power=cfg.poly_power,
            warmup_iters=cfg.warmup_iters,
            warmup_ratio=cfg.warmup_ratio,
        )
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=cfg.precision == "fp16")
        # after the optimiser, so it holds every parameter: unfreezing is only requires_grad (frozen.py)
        self.frozen = BackboneFreezer(model, cfg.unfreeze_at) if cfg.freeze_backbone else None
        if self.frozen is not None and self.info.distributed:
            raise ValueError("freeze_backbone=true is single-process only (the cached head bypasses DDP)")
        weights = run_class_weights(cfg, self.data.train, k)
        self.criterion = SegLoss(cfg.loss_weights, class_weights=weights).to(self.device)

    def _restore(self, ckpt: dict[str, Any]) -> None:
        st = load_train_state(ckpt, self.resume_path, self.model, self.optimizer, self.scheduler, self.scaler)
        self.iteration = int(st["iteration"])
        self.best_miou = -math.inf if st.get("best_miou") is None else float(st["best_miou"])
        self.best_metrics = dict(st.get("best_metrics") or {})
        if self.frozen is not None:
            self.frozen.load_state(st.get("frozen"))
        if int(st.get("max_iters", self.max_iters)) != self.max_iters:
            log.warning("resume: max_iters changed from %s to %d", st.get("max_iters"), self.max_iters)
        if self.info.rank == 0:
            set_rng_state(st["rng"])
        else:
            torch.manual_seed(self.cfg.seed + 7919 * self.info.rank + self.iteration)
        self.run_dir.truncate_after(self.iteration)
        log.info("resumed %s at iteration %d/%d", self.resume_path, self.iteration, self.max_iters)

    # ------------------------------------------------------------------ loop
    def _loop(self) -> TrainResult:
        sampler = make_sampler(self.data.train, self.cfg, self.info)
        self.t_start = time.monotonic()  # max_time_s counts training (and its validations), not set-up
        status, reason = "completed", "max_iters"
        self._window = LossWindow()
        try:
            if self.frozen is not None and self.frozen.all_frozen:
                reason = self._cached_phase()
            while self.iteration < self.max_iters and reason == "max_iters":
                epoch, skip = divmod(self.iteration, self.bpe)
                loader = make_loader(
                    self.data.train,
                    sampler,
                    self.cfg,
                    epoch=epoch,
                    skip_batches=skip,
                    pin=self.device.type == "cuda",
                )
                for images, targets in loader:
                    reason = self._stop_reason()
                    if reason != "max_iters":
                        break
                    self._step(images, targets, epoch)
                    if self.iteration >= self.max_iters:
                        break
        except KeyboardInterrupt:
            reason = "interrupt"
        except TrainingDiverged:
            raise
        except Cancelled:
            reason = "callback"
        except BaseException as exc:
            self._end("failed", "error", message=str(exc))
            raise
        if reason in ("stop_file", "callback", "interrupt"):
            status = "cancelled"
        return self._finish(status, reason)

    def _stop_reason(self) -> str:
        reason = "max_iters"
        if self.should_stop is not None and self.should_stop():
            reason = "callback"
        elif self.run_dir.stop_requested():
            reason = "stop_file"
        elif self.cfg.max_time_s is not None and time.monotonic() - self.t_start >= self.cfg.max_time_s:
            reason = "max_time"
        if self.info.distributed:  # all ranks must leave the loop at the same iteration
            codes = ["max_iters", "max_time", "stop_file", "callback"]
            t = torch.tensor([codes.index(reason)], device=self.device)
            dist.all_reduce(t, op=dist.ReduceOp.MAX)
            reason = codes[int(t.item())]
        return reason

    def _cached_phase(self) -> str:
        """Steps on cached backbone features while the whole backbone is frozen (see frozen.py)."""
        model = unwrap(self.model)
        cache = self._cache = build_cache(
            model,
            self.data.train,
            self.cfg,
            self.device,
            progress=self.progress,
            # a STOP file (the app's Cancel) also ends the cache build, not only the callback
            should_stop=lambda: (
                self.run_dir.stop_requested() or bool(self.should_stop and self.should_stop())
            ),
        )
        while cache is not None and self.iteration < self.max_iters:
            reason = self._stop_reason()
            if reason != "max_iters":
                return reason
            self._train_mode()
            if self.frozen is None or not self.frozen.all_frozen:
                break  # a stage was unfrozen: go on with image batches
            batch = cache.batch(
                self.cfg.batch_size, self.cfg.crop_size, batch_generator(self.cfg.seed, self.iteration)
            )
            with self._autocast():
                outputs = head_outputs(model, batch)
            self._update(outputs, batch.target, batch.target.shape[0], self.iteration // self.bpe)
        self._cache = None  # the memory goes back before the image batches start
        return "max_iters"

    def _train_mode(self) -> None:
        self.ddp.train()
        if self.frozen is not None:  # the budget used so far decides which stages train
            cfg = self.cfg
            t = time.monotonic() - self.t_start
            self.frozen.update(t / cfg.max_time_s if cfg.max_time_s else self.iteration / self.max_iters)
            self.frozen.set_modes()

    def _autocast(self) -> torch.autocast:
        amp = AUTOCAST_DTYPES[self.cfg.precision]
        return torch.autocast(self.device.type, dtype=amp or torch.float32, enabled=amp is not None)

    def _step(self, images: torch.Tensor, targets: torch.Tensor, epoch: int) -> None:
        images = images.to(self.device, non_blocking=True)
        targets = targets.to(self.device, non_blocking=True)
        if self.cfg.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        self._train_mode()
        with self._autocast():
            outputs = self.ddp(images)
        self._update(outputs, targets, images.shape[0], epoch)

    def _update(self, outputs: dict[str, torch.Tensor], targets: torch.Tensor, n: int, epoch: int) -> None:
        cfg = self.cfg
        loss, terms = self.criterion(outputs, targets)
        self._check_finite(loss, terms)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if cfg.grad_clip:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self._lrs = [g["lr"] for g in self.optimizer.param_groups]  # the rates this step used
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.iteration += 1
        self._window.add(loss.detach(), terms, n * self.info.world_size)
        self._after_step(epoch)

    def _check_finite(self, loss: torch.Tensor, terms: dict[str, torch.Tensor]) -> None:
        bad = not bool(torch.isfinite(loss.detach()))
        if self.info.distributed:
            t = torch.tensor([int(bad)], device=self.device)
            dist.all_reduce(t, op=dist.ReduceOp.MAX)
            bad = bool(t.item())
        if not bad:
            return
        detail = ", ".join(f"{k}={float(v):.4g}" for k, v in terms.items())
        kept = (
            f"the last good checkpoint {self.run_dir.last} is kept"
            if self.run_dir.last.exists()
            else "no checkpoint was written"
        )
        msg = (
            f"loss became non-finite at iteration {self.iteration + 1} ({detail}); "
            f"training stopped and {kept}. "
            "Lower lr, set grad_clip, or use precision fp32"
        )
        self._end("failed", "non_finite_loss", message=msg)
        raise TrainingDiverged(msg)

    def _after_step(self, epoch: int) -> None:
        cfg, it = self.cfg, self.iteration
        if it % cfg.log_interval == 0 or it == self.max_iters:
            self._log_train(epoch)
        if self.progress is not None and self.info.is_main:
            self.progress(it, self.max_iters, f"iteration {it}/{self.max_iters} loss {self._window.last:.4f}")
        validate = cfg.val_interval > 0 and it % cfg.val_interval == 0 and it < self.max_iters
        if validate and self.data.val is not None:
            t0 = time.perf_counter()
            self._validate(epoch)
            self._save_last(epoch)
            self._window.t0 += time.perf_counter() - t0  # throughput counts training time only
        elif cfg.ckpt_interval > 0 and it % cfg.ckpt_interval == 0 and it < self.max_iters:
            self._save_last(epoch)

    def _log_train(self, epoch: int) -> None:
        lrs = self._lrs
        rec = {"type": "train", "iter": self.iteration, "max_iters": self.max_iters, "epoch": epoch}
        rec["backbone_init"] = self.backbone_init
        if self.frozen is not None:
            rec["phase"] = self.frozen.phase() + (" (cached features)" if self._cache is not None else "")
        rec.update(self._window.flush())
        rec["lr"] = lrs[0]
        if len(lrs) > 1:
            rec["lr_head"] = lrs[-1]
        self.run_dir.log(rec)
        log.info(
            "iter %d/%d loss %.4f lr %.3g %.2f img/s",
            self.iteration,
            self.max_iters,
            rec["loss"],
            lrs[0],
            rec["images_per_s"],
        )

    # ------------------------------------------------------------------ validation and checkpoints
    def _validate(self, epoch: int) -> dict[str, Any]:
        cfg = self.cfg
        t0 = time.perf_counter()
        options = cfg.predict_options().replace(device=str(self.device))
        predictor = make_predictor(unwrap(self.model), mean=cfg.mean, std=cfg.std, options=options)
        report = self.progress if self.progress is not None and self.info.is_main else None
        val = self.data.val
        assert val is not None, "validation runs only when the run has a val split"
        metrics = evaluate(
            predictor,
            val,
            num_classes=self.data.num_classes,
            rank=self.info.rank,
            world_size=self.info.world_size,
            progress=report,
        )
        unwrap(self.model).train()
        values = metrics.to_dict(self.data.class_names)
        is_best = metrics.miou > self.best_miou
        rec = {"type": "val", "iter": self.iteration, "epoch": epoch, **values, "best": bool(is_best)}
        rec["eval_s"] = round(time.perf_counter() - t0, 3)
        self.last_val_iter = self.iteration
        self.last_metrics = values
        if is_best:
            self.best_miou, self.best_metrics = metrics.miou, {**values, "iter": self.iteration}
            self._save(self.run_dir.best, epoch)
        self.run_dir.log(rec)
        log.info(
            "val iter %d: mIoU %.4f pixel acc %.4f%s",
            self.iteration,
            metrics.miou,
            metrics.pixel_acc,
            " (best)" if is_best else "",
        )
        return values

    def _save_last(self, epoch: int) -> None:
        self._save(self.run_dir.last, epoch)

    def _save(self, path: Path, epoch: int) -> None:
        """Atomic save on rank 0, only of finite weights (a broken model never replaces a good file)."""
        if not self.info.is_main:
            return
        model = unwrap(self.model)
        bad = non_finite_entries(model)
        if bad:
            msg = (
                f"weights became non-finite ({bad[0]} ...) at iteration {self.iteration}; "
                f"{path} not overwritten"
            )
            self._end("failed", "non_finite_weights", message=msg)
            raise TrainingDiverged(msg)
        write_checkpoint(
            path,
            model,
            cfg=self.cfg,
            class_names=self.data.class_names,
            class_colors=self.data.class_colors,
            train_state=self._train_state(epoch),
            run_dir=self.run_dir.path,
        )

    def _train_state(self, epoch: int) -> dict[str, Any]:
        return {
            "iteration": self.iteration,
            "epoch": epoch,
            "max_iters": self.max_iters,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rng_state(),
            "best_miou": self.best_miou if math.isfinite(self.best_miou) else None,
            "best_metrics": self.best_metrics,
            "config": self.cfg.to_dict(),
            "frozen": None if self.frozen is None else self.frozen.state(),
        }

    # ------------------------------------------------------------------ end of run
    def _finish(self, status: str, reason: str) -> TrainResult:
        epoch = max(0, (self.iteration - 1) // self.bpe)
        if status == "completed" and self.data.val is not None and self.last_val_iter != self.iteration:
            self._validate(epoch)
        try:
            self._save_last(epoch)
        except OSError as exc:  # the last save failed: the log still gets its one "end" record
            self._end("failed", "error", message=str(exc))
            raise
        if self._window.count:
            self._log_train(epoch)
        self._end(status, reason)
        best = self.run_dir.best if self.run_dir.best.exists() else None
        if status == "cancelled":
            raise Cancelled(
                f"training stopped ({reason}) at iteration {self.iteration}; resume with "
                f"--resume {self.run_dir.path}"
            )
        return TrainResult(
            self.run_dir.path,
            best,
            self.run_dir.last,
            dict(self.best_metrics or self.last_metrics),
            status,
            self.iteration,
        )

    def _end(self, status: str, reason: str, *, message: str = "") -> None:
        rec = {
            "type": "end",
            "status": status,
            "reason": reason,
            "iter": self.iteration,
            "max_iters": self.max_iters,
            "best_miou": self.best_miou if math.isfinite(self.best_miou) else None,
            "elapsed_s": round(time.monotonic() - self.t_start, 3),
            "pid": os.getpid(),
        }
        if message:
            rec["message"] = message
        try:
            self.run_dir.log(rec)
        except OSError as exc:  # a full disk may refuse the record too; the exit status still tells
            log.error("cannot append the end record to %s: %s", self.run_dir.metrics_path, exc)
