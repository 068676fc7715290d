"""labelme JSON: one ``<image stem>.json`` per image with polygon shapes, and back to masks.

Export: every connected region of the mask becomes one ``polygon`` shape (label = class name),
in painter's order (see :mod:`danet_core.formats.polygons`); unlabeled pixels inside a region's hole
are written as a ``__ignore__`` shape (labelme's name for ignored pixels). ``imagePath`` is the
path of the source image relative to the JSON file (the image is not copied), ``imageData`` null.

Import: shapes are filled in file order the way labelme does (PIL polygon with outline), starting
from unlabeled. ``polygon``, ``rectangle`` and ``circle`` are areas; ``line``, ``linestrip`` and
``point`` have no area and are skipped (counted in the report). ``__ignore__`` and
``_background_`` mean unlabeled unless the label set has a class of that name; any other unknown
label is an error for that file. A JSON is matched to a project image by its ``imagePath``, else by
its relative path or file stem (see :mod:`danet_core.formats.masks`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

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
    write_bytes,
)
from danet_core.formats.polygons import PolygonError, check_declared_size, mask_to_regions, parse_points
from danet_core.formats.sources import LabelSource, import_from
from danet_core.jobs import ProgressFn, StopFn
from danet_core.labels import LabelSet
from danet_core.project import ImageRecord, ImageStatus, Project

LABELME_VERSION = "5.4.1"
IGNORE_LABELS = ("__ignore__", "_background_")
AREA_SHAPES = ("polygon", "rectangle", "circle")


def mask_to_labelme(mask: np.ndarray, label_set: LabelSet, image_path: str) -> dict[str, Any]:
    """labelme document of a mask (uint8 H x W label-set indices)."""
    h, w = mask.shape
    shapes: list[dict[str, Any]] = []
    for region in mask_to_regions(mask, background=label_set.ignore_index):
        name = (
            IGNORE_LABELS[0]
            if region.value == label_set.ignore_index
            else label_set.by_index(region.value).name
        )
        shapes.append(
            {
                "label": name,
                "points": [[float(x), float(y)] for x, y in region.points],
                "group_id": None,
                "description": "",
                "shape_type": "polygon",
                "flags": {},
                "mask": None,
            }
        )
    return {
        "version": LABELME_VERSION,
        "flags": {},
        "shapes": shapes,
        "imagePath": image_path,
        "imageData": None,
        "imageHeight": int(h),
        "imageWidth": int(w),
    }


def _shape_points(shape: dict[str, Any], where: str, size: tuple[int, int]) -> list[tuple[float, float]]:
    try:
        pts = parse_points(shape.get("points"), *size)
    except PolygonError as exc:
        raise FormatError(f"{where}: {exc}") from exc
    if not pts:
        raise FormatError(f"{where}: no points")
    return pts


def _draw_shape(
    drawer: ImageDraw.ImageDraw, kind: str, pts: list[tuple[float, float]], value: int, where: str
) -> None:
    if kind == "polygon":
        drawer.polygon(pts if len(pts) > 1 else pts * 2, fill=value, outline=value)
    elif kind == "rectangle":
        if len(pts) != 2:
            raise FormatError(f"{where}: a rectangle needs 2 points, got {len(pts)}")
        (x0, y0), (x1, y1) = pts
        drawer.rectangle([min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)], fill=value, outline=value)
    else:  # circle: centre and a point on the circle
        if len(pts) != 2:
            raise FormatError(f"{where}: a circle needs 2 points, got {len(pts)}")
        (cx, cy), (px, py) = pts
        r = float(np.hypot(cx - px, cy - py))
        drawer.ellipse([cx - r, cy - r, cx + r, cy + r], fill=value, outline=value)


def labelme_to_mask(
    doc: Any, label_set: LabelSet, source: str, image_size: tuple[int, int] | None = None
) -> tuple[np.ndarray, int]:
    """(mask uint8 H x W of label-set indices, number of skipped non-area shapes).

    ``image_size``: the (width, height) of the project image; a JSON declaring another size is refused
    before the mask is allocated."""
    if not isinstance(doc, dict):
        raise FormatError(f"{source}: expected a labelme JSON object")
    h, w, shapes = doc.get("imageHeight"), doc.get("imageWidth"), doc.get("shapes")
    if not (isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0):
        raise FormatError(f"{source}: imageHeight/imageWidth must be positive integers")
    if not isinstance(shapes, list):
        raise FormatError(f"{source}: 'shapes' must be a list")
    try:
        check_declared_size((w, h), image_size, source)
    except PolygonError as exc:
        raise FormatError(str(exc)) from exc
    img = Image.new("L", (w, h), label_set.ignore_index)
    drawer = ImageDraw.Draw(img)
    skipped = 0
    for n, shape in enumerate(shapes):
        where = f"{source}: shape #{n}"
        if not isinstance(shape, dict) or not isinstance(shape.get("label"), str):
            raise FormatError(f"{where}: expected an object with a string 'label'")
        kind = shape.get("shape_type") or "polygon"
        if kind not in AREA_SHAPES:
            skipped += 1
            continue
        label = shape["label"]
        try:
            value = label_set.by_name(label).index
        except KeyError:
            if label not in IGNORE_LABELS:
                raise FormatError(f"{where}: label {label!r} is not a class of {label_set.name!r}") from None
            value = label_set.ignore_index
        _draw_shape(drawer, kind, _shape_points(shape, where, (w, h)), value, where)
    return np.asarray(img, dtype=np.uint8).copy(), skipped


def export_labelme(
    project: Project,
    out_dir: str | os.PathLike[str],
    *,
    statuses: Iterable[ImageStatus | str] | None = (ImageStatus.REVIEWED,),
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> BatchReport:
    """Write ``<out>/<image rel path>.json`` (extension replaced) for every exported mask."""
    out = prepare_export_folder(out_dir)
    records = export_records(project, statuses)
    report = BatchReport()
    used: set[Path] = set()

    def handle(rec: ImageRecord) -> bool:
        target = safe_output_path(out, str(PurePosixPath(rec.rel_path).with_suffix(".json")))
        if target in used:
            raise FormatError(f"{rec.rel_path}: another image already exported to {target.name}")
        used.add(target)
        mask = export_mask(project, rec)
        image_rel = os.path.relpath(project.image_path(rec.id), target.parent).replace(os.sep, "/")
        doc = mask_to_labelme(mask, project.label_set, image_rel)
        write_bytes(report, target, (json.dumps(doc, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))
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


def read_labelme(path: Path) -> Any:
    """The parsed JSON document of ``path`` (malformed -> FormatError naming the file)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(f"{path}: malformed labelme JSON ({exc})") from exc


