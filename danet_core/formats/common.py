"""What every exporter and importer shares: batch reports, safe output paths, folder checks.

Policy for bad input (the same for all formats): one clear error per item naming the file and what
was expected; the batch goes on with the next item and ends with a summary (:class:`BatchReport`).
Two things stop a batch at once, because every following item would fail the same way: an export
folder that cannot be written, and a full disk (``ENOSPC``). Files are written atomically
(danet_core.files), so an interrupted export never leaves a torn file, and nothing is ever written
outside the chosen export folder (names with ``..``, separators or absolute paths are refused).
"""

from __future__ import annotations

import errno
import logging
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from danet_core.files import atomic_write_bytes, remove_stale_temp_files
from danet_core.images import atomic_save_png
from danet_core.jobs import ProgressFn, StopFn, check_stop
from danet_core.project import ImageRecord, ImageStatus, MaskMissing, Project, StorageError

logger = logging.getLogger(__name__)

MAX_NAME_BYTES = 255  # one path component on ext4/NTFS/APFS


class FormatError(ValueError):
    """An input or output problem of one item (or of the whole batch when raised before it starts)."""


class ExportFolderError(OSError):
    """The export folder cannot be created or written (not writable, not a folder, disk full)."""

    report: BatchReport  # set by run_items when it stops a batch on this error: what was done before


@dataclass
class BatchReport:
    """Outcome of an import or export batch."""

    done: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        text = f"{self.done} done, {self.skipped} skipped, {len(self.errors)} failed"
        if self.errors:
            shown = "\n  ".join(self.errors[:20])
            more = f"\n  ... and {len(self.errors) - 20} more" if len(self.errors) > 20 else ""
            text += f":\n  {shown}{more}"
        return text


def safe_output_path(out_dir: Path, relative: str) -> Path:
    """``out_dir / relative`` after refusing anything that could leave ``out_dir``.

    ``relative`` uses ``/`` as separator; absolute paths, ``..``, backslashes, NUL, empty components
    and components longer than 255 bytes are refused with :class:`FormatError`.
    """
    if not relative or relative.startswith("/") or "\\" in relative or "\x00" in relative:
        raise FormatError(f"output name {relative!r}: expected a relative name without '\\' or NUL")
    parts = relative.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise FormatError(f"output name {relative!r}: '..', '.' and empty components are not allowed")
        if len(os.fsencode(part)) > MAX_NAME_BYTES:
            raise FormatError(f"output name {part[:40]!r}...: longer than {MAX_NAME_BYTES} bytes")
    target = out_dir.joinpath(*parts)
    root = os.path.realpath(out_dir)
    if os.path.commonpath([root, os.path.realpath(target)]) != root:
        raise FormatError(f"output name {relative!r} resolves outside the export folder {out_dir}")
    return target


def check_plain_name(name: str, what: str) -> str:
    """A single file/folder name chosen by the user (city, split): no separators, no ``..``."""
    if not name or "/" in name or "\\" in name or name in (".", "..") or "\x00" in name:
        raise FormatError(f"{what} {name!r}: expected a plain name without '/', '\\' or '..'")
    return name


def prepare_export_folder(out_dir: str | os.PathLike[str]) -> Path:
    """Create the folder and prove it is writable (a probe file), before any item is processed."""
    out = Path(out_dir).expanduser().absolute()
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".danet-write-test.", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ExportFolderError(
            exc.errno, f"export folder {out} is not writable ({exc.strerror or exc}); choose another folder"
        ) from exc
    for folder, _dirs, _files in os.walk(out):  # temp files of an earlier export that was killed
        remove_stale_temp_files(folder)
    return out


def write_bytes(report: BatchReport, path: Path, data: bytes) -> None:
    atomic_write_bytes(path, data)
    report.written.append(path)


def write_png(report: BatchReport, path: Path, array: np.ndarray, **kwargs: Any) -> None:
    atomic_save_png(path, array, **kwargs)
    report.written.append(path)


