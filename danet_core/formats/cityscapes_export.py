"""Cityscapes export, laid out and encoded exactly as cityscapesScripts expects.

For each exported image ``<city>_<seq>_<frame>``::

    leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png
    gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png       8-bit label ids
                                                   _gtFine_labelTrainIds.png  labelIds through the table
                                                   _gtFine_color.png          RGBA, table colours
                                                   _gtFine_instanceIds.png    16-bit: id*1000+k / id
                                                   _gtFine_polygons.json      painter's order
    mapping.csv                                    source image -> split, Cityscapes name

Decisions (docs/formats.md): labelTrainIds are derived from labelIds through the table (never
re-rasterised); one instance per 4-connected region of an instance class (the project has no
instance layer), numbered k = 0, 1, ... per class in the order the regions are found; unlabeled
pixels (255) are written as id 0 ``unlabeled``; images whose name is not ``<city>_<6 digits>_<6
digits>[_leftImg8bit]`` get a generated name (city = the folder name without underscores, or the
``city`` option; seq 000000; frame counting up), recorded in ``mapping.csv``. Label sets other than
Cityscapes need a mapping class name -> Cityscapes label (``CAMVID_TO_CITYSCAPES`` is built in);
without one the export is refused before anything is written.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from danet_core.formats.cityscapes_labels import (
    COLOR_LUT,
    HAS_INSTANCES,
    ID_TO_LABEL,
    TRAIN_ID_LUT,
    cityscapes_id_lut,
    load_mapping,
)
from danet_core.formats.common import (
    BatchReport,
    FormatError,
    check_plain_name,
    export_mask,
    export_records,
    prepare_export_folder,
    run_items,
    safe_output_path,
    write_bytes,
    write_png,
)
from danet_core.formats.polygons import mask_to_regions
from danet_core.images import encode_png, load_image
from danet_core.jobs import ProgressFn, StopFn
from danet_core.project import ImageRecord, ImageStatus, Project

NAME_RE = re.compile(r"^(?P<city>[A-Za-z0-9-]+)_(?P<seq>\d{6})_(?P<frame>\d{6})(?:_leftImg8bit)?$")


# -- names and splits ------------------------------------------------------------------------------
def parse_cityscapes_name(rel_path: str) -> tuple[str, str, str] | None:
    """(city, seq, frame) when the file name follows the Cityscapes pattern, else None."""
    m = NAME_RE.match(Path(rel_path).stem)
    return (m["city"], m["seq"], m["frame"]) if m else None


def _city_from_folder(rel_path: str, root_name: str = "") -> str:
    """The image's folder name (the image root's name for top-level images), letters and digits only."""
    parent = Path(rel_path).parent.name or root_name
    city = re.sub(r"[^a-z0-9]", "", parent.lower())
    return city or "danet"


CITY_RE = re.compile(r"[A-Za-z0-9-]+")


def parse_split(text: str) -> str | dict[str, float]:
    """The split option as the CLI (``--split``) and the app's export dialog write it: ``auto``, a
    plain name, or ``NAME=FRACTION[,NAME=FRACTION...]`` -> a dict, checked here so that a typo is
    refused before anything is written (the one parser both use)."""
    text = text.strip()
    if "=" not in text:
        return "auto" if text in ("", "auto") else check_plain_name(text, "split")
    fractions: dict[str, float] = {}
    for part in text.split(","):
        name, _, value = (s.strip() for s in part.partition("="))
        try:
            fraction = float(value)
        except ValueError:
            fraction = -1.0
        if not name or name in fractions or not fraction >= 0 or fraction == float("inf"):
            raise FormatError(
                f"split {text!r}: expected auto, a name, or NAME=FRACTION[,NAME=FRACTION...] with "
                "distinct names and non-negative fractions, e.g. train=0.8,val=0.2"
            )
        fractions[check_plain_name(name, "split")] = fraction
    if sum(fractions.values()) <= 0:
        raise FormatError(f"split {text!r}: the fractions add up to 0; expected a positive sum")
    return fractions


def check_city(city: str | None) -> str | None:
    """``None`` (the folder name is used) or a city name Cityscapes' ``<city>_<seq>_<frame>`` allows."""
    if city is not None and not CITY_RE.fullmatch(city):
        raise FormatError(f"city {city!r}: expected letters, digits or '-' (no underscores or separators)")
    return city


