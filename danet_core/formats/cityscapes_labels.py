"""The Cityscapes label table as lookup arrays, and mappings of other label sets onto it.

Shared by the Cityscapes exporter (project index -> label id, colours, instance classes) and importer
(label names), so neither imports the other. ``CAMVID_TO_CITYSCAPES`` is the built-in mapping for
CamVid projects; other label sets pass a JSON file or a dict ``{class name: Cityscapes name or id}``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from danet_core.formats.common import FormatError
from danet_core.labels import CITYSCAPES_LABELS, LabelSet

ID_TO_LABEL = {lab.id: lab for lab in CITYSCAPES_LABELS if lab.id >= 0}
NAME_TO_LABEL = {lab.name: lab for lab in CITYSCAPES_LABELS}

# CamVid (SegNet 11 classes) -> Cityscapes. Bicyclist is a person on a bicycle: mapped to rider, the
# Cityscapes class of the person (the bicycle itself is not separated in CamVid).
CAMVID_TO_CITYSCAPES: dict[str, str] = {
    "Sky": "sky",
    "Building": "building",
    "Pole": "pole",
    "Road": "road",
    "Pavement": "sidewalk",
    "Tree": "vegetation",
    "SignSymbol": "traffic sign",
    "Fence": "fence",
    "Car": "car",
    "Pedestrian": "person",
    "Bicyclist": "rider",
}
BUILTIN_MAPPINGS = {"camvid": CAMVID_TO_CITYSCAPES}


def _table_lut(field: str) -> np.ndarray:
    lut = np.zeros((256,) if field != "color" else (256, 3), dtype=np.uint8)
    if field == "train_id":
        lut[:] = 255
    for lab in ID_TO_LABEL.values():
        lut[lab.id] = getattr(lab, field)
    return lut


TRAIN_ID_LUT = _table_lut("train_id")  # label id -> train id (255 ignored)
COLOR_LUT = _table_lut("color")  # label id -> RGB
HAS_INSTANCES = np.array([ID_TO_LABEL.get(i, NAME_TO_LABEL["unlabeled"]).has_instances for i in range(256)])


def is_cityscapes_set(label_set: LabelSet) -> bool:
    """True when every class is a Cityscapes label with its official id as export id."""
    return all(c.name in NAME_TO_LABEL and NAME_TO_LABEL[c.name].id == c.export_id for c in label_set.classes)


def load_mapping(spec: str | os.PathLike[str] | dict[str, str | int]) -> Mapping[str, str | int]:
    """A built-in mapping name (``camvid``), a JSON file ``{class: Cityscapes name or id}``, or a dict."""
    if isinstance(spec, dict):
        return spec
    if str(spec) in BUILTIN_MAPPINGS:
        return BUILTIN_MAPPINGS[str(spec)]
    path = Path(spec)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise FormatError(
            f"{path}: mapping file not found; expected JSON or one of {list(BUILTIN_MAPPINGS)}"
        ) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(f"{path}: malformed mapping JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise FormatError(f"{path}: expected a JSON object {{class name: Cityscapes label}}")
    return data


def cityscapes_id_lut(label_set: LabelSet, mapping: Mapping[str, str | int] | None = None) -> np.ndarray:
    """uint8[256]: project mask index -> Cityscapes label id (unlabeled -> 0).

    Refuses (FormatError) a non-Cityscapes set without mapping, unmapped classes, unknown targets.
    """
    if mapping is None:
        if not is_cityscapes_set(label_set):
            raise FormatError(
                f"label set {label_set.name!r} is not the Cityscapes set; pass a mapping from its class "
                f"names to Cityscapes labels (built in: {', '.join(BUILTIN_MAPPINGS)})"
            )
        mapping = {c.name: c.export_id for c in label_set.classes}
    lut = np.zeros(256, dtype=np.uint8)
    missing = [c.name for c in label_set.classes if c.name not in mapping]
    if missing:
        raise FormatError(f"mapping to Cityscapes has no entry for classes {missing}")
    for c in label_set.classes:
        target = mapping[c.name]
        if isinstance(target, str):
            if target not in NAME_TO_LABEL or NAME_TO_LABEL[target].id < 0:
                raise FormatError(f"mapping: class {c.name!r} -> {target!r} is not a Cityscapes label name")
            lut[c.index] = NAME_TO_LABEL[target].id
        elif isinstance(target, int) and not isinstance(target, bool) and target in ID_TO_LABEL:
            lut[c.index] = target
        else:
            raise FormatError(f"mapping: class {c.name!r} -> {target!r} is not a Cityscapes label id (0..33)")
    return lut
