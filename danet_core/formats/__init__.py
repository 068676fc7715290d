"""Label formats: Cityscapes, labelme JSON, palette PNG and plain 8-bit mask folders (import and export).

One entry point per direction so the CLI and the app call the same functions:
``export_project(project, out_dir, fmt, **options)`` and ``import_labels(project, folder, fmt, **options)``,
both long jobs (``progress``/``should_stop``) returning a :class:`BatchReport`; ``preview_labels`` is the
import's dry run (which file matches which image, which images already have a mask), built from the
same matching (:mod:`danet_core.formats.sources`).
"""

from __future__ import annotations

import os
from typing import Any

from danet_core.formats.common import BatchReport, ExportFolderError, FormatError
from danet_core.formats.preview import FormatGuess, ImportPreview, guess_format, preview_import
from danet_core.formats.sources import import_from, label_source
from danet_core.project import Project

EXPORT_FORMATS = ("cityscapes", "labelme", "palette", "mask")
IMPORT_FORMATS = ("cityscapes", "labelme", "palette", "mask")


def export_project(
    project: Project, out_dir: str | os.PathLike[str], fmt: str, **options: Any
) -> BatchReport:
    """Export the project's masks (default: reviewed images) in format ``fmt``."""
    if fmt == "cityscapes":
        from danet_core.formats.cityscapes_export import export_cityscapes

        return export_cityscapes(project, out_dir, **options)
    if fmt == "labelme":
        from danet_core.formats.labelme import export_labelme

        return export_labelme(project, out_dir, **options)
    if fmt in ("palette", "mask"):
        from danet_core.formats.masks import export_masks

        return export_masks(project, out_dir, palette=fmt == "palette", **options)
    raise FormatError(f"unknown export format {fmt!r}; expected one of {', '.join(EXPORT_FORMATS)}")


def import_labels(project: Project, folder: str | os.PathLike[str], fmt: str, **options: Any) -> BatchReport:
    """Import annotations from ``folder`` into the project's matching images (``options``: ``status``,
    ``overwrite``, ``expected``, ``progress``, ``should_stop``; see :func:`sources.import_from`)."""
    return import_from(project, label_source(project, folder, fmt), **options)


def preview_labels(
    project: Project, folder: str | os.PathLike[str], fmt: str, **options: Any
) -> ImportPreview:
    """What :func:`import_labels` would do with ``folder``, without writing anything (a dry run)."""
    return preview_import(label_source(project, folder, fmt), fmt, **options)


__all__ = [
    "EXPORT_FORMATS",
    "IMPORT_FORMATS",
    "BatchReport",
    "ExportFolderError",
    "FormatError",
    "FormatGuess",
    "ImportPreview",
    "export_project",
    "guess_format",
    "import_labels",
    "preview_labels",
]
