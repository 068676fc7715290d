"""The dry run of an import: which file would go to which image, which files match none (and why), which
matched images already have a mask; and a guess of a folder's format from the names of its files.

Why a dry run: importing ground truth into the wrong images, or over masks someone edited, is the worst
thing an import can do, and nothing shows it before the files are written. The preview uses the same
:class:`~danet_core.formats.sources.LabelSource` and :func:`~danet_core.formats.sources.claim` as the
import, so what it lists is what the import does. It reads what matching needs (labelme: every JSON, for
its ``imagePath``), never converts a mask, and writes nothing; it is a long job (``progress``,
``should_stop``) because a folder can hold thousands of JSON files.

The stamps of the matched images' mask files (:class:`MaskStamp`) are part of the preview:
``import_labels(..., expected=preview.stamps())`` replaces only masks that are still as previewed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from danet_core.formats.common import FormatError
from danet_core.formats.sources import LabelSource, claim
from danet_core.jobs import ProgressFn, StopFn, check_stop
from danet_core.project import ImageStatus, MaskStamp

GUESS_FILE_LIMIT = 20_000  # names looked at by guess_format: enough to tell, quick on a slow disk
GUESS_PNG_OPENED = 3  # PNG headers read to tell palette PNGs from plain masks (and from photos)


@dataclass(frozen=True)
class MatchedFile:
    """A label file and the project image it would be imported into."""

    source: Path
    image_id: int
    rel_path: str
    status: ImageStatus
    has_mask: bool
    stamp: MaskStamp


@dataclass(frozen=True)
class UnmatchedFile:
    """A label file that would not be imported, and why (no image, several images, unreadable, ...)."""

    source: Path
    reason: str


@dataclass
class ImportPreview:
    folder: Path
    fmt: str
    matched: list[MatchedFile] = field(default_factory=list)
    unmatched: list[UnmatchedFile] = field(default_factory=list)

    @property
    def files(self) -> int:
        return len(self.matched) + len(self.unmatched)

    @property
    def existing(self) -> list[MatchedFile]:
        """Matched images that already have a mask: kept, or replaced only when the user says so."""
        return [m for m in self.matched if m.has_mask]

    def summary(self, limit: int = 10) -> str:
        """One line of counts, then the first ``limit`` unmatched files with their reasons."""
        existing = len(self.existing)
        text = (
            f"{self.files} {self.fmt} files in {self.folder}: {len(self.matched)} match project images"
            f" ({existing} of them already have a mask), {len(self.unmatched)} match none"
        )
        for item in self.unmatched[:limit]:
            text += f"\n  {item.source.relative_to(self.folder).as_posix()}: {item.reason}"
        if len(self.unmatched) > limit:
            text += f"\n  ... and {len(self.unmatched) - limit} more"
        return text

    def stamps(self) -> dict[int, MaskStamp]:
        """Image id -> its mask file's stamp when previewed (``expected=`` of the import)."""
        return {m.image_id: m.stamp for m in self.matched}


def _reason(path: Path, exc: Exception) -> str:
    text = str(exc)
    return text[len(f"{path}: ") :] if text.startswith(f"{path}: ") else text


def preview_import(
    source: LabelSource,
    fmt: str,
    *,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> ImportPreview:
    """Match every file of ``source`` (format ``fmt``) as the import would, without writing anything."""
    files = source.files()
    preview = ImportPreview(source.root, fmt)
    claimed: dict[int, Path] = {}
    for n, path in enumerate(files):
        check_stop(should_stop)
        try:
            rec, _content = claim(source, path, claimed)
        except (FormatError, OSError) as exc:
            preview.unmatched.append(UnmatchedFile(path, _reason(path, exc)))
        else:
            stamp = source.project.mask_stamp(rec.id)
            preview.matched.append(MatchedFile(path, rec.id, rec.rel_path, rec.status, rec.has_mask, stamp))
        if progress is not None:
            progress(n + 1, len(files), path.name)
    return preview


@dataclass(frozen=True)
class FormatGuess:
    """The import format a folder most likely holds (None: no idea) and what the guess rests on."""

    fmt: str | None
    reason: str


def _png_modes(paths: list[Path]) -> list[str]:
    modes = []
    for path in paths[:GUESS_PNG_OPENED]:
        try:
            with Image.open(path) as img:
                modes.append(img.mode)
        except (OSError, ValueError):
            continue
    return modes


def guess_format(folder: str | os.PathLike[str]) -> FormatGuess:
    """Guess from file names (and a few PNG headers): Cityscapes ground-truth names, else labelme JSON
    when JSON files outnumber PNGs, else palette (mode P) or plain 8-bit masks (mode L)."""
    from danet_core.formats.cityscapes_import import GT_RE

    root = Path(folder)
    if not root.is_dir():
        return FormatGuess(None, f"{root} is not a folder")
    gt = json_files = seen = 0
    pngs: list[Path] = []
    for dirpath, _dirs, names in os.walk(root):
        for name in sorted(names):
            seen += 1
            gt += bool(GT_RE.match(name))
            json_files += name.lower().endswith(".json")
            if name.lower().endswith(".png"):
                pngs.append(Path(dirpath) / name)
        if seen >= GUESS_FILE_LIMIT:
            break
    if gt:
        return FormatGuess(
            "cityscapes", f"{gt} files named like *_gtFine_labelIds.png or *_gtFine_polygons.json"
        )
    if json_files and json_files >= len(pngs):
        return FormatGuess("labelme", f"{json_files} JSON files")
    if not pngs:
        return FormatGuess(None, "no PNG or JSON files found")
    modes = _png_modes(pngs)
    if modes and all(m == "P" for m in modes):
        return FormatGuess("palette", f"{len(pngs)} PNG files with a colour palette")
    if modes and all(m in ("L", "I", "I;16") for m in modes):
        return FormatGuess("mask", f"{len(pngs)} single-channel PNG files")
    return FormatGuess(None, f"{len(pngs)} PNG files, but colour images (not 8-bit masks)")
