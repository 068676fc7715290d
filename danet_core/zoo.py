"""The public DANet checkpoints (model zoo): their facts, a cache folder, download and verification.

Sources of every fact below (read from the publishers' own files, not measured here: the files cannot be
downloaded on the development machine):

- mmsegmentation: ``configs/danet/README.md`` (URLs, training crop and schedule, mIoU and ms+flip mIoU,
  reported on the val sets with the configs' test settings) and the configs themselves
  (``danet_r50-d8_4xb2-40k_cityscapes-769x769.py`` and its bases: ResNetV1c stem, contract dilation, no
  multi-grid, ``align_corners=True`` and slide 769/513 for the 769x769 models, ``align_corners=False`` and
  whole-image inference otherwise; test resize (2048, 1024) for Cityscapes, (2048, 512) for ADE20K/VOC;
  ms+flip = ratios 0.5..1.75 + flip). Each file name ends with the first 8 hex digits of the file's
  sha256 (mmseg's ``publish_model``), which is what we verify. Licence: Apache-2.0 (the repository's).
- Official DANet (github.com/junfu1115/DANet, README "Evaluation for DANet"): DANet101 on Cityscapes,
  ``--base-size 2048 --crop-size 768 --multi-grid --multi-dilation 4 8 16 --os 8 --no-deepstem``,
  79.93 mIoU / 95.97 pixAcc single scale on val; released on Google Drive with no checksum. MIT licence.

``approx_mb`` is the size of the fp32 weights of the architecture (computed from the model definition;
the published file adds some metadata), for the progress bar when the server sends no length and for a
sanity check; it is not a published figure. Importing this module never imports torch.
"""

from __future__ import annotations

import os
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from danet_core.download import DownloadError, download, verify_sha256
from danet_core.jobs import ProgressFn, StopFn

APP_NAME = "danet-annotator"
CACHE_ENV = "DANET_MODEL_CACHE"
MMSEG_BASE = "https://download.openmmlab.com/mmsegmentation/v0.5/danet"
MMSEG_PAGE = "https://github.com/open-mmlab/mmsegmentation/tree/main/configs/danet"
OFFICIAL_PAGE = "https://github.com/junfu1115/DANet"
OFFICIAL_DRIVE_ID = "1XmpFEF-tbPH0Rmv4eKRxYJngr3pTbj6p"
# The first bytes of the files torch.save writes: the legacy pickle format starts with protocol 2 and
# torch's magic number 0x1950a86a20f9469cfc6c; newer files are zip archives holding ``*/data.pkl``.
_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"


class ZooError(OSError):
    """A zoo model that could not be obtained or is not what was published; the message says what to do."""


@dataclass(frozen=True)
class ZooEntry:
    """One published checkpoint and what its authors say about it."""

    name: str
    url: str
    filename: str
    source: str  # checkpoint layout: "official" | "mmseg"
    dataset: str
    label_set: str | None  # built-in label set naming the outputs, None = the checkpoint's metadata
    num_classes: int
    depth: int
    stem: str
    multi_grid: tuple[int, ...] | None
    align_corners: bool
    train_crop: tuple[int, int]
    schedule: str
    miou: float  # reported single-scale val mIoU (%)
    miou_ms_flip: float | None  # reported multi-scale + flip val mIoU (%), None when not reported
    eval_options: dict[str, Any]  # PredictOptions fields of the reference evaluation
    approx_mb: float
    sha256_prefix: str | None
    licence: str
    page: str
    notes: str = ""
    aliases: tuple[str, ...] = field(default=())

    def arch_options(self) -> dict[str, Any]:
        """The architecture options the weights cannot reveal, as ``load_model`` keyword arguments."""
        return {"multi_grid": self.multi_grid, "align_corners": self.align_corners}

    def predict_options(self, **changes: Any) -> Any:
        """The reference evaluation as :class:`danet_core.options.PredictOptions` (``changes`` applied)."""
        from danet_core.options import PredictOptions

        return PredictOptions(**{**self.eval_options, **changes})


