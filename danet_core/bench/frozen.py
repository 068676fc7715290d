"""Fast (frozen-backbone) vs full fine-tune from one checkpoint: iterations/s and held-out mIoU vs time.

Every variant trains the CPU recipe of the app's plan (``finetune_plan.CPU_RECIPE``: half resolution,
128 px crops, batch 4, lr 0.01) from ``--init`` on the first ``--train-images`` images of a CamVid-layout
folder for each time budget, and is scored on the first ``--val-images`` val images at the training
scale. Variants: ``full`` (everything trains), ``head`` (frozen backbone, head on cached features for the
whole budget), ``fast`` (as ``head``, layer4 unfrozen after ``--unfreeze-after`` of the budget: what
the plan picks). Runs are interleaved (budget by budget, variant order alternating) so a shared
machine's load falls on all of them alike. The budget includes building the feature cache.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from danet_core.bench.assist import DEFAULT_DATA
from danet_core.training import TrainConfig, train
from danet_core.training.finetune_plan import AUG_SCALE, CPU_RECIPE
from danet_core.training.rundir import read_metrics

log = logging.getLogger(__name__)

VARIANTS = ("full", "head", "fast")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--init", required=True, help="checkpoint to fine-tune from (a run's last.pt)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CamVid-layout folder")
    parser.add_argument("--train-images", type=int, default=16, help="first N train images (by name)")
    parser.add_argument("--val-images", type=int, default=40, help="first N val images (held out)")
    parser.add_argument("--budgets", default="30,60,120,180", help="seconds per run, comma-separated")
    parser.add_argument("--variants", default="full,fast", help=f"among {','.join(VARIANTS)}")
    parser.add_argument("--unfreeze-after", type=float, default=0.5, help="fast: layer4 from this share")
    parser.add_argument("--cache-scales", type=int, default=1, help="random-scale factors cached")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path("runs/bench-frozen"), help="run folders")


def _config(args: argparse.Namespace, variant: str, budget: float, run_dir: Path) -> TrainConfig:
    frozen = variant != "full"
    return TrainConfig(
        dataset="folder", data_root=str(args.data), label_set="camvid", void_ids=[11],
        train_limit=args.train_images, val_limit=args.val_images, base_scale=CPU_RECIPE["scale"],
        scale_range=AUG_SCALE, crop_size=(int(CPU_RECIPE["crop"]),) * 2, batch_size=int(CPU_RECIPE["batch"]),
        lr=CPU_RECIPE["lr"], max_iters=int(CPU_RECIPE["horizon"]), max_time_s=budget, val_interval=0,
        eval_mode="multiscale", eval_scales=(CPU_RECIPE["scale"],), init_checkpoint=str(args.init),
        num_workers=0, threads=args.threads, log_interval=1, run_dir=str(run_dir),
        freeze_backbone=frozen, unfreeze_at=[args.unfreeze_after] if variant == "fast" else [],
        feature_cache_scales=args.cache_scales,
    ).validate()  # fmt: skip


def _one(args: argparse.Namespace, variant: str, budget: float) -> dict[str, Any]:
    run_dir = args.work / f"{variant}-{budget:g}s-{time.strftime('%H%M%S')}"
    cfg = _config(args, variant, budget, run_dir)
    result = train(cfg)
    rows = [r for r in read_metrics(run_dir / "metrics.jsonl") if r["type"] == "train"]
    phases: dict[str, dict[str, Any]] = {}
    for r in rows:  # one record per iteration (log_interval 1); the first one's time includes the cache
        ph = phases.setdefault(str(r.get("phase", "full")), {"iterations": 0, "seconds": 0.0, "rates": []})
        dt = r["images_per_s"] and cfg.batch_size / r["images_per_s"]
        ph["iterations"] += 1
        ph["seconds"] += dt
        ph["rates"].append(1.0 / dt if dt else 0.0)
    for ph in phases.values():
        ph["seconds"] = round(ph["seconds"], 2)
        ph["median_iterations_per_s"] = round(statistics.median(ph.pop("rates")), 3)
    row: dict[str, Any] = {"variant": variant, "budget_s": budget, "iterations": result.iterations}
    row["train_s"] = round(sum(p["seconds"] for p in phases.values()), 2)  # the cache build included
    row["iterations_per_s"] = round(result.iterations / max(1e-9, row["train_s"]), 3)
    row["miou"] = round(float(result.metrics.get("miou", float("nan"))), 4)
    row["phases"] = phases
    log.info("%s %gs: %d iterations, mIoU %.4f", variant, budget, result.iterations, row["miou"])
    return row


def run(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    budgets = [float(b) for b in str(args.budgets).split(",")]
    variants = [v.strip() for v in str(args.variants).split(",")]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"--variants: unknown {unknown}; expected among {VARIANTS}")
    rows = []
    for k, budget in enumerate(budgets):
        for variant in variants if k % 2 == 0 else variants[::-1]:
            rows.append(_one(args, variant, budget))
    return {
        "init": str(args.init),
        "train_images": args.train_images,
        "val_images": args.val_images,
        "threads": args.threads,
        "recipe": CPU_RECIPE,
        "unfreeze_after": args.unfreeze_after,
        "cache_scales": args.cache_scales,
        "runs": rows,
    }
