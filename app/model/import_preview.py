"""File ▸ Import labels…: what the dialog offers and says, when Import may start, what happens after.

Decisions (README section ``app``; unit-tested without a window):

- **Formats**: Cityscapes gtFine (labelIds, else polygons JSON), labelme JSON, palette PNG and plain
  8-bit masks, each with one line saying what it expects. When a folder is chosen its format is guessed
  from the file names (:func:`danet_core.formats.guess_format`) and the guess is selected; the user can
  choose another one, which previews again. Palette and plain masks import the same way (export ids);
  they are two entries because users know their data by one of the two names.
- **Status** of imported images: *reviewed* by default (imported ground truth is what fine-tuning
  learns from and what is exported), or *in progress* (to be checked first).
- **Preview first**: nothing can be imported before the dry run of the chosen folder and format
  finished (:func:`inspect_folder`, in a worker). It shows how many files match project images, the
  first unmatched files with their reasons, and how many matched images already have a mask.
- **Existing masks are a question, not a default**: when some matched images already have a mask,
  Import stays disabled until the user chose "keep them" or "replace them". Replace touches only masks
  still as previewed (``expected`` stamps); a replaced mask is kept in ``<project>/conflicts/``.
- **After the import** the list is refreshed. When the open image's mask changed on disk: without
  unsaved edits the image is reopened (the user sees the imported mask); with unsaved edits the user is
  asked through the store's conflict question (both versions kept, "Keep mine" / "Load theirs").
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from danet_core.formats import (
    BatchReport,
    FormatError,
    FormatGuess,
    ImportPreview,
    guess_format,
    preview_labels,
)
from danet_core.jobs import ProgressFn, StopFn
from danet_core.project import ImageStatus, MaskStamp, Project

UNMATCHED_SHOWN = 8  # unmatched files listed by name in the dialog (the rest is a count)
FAILED_SHOWN = 20  # failed files listed in the summary at the end


@dataclass(frozen=True)
class FormatChoice:
    fmt: str
    label: str
    explanation: str


FORMAT_CHOICES: tuple[FormatChoice, ...] = (
    FormatChoice(
        "cityscapes",
        "Cityscapes gtFine",
        "A gtFine (or gtCoarse) folder: *_gtFine_labelIds.png, or *_gtFine_polygons.json where no "
        "labelIds exists. Matched by <city>_<seq>_<frame>. Needs a Cityscapes project.",
    ),
    FormatChoice(
        "labelme",
        "labelme JSON",
        "One .json per image with polygon, rectangle or circle shapes named after the project's "
        "classes. Matched by the file's imagePath, else by its name.",
    ),
    FormatChoice(
        "palette",
        "Palette PNG",
        "Colour-indexed PNGs whose pixel values are the label set's ids (e.g. Pascal VOC "
        "SegmentationClass). Matched by path or file name.",
    ),
    FormatChoice(
        "mask",
        "Plain 8-bit masks",
        "Grey PNGs whose pixel values are the label set's ids (e.g. CamVid trainannot, void = 11). "
        "Matched by path or file name.",
    ),
)

STATUS_CHOICES: tuple[tuple[ImageStatus, str], ...] = (
    (ImageStatus.REVIEWED, "Reviewed (ground truth: used for fine-tuning and export)"),
    (ImageStatus.IN_PROGRESS, "In progress (to be checked before it counts)"),
)


def status_name(status: ImageStatus) -> str:
    return status.value.replace("_", " ")


def format_choice(fmt: str) -> FormatChoice:
    for choice in FORMAT_CHOICES:
        if choice.fmt == fmt:
            return choice
    raise KeyError(f"no import format {fmt!r}")


@dataclass(frozen=True)
class FolderInspection:
    """A folder checked for import: the format guessed (when asked), and the preview or why none."""

    folder: Path
    fmt: str
    guess: FormatGuess | None
    preview: ImportPreview | None
    error: str = ""


def inspect_folder(
    project: Project,
    folder: str | os.PathLike[str],
    fmt: str,
    guess: bool,
    *,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> FolderInspection:
    """The dialog's long job: guess the format (``guess``: a newly chosen folder), then preview it.

    A folder the format cannot read (not a folder, a non-Cityscapes project for Cityscapes) is an
    ``error`` of the inspection, shown in the dialog, not an exception."""
    found = guess_format(folder) if guess else None
    chosen = found.fmt if found is not None and found.fmt is not None else fmt
    try:
        preview = preview_labels(project, folder, chosen, progress=progress, should_stop=should_stop)
    except FormatError as exc:
        return FolderInspection(Path(folder), chosen, found, None, str(exc))
    return FolderInspection(Path(folder), chosen, found, preview)


def guess_text(guess: FormatGuess | None) -> str:
    if guess is None:
        return ""
    if guess.fmt is None:
        return f"Could not tell the format ({guess.reason}); choose it."
    return f"Looks like {format_choice(guess.fmt).label}: {guess.reason}."


def preview_text(inspection: FolderInspection) -> str:
    """The preview's counts and the first unmatched files, as the dialog shows them."""
    preview = inspection.preview
    if preview is None:
        return inspection.error
    if not preview.files:
        return f"No {format_choice(preview.fmt).label} files in this folder."
    lines = [
        f"{len(preview.matched)} of {preview.files} files match project images; "
        f"{len(preview.unmatched)} match none."
    ]
    for item in preview.unmatched[:UNMATCHED_SHOWN]:
        lines.append(f"  {item.source.relative_to(preview.folder).as_posix()}: {item.reason}")
    if len(preview.unmatched) > UNMATCHED_SHOWN:
        lines.append(f"  … and {len(preview.unmatched) - UNMATCHED_SHOWN} more")
    return "\n".join(lines)