def _mmseg(
    depth: int, crop: str, iters: str, dataset: str, stamp_hash: str, miou: float, ms: float | None
) -> ZooEntry:
    ds = {"cityscapes": "cityscapes", "ade20k": "ade20k", "voc12aug": "voc12aug"}[dataset]
    stem = f"danet_r{depth}-d8_{crop}_{iters}_{ds}"
    filename = f"{stem}_{stamp_hash}.pth"
    slide = crop == "769x769"
    h, w = (int(v) for v in crop.split("x"))
    facts = {
        "cityscapes": ("Cityscapes (19 train classes)", "cityscapes", 19, (2048, 1024)),
        "ade20k": ("ADE20K (150 classes)", None, 150, (2048, 512)),
        "voc12aug": ("Pascal VOC 2012 + aug (21 classes)", "voc", 21, (2048, 512)),
    }[dataset]
    eval_options: dict[str, Any] = {"protocol": "mmseg", "resize_to": facts[3]}
    if slide:
        eval_options.update(mode="slide", crop=(769, 769), stride=(513, 513))
    else:
        eval_options.update(mode="whole", crop=None)
    return ZooEntry(
        name=f"mmseg-danet-r{depth}-{dataset}-{crop}-{iters}",
        url=f"{MMSEG_BASE}/{stem}/{filename}",
        filename=filename,
        source="mmseg",
        dataset=facts[0],
        label_set=facts[1],
        num_classes=facts[2],
        depth=depth,
        stem="v1c",
        multi_grid=None,
        align_corners=slide,
        train_crop=(h, w),
        schedule=iters,
        miou=miou,
        miou_ms_flip=ms,
        eval_options=eval_options,
        approx_mb={50: 199.6, 101: 275.8}[depth] + (1.0 if facts[2] == 150 else 0.0),
        sha256_prefix=stamp_hash.rsplit("-", 1)[1],
        licence="Apache-2.0",
        page=MMSEG_PAGE,
        notes="ADE20K: outputs are classes 1..150 (mmseg reduce_zero_label)" if dataset == "ade20k" else "",
    )


ENTRIES: tuple[ZooEntry, ...] = (
    ZooEntry(
        name="official-danet101-cityscapes",
        url=f"https://drive.usercontent.google.com/download?id={OFFICIAL_DRIVE_ID}&export=download&confirm=t",
        filename="DANet101.pth.tar",
        source="official",
        dataset="Cityscapes (19 train classes)",
        label_set="cityscapes",
        num_classes=19,
        depth=101,
        stem="torchvision",
        multi_grid=(4, 8, 16),
        align_corners=True,
        train_crop=(768, 768),
        schedule="240 epochs",
        miou=79.93,
        miou_ms_flip=None,
        eval_options={
            "protocol": "official",
            "mode": "slide",
            "crop": (768, 768),
            "base_size": 2048,
            "scales": (1.0,),
            "flip": True,
        },
        approx_mb=274.5,
        sha256_prefix=None,
        licence="MIT",
        page=f"https://drive.google.com/open?id={OFFICIAL_DRIVE_ID}",
        notes="Google Drive, no published checksum: verified as a checkpoint of the official layout only",
        aliases=("danet101",),
    ),
    # mmsegmentation configs/danet/README.md, Cityscapes table (val mIoU, ms+flip mIoU)
    _mmseg(50, "512x1024", "40k", "cityscapes", "20200605_191324-c0dbfa5f", 78.74, None),
    _mmseg(101, "512x1024", "40k", "cityscapes", "20200605_200831-c57a7157", 80.52, None),
    _mmseg(50, "769x769", "40k", "cityscapes", "20200530_025703-76681c60", 78.88, 80.62),
    _mmseg(101, "769x769", "40k", "cityscapes", "20200530_025717-dcb7fd4e", 79.88, 81.47),
    _mmseg(50, "512x1024", "80k", "cityscapes", "20200607_133029-2bfa2293", 79.34, None),
    _mmseg(101, "512x1024", "80k", "cityscapes", "20200607_132918-955e6350", 80.41, None),
    _mmseg(50, "769x769", "80k", "cityscapes", "20200607_132954-495689b4", 79.27, 80.96),
    _mmseg(101, "769x769", "80k", "cityscapes", "20200607_132918-f3a929e7", 80.47, 82.02),
    # ADE20K table
    _mmseg(50, "512x512", "80k", "ade20k", "20200615_015125-edb18e08", 41.66, 42.90),
    _mmseg(101, "512x512", "80k", "ade20k", "20200615_015126-d0357c73", 43.64, 45.19),
    _mmseg(50, "512x512", "160k", "ade20k", "20200616_082340-9cb35dcd", 42.45, 43.25),
    _mmseg(101, "512x512", "160k", "ade20k", "20200616_082348-23bf12f9", 44.17, 45.02),
    # Pascal VOC 2012 + Aug table
    _mmseg(50, "512x512", "20k", "voc12aug", "20200618_070026-9e9e3ab3", 74.45, 75.69),
    _mmseg(101, "512x512", "20k", "voc12aug", "20200618_070026-d48d23b2", 76.02, 77.23),
    _mmseg(50, "512x512", "40k", "voc12aug", "20200613_235526-426e3a64", 76.37, 77.29),
    _mmseg(101, "512x512", "40k", "voc12aug", "20200613_223031-788e232a", 76.51, 77.32),
)


