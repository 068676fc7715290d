"""Label sets: which classes a project paints, how they are coloured, exported and trained on.

A project mask is a ``uint8`` H x W array of *indices* into a :class:`LabelSet` (255 = unlabeled).
Three numbers per class keep the three worlds apart:

- ``index``: the value stored in the project mask (for Cityscapes the official *label id*, 0..33, so
  labelIds import/export is the identity);
- ``export_id``: the value written to exported id masks (Cityscapes labelIds, CamVid ids, VOC ids);
- ``train_id``: the model output channel (255 = not trained on / ignored in the loss). The 19
  Cityscapes train ids are what the model predicts.

Decisions (see docs/formats.md):
- Cityscapes' ``license plate`` (id -1) is in :data:`CITYSCAPES_LABELS` (the full cityscapesScripts
  table) but not in the paintable set: a labelIds PNG cannot encode it, and cityscapesScripts'
  json2labelImg skips negative ids, so license-plate polygons import as the class underneath.
- CamVid ``void`` (id 11 on disk) is stored as 255 in projects; exporting writes 11 back
  (``unlabeled_export_id``). Cityscapes writes unlabeled pixels as id 0 (``unlabeled``).
- User-defined sets: index, export id and train id default to the class position; train ids other
  than 255 must form 0..K-1 so that they match the model's K output channels.
"""

from __future__ import annotations

import json
import logging
import os
from collections import namedtuple
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

IGNORE = 255
MAX_NAME_LENGTH = 64


class LabelSetError(ValueError):
    """A label set definition that is inconsistent (duplicate names/ids, bad colours, ...)."""


# The table of cityscapesScripts' helpers/labels.py, kept here so danet_core does not need that package.
CityscapesLabel = namedtuple(
    "CityscapesLabel",
    ["name", "id", "train_id", "category", "cat_id", "has_instances", "ignore_in_eval", "color"],
)

CITYSCAPES_LABELS: tuple[CityscapesLabel, ...] = (
    CityscapesLabel("unlabeled", 0, 255, "void", 0, False, True, (0, 0, 0)),
    CityscapesLabel("ego vehicle", 1, 255, "void", 0, False, True, (0, 0, 0)),
    CityscapesLabel("rectification border", 2, 255, "void", 0, False, True, (0, 0, 0)),
    CityscapesLabel("out of roi", 3, 255, "void", 0, False, True, (0, 0, 0)),
    CityscapesLabel("static", 4, 255, "void", 0, False, True, (0, 0, 0)),
    CityscapesLabel("dynamic", 5, 255, "void", 0, False, True, (111, 74, 0)),
    CityscapesLabel("ground", 6, 255, "void", 0, False, True, (81, 0, 81)),
    CityscapesLabel("road", 7, 0, "flat", 1, False, False, (128, 64, 128)),
    CityscapesLabel("sidewalk", 8, 1, "flat", 1, False, False, (244, 35, 232)),
    CityscapesLabel("parking", 9, 255, "flat", 1, False, True, (250, 170, 160)),
    CityscapesLabel("rail track", 10, 255, "flat", 1, False, True, (230, 150, 140)),
    CityscapesLabel("building", 11, 2, "construction", 2, False, False, (70, 70, 70)),
    CityscapesLabel("wall", 12, 3, "construction", 2, False, False, (102, 102, 156)),
    CityscapesLabel("fence", 13, 4, "construction", 2, False, False, (190, 153, 153)),
    CityscapesLabel("guard rail", 14, 255, "construction", 2, False, True, (180, 165, 180)),
    CityscapesLabel("bridge", 15, 255, "construction", 2, False, True, (150, 100, 100)),
    CityscapesLabel("tunnel", 16, 255, "construction", 2, False, True, (150, 120, 90)),
    CityscapesLabel("pole", 17, 5, "object", 3, False, False, (153, 153, 153)),
    CityscapesLabel("polegroup", 18, 255, "object", 3, False, True, (153, 153, 153)),
    CityscapesLabel("traffic light", 19, 6, "object", 3, False, False, (250, 170, 30)),
    CityscapesLabel("traffic sign", 20, 7, "object", 3, False, False, (220, 220, 0)),
    CityscapesLabel("vegetation", 21, 8, "nature", 4, False, False, (107, 142, 35)),
    CityscapesLabel("terrain", 22, 9, "nature", 4, False, False, (152, 251, 152)),
    CityscapesLabel("sky", 23, 10, "sky", 5, False, False, (70, 130, 180)),
    CityscapesLabel("person", 24, 11, "human", 6, True, False, (220, 20, 60)),
    CityscapesLabel("rider", 25, 12, "human", 6, True, False, (255, 0, 0)),
    CityscapesLabel("car", 26, 13, "vehicle", 7, True, False, (0, 0, 142)),
    CityscapesLabel("truck", 27, 14, "vehicle", 7, True, False, (0, 0, 70)),
    CityscapesLabel("bus", 28, 15, "vehicle", 7, True, False, (0, 60, 100)),
    CityscapesLabel("caravan", 29, 255, "vehicle", 7, True, True, (0, 0, 90)),
    CityscapesLabel("trailer", 30, 255, "vehicle", 7, True, True, (0, 0, 110)),
    CityscapesLabel("train", 31, 16, "vehicle", 7, True, False, (0, 80, 100)),
    CityscapesLabel("motorcycle", 32, 17, "vehicle", 7, True, False, (0, 0, 230)),
    CityscapesLabel("bicycle", 33, 18, "vehicle", 7, True, False, (119, 11, 32)),
    CityscapesLabel("license plate", -1, -1, "vehicle", 7, False, True, (0, 0, 142)),
)

