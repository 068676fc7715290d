"""The ``project`` dataset: the reviewed images of an annotation project, read straight from its store.

Why only ``reviewed``: masks of images still in progress are half-corrected predictions; training on them
would teach the model its own mistakes. Targets go through ``label_set.training_lut()`` (mask index ->
train id, 255 = ignore), so a Cityscapes project (label ids as indices) trains the 19 train ids.

Held-out split (``val_fraction``): an image is in ``val`` when the first 8 bytes of SHA-1 of its relative
path, read as a fraction of 2**64, are below ``val_fraction``. The split is therefore the same on every
run and every machine, and an image never moves between train and val when other images are added or
reviewed — so the app can compare an old and a new model on the same held-out images. With so few
reviewed images that the hash puts none in val (and at least two exist), the image with the smallest hash
is held out, so a comparison is always possible.

The catalog is read once, in the calling process: items are plain file paths (image under the project's
image root, mask ``masks/<id>.png``), so DataLoader workers never touch SQLite.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from .config import TrainConfig
from .datasets import DataBundle, DatasetError, Item, SegDataset
from .transforms import train_transform

log = logging.getLogger(__name__)


def split_fraction(rel_path: str) -> float:
    """A stable number in [0, 1) for ``rel_path`` (SHA-1, independent of Python's hash seed)."""
    digest = hashlib.sha1(rel_path.replace("\\", "/").encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_reviewed(rel_paths: list[str], val_fraction: float) -> tuple[list[str], list[str]]:
    """(train, val) relative paths by :func:`split_fraction` (see the module docstring)."""
    if val_fraction <= 0:
        return sorted(rel_paths), []
    scored = sorted(rel_paths, key=split_fraction)
    val = [p for p in scored if split_fraction(p) < val_fraction]
    if not val and len(scored) >= 2:
        val = scored[:1]
    held = set(val)
    return sorted(p for p in rel_paths if p not in held), sorted(val)


def build_project_data(cfg: TrainConfig) -> DataBundle:
    """Train and val :class:`SegDataset` of the project at ``cfg.data_root`` (``DataBundle``)."""
    from danet_core.project import ImageStatus, Project

    with Project.open(cfg.data_root) as project:
        ls = project.label_set
        reviewed = project.images(status=ImageStatus.REVIEWED)
        by_rel = {r.rel_path: Item(str(project.image_path(r.id)), str(project.mask_path(r.id)), r.rel_path)
                  for r in reviewed}  # fmt: skip
    missing = [rel for rel, it in by_rel.items() if not Path(it.mask).is_file()]
    if missing:
        raise DatasetError(f"{cfg.data_root}: reviewed image {missing[0]} has no saved mask")
    if not by_rel:
        raise DatasetError(f"{cfg.data_root}: the project has no reviewed images; review some images first")
    # val_split=None: every reviewed image trains (the app does this below a handful of images)
    train_rel, val_rel = split_reviewed(list(by_rel), cfg.val_fraction if cfg.val_split else 0.0)
    lut, valid = ls.training_lut(), ls.valid_index_mask()
    names = [c.name for c in ls.train_classes()]
    colors = [(*c.color,) for c in ls.train_classes()]
    transform = train_transform(
        crop_size=(*cfg.crop_size,), scale_range=(*cfg.scale_range,), base_scale=cfg.base_scale,
        hflip=cfg.hflip, color_jitter=cfg.color_jitter, mean=(*cfg.mean,), std=(*cfg.std,),
    )  # fmt: skip
    common: dict[str, Any] = {"lut": lut, "valid": valid, "class_names": names, "seed": cfg.seed}
    train = SegDataset(
        [by_rel[p] for p in train_rel], transform=transform, name=f"{cfg.data_root} (reviewed, train)",
        min_size=(*cfg.crop_size,), max_scale=cfg.base_scale * cfg.scale_range[1], **common,
    )  # fmt: skip
    val = None
    if val_rel:
        val = SegDataset([by_rel[p] for p in val_rel], name=f"{cfg.data_root} (reviewed, val)", **common)
    log.info(
        "project %s: %d reviewed, %d train / %d held out",
        cfg.data_root,
        len(by_rel),
        len(train_rel),
        len(val_rel),
    )
    return DataBundle(train, val, names, colors)


def project_split(cfg: TrainConfig, split: str) -> SegDataset:
    """One split (``"train"`` | ``"val"``) of a project dataset, for evaluating models on held-out images."""
    data = build_project_data(cfg)
    if split == "train":
        return data.train
    if split == "val":
        if data.val is None:
            raise DatasetError(f"{cfg.data_root}: no held-out images (val_fraction={cfg.val_fraction})")
        return data.val
    raise DatasetError(f"project split {split!r}; expected 'train' or 'val'")