def get_entry(name: str) -> ZooEntry:
    """The entry called ``name`` (or one of its aliases); ValueError listing the names otherwise."""
    for entry in ENTRIES:
        if name == entry.name or name in entry.aliases:
            return entry
    raise ValueError(f"no zoo model {name!r}; expected one of: {', '.join(e.name for e in ENTRIES)}")


def match_file(path: str | os.PathLike[str]) -> ZooEntry | None:
    """The entry whose published file name is ``path``'s name (the cache keeps those names), else None."""
    name = Path(path).name
    return next((e for e in ENTRIES if e.filename == name), None)


def cache_dir() -> Path:
    """Where downloaded checkpoints live, shared by the CLI and the app (``$DANET_MODEL_CACHE`` overrides)."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)) / "models"


def cached_file(entry: ZooEntry) -> Path:
    return cache_dir() / entry.filename


def sniff_checkpoint(path: Path) -> str | None:
    """None when ``path`` looks like a file torch.save wrote, else a short description of what it is."""
    with open(path, "rb") as fh:
        head = fh.read(64)
    if head.startswith(_LEGACY_MAGIC):
        return None
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            if any(n.endswith("data.pkl") for n in zf.namelist()):
                return None
        return "a zip archive without a PyTorch data.pkl"
    if tarfile.is_tarfile(path):  # torch.save's oldest (tar) format
        return None
    if not head:
        return "an empty file"
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html")):
        return "an HTML page (a login, quota or error page instead of the file)"
    return f"unknown content starting with {head[:16]!r}"


def _manual_hint(entry: ZooEntry, target: Path) -> str:
    return (
        f"Download it by hand from {entry.page if entry.source == 'official' else entry.url} and place it at "
        f"{target} (then run the same command again: the file is verified and used)"
    )


def verify_file(entry: ZooEntry, path: Path) -> None:
    """Checksum (when published) and checkpoint sniff of a cached or hand-placed file; ZooError naming it."""
    try:
        verify_sha256(path, entry.sha256_prefix)
    except DownloadError as exc:
        raise ZooError(f"{exc}. Delete it and download again. {_manual_hint(entry, path)}") from exc
    what = sniff_checkpoint(path)
    if what is not None:
        raise ZooError(f"{path}: not a PyTorch checkpoint ({what}). {_manual_hint(entry, path)}")


def fetch(
    entry: ZooEntry,
    *,
    url: str | None = None,
    timeout: float = 10.0,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> Path:
    """The verified checkpoint file of ``entry``: from the cache (also a file placed there by hand) or
    downloaded (``url`` overrides the published one, e.g. a mirror). Raises :class:`ZooError` with one
    message naming the URL and where to put the file by hand; ``Cancelled`` when asked to stop."""
    target = cached_file(entry)
    if target.is_file():
        verify_file(entry, target)
        return target
    source = url or entry.url
    try:
        download(
            source,
            target,
            sha256_prefix=entry.sha256_prefix,
            timeout=timeout,
            progress=progress,
            should_stop=should_stop,
        )
    except DownloadError as exc:
        raise ZooError(f"{entry.name}: {exc}. {_manual_hint(entry, target)}") from exc
    what = sniff_checkpoint(target)
    if what is not None:
        target.unlink(missing_ok=True)
        raise ZooError(
            f"{entry.name}: {source} sent {what}, not a PyTorch checkpoint. {_manual_hint(entry, target)}"
        )
    return target


def describe(entry: ZooEntry) -> str:
    """One paragraph of facts for ``danet models list --long`` and the app's dialog."""
    mg = ",".join(map(str, entry.multi_grid)) if entry.multi_grid else "none"
    ms = f", ms+flip {entry.miou_ms_flip:.2f}" if entry.miou_ms_flip is not None else ""
    sha = f"sha256 {entry.sha256_prefix}..." if entry.sha256_prefix else "no published checksum"
    return (
        f"{entry.name}: {entry.source} DANet-R{entry.depth} on {entry.dataset}; trained {entry.schedule} "
        f"at {entry.train_crop[0]}x{entry.train_crop[1]}; reported val mIoU {entry.miou:.2f}{ms}. "
        f"Stem {entry.stem}, multi-grid {mg}, align_corners {entry.align_corners}. "
        f"~{entry.approx_mb:.0f} MB, {sha}, licence {entry.licence}. {entry.url}"
        + (f" ({entry.notes})" if entry.notes else "")
    )
