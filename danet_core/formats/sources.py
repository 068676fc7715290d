"""Label files to import, which project image each belongs to, and the import loop every format shares.

One owner for "which file matches which image": a :class:`LabelSource` per format lists the files it
would import (:meth:`~LabelSource.files`) and matches one file to a project image
(:meth:`~LabelSource.match`, a :class:`FormatError` naming the file when none or several fit). The
importer (:func:`import_from`) and the dry run (:func:`danet_core.formats.preview.preview_import`) both go
through :func:`claim`, so the preview shows exactly what the import will do.

Decisions:

- **One file per image.** When a second file matches an image that an earlier file (in sorted order)
  already matched, the second is refused ("matches the same image as ...") instead of silently replacing
  the first or being counted as "kept".
- **Never overwrite unseen.** An image that has a mask keeps it unless ``overwrite``; the check is made
  per image when the file is imported (not from a list read at the start), and the save passes the mask
  file's stamp to :meth:`Project.save_mask`, so a mask saved meanwhile by the app is kept, not replaced.
  ``expected`` (image id -> :class:`MaskStamp` seen by a preview) narrows ``overwrite`` to the masks the
  user saw: one that changed since is kept and listed under ``details["changed_since_preview"]``.
- **A replaced mask is kept** as ``<project>/conflicts/<id>-replaced-<time>.png`` (the folder of every
  other version of a mask), so replacing by import loses nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from danet_core.formats.common import BatchReport, FormatError, run_items
from danet_core.jobs import ProgressFn, StopFn
from danet_core.project import ImageRecord, ImageStatus, MaskConflict, MaskMissing, MaskStamp, Project


class LabelSource:
    """The label files of one folder in one format, matched to the images of ``project``.

    Subclasses set :attr:`expected` (what the folder should hold, for the "not a folder" error) and
    implement :meth:`files`, :meth:`match` and :meth:`read`. ``details`` collects per-format counts that
    end up in the import's :class:`BatchReport` (labelme: skipped non-area shapes).
    """

    expected = "a folder of label files"

    def __init__(self, project: Project, folder: str | os.PathLike[str]) -> None:
        self.project = project
        self.root = Path(folder)
        if not self.root.is_dir():
            raise FormatError(f"{self.root}: not a folder; expected {self.expected}")
        self.details: dict[str, Any] = {}

    def files(self) -> list[Path]:
        """Every file of the folder this format imports, in a stable (sorted) order."""
        raise NotImplementedError

    def match(self, path: Path) -> tuple[ImageRecord, Any]:
        """(the project image ``path`` belongs to, what was parsed to find it, passed on to :meth:`read`)."""
        raise NotImplementedError

    def read(self, path: Path, record: ImageRecord, content: Any) -> np.ndarray:
        """The mask of ``path`` as label-set indices (uint8, the image's size)."""
        raise NotImplementedError


def claim(source: LabelSource, path: Path, claimed: dict[int, Path]) -> tuple[ImageRecord, Any]:
    """:meth:`LabelSource.match`, refusing a second file for an image an earlier file matched."""
    record, content = source.match(path)
    first = claimed.setdefault(record.id, path)
    if first != path:
        raise FormatError(
            f"{path}: matches the same image as {first} ({record.rel_path}); only the first is used"
        )
    return record, content


def _keep_replaced(project: Project, image_id: int) -> bool:
    """Copy the mask an import is about to replace into ``conflicts/``; False when there is none."""
    try:
        old = project.load_mask(image_id)
    except MaskMissing:  # recorded but gone: nothing left to keep, the import restores a mask
        return False
    if old is None:
        return False
    project.keep_conflict_copy(image_id, old, "replaced")
    return True


def import_from(
    project: Project,
    source: LabelSource,
    *,
    status: ImageStatus | str = ImageStatus.REVIEWED,
    overwrite: bool = False,
    expected: dict[int, MaskStamp] | None = None,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> BatchReport:
    """Import every file of ``source`` into its image (see the module docstring for what is kept).

    ``details``: ``imported`` and ``kept_existing`` (relative image paths), ``unmatched`` (the error
    lines of files that match no image), ``changed_since_preview``, ``replaced``."""
    files = source.files()
    claimed: dict[int, Path] = {}
    report = BatchReport()
    details = report.details

    def handle(path: Path) -> bool:
        try:
            rec, content = claim(source, path, claimed)
        except FormatError as exc:
            details.setdefault("unmatched", []).append(str(exc))
            raise
        stamp = project.mask_stamp(rec.id)  # before the record: a save in between is then a conflict
        if expected is not None and rec.id in expected and stamp != expected[rec.id]:
            details.setdefault("changed_since_preview", []).append(rec.rel_path)
            return False
        has_mask = project.record(rec.id).has_mask  # now, not when the batch started
        if has_mask and not overwrite:
            details.setdefault("kept_existing", []).append(rec.rel_path)
            return False
        mask = source.read(path, rec, content)
        if has_mask and _keep_replaced(project, rec.id):
            details.setdefault("replaced", []).append(rec.rel_path)
        try:
            project.save_mask(rec.id, mask, status=status, expected=stamp)
        except MaskConflict:  # the app saved this mask a moment ago: it stays
            details.setdefault("changed_since_preview", []).append(rec.rel_path)
            return False
        details.setdefault("imported", []).append(rec.rel_path)
        return True

    run_items(files, len(files), handle, str, report, progress=progress, should_stop=should_stop)
    details.update(source.details)
    return report


def label_source(project: Project, folder: str | os.PathLike[str], fmt: str) -> LabelSource:
    """The :class:`LabelSource` of import format ``fmt`` (only that format's module is imported)."""
    if fmt == "cityscapes":
        from danet_core.formats.cityscapes_import import CityscapesSource

        return CityscapesSource(project, folder)
    if fmt == "labelme":
        from danet_core.formats.labelme import LabelmeSource

        return LabelmeSource(project, folder)
    if fmt in ("palette", "mask"):
        from danet_core.formats.masks import MaskSource

        return MaskSource(project, folder)
    from danet_core.formats import IMPORT_FORMATS

    raise FormatError(f"unknown import format {fmt!r}; expected one of {', '.join(IMPORT_FORMATS)}")
