"""Label formats: Cityscapes, labelme JSON, palette PNG and plain 8-bit mask folders (import and export).

One entry point per direction so the CLI and the app call the same functions:
``export_project(project, out_dir, fmt, **options)`` and ``import_labels(project, folder, fmt, **options)``,
both long jobs (``progress``/``should_stop``) returning a :class:`BatchReport`.
"""

from __future__ import annotations

import os
from typing import Any

from danet_core.formats.common import BatchReport, ExportFolderError, FormatError
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
    """Import annotations from ``folder`` into the project's matching images."""
    if fmt == "cityscapes":
        from danet_core.formats.cityscapes_import import import_cityscapes

        return import_cityscapes(project, folder, **options)
    if fmt == "labelme":
        from danet_core.formats.labelme import import_labelme

        return import_labelme(project, folder, **options)
    if fmt in ("palette", "mask"):
        from danet_core.formats.masks import import_masks

        return import_masks(project, folder, **options)
    raise FormatError(f"unknown import format {fmt!r}; expected one of {', '.join(IMPORT_FORMATS)}")


__all__ = [
    "EXPORT_FORMATS",
    "IMPORT_FORMATS",
    "BatchReport",
    "ExportFolderError",
    "FormatError",
    "export_project",
    "import_labels",
]
