"""Import Cityscapes ground truth (``*_gtFine_labelIds.png``, or ``*_gtFine_polygons.json`` when that is
all there is) into a project whose label set is Cityscapes.

Files are matched to project images by their Cityscapes key ``<city>_<seq>_<frame>`` (the image file
name without ``_leftImg8bit``), or through the ``mapping.csv`` of a ``danet export`` (generated
names). labelIds are taken as they are (project masks store label ids); polygons are rasterised
exactly as cityscapesScripts' json2labelImg does (PIL fill in list order, ``...group`` labels as
their class, negative ids such as ``license plate`` skipped, deleted objects skipped). Images that
already have a mask are kept unless ``overwrite`` is set (see :mod:`danet_core.formats.sources`).
"""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from danet_core.formats.cityscapes_labels import NAME_TO_LABEL, is_cityscapes_set
from danet_core.formats.common import BatchReport, FormatError
from danet_core.formats.polygons import PolygonError, check_declared_size, draw_polygons, parse_points
from danet_core.formats.sources import LabelSource, import_from
from danet_core.images import load_mask_png
from danet_core.project import ImageRecord, Project

GT_RE = re.compile(r"^(?P<key>.+?)_(?:gtFine|gtCoarse)_(?P<kind>labelIds\.png|polygons\.json)$")


def find_ground_truth(gt_root: Path) -> dict[str, Path]:
    """key -> the labelIds PNG, or the polygons JSON when no labelIds exists for that key."""
    found: dict[str, Path] = {}
    for dirpath, _dirs, files in os.walk(gt_root):
        for name in sorted(files):
            m = GT_RE.match(name)
            if not m:
                continue
            key = m["key"]
            if m["kind"] == "labelIds.png" or key not in found:
                found[key] = Path(dirpath) / name
    return dict(sorted(found.items()))


def read_polygons(path: Path, image_size: tuple[int, int] | None = None) -> np.ndarray:
    """Rasterise a Cityscapes polygons JSON to label ids (json2labelImg semantics).

    ``image_size``: the (width, height) of the project image; a JSON declaring another size is refused
    before anything is allocated."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(f"{path}: malformed polygons JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise FormatError(f"{path}: expected a JSON object with imgHeight, imgWidth and objects")
    h, w, objects = data.get("imgHeight"), data.get("imgWidth"), data.get("objects")
    if not (isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0 and isinstance(objects, list)):
        raise FormatError(f"{path}: expected positive integer imgHeight/imgWidth and an objects list")
    try:
        check_declared_size((w, h), image_size, str(path))
    except PolygonError as exc:
        raise FormatError(str(exc)) from exc
    polygons = []
    for n, obj in enumerate(objects):
        if not isinstance(obj, dict) or not isinstance(obj.get("label"), str):
            raise FormatError(f"{path}: object #{n} has no label")
        if obj.get("deleted"):
            continue
        label = obj["label"]
        if label not in NAME_TO_LABEL and label.endswith("group"):
            label = label[: -len("group")]
        if label not in NAME_TO_LABEL:
            raise FormatError(f"{path}: object #{n} has unknown Cityscapes label {obj['label']!r}")
        if NAME_TO_LABEL[label].id < 0:
            continue
        try:
            pts = parse_points(obj.get("polygon"), w, h)
        except PolygonError as exc:
            raise FormatError(f"{path}: object #{n} ({label}) has a malformed polygon: {exc}") from exc
        polygons.append((NAME_TO_LABEL[label].id, pts))
    return draw_polygons(polygons, h, w, background=0)


def read_label_ids(path: Path) -> np.ndarray:
    ids = load_mask_png(path)
    bad = sorted(set(np.unique(ids).tolist()) - set(range(34)))
    if bad:
        raise FormatError(f"{path}: values {bad[:10]} are not Cityscapes label ids (0..33)")
    return ids


def read_name_mapping(gt_root: Path) -> dict[str, str]:
    """Cityscapes name -> source image path from the ``mapping.csv`` our exporter writes beside
    ``gtFine/`` (looked for in ``gt_root`` and its parent), so an export with generated names imports
    back into the project it came from."""
    for folder in (gt_root, gt_root.parent):
        path = folder / "mapping.csv"
        if path.is_file():
            try:
                with open(path, encoding="utf-8", newline="") as fh:
                    return {row["cityscapes_name"]: row["source"] for row in csv.DictReader(fh)}
            except (UnicodeDecodeError, KeyError, csv.Error) as exc:
                raise FormatError(f"{path}: not a mapping written by danet export ({exc})") from exc
    return {}


def _image_key(rec: ImageRecord) -> str:
    stem = Path(rec.rel_path).stem
    return stem[: -len("_leftImg8bit")] if stem.endswith("_leftImg8bit") else stem


class CityscapesSource(LabelSource):
    """The ground truth under a gtFine folder (one file per key, see :func:`find_ground_truth`),
    matched by Cityscapes key or through a ``mapping.csv``; needs a Cityscapes label set."""

    expected = "a Cityscapes gtFine folder"

    def __init__(self, project: Project, folder: str | os.PathLike[str]) -> None:
        super().__init__(project, folder)
        if not is_cityscapes_set(project.label_set):
            raise FormatError(
                f"project label set {project.label_set.name!r} is not Cityscapes; cannot import labelIds"
            )
        self.by_key: dict[str, ImageRecord] = {}
        for rec in project.images():
            self.by_key.setdefault(_image_key(rec), rec)
        self.renamed = read_name_mapping(self.root)

    def files(self) -> list[Path]:
        return list(find_ground_truth(self.root).values())

    def match(self, path: Path) -> tuple[ImageRecord, None]:
        m = GT_RE.match(path.name)
        key = m["key"] if m else path.stem
        rec = self.by_key.get(key)
        if rec is None and key in self.renamed:
            rec = self.project.find(self.renamed[key])
        if rec is None:
            raise FormatError(f"{path}: no project image named {key}_leftImg8bit (or {key})")
        return rec, None

    def read(self, path: Path, record: ImageRecord, content: None) -> np.ndarray:
        if path.name.endswith(".png"):
            return read_label_ids(path)  # label ids are the Cityscapes mask indices
        return read_polygons(path, self.project.image_size(record.id))


def import_cityscapes(project: Project, gt_root: str | os.PathLike[str], **options: Any) -> BatchReport:
    """Import every ground-truth file under ``gt_root`` whose key names a project image (``options``:
    those of :func:`danet_core.formats.sources.import_from`)."""
    return import_from(project, CityscapesSource(project, gt_root), **options)
