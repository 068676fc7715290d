"""Building the train/val datasets and the train loader from a :class:`TrainConfig`.

Why a sampler that can skip: training is counted in iterations, and ``--resume`` in the middle of an epoch
must continue with the same permutation where the interrupted run stopped, without loading the skipped
images. :class:`DistributedSampler` gives a permutation that depends only on ``(seed, epoch)`` (also with
one process), so skipping its first ``k`` indices reproduces the interrupted epoch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import torch
from torch.utils.data import DataLoader, DistributedSampler, Sampler

from danet_core.images import ImageReadError, image_size
from danet_core.jobs import ProgressFn, StopFn, check_stop
from danet_core.labels import LabelSet, resolve_label_set

from .config import TrainConfig
from .datasets import (
    DataBundle,
    DatasetError,
    SegDataset,
    cityscapes_items,
    cityscapes_luts,
    folder_items,
    folder_luts,
)
from .distributed import DistInfo
from .transforms import train_transform

log = logging.getLogger(__name__)


def build_split(cfg: TrainConfig, split: str, limit: int | None, *, train: bool) -> SegDataset:
    """One split of a cityscapes/folder dataset (train: with the train preset; else raw for evaluation)."""
    root = Path(cfg.data_root)
    if not root.is_dir():
        raise DatasetError(f"{root}: data_root is not a folder")
    if cfg.dataset == "cityscapes":
        items, train_ids = cityscapes_items(root, split)
        lut, valid, names = cityscapes_luts(train_ids)
    elif cfg.dataset == "folder":
        items = folder_items(root / split, root / f"{split}{cfg.mask_dir_suffix}")
        ls = resolve_label_set(cfg.label_set)
        lut, valid = folder_luts(ls, cfg.void_ids)
        names = [c.name for c in ls.train_classes()]
    else:
        raise DatasetError(f"dataset {cfg.dataset!r} is built by project_dataset, not here")
    items = items if limit is None else items[: max(0, int(limit))]
    transform = None
    if train:
        transform = train_transform(
            crop_size=(*cfg.crop_size,),
            scale_range=(*cfg.scale_range,),
            base_scale=cfg.base_scale,
            hflip=cfg.hflip,
            color_jitter=cfg.color_jitter,
            mean=(*cfg.mean,),
            std=(*cfg.std,),
        )
    return SegDataset(
        items,
        lut=lut,
        valid=valid,
        class_names=names,
        transform=transform,
        seed=cfg.seed,
        name=f"{root} split {split!r}",
        min_size=(*cfg.crop_size,) if train else None,
        max_scale=cfg.base_scale * cfg.scale_range[1],
    )


def _label_set_for(cfg: TrainConfig) -> LabelSet:
    return resolve_label_set("cityscapes" if cfg.dataset == "cityscapes" else cfg.label_set)


def build_data(cfg: TrainConfig) -> DataBundle:
    """Train and (when ``val_split`` exists) val datasets; raises :class:`DatasetError` on bad layouts."""
    if cfg.dataset == "project":
        from .project_dataset import build_project_data

        return build_project_data(cfg)
    train = build_split(cfg, cfg.train_split, cfg.train_limit, train=True)
    val = None
    if cfg.val_split:
        root = Path(cfg.data_root)
        present = (
            (root / "leftImg8bit" / cfg.val_split) if cfg.dataset == "cityscapes" else root / cfg.val_split
        )
        if present.is_dir():
            val = build_split(cfg, cfg.val_split, cfg.val_limit, train=False)
        else:
            log.warning("no validation split at %s: training without validation (no best.pt)", present)
    ls = _label_set_for(cfg)
    colors = [(*c.color,) for c in ls.train_classes()]
    return DataBundle(train, val, train.class_names, colors)


def verify_dataset(
    ds: SegDataset, *, progress: ProgressFn | None = None, should_stop: StopFn | None = None
) -> None:
    """Read every image header and every mask once, so a bad file fails now and not hours later."""
    n = len(ds)
    for i, item in enumerate(ds.items):
        check_stop(should_stop)
        try:
            w, h = image_size(item.image)
        except ImageReadError as exc:
            raise DatasetError(str(exc)) from exc
        mask = ds.read_mask(item)
        if mask.shape != (h, w):
            raise DatasetError(
                f"{item.mask}: mask is {mask.shape[1]}x{mask.shape[0]} but its image {item.image} "
                f"is {w}x{h}; "
                "expected the same size"
            )
        bad = ~ds.valid[mask]
        if bad.any():
            values = sorted(int(v) for v in torch.unique(torch.from_numpy(mask[bad])))[:10]
            raise DatasetError(
                f"{item.mask}: mask values {values} are not in the label set; expected values among "
                f"{[int(v) for v in ds.valid.nonzero()[0]]}"
            )
        if ds.min_size is not None:
            ds._check_crop(i, (h, w))
        if progress is not None:
            progress(i + 1, n, f"checking {ds.name}")


class SkipSampler(Sampler[int]):
    """The indices of ``sampler`` without the first ``skip`` (resume in the middle of an epoch)."""

    def __init__(self, sampler: DistributedSampler[int], skip: int) -> None:
        self.sampler = sampler
        self.skip = int(skip)

    def __iter__(self) -> Iterator[int]:
        return iter(list(self.sampler)[self.skip :])

    def __len__(self) -> int:
        return max(0, len(self.sampler) - self.skip)


def batches_per_epoch(ds: SegDataset, cfg: TrainConfig, info: DistInfo) -> int:
    per_rank = len(ds) // info.world_size
    n = per_rank // cfg.batch_size
    if n == 0:
        raise DatasetError(
            f"{ds.name}: {len(ds)} image(s) cannot fill one batch of {cfg.batch_size} on each of "
            f"{info.world_size} process(es); lower batch_size or add images"
        )
    return n


def make_sampler(ds: SegDataset, cfg: TrainConfig, info: DistInfo) -> DistributedSampler:
    return DistributedSampler(
        ds, num_replicas=info.world_size, rank=info.rank, shuffle=True, seed=cfg.seed, drop_last=True
    )


def make_loader(
    ds: SegDataset, sampler: DistributedSampler, cfg: TrainConfig, *, epoch: int, skip_batches: int, pin: bool
) -> DataLoader:
    """The loader of one epoch; its own generator keeps the global RNG untouched (exact resume)."""
    sampler.set_epoch(epoch)
    ds.set_epoch(epoch)
    return DataLoader(
        ds,
        batch_size=cfg.batch_size,
        sampler=SkipSampler(sampler, skip_batches * cfg.batch_size),
        num_workers=cfg.num_workers,
        drop_last=True,
        pin_memory=pin,
        generator=torch.Generator().manual_seed(cfg.seed + epoch),
        persistent_workers=False,
    )
