"""Map a model's output classes onto the project's label set, so a prediction becomes a project mask.

Rules (decided here, shown to the user in the status bar / log when something is left unmapped):

1. **By train id** when the model's classes are the label set's training classes: same count and, class by
   class in output order, the same name (case, spaces and punctuation ignored) or a generic name such as
   ``class_3``. This is the Cityscapes case: 19 train ids -> Cityscapes label ids via
   ``LabelSet.lut_from_train_ids()``.
2. Otherwise **by name**, with a small table of synonyms between the common street-scene sets
   (CamVid ``Pavement`` = Cityscapes ``sidewalk``, ``Tree`` = ``vegetation``, ...).
3. A model class with no counterpart maps to 255 (unlabeled): the user paints it; nothing is guessed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

UNLABELED = 255

# Normalised name -> canonical name; both sides already normalised.
_SYNONYMS = {
    "pavement": "sidewalk",
    "tree": "vegetation",
    "pedestrian": "person",
    "bicyclist": "rider",
    "signsymbol": "trafficsign",
    "sign": "trafficsign",
    "column_pole": "pole",
    "columnpole": "pole",
    "bike": "bicycle",
    "motorbike": "motorcycle",
    "unlabelled": "unlabeled",
    "void": "unlabeled",
    "aeroplane": "airplane",
    "tvmonitor": "tv",
}
_GENERIC = re.compile(r"^(class|cls|c)_?\d+$")


def normalise_name(name: str) -> str:
    """Lower case, no spaces/punctuation, synonyms folded: ``"Traffic Sign"`` -> ``"trafficsign"``."""
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    return _SYNONYMS.get(key, key)


def _class_name(c: Any) -> str:
    return str(c["name"] if isinstance(c, dict) else c.name)


@dataclass
class ClassMapping:
    """``lut[k]`` is the project mask index of model class ``k`` (255 = unmapped)."""

    lut: np.ndarray  # uint8, shape (num_model_classes,)
    method: str  # "train_id" | "name"
    unmapped: list[str] = field(default_factory=list)

    def apply(self, label: np.ndarray) -> np.ndarray:
        """Model class ids (uint8 H x W) -> project mask indices (uint8 H x W)."""
        table = np.full(256, UNLABELED, dtype=np.uint8)
        table[: len(self.lut)] = self.lut
        return table[label]

    def describe(self) -> str:
        mapped = int((self.lut != UNLABELED).sum())
        text = f"{mapped}/{len(self.lut)} model classes mapped by {self.method.replace('_', ' ')}"
        if self.unmapped:
            text += f"; unmapped (left unlabeled): {', '.join(self.unmapped)}"
        return text


def build_class_mapping(model_classes: Sequence[Any], label_set: Any) -> ClassMapping:
    """Mapping of ``model_classes`` (checkpoint ``{"name", "color", "train_id"}`` dicts in output order)
    onto ``label_set`` (a ``danet_core.labels.LabelSet``)."""
    if not model_classes:
        raise ValueError("the model lists no classes; expected the checkpoint's class table")
    if len(model_classes) > UNLABELED:
        raise ValueError(f"the model has {len(model_classes)} classes; at most 255 can be mapped")
    train_classes = list(label_set.train_classes())
    names = [_class_name(c) for c in model_classes]
    if len(train_classes) == len(model_classes) and all(
        _GENERIC.match(n.lower()) or normalise_name(n) == normalise_name(t.name)
        for n, t in zip(names, train_classes, strict=True)
    ):
        reverse = np.asarray(label_set.lut_from_train_ids(), dtype=np.uint8)
        lut = np.array([reverse[t.train_id] for t in train_classes], dtype=np.uint8)
        return ClassMapping(lut=lut, method="train_id")

    by_name = {normalise_name(c.name): c.index for c in label_set.classes}
    lut = np.full(len(model_classes), UNLABELED, dtype=np.uint8)
    unmapped: list[str] = []
    for k, name in enumerate(names):
        index = by_name.get(normalise_name(name))
        if index is None or index == label_set.ignore_index:
            unmapped.append(name)
        else:
            lut[k] = index
    if unmapped:
        log.warning("model classes without a project class (left unlabeled): %s", ", ".join(unmapped))
    return ClassMapping(lut=lut, method="name", unmapped=unmapped)