def run_items(
    items: Iterable[Any],
    total: int,
    handle: Callable[[Any], bool],
    describe: Callable[[Any], str],
    report: BatchReport,
    *,
    progress: ProgressFn | None,
    should_stop: StopFn | None,
) -> BatchReport:
    """Call ``handle(item)`` for each item (True = done, False = skipped); per-item errors are
    recorded and the batch goes on; a full disk or an unwritable folder ends it."""
    for n, item in enumerate(items):
        check_stop(should_stop)
        name = describe(item)
        try:
            if handle(item):
                report.done += 1
            else:
                report.skipped += 1
        except OSError as exc:
            # a full disk, a read-only folder or a locked catalog fail every later item the same way
            if isinstance(exc, StorageError) or exc.errno in (
                errno.ENOSPC,
                errno.EDQUOT,
                errno.EROFS,
                errno.EACCES,
            ):
                report.errors.append(f"{name}: {exc}")
                stop = ExportFolderError(
                    exc.errno,
                    f"stopped after {report.done} items: {exc.strerror or exc} ({exc.filename or name})",
                )
                stop.report = report  # what was done before the stop
                raise stop from exc
            report.errors.append(f"{name}: {exc}")
        except ValueError as exc:  # FormatError, ImageReadError, ProjectError, LabelSetError
            report.errors.append(f"{name}: {exc}" if name not in str(exc) else str(exc))
        if progress is not None:
            progress(n + 1, total, name)
    for line in report.errors:
        logger.warning("%s", line)
    return report


def export_records(project: Project, statuses: Iterable[ImageStatus | str] | None) -> list[ImageRecord]:
    """Images with a saved mask and one of ``statuses`` (None: any status)."""
    return [r for r in project.images(status=statuses) if r.has_mask]


def export_mask(project: Project, rec: ImageRecord) -> np.ndarray:
    """The saved mask of an exported image, checked so that nothing wrong is written silently.

    Raises (per item, named): :class:`~danet_core.project.MaskMissing` when the file of a recorded
    mask is gone (lost work is an error, not a skip); :class:`FormatError` for a value that is not a
    class of the label set (a hand-edited ``label_set.json``, a mask written by another tool) and for a
    mask whose size differs from the image file as it is now (the image was replaced on disk).
    """
    mask = project.load_mask(rec.id)
    if mask is None:  # has_mask was false after all: nothing was drawn
        raise MaskMissing(f"{rec.rel_path}: the catalog records a mask but none is stored")
    valid = project.label_set.valid_index_mask()
    present = np.flatnonzero(np.bincount(mask.ravel(), minlength=256))
    bad = [int(v) for v in present if not valid[v]]
    if bad:
        raise FormatError(
            f"{rec.rel_path}: mask values {bad[:10]} are not classes of label set "
            f"{project.label_set.name!r} (255 = unlabeled); fix the label set or the mask, nothing exported"
        )
    w, h = project.current_size(rec.id)
    if mask.shape != (h, w):
        raise FormatError(
            f"{rec.rel_path}: the mask is {mask.shape[1]}x{mask.shape[0]} but the image file is now {w}x{h} "
            "(replaced on disk?); nothing exported for it"
        )
    return mask


# -- matching label files to project images ---------------------------------------------------------
def match_images(project: Project) -> tuple[dict[str, ImageRecord], dict[str, list[ImageRecord]]]:
    """(relative path without extension -> record, file stem -> records) for matching label files."""
    by_rel: dict[str, ImageRecord] = {}
    by_stem: dict[str, list[ImageRecord]] = {}
    for rec in project.images():
        p = PurePosixPath(rec.rel_path)
        by_rel.setdefault(str(p.with_suffix("")), rec)
        by_stem.setdefault(p.stem, []).append(rec)
    return by_rel, by_stem


def find_record(
    rel_no_ext: str, by_rel: dict[str, ImageRecord], by_stem: dict[str, list[ImageRecord]], source: Path
) -> ImageRecord:
    if rel_no_ext in by_rel:
        return by_rel[rel_no_ext]
    stem = PurePosixPath(rel_no_ext).name
    candidates = by_stem.get(stem, [])
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise FormatError(f"{source}: no project image named {stem}.*")
    raise FormatError(
        f"{source}: {len(candidates)} project images are named {stem}.*; put the mask at the same path"
    )