class LabelmeSource(LabelSource):
    """Every ``*.json`` under the folder, matched by its ``imagePath``, else by relative path or stem."""

    expected = "a folder of labelme JSON files"

    def __init__(self, project: Project, folder: str | os.PathLike[str]) -> None:
        super().__init__(project, folder)
        self.by_rel, self.by_stem = match_images(project)
        self.details["skipped_shapes"] = 0

    def files(self) -> list[Path]:
        return sorted(p for p in self.root.rglob("*.json") if p.is_file())

    def match(self, path: Path) -> tuple[ImageRecord, Any]:
        doc = read_labelme(path)
        image_path = doc.get("imagePath") if isinstance(doc, dict) else None
        if isinstance(image_path, str) and image_path:
            candidate = os.path.normpath(os.path.join(path.parent, image_path))
            rel = os.path.relpath(candidate, self.project.image_root).replace(os.sep, "/")
            if not rel.startswith("../"):
                rec = self.project.find(rel)
                if rec is not None:
                    return rec, doc
        rel_no_ext = path.relative_to(self.root).with_suffix("").as_posix()
        return find_record(rel_no_ext, self.by_rel, self.by_stem, path), doc

    def read(self, path: Path, record: ImageRecord, content: Any) -> np.ndarray:
        size = self.project.image_size(record.id)
        mask, skipped = labelme_to_mask(content, self.project.label_set, str(path), size)
        self.details["skipped_shapes"] += skipped
        return mask


def import_labelme(project: Project, json_dir: str | os.PathLike[str], **options: Any) -> BatchReport:
    """Import every ``*.json`` under ``json_dir`` into the matching project image (``options``: those
    of :func:`danet_core.formats.sources.import_from`)."""
    return import_from(project, LabelmeSource(project, json_dir), **options)
