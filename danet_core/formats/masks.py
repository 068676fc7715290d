"""Index-mask folders: indexed-palette PNGs (Pascal VOC style) and plain 8-bit masks (CamVid style).

Both hold the label set's *export ids* (VOC: 0..20 and 255 void; CamVid: 0..10 and 11 void;
Cityscapes: label ids); unlabeled pixels are written as ``unlabeled_export_id``. A palette PNG
carries the class colours in its palette (VOC's colour map for the VOC set), a plain mask none.
Export writes ``<out>/<image rel path with .png>``. Import matches a mask to an image by relative
path without extension, else by a unique file name stem (so ``trainannot/x.png`` finds
``train/x.png``); ids that are not in the label set are an error for that file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from danet_core.formats.common import (
    BatchReport,
    FormatError,
    export_mask,
    export_records,
    find_record,
    match_images,
    prepare_export_folder,
    run_items,
    safe_output_path,
    write_png,
)
from danet_core.formats.sources import LabelSource, import_from
from danet_core.images import load_mask_png
from danet_core.jobs import ProgressFn, StopFn
from danet_core.labels import LabelSet
from danet_core.project import ImageRecord, ImageStatus, Project


def export_palette(label_set: LabelSet) -> np.ndarray:
    """256 x 3: export id -> colour."""
    pal = np.zeros((256, 3), np.uint8)
    pal[:] = label_set.ignore_color
    for c in label_set.classes:
        pal[c.export_id] = c.color
    return pal


def export_masks(
    project: Project,
    out_dir: str | os.PathLike[str],
    *,
    palette: bool,
    statuses: Iterable[ImageStatus | str] | None = (ImageStatus.REVIEWED,),
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> BatchReport:
    """Write every exported mask as an 8-bit PNG of export ids (``palette=True``: with the colours)."""
    out = prepare_export_folder(out_dir)
    lut = project.label_set.export_lut()
    pal = export_palette(project.label_set) if palette else None
    records = export_records(project, statuses)
    report = BatchReport()
    used: set[Path] = set()

    def handle(rec: ImageRecord) -> bool:
        target = safe_output_path(out, str(PurePosixPath(rec.rel_path).with_suffix(".png")))
        if target in used:
            raise FormatError(f"{rec.rel_path}: another image already exported to {target.name}")
        used.add(target)
        write_png(report, target, lut[export_mask(project, rec)], palette=pal)
        return True

    return run_items(
        records,
        len(records),
        handle,
        lambda r: r.rel_path,
        report,
        progress=progress,
        should_stop=should_stop,
    )


def read_id_mask(path: Path, label_set: LabelSet) -> np.ndarray:
    """An 8-bit id/palette PNG converted to label-set indices (unknown ids -> FormatError)."""
    ids = load_mask_png(path)
    lut, known = label_set.import_lut()
    present = np.flatnonzero(np.bincount(ids.ravel(), minlength=256))
    bad = [int(v) for v in present if not known[v]]
    if bad:
        raise FormatError(f"{path}: ids {bad[:10]} are not in label set {label_set.name!r}")
    return lut[ids]


class MaskSource(LabelSource):
    """Every ``*.png`` under the folder, matched by relative path without extension, else by stem."""

    expected = "a folder of mask PNGs"

    def __init__(self, project: Project, folder: str | os.PathLike[str]) -> None:
        super().__init__(project, folder)
        self.by_rel, self.by_stem = match_images(project)

    def files(self) -> list[Path]:
        return sorted(p for p in self.root.rglob("*") if p.suffix.lower() == ".png" and p.is_file())

    def match(self, path: Path) -> tuple[ImageRecord, None]:
        rel = path.relative_to(self.root).with_suffix("").as_posix()
        return find_record(rel, self.by_rel, self.by_stem, path), None

    def read(self, path: Path, record: ImageRecord, content: None) -> np.ndarray:
        return read_id_mask(path, self.project.label_set)


def import_masks(project: Project, mask_dir: str | os.PathLike[str], **options: Any) -> BatchReport:
    """Import every PNG under ``mask_dir`` (palette or plain 8-bit export ids) into the matching image
    (``options``: those of :func:`danet_core.formats.sources.import_from`)."""
    return import_from(project, MaskSource(project, mask_dir), **options)
