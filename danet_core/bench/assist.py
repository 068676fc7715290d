"""The assist loop on real CamVid: how many pixels an annotator still corrects after each fine-tune round.

A simulated annotator works through the CamVid train images (shuffled once with ``--seed``, since the
folder is sorted by video sequence and consecutive frames are near-duplicates) in rounds of ``K``:

1. pre-segment the round's images with the current model (``danet_core.inference.Predictor``);
2. count the labelled pixels where the prediction is wrong (void ignored) — the correction work — and
   the connected error regions of >= 64 px (one fill or polygon each);
3. correct them (the corrected mask equals the ground truth) and add the images to the corrected set;
4. fine-tune on every corrected image so far for a fixed wall-clock budget with the training engine
   (``train()`` with ``max_time_s``), starting from the previous round's checkpoint;
5. score the new model on the held-out val images: mIoU and per-class IoU over the 11 classes, and the
   share of held-out pixels still wrong (a steadier work figure than one round's K images).

The sweep options (``--schedule``, ``--class-weights``, ``--restart``, ...) change one part of the plan
each, to choose the CPU recipe (docs/finetune.md, "Choosing the CPU recipe"); a sweep should use
``--iters-per-round`` and ``--threads 1`` so its figures do not depend on the machine's load.

Round 0 uses a randomly initialised DANet (no ImageNet weights are reachable offline), so it charges
~90-100% of the pixels, like manual labeling. Images are downscaled by ``--scale`` once, before the loop
(prediction, training and scoring all at that resolution) so the default run fits in ~30 minutes on a
2-core CPU. Output: JSON (printed; ``--out``) and a PNG plot (``--plot``).
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import torch

from danet_core.bench.assist_loop import (
    Finetune,
    apply_corrections,
    count_corrections,
    make_round,
    plot_summary,
    round_batches,
    summarise,
)
from danet_core.images import atomic_save_png, load_image, load_mask_png
from danet_core.training.finetune_plan import AUG_SCALE, CPU_RECIPE, FinetunePlan, default_plan
from danet_core.training.metrics import ConfusionMatrix, metrics_from_confusion

if TYPE_CHECKING:
    from danet_core.inference import Predictor
    from danet_core.models import Segmenter
    from danet_core.training import TrainConfig

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "camvid"
NUM_CLASSES = 11
VOID = 11
IGNORE = 255


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="CamVid root (train/, trainannot/, val/)"
    )
    parser.add_argument("--rounds", type=int, default=6, help="annotation rounds R (default 6)")
    parser.add_argument(
        "--per-round", type=int, default=8, help="images pre-segmented per round K (default 8)"
    )
    # Defaults come from the app's plan function (danet_core.training.finetune_plan.default_plan), so
    # the figures describe what the Fine-tune button does; each option below overrides one of them.
    parser.add_argument("--budget-s", type=float, default=None, help="fine-tune wall-clock budget per round")
    parser.add_argument(
        "--iters-per-round",
        type=int,
        default=None,
        help="a fixed iteration budget instead (comparable across machines)",
    )
    parser.add_argument("--scale", type=float, default=None, help="image downscale for the whole loop")
    parser.add_argument("--heldout", type=int, default=101, help="val images scored each round (default all)")
    parser.add_argument("--depth", type=int, default=18, help="DANet ResNet depth (default 18)")
    parser.add_argument("--crop", type=int, default=None, help="training crop side at the loop's scale")
    parser.add_argument("--batch", type=int, default=None, help="training batch size")
    parser.add_argument("--lr", type=float, default=None, help="SGD learning rate (poly over a long horizon)")
    _add_sweep_arguments(parser)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--work-dir", type=Path, default=None, help="run folders (default runs/assist-<time>)"
    )
    parser.add_argument(
        "--plot", type=Path, default=None, help="PNG plot path (default <work-dir>/assist_loop.png)"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")


def _add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    """Recipe options the plan does not expose (the engine's ``TrainConfig`` fields), for the sweep in
    docs/finetune.md; the defaults are what the app trains with."""
    parser.add_argument(
        "--schedule",
        choices=("constant", "poly"),
        default="constant",
        help="learning rate within a round: constant (the plan's: its poly horizon is never reached) or "
        "poly decay to 0 over --iters-per-round",
    )
    parser.add_argument(
        "--lr-round-decay",
        type=float,
        default=1.0,
        help="round r trains at lr * FACTOR**r (1 = the same rate every round)",
    )
    parser.add_argument("--warmup-iters", type=int, default=0, help="linear warm-up iterations per round")
    parser.add_argument("--head-lr-mult", type=float, default=1.0, help="head lr = lr x this (backbone: lr)")
    parser.add_argument("--color-jitter", type=float, default=None, help="0 disables (engine default 0.25)")
    parser.add_argument(
        "--scale-range", type=float, nargs=2, default=None, metavar=("LO", "HI"), help="random rescale range"
    )
    parser.add_argument(
        "--class-weights",
        type=float,
        default=None,
        metavar="POWER",
        help="loss weights class frequency ** -POWER over the corrected masks (the plan's: 0.5, inverse "
        "sqrt; 0 = unweighted)",
    )
    parser.add_argument(
        "--restart", action="store_true", help="every round trains from the random init, not the last model"
    )
    parser.add_argument(
        "--skip-last-finetune",
        action="store_true",
        help="the last round only pre-segments and corrects (its held-out figures are the previous model's)",
    )


def _resize(image: np.ndarray, mask: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    if scale == 1.0:
        return image, mask
    h, w = mask.shape
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    return (
        cv2.resize(image, size, interpolation=cv2.INTER_AREA),
        cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST),
    )


def _load_pair(root: Path, split: str, name: str, scale: float) -> tuple[np.ndarray, np.ndarray]:
    image = load_image(root / split / name)
    mask = load_mask_png(root / f"{split}annot" / name).copy()
    if mask.max(initial=0) > VOID:
        raise ValueError(f"{root / f'{split}annot' / name}: class ids up to {mask.max()}; expected 0..{VOID}")
    mask[mask == VOID] = IGNORE
    return _resize(image, mask, scale)


def _names(root: Path, split: str) -> list[str]:
    folder = root / split
    if not folder.is_dir() or not (root / f"{split}annot").is_dir():
        raise FileNotFoundError(
            f"{folder}: CamVid split not found; expected {split}/ and {split}annot/ in {root}"
        )
    return sorted(p.name for p in folder.iterdir() if p.suffix.lower() == ".png")


def heldout_names(root: Path, count: int) -> list[str]:
    """``count`` val images evenly spaced over the sorted folder: val is sorted by video sequence, so
    the first ``count`` would be one or two scenes; all of them when ``count`` covers the split."""
    names = _names(root, "val")
    count = max(1, min(count, len(names)))
    return [names[int(i)] for i in np.linspace(0, len(names) - 1, count).round().astype(int)]


def _initial_checkpoint(path: Path, depth: int, seed: int) -> None:
    """Round 0's model: a random-init DANet saved as a native checkpoint (the engine inits from it)."""
    from danet_core.checkpoints import save_checkpoint
    from danet_core.labels import get_label_set
    from danet_core.training.config import TrainConfig

    torch.manual_seed(seed)
    model = _get_model(depth)
    classes = [
        {"name": c.name, "color": list(c.color), "train_id": c.train_id}
        for c in get_label_set("camvid").train_classes()
    ]
    defaults = TrainConfig()
    save_checkpoint(path, model, classes=classes, mean=defaults.mean, std=defaults.std)


def _get_model(depth: int) -> Segmenter:
    from danet_core.models import get_model

    return get_model("danet", depth=depth, num_classes=NUM_CLASSES)


def _predictor(checkpoint: Path) -> Predictor:
    from danet_core.checkpoints import load_model
    from danet_core.inference import Predictor
    from danet_core.models.fuse import for_inference

    return Predictor(for_inference(load_model(checkpoint)), device="cpu", mode="whole")  # as the app


def round_plan(args: argparse.Namespace, corrected: int) -> FinetunePlan:
    """The app's one-click plan for ``corrected`` reviewed images, with the options given overriding it."""
    plan = default_plan(corrected, device="cpu", active_depth=args.depth)
    changes: dict[str, object] = {}
    for option, field in (
        ("crop", "crop"),
        ("batch", "batch_size"),
        ("lr", "lr"),
        ("budget_s", "max_time_s"),
        ("class_weights", "class_weight_power"),
    ):
        if getattr(args, option) is not None:
            changes[field] = getattr(args, option)
    if args.iters_per_round is not None:
        changes.update(max_iters=args.iters_per_round, max_time_s=None)
    return plan.with_overrides(**changes)


def loop_scale(args: argparse.Namespace) -> float:
    """The loop resizes every image once (the app's plan trains and predicts at this scale)."""
    return float(args.scale) if args.scale is not None else float(CPU_RECIPE["scale"])


def _train_config(
    args: argparse.Namespace, data_dir: Path, run_dir: Path, init: Path, corrected: int, round_index: int
) -> TrainConfig:
    """The engine's config for one round: the round's plan plus the sweep options (see --help)."""
    from danet_core.training import TrainConfig

    plan = round_plan(args, corrected)
    extra: dict[str, Any] = {}
    if args.color_jitter is not None:
        extra["color_jitter"] = args.color_jitter
    return TrainConfig(
        dataset="folder",
        data_root=str(data_dir),
        train_split="train",
        val_split=None,
        label_set="camvid",
        crop_size=(plan.crop, plan.crop),
        scale_range=tuple(args.scale_range) if args.scale_range else AUG_SCALE,
        model="danet",
        model_options={"depth": plan.depth},
        init_checkpoint=str(init),
        batch_size=plan.batch_size,
        max_iters=plan.max_iters,
        lr=plan.lr * args.lr_round_decay**round_index,
        # the plan's horizon is so long that its poly factor stays > 0.99: a fixed iteration budget
        # keeps that constant rate unless --schedule poly asks for decay over the round
        poly_power=0.9 if args.schedule == "poly" else 0.0,
        warmup_iters=args.warmup_iters,
        head_lr_mult=args.head_lr_mult,
        val_interval=0,
        run_dir=str(run_dir),
        seed=args.seed,
        device="cpu",
        threads=args.threads,
        num_workers=0,
        log_interval=5,
        max_time_s=plan.max_time_s,
        # the engine weighs the loss from the corrected masks so far when the run starts, as in the app
        class_weight_power=plan.class_weight_power,
        **extra,
    ).validate()


def _finetune(args: argparse.Namespace, cfg: TrainConfig) -> tuple[Path, Finetune]:
    """Run ``cfg``; the new checkpoint and what the run did."""
    from danet_core.training import train

    t0 = time.perf_counter()
    result = train(cfg)
    seconds = time.perf_counter() - t0
    rate = _train_rate(Path(result.run_dir), cfg.batch_size)
    return Path(result.last), Finetune(seconds, int(result.iterations), cfg.lr, rate)


def _train_rate(run_dir: Path, batch: int) -> float:
    """Iterations per second of training from the run's log windows (``images_per_s`` per window)."""
    from danet_core.training.layout import RunLayout, read_metrics

    iters, seconds, prev = 0, 0.0, 0
    for rec in read_metrics(RunLayout(run_dir).metrics):
        if rec.get("type") == "train" and rec.get("images_per_s"):
            n = int(rec["iter"]) - prev
            prev = int(rec["iter"])
            iters += n
            seconds += n * batch / float(rec["images_per_s"])
    return iters / seconds if seconds else 0.0


def _heldout_confusion(predictor: Predictor, heldout: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    conf = ConfusionMatrix(NUM_CLASSES)
    for image, truth in heldout:
        conf.update(predictor.predict(image).label, truth)
    return conf.mat


def _correct_round(predictor: Predictor, root: Path, names: list[str], scale: float, data_dir: Path) -> list:
    """Pre-segment ``names``, charge the corrections, and add the corrected masks to the training set."""
    corrections = []
    for name in names:
        image, truth = _load_pair(root, "train", name, scale)
        pred = predictor.predict(image).label
        corrections.append(count_corrections(pred, truth))
        atomic_save_png(data_dir / "train" / name, image)
        atomic_save_png(data_dir / "trainannot" / name, apply_corrections(pred, truth))
    return corrections


def _settings(args: argparse.Namespace, heldout: int) -> dict:
    keys = ("rounds", "per_round", "depth", "seed", "iters_per_round", "schedule", "lr_round_decay")
    sweep = ("warmup_iters", "head_lr_mult", "color_jitter", "scale_range", "class_weights", "restart")
    return {
        "data": str(args.data),
        **{k: getattr(args, k) for k in (*keys, *sweep, "skip_last_finetune")},
        "scale": loop_scale(args),
        "plan_round_0": round_plan(args, args.per_round).to_dict(),  # what the app's button would train
        "heldout_images": heldout,
        "threads": torch.get_num_threads(),
    }


def _class_names() -> list[str]:
    from danet_core.labels import get_label_set

    return [c.name for c in get_label_set("camvid").train_classes()]


def _loop(args: argparse.Namespace, work: Path, heldout: list, stream: list[str]) -> tuple[list, float]:
    """The rounds: pre-segment, correct, fine-tune, score; (records, held-out mIoU of the random init)."""
    root, scale, data_dir = Path(args.data), loop_scale(args), work / "data"
    batches = round_batches(len(stream), args.rounds, args.per_round)
    init = checkpoint = work / "round-init.pt"
    _initial_checkpoint(init, args.depth, args.seed)
    conf = _heldout_confusion(_predictor(checkpoint), heldout)
    baseline = float(metrics_from_confusion(conf).miou)
    log.info("initial model: held-out mIoU %.3f", baseline)
    records = []
    for r, batch in enumerate(batches):
        corrections = _correct_round(
            _predictor(checkpoint), root, [stream[i] for i in batch], scale, data_dir
        )
        done = Finetune()
        if not (args.skip_last_finetune and r == len(batches) - 1):
            start = init if args.restart else checkpoint
            cfg = _train_config(args, data_dir, work / f"round-{r}", start, batch.stop, r)
            checkpoint, done = _finetune(args, cfg)
            conf = _heldout_confusion(_predictor(checkpoint), heldout)
        rec = make_round(
            r, corrections, batch.stop, finetune=done, heldout_confusion=conf, class_names=_class_names()
        )
        log.info(
            "round %d: %.1f%% of pixels to correct in %d regions, fine-tune %.0f s / %d it (%.2f it/s), "
            "held-out %.1f%% to correct, mIoU %.3f",
            r, 100 * rec.share_to_correct, rec.error_regions, done.seconds, done.iterations, done.it_per_s,
            100 * rec.heldout_share_to_correct, rec.heldout_miou,
        )  # fmt: skip
        records.append(rec)
    return records, baseline


def run(args: argparse.Namespace) -> dict:
    if args.threads:
        torch.set_num_threads(args.threads)
    load_start = os.getloadavg()[0]
    root = Path(args.data)
    stream = _names(root, "train")
    random.Random(args.seed).shuffle(stream)  # the folder is sorted by video sequence
    round_batches(len(stream), args.rounds, args.per_round)  # refuse a short stream before loading
    work = args.work_dir or REPO_ROOT / "runs" / f"assist-{datetime.now():%Y%m%d-%H%M%S}"
    for sub in ("train", "trainannot"):
        (work / "data" / sub).mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    heldout = [_load_pair(root, "val", n, loop_scale(args)) for n in heldout_names(root, args.heldout)]
    records, baseline = _loop(args, work, heldout, stream)
    summary = summarise(records, baseline)
    plot = args.plot or work / "assist_loop.png"
    title = (
        f"CamVid assist loop, {args.per_round} images/round: {round_plan(args, args.per_round).describe()}"
    )
    plot_summary(summary, plot, title=title)
    summary.update(
        {
            "settings": _settings(args, len(heldout)),
            "plot": str(plot),
            "work_dir": str(work),
            "wall_s": time.perf_counter() - t_start,
            # the fine-tune budget is wall-clock time: on a shared machine fewer iterations fit in it
            "load_avg_1min": {"start": load_start, "end": os.getloadavg()[0]},
        }
    )
    return summary
