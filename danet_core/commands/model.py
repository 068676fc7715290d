"""``danet import-checkpoint`` and ``danet predict``: thin front-ends of checkpoints and inference.

predict writes, for each input image ``NAME.ext`` (folder structure kept under --out):
``NAME.png`` (8-bit label PNG of model class ids), ``NAME_confidence.png`` (16-bit PNG, max softmax
x 65535) unless --no-confidence, and ``NAME_color.png`` (the classes' colours) with --color.
An unreadable image is reported and skipped; the exit status is then 1. Images whose NAME.png exists
are skipped (resume; --overwrite predicts them again). Under ``torchrun --nproc_per_node N -m
danet_core.cli predict ...`` each process takes every N-th image on its own device (cuda:LOCAL_RANK, or
the CPU) and rank 0 prints one summary of all failures. A write that fails (disk full) names the file.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
from tqdm import tqdm

from danet_core.batch_predict import PredictReport, collect_images, predict_images, shard
from danet_core.options import add_predict_arguments, int_list, predict_options_from_args

if TYPE_CHECKING:
    import torch

    from danet_core.inference import Predictor
    from danet_core.models import Segmenter

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    imp = subparsers.add_parser(
        "import-checkpoint",
        help="convert an official or mmsegmentation DANet checkpoint to a native one",
        description="Read SRC (official DANet or mmseg DANet layout, loaded safely with weights_only) and "
        "write DST as a self-describing native checkpoint. Options the weights cannot reveal: "
        "official defaults multi-grid 4,8,16 and align_corners true; mmseg: none and false.",
    )
    imp.add_argument("src", type=Path)
    imp.add_argument("dst", type=Path)
    imp.add_argument("--source", choices=("auto", "official", "mmseg"), default="auto")
    imp.add_argument("--multi-grid", type=int_list, default=None, help="layer4 dilations, e.g. 4,8,16")
    imp.add_argument("--no-multi-grid", action="store_true", help="layer4 dilations 2,4,4 (no multi-grid)")
    imp.add_argument("--align-corners", choices=("true", "false"), default=None)
    imp.add_argument(
        "--label-set", default=None, help="name the outputs: cityscapes | camvid | voc | FILE.json"
    )
    imp.set_defaults(func=run_import)

    pred = subparsers.add_parser(
        "predict",
        help="segment images (files, folders, or a list file) with a checkpoint",
        description=__doc__.split("\n\n", 1)[1],
    )
    pred.add_argument("inputs", nargs="+", type=Path, help="image files, folders, or .txt lists of paths")
    pred.add_argument("-c", "--checkpoint", type=Path, required=True)
    pred.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    pred.add_argument("--source", choices=("auto", "native", "official", "mmseg"), default="auto")
    add_predict_arguments(pred)
    pred.add_argument("--color", action="store_true", help="also write NAME_color.png")
    pred.add_argument("--no-confidence", action="store_true", help="do not write NAME_confidence.png")
    pred.add_argument(
        "--overwrite", action="store_true", help="predict again images whose NAME.png exists (default: skip)"
    )
    pred.set_defaults(func=run_predict)


def _label_classes(spec: str) -> list[dict]:
    from danet_core.labels import get_label_set, load_label_set

    label_set = load_label_set(spec) if spec.endswith(".json") else get_label_set(spec)
    return [
        {"name": c.name, "color": list(c.color), "train_id": c.train_id} for c in label_set.train_classes()
    ]


def run_import(args: argparse.Namespace) -> int:
    from danet_core.checkpoints import load_model, save_checkpoint

    options: dict = {}
    if args.no_multi_grid:
        options["multi_grid"] = None
    elif args.multi_grid:
        options["multi_grid"] = tuple(args.multi_grid)
    if args.align_corners is not None:
        options["align_corners"] = args.align_corners == "true"
    classes = _label_classes(args.label_set) if args.label_set else None
    model = load_model(args.src, source=args.source, classes=classes, **options)
    meta = model.meta
    save_checkpoint(args.dst, model, classes=meta.classes, mean=meta.mean, std=meta.std, extra=meta.extra)
    c = meta.config
    print(
        f"{args.dst}: {meta.source} DANet-R{c.depth} ({c.stem} stem, multi-grid {c.multi_grid}, "
        f"align_corners {c.align_corners}, aux {c.aux}), {c.num_classes} classes"
    )
    return 0


def _predictor(args: argparse.Namespace) -> Predictor:
    from danet_core.checkpoints import load_model
    from danet_core.inference import Predictor
    from danet_core.models.fuse import for_inference

    model = for_inference(load_model(args.checkpoint, source=args.source))  # BN folded once
    return Predictor(model, predict_options_from_args(args))


def run_predict(args: argparse.Namespace) -> int:
    """One process, or one shard per process under torchrun (see :mod:`danet_core.batch_predict`)."""
    from danet_core.training.distributed import env_dist_info

    images = collect_images(args.inputs)
    info = env_dist_info()
    if info.distributed:
        args.device = _rank_device(args.device, info.local_rank)
    predictor = _predictor(args)
    if info.distributed:
        _join_group(predictor.device)
    model = cast("Segmenter", predictor.model)  # from load_model (in _predictor): it carries .meta
    palette = None
    if args.color:
        palette = np.zeros((256, 3), np.uint8)
        for i, c in enumerate(model.meta.classes):
            palette[i] = c["color"]
    mine = shard(images, info.rank, info.world_size)
    with tqdm(total=len(mine), desc=f"predict {info.rank}/{info.world_size}", unit="img") as bar:
        report = predict_images(
            predictor, mine, args.out, palette=palette, confidence=not args.no_confidence,
            resume=not args.overwrite, progress=lambda d, _t, _m: _advance(bar, d),
        )  # fmt: skip
    if info.distributed:
        report = _gather(report)
    return _summarise(report, args.out, info.is_main)


def _advance(bar: tqdm, done: int) -> None:
    bar.update(done - bar.n)


def _rank_device(device: str, local_rank: int) -> str:
    import torch

    if device in ("auto", "cuda") and torch.cuda.is_available():
        return f"cuda:{local_rank}"
    return "cpu" if device == "auto" else device


def _join_group(device: torch.device) -> None:
    from danet_core.training.distributed import init_distributed

    init_distributed(device)


def _gather(report: PredictReport) -> PredictReport:
    import torch.distributed as dist

    reports: list[PredictReport | None] = [None] * dist.get_world_size()
    dist.all_gather_object(reports, report)
    dist.destroy_process_group()
    total = PredictReport()
    for r in reports:
        assert r is not None  # all_gather_object fills every slot
        total = total.merge(r)
    return total


def _summarise(report: PredictReport, out: Path, main: bool) -> int:
    if main:
        log.info(
            "%d predictions written to %s, %d already there (skipped), %d failed",
            report.written, out, report.skipped, len(report.failed),
        )  # fmt: skip
        if report.failed:
            log.error(
                "%d images could not be read: %s",
                len(report.failed), "; ".join(f"{p}: {why}" for p, why in report.failed[:10]),
            )  # fmt: skip
    if report.fatal:
        raise OSError(report.fatal)
    return 1 if report.failed else 0
