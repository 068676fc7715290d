"""``danet train`` and ``danet eval``: thin argparse front-ends of :mod:`danet_core.training`.

Options given on the command line override the ``--config`` file, which overrides the defaults of
:class:`danet_core.training.TrainConfig`; any other key is reachable with ``--set KEY=VALUE``.
Exit status: 0 done, 1 bad input or failure (one line on stderr), 130 cancelled (STOP file, Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from danet_core.options import DEVICE_AUTO, DEVICE_HELP, MODES, PRECISIONS, PredictOptions

if TYPE_CHECKING:
    from tqdm import tqdm

log = logging.getLogger(__name__)

TRAIN_EPILOG = """\
examples:
  # DANet-R18 on CamVid at half resolution, 600 iterations, validation every 100
  danet train --dataset folder --data-root ../shared/data/camvid --label-set camvid \\
      --model danet --depth 18 --base-scale 0.5 --crop-size 160 --batch-size 8 \\
      --max-iters 600 --val-interval 100 --eval-mode multiscale --eval-scales 0.5 --run-dir runs/camvid-danet
  # the same from a YAML/JSON file, overriding one value
  danet train --config camvid.yaml --set lr=0.02
  # continue an interrupted run exactly where it stopped
  danet train --resume runs/camvid-danet
  # several processes (CPU: gloo, GPU: nccl)
  torchrun --nproc_per_node 2 -m danet_core.cli train --config camvid.yaml

A file named STOP in the run directory stops the run at the next iteration (last checkpoint kept).
The run directory holds config.json, metrics.jsonl (JSON lines) and checkpoints/{last,best}.pt.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a DANet/FCN segmentation model (resumable, DDP with torchrun)",
        description="Train a segmentation model on a Cityscapes-layout folder, an image+mask folder pair "
        "(e.g. CamVid) or the reviewed images of an annotation project.",
        epilog=TRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_train_arguments(p)
    p.set_defaults(func=run_train)

    e = subparsers.add_parser(
        "eval",
        help="evaluate a checkpoint: mIoU, per-class IoU, pixel accuracy",
        description="Score a native checkpoint on a dataset split (255 = ignore), in whole-image, "
        "sliding-window or multi-scale(+flip) mode. Prints JSON.",
        epilog="example:\n  danet eval runs/camvid-danet/checkpoints/best.pt --dataset folder "
        "--data-root ../shared/data/camvid --split val --eval-mode multiscale --eval-scales 0.5",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_eval_arguments(e)
    e.set_defaults(func=run_eval)


# ---------------------------------------------------------------------------------------------- train
def _size(text: str) -> list[int]:
    parts = [int(v) for v in text.replace("x", ",").split(",") if v]
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"{text!r}: expected H,W or one number")
    return parts


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated numbers") from exc