def split_for(rel_path: str, split: str | dict[str, float]) -> str:
    """``"auto"`` (a train/val/test folder in the path, else train), a fixed name, or fractions
    ``{"train": 0.8, "val": 0.2}`` assigned by a stable hash of the relative path."""
    if isinstance(split, dict):
        total = sum(split.values())
        if total <= 0 or any(v < 0 for v in split.values()):
            raise FormatError(f"split fractions {split}: expected non-negative values with a positive sum")
        u = int(hashlib.sha1(rel_path.encode("utf-8")).hexdigest()[:8], 16) / 0x1_0000_0000
        acc = 0.0
        for name, frac in split.items():
            acc += frac / total
            if u < acc:
                return check_plain_name(name, "split")
        return check_plain_name(list(split)[-1], "split")
    if split == "auto":
        parts = rel_path.split("/")[:-1]
        return next((p for p in parts if p in ("train", "val", "test")), "train")
    return check_plain_name(split, "split")


@dataclass(frozen=True)
class PlannedName:
    record: ImageRecord
    split: str
    city: str
    stem: str  # <city>_<seq>_<frame>


def plan_names(
    records: Iterable[ImageRecord], split: str | dict[str, float], city: str | None, root_name: str = ""
) -> list[PlannedName]:
    """Cityscapes names for every record: kept when they follow the pattern, generated otherwise."""
    check_city(city)
    records = list(records)
    used: set[tuple[str, str]] = set()
    planned: dict[int, PlannedName] = {}
    for r in records:
        parsed = parse_cityscapes_name(r.rel_path)
        sp = split_for(r.rel_path, split)
        if parsed and (sp, "_".join(parsed)) not in used:
            used.add((sp, "_".join(parsed)))
            planned[r.id] = PlannedName(r, sp, parsed[0], "_".join(parsed))
    counters: dict[str, int] = {}
    for r in records:
        if r.id in planned:
            continue
        sp = split_for(r.rel_path, split)
        c = city or _city_from_folder(r.rel_path, root_name)
        while True:
            frame = counters.get(c, 0)
            counters[c] = frame + 1
            stem = f"{c}_000000_{frame:06d}"
            if (sp, stem) not in used:
                break
        used.add((sp, stem))
        planned[r.id] = PlannedName(r, sp, c, stem)
    return [planned[r.id] for r in records]


# -- encodings -------------------------------------------------------------------------------------
def instance_ids(label_ids: np.ndarray) -> np.ndarray:
    """uint16 H x W: id*1000+k for each 4-connected region of an instance class, the plain id elsewhere."""
    out = label_ids.astype(np.uint16)
    for value in np.flatnonzero(np.bincount(label_ids.ravel(), minlength=256)):
        if not HAS_INSTANCES[value]:
            continue
        n, comp = cv2.connectedComponents((label_ids == value).astype(np.uint8), connectivity=4)
        sel = comp > 0
        out[sel] = value * 1000 + (comp[sel] - 1)
    return out


def polygons_json(label_ids: np.ndarray) -> dict:
    """cityscapesScripts' annotation JSON of a label-id image, objects in painter's order."""
    h, w = label_ids.shape
    objects = [
        {"label": ID_TO_LABEL[r.value].name, "polygon": [[x, y] for x, y in r.points]}
        for r in mask_to_regions(label_ids, background=0)
    ]
    return {"imgHeight": int(h), "imgWidth": int(w), "objects": objects}


def color_image(label_ids: np.ndarray) -> np.ndarray:
    """RGBA uint8 H x W x 4 (json2labelImg's ``color`` encoding is RGBA, alpha 255)."""
    rgb = COLOR_LUT[label_ids]
    return np.concatenate([rgb, np.full(label_ids.shape + (1,), 255, np.uint8)], axis=2)