CAMVID_CLASSES: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("Sky", (128, 128, 128)),
    ("Building", (128, 0, 0)),
    ("Pole", (192, 192, 128)),
    ("Road", (128, 64, 128)),
    ("Pavement", (60, 40, 222)),
    ("Tree", (128, 128, 0)),
    ("SignSymbol", (192, 128, 128)),
    ("Fence", (64, 64, 128)),
    ("Car", (64, 0, 128)),
    ("Pedestrian", (64, 64, 0)),
    ("Bicyclist", (0, 128, 192)),
)
CAMVID_VOID_ID = 11

VOC_CLASSES: tuple[str, ...] = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
    "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
    "tvmonitor",
)  # fmt: skip


def voc_palette() -> np.ndarray:
    """The standard Pascal VOC colour map, 256 x 3 uint8 (bit-interleaved index -> RGB)."""
    pal = np.zeros((256, 3), dtype=np.uint8)
    for i in range(256):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal[i] = (r, g, b)
    return pal


@dataclass(frozen=True)
class LabelClass:
    """One paintable class. ``index`` is the mask value; see the module docstring for the three ids."""

    index: int
    name: str
    color: tuple[int, int, int]
    export_id: int
    train_id: int
    category: str = ""
    has_instances: bool = False
    ignore_in_eval: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "color": list(self.color),
            "export_id": self.export_id,
            "train_id": self.train_id,
            "category": self.category,
            "has_instances": self.has_instances,
            "ignore_in_eval": self.ignore_in_eval,
        }