def existing_text(preview: ImportPreview | None) -> str:
    """The question about matched images that already have a mask ("" when there are none)."""
    existing = preview.existing if preview is not None else []
    if not existing:
        return ""
    by_status = Counter(status_name(m.status) for m in existing)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(by_status.items()))
    return f"{len(existing)} of the matched images already have a mask ({counts}). Keep them or replace them?"


def import_blocker(inspection: FolderInspection | None, replace: bool | None) -> str:
    """Why Import cannot start yet ("" when it can)."""
    if inspection is None:
        return "Choose a folder."
    preview = inspection.preview
    if preview is None:
        return inspection.error or "Checking the folder…"
    if not preview.matched:
        return "No file matches a project image."
    if preview.existing and replace is None:
        return "Choose whether the existing masks are kept or replaced."
    return ""


@dataclass(frozen=True)
class ImportRequest:
    """What the user chose: the import's arguments (``expected``: the stamps the preview saw)."""

    folder: Path
    fmt: str
    status: ImageStatus
    replace: bool
    expected: dict[int, MaskStamp] | None = None

    def options(self) -> dict[str, object]:
        """Keyword arguments of :func:`danet_core.formats.import_labels`."""
        return {"status": self.status, "overwrite": self.replace, "expected": self.expected}


def request_from(inspection: FolderInspection, status: ImageStatus, replace: bool | None) -> ImportRequest:
    """The import of what was previewed (call when :func:`import_blocker` is "")."""
    preview = inspection.preview
    return ImportRequest(
        inspection.folder,
        inspection.fmt,
        status,
        bool(replace),
        preview.stamps() if preview is not None else None,
    )


def _count(report: BatchReport, key: str) -> int:
    return len(report.details.get(key, []))


def result_summary(report: BatchReport, status: ImageStatus) -> tuple[str, bool]:
    """(text of the box at the end, whether it is a warning: some file failed)."""
    unmatched = set(report.details.get("unmatched", []))
    failed = [e for e in report.errors if e not in unmatched]
    parts = [f"Imported {report.done} masks as {status_name(status)}."]
    if _count(report, "replaced"):
        parts.append(
            f"{_count(report, 'replaced')} replaced masks are kept in the project's conflicts folder."
        )
    if _count(report, "kept_existing"):
        parts.append(f"Kept the existing mask of {_count(report, 'kept_existing')} images.")
    if _count(report, "changed_since_preview"):
        parts.append(
            f"Kept {_count(report, 'changed_since_preview')} masks that were saved after the preview."
        )
    if unmatched:
        parts.append(f"{len(unmatched)} files matched no project image (as the preview showed).")
    if failed:
        parts.append(f"{len(failed)} failed:")
        parts.extend(f"  {line}" for line in failed[:FAILED_SHOWN])
        if len(failed) > FAILED_SHOWN:
            parts.append(f"  … and {len(failed) - FAILED_SHOWN} more (all in the log)")
    return "\n".join(parts), bool(failed)


def after_import(open_mask_changed: bool, unsaved_edits: bool) -> str:
    """What to do with the open image: "keep" (untouched), "reopen" (show the import) or "ask"."""
    if not open_mask_changed:
        return "keep"
    return "ask" if unsaved_edits else "reopen"