def _ints(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated integers") from exc


def _add_data_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--dataset", choices=["cityscapes", "folder", "project"], help="dataset layout")
    g.add_argument("--data-root", help="dataset folder (project: the project folder)")
    g.add_argument(
        "--label-set", help="built-in label set (camvid, voc, cityscapes) or a label-set JSON file"
    )
    g.add_argument("--void-ids", type=_ints, help="mask values to ignore in a folder dataset, e.g. 11")
    g.add_argument("--mask-dir-suffix", help="folder dataset: masks of <split> are in <split><suffix>")


def _add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="YAML or JSON file of TrainConfig keys")
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override any config key (YAML value)"
    )
    p.add_argument("--resume", nargs="?", const="", metavar="RUN_DIR|CKPT", help="continue a run exactly")
    _add_data_arguments(p)
    g = p.add_argument_group("data splits")
    g.add_argument("--train-split", help="split name (default train)")
    g.add_argument("--val-split", help="split name (default val); 'none' trains without validation")
    g.add_argument("--val-fraction", type=float, help="project dataset: held-out share of reviewed images")
    g.add_argument("--train-limit", type=int, help="use only the first N training images")
    g.add_argument("--val-limit", type=int, help="use only the first N validation images")
    a = p.add_argument_group("augmentation")
    a.add_argument(
        "--crop-size", type=_size, help="random crop H,W (or one number); smaller images are padded"
    )
    a.add_argument("--base-scale", type=float, help="resize every image by this factor first (0.5 = half)")
    a.add_argument("--scale-range", type=_floats, help="random scale min,max (default 0.5,2.0)")
    m = p.add_argument_group("model")
    m.add_argument("--model", choices=["danet", "fcn"], help="architecture (fcn: dilated-FCN baseline)")
    m.add_argument("--depth", type=int, choices=[18, 34, 50, 101], help="ResNet depth")
    m.add_argument("--aux", action=argparse.BooleanOptionalAction, default=None, help="FCN aux head (0.4)")
    m.add_argument("--pam-impl", choices=["efficient", "naive"], help="position attention implementation")
    m.add_argument("--init-checkpoint", help="start from the weights of a native checkpoint")
    o = p.add_argument_group("optimisation")
    o.add_argument("--batch-size", type=int, help="images per process per iteration")
    o.add_argument("--max-iters", type=int, help="number of iterations")
    o.add_argument("--epochs", type=int, help="train this many epochs instead of --max-iters")
    o.add_argument("--lr", type=float, help="base learning rate (poly decay, power 0.9)")
    o.add_argument("--head-lr-mult", type=float, help="head learning rate multiplier (paper: 10)")
    o.add_argument("--warmup-iters", type=int, help="linear warm-up iterations")
    o.add_argument("--weight-decay", type=float)
    o.add_argument("--precision", choices=PRECISIONS, help="autocast precision")
    o.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None)
    o.add_argument("--grad-clip", type=float, help="clip the gradient norm to this value")
    o.add_argument("--sync-bn", action=argparse.BooleanOptionalAction, default=None, help="DDP SyncBatchNorm")
    v = p.add_argument_group("evaluation")
    v.add_argument("--val-interval", type=int, help="iterations between validations (0: at the end only)")
    v.add_argument("--eval-mode", choices=MODES)
    v.add_argument("--eval-scales", type=_floats, help="multiscale factors, e.g. 0.5 or 0.75,1,1.25")
    v.add_argument("--eval-flip", action=argparse.BooleanOptionalAction, default=None)
    r = p.add_argument_group("run")
    r.add_argument("--run-dir", help="output folder (default runs/<model>-<dataset>-<time>)")
    r.add_argument("--seed", type=int)
    r.add_argument("--device", help="auto, cpu, cuda, cuda:1")
    r.add_argument("--threads", type=int, help="torch CPU threads (set_num_threads)")
    r.add_argument("--workers", type=int, dest="num_workers", help="DataLoader worker processes")
    r.add_argument("--log-interval", type=int, help="iterations per train record")
    r.add_argument("--max-time", type=float, dest="max_time_s", help="time budget in seconds")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")


_DIRECT_KEYS = (
    "dataset data_root label_set void_ids mask_dir_suffix train_split val_fraction train_limit val_limit "
    "crop_size base_scale scale_range model init_checkpoint batch_size max_iters epochs lr head_lr_mult "
    "warmup_iters weight_decay precision channels_last grad_clip sync_bn val_interval eval_mode eval_scales "
    "eval_flip run_dir seed device threads num_workers log_interval max_time_s"
).split()


def config_from_args(args: argparse.Namespace) -> Any:
    """Defaults < --config (or the resumed run's config) < command-line options < --set."""
    from danet_core.training import TrainConfig
    from danet_core.training.config import parse_set_option

    if args.config is not None:
        cfg = TrainConfig.load(args.config)
    elif args.resume:
        cfg = _resumed_config(args.resume)
    else:
        cfg = TrainConfig()
    over: dict[str, Any] = {k: getattr(args, k, None) for k in _DIRECT_KEYS}
    nulls: list[str] = []
    if args.val_split is not None:
        if args.val_split.lower() == "none":
            nulls.append("val_split")
        else:
            over["val_split"] = args.val_split
    model_opts = {k: getattr(args, k) for k in ("depth", "aux", "pam_impl") if getattr(args, k) is not None}
    if model_opts:
        over["model_options"] = model_opts
    if args.resume is not None:
        over["resume"] = args.resume or args.run_dir or cfg.run_dir
        if not over["resume"]:
            raise ValueError("--resume without a path needs --run-dir (or run_dir in --config)")
    for item in args.set:
        key, value = parse_set_option(item)
        if value is None:
            nulls.append(key)
        else:
            over[key] = value
    return cfg.with_overrides(over, nulls=nulls)