@dataclass
class LabelSet:
    """An ordered set of classes plus the value that marks unlabeled pixels (``ignore_index``).

    ``unlabeled_export_id`` is what unlabeled pixels become in exported id masks (Cityscapes 0,
    CamVid 11, VOC 255); ``ignore_color`` is their colour in colour/palette exports.
    """

    name: str
    classes: list[LabelClass]
    ignore_index: int = IGNORE
    unlabeled_export_id: int = IGNORE
    ignore_color: tuple[int, int, int] = (0, 0, 0)
    _by_index: dict[int, LabelClass] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.classes = list(self.classes)
        self._by_index = {c.index: c for c in self.classes}

    def __len__(self) -> int:
        return len(self.classes)

    def __iter__(self) -> Iterator[LabelClass]:
        return iter(self.classes)

    # -- validation -------------------------------------------------------------------------------
    def validate(self) -> LabelSet:
        """Raise :class:`LabelSetError` naming the first problem; returns self for chaining."""
        if not isinstance(self.name, str) or not self.name.strip():
            raise LabelSetError(f"label set name {self.name!r}: expected a non-empty string")
        if not self.classes:
            raise LabelSetError(f"label set {self.name!r}: has no classes; expected at least one")
        if not (0 <= self.ignore_index <= 255):
            raise LabelSetError(f"label set {self.name!r}: ignore_index {self.ignore_index} not in 0..255")
        if not (0 <= self.unlabeled_export_id <= 255):
            raise LabelSetError(
                f"label set {self.name!r}: unlabeled_export_id {self.unlabeled_export_id} not in 0..255"
            )
        _check_color(self.ignore_color, f"label set {self.name!r} ignore_color")
        seen_idx: set[int] = set()
        seen_names: set[str] = set()
        seen_export: set[int] = set()
        for c in self.classes:
            _validate_class(c, self.ignore_index)
            key = c.name.strip().casefold()
            if key in seen_names:
                raise LabelSetError(f"label set {self.name!r}: duplicate class name {c.name!r}")
            if c.index in seen_idx:
                raise LabelSetError(f"label set {self.name!r}: duplicate class index {c.index}")
            if c.export_id in seen_export:
                raise LabelSetError(
                    f"label set {self.name!r}: duplicate export id {c.export_id} ({c.name!r})"
                )
            seen_names.add(key)
            seen_idx.add(c.index)
            seen_export.add(c.export_id)
        train_ids = sorted({c.train_id for c in self.classes if c.train_id != IGNORE})
        if train_ids != list(range(len(train_ids))):
            raise LabelSetError(
                f"label set {self.name!r}: train ids {train_ids} must be 0..K-1 without gaps (255 = ignored)"
            )
        return self

    # -- look-ups ---------------------------------------------------------------------------------
    def by_index(self, index: int) -> LabelClass:
        try:
            return self._by_index[int(index)]
        except KeyError:
            raise KeyError(f"label set {self.name!r} has no class with index {index}") from None

    def by_name(self, name: str) -> LabelClass:
        key = name.strip().casefold()
        for c in self.classes:
            if c.name.casefold() == key:
                return c
        raise KeyError(f"label set {self.name!r} has no class named {name!r}")

    def indices(self) -> list[int]:
        return [c.index for c in self.classes]

    def valid_index_mask(self) -> np.ndarray:
        """bool[256]: True for values allowed in a project mask (class indices and ignore_index)."""
        ok = np.zeros(256, dtype=bool)
        ok[self.indices()] = True
        ok[self.ignore_index] = True
        return ok

    def palette(self) -> np.ndarray:
        """256 x 3 uint8: mask index -> RGB (ignore and unused indices get ``ignore_color``)."""
        pal = np.zeros((256, 3), dtype=np.uint8)
        pal[:] = self.ignore_color
        for c in self.classes:
            pal[c.index] = c.color
        return pal

    # -- training ---------------------------------------------------------------------------------
    def train_classes(self) -> list[LabelClass]:
        """The classes the model is trained on, ordered by train id (one per train id)."""
        first: dict[int, LabelClass] = {}
        for c in self.classes:
            if c.train_id != IGNORE and c.train_id not in first:
                first[c.train_id] = c
        return [first[t] for t in sorted(first)]

    @property
    def num_train_classes(self) -> int:
        return len(self.train_classes())

    def training_lut(self) -> np.ndarray:
        """uint8[256]: mask index -> train id (255 = ignore). ``lut[mask]`` gives the training target."""
        lut = np.full(256, IGNORE, dtype=np.uint8)
        for c in self.classes:
            lut[c.index] = c.train_id
        return lut

    def lut_from_train_ids(self) -> np.ndarray:
        """uint8[256]: train id (model class) -> mask index, 255 for unknown, so ``lut[pred]`` is a mask."""
        lut = np.full(256, self.ignore_index, dtype=np.uint8)
        for c in self.train_classes():
            lut[c.train_id] = c.index
        return lut

    # -- export ids -------------------------------------------------------------------------------
    def export_lut(self) -> np.ndarray:
        """uint8[256]: mask index -> exported id (ignore -> ``unlabeled_export_id``)."""
        lut = np.full(256, self.unlabeled_export_id, dtype=np.uint8)
        for c in self.classes:
            lut[c.index] = c.export_id
        return lut

    def import_lut(self) -> tuple[np.ndarray, np.ndarray]:
        """(lut uint8[256], known bool[256]): exported id -> mask index, and which ids are known.

        ``unlabeled_export_id`` maps to ``ignore_index`` unless a class owns that id (Cityscapes 0).
        """
        lut = np.full(256, self.ignore_index, dtype=np.uint8)
        known = np.zeros(256, dtype=bool)
        known[self.unlabeled_export_id] = True
        for c in self.classes:
            lut[c.export_id] = c.index
            known[c.export_id] = True
        return lut, known

    # -- serialisation ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ignore_index": self.ignore_index,
            "unlabeled_export_id": self.unlabeled_export_id,
            "ignore_color": list(self.ignore_color),
            "classes": [c.to_dict() for c in self.classes],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabelSet:
        """Build and validate a set. Per class only ``name`` and ``color`` are required:
        ``index``, ``export_id`` and ``train_id`` default to the class position."""
        if not isinstance(data, dict):
            raise LabelSetError(f"label set: expected a JSON object, got {type(data).__name__}")
        raw = data.get("classes")
        if not isinstance(raw, list):
            raise LabelSetError("label set: expected a 'classes' list")
        classes = [_class_from_dict(pos, item) for pos, item in enumerate(raw)]
        try:
            ls = cls(
                name=data.get("name", "custom"),
                classes=classes,
                ignore_index=_as_int(data.get("ignore_index", IGNORE), "ignore_index"),
                unlabeled_export_id=_as_int(data.get("unlabeled_export_id", IGNORE), "unlabeled_export_id"),
                ignore_color=_as_color(data.get("ignore_color", (0, 0, 0)), "ignore_color"),
            )
        except TypeError as exc:
            raise LabelSetError(f"label set: {exc}") from exc
        return ls.validate()

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the set as JSON, atomically."""
        from danet_core.files import atomic_write_bytes

        atomic_write_bytes(path, (json.dumps(self.to_dict(), indent=2) + "\n").encode("utf-8"))


def _as_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise LabelSetError(f"label set: {what} {value!r} is not an integer")
    return value


def _as_color(value: Any, what: str) -> tuple[int, int, int]:
    if isinstance(value, str):
        s = value.lstrip("#")
        if len(s) == 6:
            try:
                return (int(s[0:2], 16), int(s[2:4], 16), int(s[4:6], 16))
            except ValueError:
                pass
        raise LabelSetError(f"label set: {what} {value!r} is not a colour; expected [r, g, b] or '#rrggbb'")
    if not isinstance(value, list | tuple) or len(value) != 3:
        raise LabelSetError(f"label set: {what} {value!r} is not a colour; expected [r, g, b] in 0..255")
    r, g, b = (_as_int(v, what) for v in value)  # three values: checked above
    color = (r, g, b)
    _check_color(color, what)
    return color


def _check_color(color: Any, what: str) -> None:
    if (
        not isinstance(color, tuple | list)
        or len(color) != 3
        or not all(
            isinstance(v, int | np.integer) and not isinstance(v, bool) and 0 <= v <= 255 for v in color
        )
    ):
        raise LabelSetError(f"{what} {color!r}: expected three integers in 0..255")


def _validate_class(c: LabelClass, ignore_index: int) -> None:
    if not isinstance(c.name, str) or not c.name.strip():
        raise LabelSetError(f"class {c.index}: name {c.name!r} must be a non-empty string")
    if len(c.name) > MAX_NAME_LENGTH or any(ord(ch) < 32 for ch in c.name):
        raise LabelSetError(f"class name {c.name!r}: expected at most {MAX_NAME_LENGTH} printable characters")
    for what, value, hi in (
        ("index", c.index, 254),
        ("export id", c.export_id, 255),
        ("train id", c.train_id, 255),
    ):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or not 0 <= value <= hi:
            raise LabelSetError(f"class {c.name!r}: {what} {value!r} not in 0..{hi}")
    if c.index == ignore_index:
        raise LabelSetError(f"class {c.name!r}: index {c.index} is the ignore index")
    _check_color(c.color, f"class {c.name!r} colour")


def _class_from_dict(pos: int, item: Any) -> LabelClass:
    if not isinstance(item, dict):
        raise LabelSetError(f"label set: class #{pos} is {item!r}; expected an object with name and color")
    if "name" not in item or "color" not in item:
        raise LabelSetError(f"label set: class #{pos} needs 'name' and 'color'")
    name = item["name"]
    if not isinstance(name, str):
        raise LabelSetError(f"label set: class #{pos} name {name!r} is not a string")
    index = _as_int(item.get("index", pos), f"class {name!r} index")
    return LabelClass(
        index=index,
        name=name,
        color=_as_color(item["color"], f"class {name!r} color"),
        export_id=_as_int(item.get("export_id", index), f"class {name!r} export_id"),
        train_id=_as_int(item.get("train_id", pos), f"class {name!r} train_id"),
        category=str(item.get("category", "")),
        has_instances=bool(item.get("has_instances", False)),
        ignore_in_eval=bool(item.get("ignore_in_eval", False)),
    )


def _cityscapes() -> LabelSet:
    classes = [
        LabelClass(
            index=lab.id,
            name=lab.name,
            color=lab.color,
            export_id=lab.id,
            train_id=lab.train_id,
            category=lab.category,
            has_instances=lab.has_instances,
            ignore_in_eval=lab.ignore_in_eval,
        )
        for lab in CITYSCAPES_LABELS
        if lab.id >= 0
    ]
    return LabelSet("cityscapes", classes, ignore_index=IGNORE, unlabeled_export_id=0)


def _camvid() -> LabelSet:
    classes = [
        LabelClass(index=i, name=name, color=color, export_id=i, train_id=i)
        for i, (name, color) in enumerate(CAMVID_CLASSES)
    ]
    return LabelSet("camvid", classes, ignore_index=IGNORE, unlabeled_export_id=CAMVID_VOID_ID)


def _palette_color(row: np.ndarray) -> tuple[int, int, int]:
    """One row of a 256 x 3 palette as an (r, g, b) tuple of Python ints."""
    r, g, b = (int(v) for v in row)
    return r, g, b


def _voc() -> LabelSet:
    pal = voc_palette()
    classes = [
        LabelClass(index=i, name=name, color=_palette_color(pal[i]), export_id=i, train_id=i)
        for i, name in enumerate(VOC_CLASSES)
    ]
    return LabelSet(
        "voc",
        classes,
        ignore_index=IGNORE,
        unlabeled_export_id=IGNORE,
        ignore_color=_palette_color(pal[255]),
    )


BUILTIN_LABEL_SETS = ("cityscapes", "camvid", "voc")


def get_label_set(name: str) -> LabelSet:
    """A built-in set: ``"cityscapes"`` (label ids 0..33, 19 train ids), ``"camvid"`` (11), ``"voc"`` (21)."""
    builders = {"cityscapes": _cityscapes, "camvid": _camvid, "voc": _voc}
    key = name.strip().lower()
    if key not in builders:
        raise LabelSetError(f"unknown label set {name!r}; expected one of {', '.join(BUILTIN_LABEL_SETS)}")
    return builders[key]().validate()


def load_label_set(path: str | os.PathLike[str]) -> LabelSet:
    """Read and validate a label-set JSON file (see :meth:`LabelSet.from_dict` for the schema)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise LabelSetError(f"{p}: no such label-set file") from exc
    except UnicodeDecodeError as exc:
        raise LabelSetError(f"{p}: not UTF-8 text; expected a label-set JSON file") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LabelSetError(f"{p}: malformed JSON ({exc})") from exc
    try:
        return LabelSet.from_dict(data)
    except LabelSetError as exc:
        raise LabelSetError(f"{p}: {exc}") from exc


def resolve_label_set(spec: str | os.PathLike[str] | LabelSet) -> LabelSet:
    """A built-in name, a path to a JSON file, or a LabelSet (returned as is)."""
    if isinstance(spec, LabelSet):
        return spec.validate()
    s = str(spec)
    if s.strip().lower() in BUILTIN_LABEL_SETS:
        return get_label_set(s)
    return load_label_set(s)