def left_image_bytes(path: Path, expected: tuple[int, int]) -> bytes:
    """The image as an 8-bit RGB PNG: copied as is when it already is one (no EXIF rotation)."""
    if path.suffix.lower() == ".png":
        try:
            with Image.open(path) as img:
                plain = img.mode == "RGB" and img.getexif().get(0x0112, 1) == 1 and img.size == expected
        except OSError:
            plain = False
        if plain:
            return path.read_bytes()
    rgb = load_image(path)
    if (rgb.shape[1], rgb.shape[0]) != expected:
        raise FormatError(
            f"{path}: image is {rgb.shape[1]}x{rgb.shape[0]}; the mask is {expected[0]}x{expected[1]}"
        )
    return encode_png(rgb)


def _export_one(project: Project, plan: PlannedName, lut: np.ndarray, out: Path, report: BatchReport) -> bool:
    rec = plan.record
    ids = lut[export_mask(project, rec)]
    h, w = ids.shape
    left = left_image_bytes(project.image_path(rec.id), (w, h))
    gt = f"gtFine/{plan.split}/{plan.city}/{plan.stem}_gtFine_"
    targets = {
        "left": safe_output_path(out, f"leftImg8bit/{plan.split}/{plan.city}/{plan.stem}_leftImg8bit.png"),
        "labelIds": safe_output_path(out, gt + "labelIds.png"),
        "labelTrainIds": safe_output_path(out, gt + "labelTrainIds.png"),
        "color": safe_output_path(out, gt + "color.png"),
        "instanceIds": safe_output_path(out, gt + "instanceIds.png"),
        "polygons": safe_output_path(out, gt + "polygons.json"),
    }
    write_bytes(report, targets["left"], left)
    write_png(report, targets["labelIds"], ids)
    write_png(report, targets["labelTrainIds"], TRAIN_ID_LUT[ids])
    write_png(report, targets["color"], color_image(ids))
    write_png(report, targets["instanceIds"], instance_ids(ids))
    write_bytes(
        report, targets["polygons"], (json.dumps(polygons_json(ids), indent=1) + "\n").encode("utf-8")
    )
    return True


def export_cityscapes(
    project: Project,
    out_dir: str | os.PathLike[str],
    *,
    split: str | dict[str, float] = "auto",
    city: str | None = None,
    mapping: dict[str, str | int] | str | None = None,
    statuses: Iterable[ImageStatus | str] | None = (ImageStatus.REVIEWED,),
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> BatchReport:
    """Export the masks of ``statuses`` (default: reviewed images) as a Cityscapes dataset in ``out_dir``."""
    lut = cityscapes_id_lut(project.label_set, load_mapping(mapping) if mapping is not None else None)
    plans = plan_names(export_records(project, statuses), split, city, project.image_root.name)
    out = prepare_export_folder(out_dir)
    report = BatchReport()
    exported: list[PlannedName] = []

    def handle(plan: PlannedName) -> bool:
        ok = _export_one(project, plan, lut, out, report)
        if ok:
            exported.append(plan)
        return ok

    try:
        run_items(
            plans,
            len(plans),
            handle,
            lambda p: p.record.rel_path,
            report,
            progress=progress,
            should_stop=should_stop,
        )
    finally:
        _write_mapping(out, exported, report)
    report.details["mapping_file"] = str(out / "mapping.csv")
    return report


MAPPING_HEADER = ["source", "split", "city", "cityscapes_name"]


def _read_mapping(path: Path) -> dict[str, list[str]]:
    """Rows of an existing ``mapping.csv`` by source (empty when there is none or it is unreadable)."""
    try:
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    except (OSError, UnicodeDecodeError, csv.Error):
        return {}
    if not rows or rows[0] != MAPPING_HEADER:
        return {}
    return {r[0]: r for r in rows[1:] if len(r) == len(MAPPING_HEADER)}


def _write_mapping(out: Path, exported: list[PlannedName], report: BatchReport) -> None:
    """Merge this run's names into ``mapping.csv`` (atomically): a cancelled or failed re-export into a
    folder holding a complete export keeps every row of the items it did not reach."""
    if not exported:
        return
    path = out / "mapping.csv"
    rows = _read_mapping(path)
    for p in exported:
        rows[p.record.rel_path] = [p.record.rel_path, p.split, p.city, p.stem]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(MAPPING_HEADER)
    for source in sorted(rows):
        writer.writerow(rows[source])
    try:
        write_bytes(report, path, buf.getvalue().encode("utf-8"))
    except OSError as exc:
        report.errors.append(f"{path}: cannot write the name mapping ({exc})")