def _resumed_config(resume: str) -> Any:
    """The config stored in the run being resumed (so ``--resume DIR`` alone is enough)."""
    from danet_core.training import TrainConfig
    from danet_core.training.layout import CONFIG_FILE, RunLayout

    path = Path(resume)
    cfg_file = (RunLayout(path) if path.is_dir() else RunLayout.of_checkpoint(path)).config
    if not cfg_file.is_file():
        raise FileNotFoundError(f"{cfg_file}: no {CONFIG_FILE} of the run to resume; give --config too")
    cfg = TrainConfig.load(cfg_file)
    if not cfg.run_dir:
        cfg.run_dir = str(cfg_file.parent)
    return cfg


class _Bar:
    """tqdm bars for the phases of a run (checking data, iterations, validation)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: tqdm | None = None
        self.phase = ""

    def __call__(self, done: int, total: int, message: str) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        phase = message.split(" ")[0]
        if self.bar is None or phase != self.phase or total != self.bar.total:
            self.close()
            self.phase = phase
            self.bar = tqdm(total=total, desc=phase, dynamic_ncols=True, leave=phase == "iteration")
        self.bar.n = done
        self.bar.set_postfix_str(message[len(phase) :].strip()[:60], refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def run_train(args: argparse.Namespace) -> int:
    from danet_core.jobs import Cancelled
    from danet_core.training import train
    from danet_core.training.distributed import env_dist_info

    cfg = config_from_args(args)
    bar = _Bar(enabled=not args.no_progress and env_dist_info().is_main and sys.stderr.isatty())
    try:
        result = train(cfg, progress=bar)
    except Cancelled as exc:
        bar.close()
        print(f"danet: {exc}", file=sys.stderr)
        return 130
    finally:
        bar.close()
    if env_dist_info().is_main:
        summary = {
            "run_dir": str(result.run_dir),
            "status": result.status,
            "best": str(result.best) if result.best else None,
            "last": str(result.last),
            "iterations": result.iterations,
            "metrics": result.metrics,
        }
        print(json.dumps(summary))
    return 0


# ---------------------------------------------------------------------------------------------- eval
def _add_eval_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="native checkpoint (.pt), e.g. runs/x/checkpoints/best.pt")
    _add_data_arguments(p)
    p.add_argument("--split", default="val", help="split to score (default val)")
    p.add_argument("--limit", type=int, help="score only the first N images")
    p.add_argument("--eval-mode", default="whole", choices=MODES)
    p.add_argument("--eval-scales", type=_floats, default=[1.0], help="multiscale factors, e.g. 0.75,1,1.25")
    p.add_argument("--eval-flip", action="store_true", help="also average the flipped image")
    p.add_argument("--crop", type=_size, help="sliding window H,W")
    p.add_argument("--stride", type=_size, help="sliding stride H,W (default 2/3 of the window)")
    p.add_argument("--precision", default="fp32", choices=PRECISIONS)
    p.add_argument("--device", default=DEVICE_AUTO, help=DEVICE_HELP)
    p.add_argument("--threads", type=int)
    p.add_argument("--out", type=Path, help="also write the JSON here")
    p.add_argument("--no-progress", action="store_true")


def run_eval(args: argparse.Namespace) -> int:
    import torch

    from danet_core.files import atomic_write_bytes
    from danet_core.training.evaluation import evaluate_checkpoint

    if args.threads:
        torch.set_num_threads(args.threads)
    bar = _Bar(enabled=not args.no_progress and sys.stderr.isatty())
    try:
        result = evaluate_checkpoint(
            args.checkpoint, dataset=args.dataset or "folder", data_root=args.data_root or "",
            split=args.split, label_set=args.label_set or "camvid", void_ids=args.void_ids or [],
            mask_dir_suffix=args.mask_dir_suffix or "annot", limit=args.limit, options=PredictOptions(
                mode=args.eval_mode, scales=tuple(args.eval_scales), flip=args.eval_flip, crop=args.crop,
                stride=args.stride, precision=args.precision, device=args.device,
            ), progress=bar,
        )  # fmt: skip
    finally:
        bar.close()
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        atomic_write_bytes(args.out, (text + "\n").encode())
    return 0
