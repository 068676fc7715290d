"""Segmentation datasets yielding ``(image, target)`` with 255 = ignore, for three on-disk layouts.

* ``cityscapes``: ``leftImg8bit/<split>/<city>/*_leftImg8bit.png`` with
  ``gtFine/<split>/<city>/*_gtFine_labelTrainIds.png`` when present, else ``*_gtFine_labelIds.png`` mapped to
  the 19 train ids through the official table (:mod:`danet_core.labels`).
* ``folder``: ``<root>/<split>/NAME`` with ``<root>/<split>annot/NAME`` (CamVid's layout); mask values are the
  label set's *export ids* (CamVid 0..10, 11 = void -> ignore).
* ``project``: the reviewed images of an annotation project (see :mod:`danet_core.training.project_dataset`).

Every target is validated: a mask value that is neither a class of the label set nor a void id raises
:class:`DatasetError` naming the file and the values, because a silently-ignored wrong label set would train
a wrong model. Items are ``(3 x H x W float32 normalised, H x W int64)`` after the transform.

Augmentation randomness is a function of ``(seed, epoch, index)`` only (the transform runs under a forked,
seeded torch RNG), so a resumed run sees exactly the crops an uninterrupted run would, whatever the number
of DataLoader workers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from danet_core.images import IMAGE_EXTENSIONS, load_image, load_mask_png
from danet_core.labels import IGNORE, LabelSet, get_label_set

from .transforms import to_tv

log = logging.getLogger(__name__)


class DatasetError(ValueError):
    """A dataset that cannot be used: missing folder, unpaired files, wrong mask values, empty split."""


@dataclass(frozen=True)
class Item:
    """One image/mask pair; ``key`` names it in errors and logs (a file path or a project path)."""

    image: str
    mask: str
    key: str


class SegDataset(Dataset):
    """Pairs of image and mask files; ``lut`` turns stored mask values into train ids.

    ``lut``: uint8[256] stored value -> train id (255 = ignore); ``valid``: bool[256] values allowed on disk.
    ``transform(image_tv, mask_tv) -> (tensor, tensor)`` is applied under a seeded RNG (see module doc).
    ``min_size``: the smallest (h, w) an image may have after ``base_scale`` and the largest random scale —
    a crop bigger than that would be mostly padding, which we refuse rather than train on.
    """

    def __init__(
        self,
        items: Sequence[Item],
        *,
        lut: np.ndarray,
        valid: np.ndarray,
        class_names: list[str],
        transform: Callable | None = None,
        seed: int = 0,
        name: str = "dataset",
        min_size: tuple[float, float] | None = None,
        max_scale: float = 1.0,
    ) -> None:
        if not items:
            raise DatasetError(f"{name}: no image/mask pairs found; expected at least one")
        self.items = list(items)
        self.lut = np.asarray(lut, dtype=np.uint8)
        self.valid = np.asarray(valid, dtype=bool)
        self.class_names = list(class_names)
        self.num_classes = len(class_names)
        self.transform = transform
        self.seed = int(seed)
        self.epoch = 0
        self.name = name
        self.min_size = min_size
        self.max_scale = max_scale

    def __len__(self) -> int:
        return len(self.items)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def load_raw(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The untransformed ``(uint8 H x W x 3 image, uint8 H x W train-id target)`` of item ``index``."""
        item = self.items[index]
        image = load_image(item.image)
        stored = self.read_mask(item)
        if stored.shape != image.shape[:2]:
            raise DatasetError(
                f"{item.mask}: mask is {stored.shape[1]}x{stored.shape[0]} but its image {item.image} is "
                f"{image.shape[1]}x{image.shape[0]}; expected the same size"
            )
        bad = ~self.valid[stored]
        if bad.any():
            values = sorted(int(v) for v in np.unique(stored[bad]))[:10]
            allowed = np.flatnonzero(self.valid).tolist()
            raise DatasetError(
                f"{item.mask}: mask values {values} are not in the label set; expected values among {allowed}"
            )
        return image, self.lut[stored]

    def read_mask(self, item: Item) -> np.ndarray:
        return load_mask_png(item.mask)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image, target = self.load_raw(index)
        if self.min_size is not None:
            self._check_crop(index, image.shape[:2])
        if self.transform is None:
            return torch.from_numpy(image).permute(2, 0, 1), torch.from_numpy(target.astype(np.int64))
        # Seed from (seed, epoch, index): exact resume and worker-count independence (module doc).
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed((self.seed * 1_000_003 + self.epoch * 100_003 + index) % (2**63))
            img, msk = self.transform(*to_tv(image, target))
        return img.as_subclass(torch.Tensor), msk.as_subclass(torch.Tensor)

    def _check_crop(self, index: int, hw: tuple[int, int]) -> None:
        assert self.min_size is not None  # __getitem__ calls this only with a min_size
        need_h, need_w = self.min_size
        h, w = hw[0] * self.max_scale, hw[1] * self.max_scale
        if need_h > h or need_w > w:
            raise DatasetError(
                f"{self.items[index].image}: image is {hw[1]}x{hw[0]}, at most {w:.0f}x{h:.0f} "
                f"after scaling; "
                f"the crop {int(need_w)}x{int(need_h)} (w x h) would be mostly padding. "
                "Use a smaller crop_size "
                "or a larger base_scale / scale_range"
            )


