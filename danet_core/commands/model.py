"""``danet import-checkpoint`` and ``danet predict``: thin front-ends of checkpoints and inference.

predict writes, for each input image ``NAME.ext`` (folder structure kept under --out):
``NAME.png`` (8-bit label PNG of model class ids), ``NAME_confidence.png`` (16-bit PNG, max softmax
x 65535) unless --no-confidence, and ``NAME_color.png`` (the classes' colours) with --color.
An unreadable image is reported and skipped; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np

from danet_core.images import IMAGE_EXTENSIONS, atomic_save_png
from danet_core.options import add_predict_arguments, int_list, predict_options_from_args

if TYPE_CHECKING:
    from danet_core.inference import Prediction, Predictor
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


def collect_images(inputs: list[Path]) -> list[tuple[Path, Path]]:
    """(image path, output stem relative to --out) for files, folders (recursive) and .txt lists."""
    found: list[tuple[Path, Path]] = []
    for item in inputs:
        if item.is_dir():
            for p in sorted(item.rglob("*")):
                if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS:
                    found.append((p, p.relative_to(item).with_suffix("")))
        elif item.suffix.lower() == ".txt":
            if not item.is_file():
                raise ValueError(f"{item}: no such list file")
            lines = [ln.strip() for ln in item.read_text().splitlines()]
            for ln in lines:
                if ln and not ln.startswith("#"):
                    p = Path(ln) if Path(ln).is_absolute() else item.parent / ln
                    found.append((p, Path(p.stem)))
        elif item.is_file() or item.suffix.lower() in IMAGE_EXTENSIONS:
            found.append((item, Path(item.stem)))
        else:
            raise ValueError(f"{item}: not an image file, folder or .txt list")
    stems: dict[Path, Path] = {}
    for path, stem in found:
        if stem in stems and stems[stem] != path:
            raise ValueError(f"{path} and {stems[stem]} would both write {stem}.png; predict them separately")
        stems[stem] = path
    if not found:
        raise ValueError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) found in {[str(i) for i in inputs]}")
    return found


def _write_outputs(
    out: Path, stem: Path, pred: Prediction, palette: np.ndarray | None, confidence: bool
) -> None:
    atomic_save_png(out / f"{stem}.png", pred.label)
    if confidence:
        atomic_save_png(out / f"{stem}_confidence.png", (pred.confidence * 65535.0 + 0.5).astype(np.uint16))
    if palette is not None:
        atomic_save_png(out / f"{stem}_color.png", pred.label, palette=palette)


def _predictor(args: argparse.Namespace) -> Predictor:
    from danet_core.checkpoints import load_model
    from danet_core.inference import Predictor

    return Predictor(load_model(args.checkpoint, source=args.source), predict_options_from_args(args))


def run_predict(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from danet_core.images import ImageReadError

    images = collect_images(args.inputs)
    predictor = _predictor(args)
    palette = None
    if args.color:
        palette = np.zeros((256, 3), np.uint8)
        model = cast("Segmenter", predictor.model)  # from load_model (in _predictor): it carries .meta
        for i, c in enumerate(model.meta.classes):
            palette[i] = c["color"]
    failed = []
    for path, stem in tqdm(images, desc="predict", unit="img"):
        try:
            pred = predictor.predict(path)
        except ImageReadError as exc:
            log.error("%s", exc)
            failed.append(path)
            continue
        _write_outputs(args.out, stem, pred, palette, not args.no_confidence)
    log.info("wrote %d predictions to %s", len(images) - len(failed), args.out)
    if failed:
        log.error("%d images could not be read: %s", len(failed), ", ".join(str(p) for p in failed[:5]))
        return 1
    return 0
