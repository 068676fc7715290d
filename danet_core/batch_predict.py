"""Predict a list of images into an output folder: resumable, shardable across processes, with a report.

Used by ``danet predict`` (one process, or one per GPU under ``torchrun``). For each input ``NAME.ext``
the outputs are ``NAME_confidence.png`` (16-bit, max softmax x 65535) unless disabled, ``NAME_color.png``
with a palette, and ``NAME.png`` (8-bit model class ids) **last**: every write is atomic, so an image
whose ``NAME.png`` exists is complete and a rerun skips it (resume after a kill, a full disk or a
failed node). Shards are ``images[rank::world]``: deterministic, so every rank of a rerun sees the same
list and skips what any earlier run finished.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from danet_core.images import IMAGE_EXTENSIONS, ImageReadError, atomic_save_png
from danet_core.jobs import ProgressFn, StopFn, check_stop

if TYPE_CHECKING:
    from danet_core.inference import Prediction, Predictor

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class PredictReport:
    """What one process did. ``fatal``: the error that stopped it (a write that failed), else None."""

    written: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    fatal: str | None = None

    def merge(self, other: PredictReport) -> PredictReport:
        return PredictReport(
            self.written + other.written,
            self.skipped + other.skipped,
            self.failed + other.failed,
            self.fatal or other.fatal,
        )


def shard(items: Sequence[T], rank: int, world: int) -> list[T]:
    """Rank ``rank``'s share of ``items`` out of ``world`` processes (round robin, stable)."""
    if not 0 <= rank < world:
        raise ValueError(f"rank {rank} of {world} processes; expected 0 <= rank < world")
    return list(items[rank::world])


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
            for ln in (ln.strip() for ln in item.read_text().splitlines()):
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


def label_file(out: Path, stem: Path) -> Path:
    return out / f"{stem}.png"


def write_outputs(
    out: Path, stem: Path, pred: Prediction, palette: np.ndarray | None, confidence: bool
) -> None:
    """Confidence and colour first, the label PNG last (it marks the image as done).

    A failed write (disk full, no permission) raises OSError naming the file that could not be written.
    """
    files: list[tuple[Path, np.ndarray, np.ndarray | None]] = []
    if confidence:
        conf = (pred.confidence * 65535.0 + 0.5).astype(np.uint16)
        files.append((out / f"{stem}_confidence.png", conf, None))
    if palette is not None:
        files.append((out / f"{stem}_color.png", pred.label, palette))
    files.append((label_file(out, stem), pred.label, None))
    for path, data, pal in files:
        try:
            atomic_save_png(path, data, palette=pal)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise OSError(exc.errno, f"{path}: cannot write the prediction ({reason})") from exc


def predict_images(
    predictor: Predictor,
    images: Sequence[tuple[Path, Path]],
    out: Path,
    *,
    palette: np.ndarray | None = None,
    confidence: bool = True,
    resume: bool = True,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> PredictReport:
    """Predict ``images`` ((path, stem) pairs) into ``out``; unreadable images are reported, not fatal.

    With ``resume`` an image whose label PNG exists is skipped. A write error stops the run (the next
    writes would fail too) and is returned as ``report.fatal``, so that every rank still reports.
    """
    report = PredictReport()
    for i, (path, stem) in enumerate(images):
        check_stop(should_stop)
        if progress is not None:
            progress(i, len(images), str(path))
        if resume and label_file(out, stem).is_file():
            report.skipped += 1
            continue
        try:
            pred = predictor.predict(path)
        except ImageReadError as exc:
            log.error("%s", exc)
            report.failed.append((str(path), str(exc)))
            continue
        try:
            write_outputs(out, stem, pred, palette, confidence)
        except OSError as exc:
            report.fatal = f"{exc.strerror or exc}; {report.written} images written, rerun to resume"
            log.error("%s", report.fatal)
            break
        report.written += 1
    if progress is not None:
        progress(len(images), len(images), "done")
    return report