# ---------------------------------------------------------------------------------------------- layouts
def _require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise DatasetError(f"{path}: no such folder; expected {what}")
    return path


def folder_items(image_dir: Path, mask_dir: Path) -> list[Item]:
    """Pairs by file stem: ``image_dir/NAME.ext`` with ``mask_dir/NAME.png``; unpaired files are errors."""
    _require_dir(image_dir, "a folder of images")
    _require_dir(mask_dir, "a folder of masks with the same file names as the images")
    images = {p.stem: p for p in sorted(image_dir.iterdir()) if p.suffix.lower() in IMAGE_EXTENSIONS}
    masks = {p.stem: p for p in sorted(mask_dir.iterdir()) if p.suffix.lower() == ".png"}
    missing = sorted(set(images) - set(masks))
    if missing:
        raise DatasetError(
            f"{image_dir / images[missing[0]].name}: no mask {mask_dir / (missing[0] + '.png')} "
            f"({len(missing)} image(s) without a mask)"
        )
    orphans = sorted(set(masks) - set(images))
    if orphans:
        raise DatasetError(
            f"{masks[orphans[0]]}: mask without an image in {image_dir} "
            f"({len(orphans)} mask(s) without an image)"
        )
    return [Item(str(images[k]), str(masks[k]), str(images[k])) for k in sorted(images)]


def folder_luts(label_set: LabelSet, void_ids: Sequence[int] = ()) -> tuple[np.ndarray, np.ndarray]:
    """(lut, valid) for masks that store export ids: export id -> mask index -> train id."""
    to_index, known = label_set.import_lut()
    lut = label_set.training_lut()[to_index]
    known = known.copy()
    known[label_set.ignore_index] = True
    for v in void_ids:
        known[int(v)] = True
        lut[int(v)] = IGNORE
    return lut, known


CS_IMAGE_SUFFIX = "_leftImg8bit.png"


def cityscapes_items(root: Path, split: str) -> tuple[list[Item], bool]:
    """Items of one Cityscapes split and whether the masks are ``labelTrainIds`` (else ``labelIds``)."""
    img_root = _require_dir(root / "leftImg8bit" / split, "the Cityscapes layout leftImg8bit/<split>/<city>/")
    gt_root = _require_dir(root / "gtFine" / split, "the Cityscapes layout gtFine/<split>/<city>/")
    images = sorted(img_root.glob(f"*/*{CS_IMAGE_SUFFIX}"))
    items: list[Item] = []
    train_ids = None
    for img in images:
        stem = img.name[: -len(CS_IMAGE_SUFFIX)]
        base = gt_root / img.parent.name / stem
        tid, lid = Path(f"{base}_gtFine_labelTrainIds.png"), Path(f"{base}_gtFine_labelIds.png")
        if train_ids is None:
            train_ids = tid.is_file()
        mask = tid if train_ids else lid
        if not mask.is_file():
            raise DatasetError(f"{img}: no ground truth {mask}; expected gtFine/{split}/<city>/ next to it")
        items.append(Item(str(img), str(mask), str(img)))
    return items, bool(train_ids)


def cityscapes_luts(train_ids: bool) -> tuple[np.ndarray, np.ndarray, list[str]]:
    ls = get_label_set("cityscapes")
    names = [c.name for c in ls.train_classes()]
    if train_ids:
        lut = np.full(256, IGNORE, dtype=np.uint8)
        lut[: len(names)] = np.arange(len(names))
        valid = np.zeros(256, dtype=bool)
        valid[: len(names)] = True
        valid[IGNORE] = True
        return lut, valid, names
    lut, valid = folder_luts(ls)
    return lut, valid, names


@dataclass
class DataBundle:
    """The datasets of a run and the classes the model predicts (in output order)."""

    train: SegDataset
    val: SegDataset | None
    class_names: list[str]
    class_colors: list[tuple[int, int, int]]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)
