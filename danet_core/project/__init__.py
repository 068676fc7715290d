"""The annotation project store (Qt-free): catalog, masks, prediction cache, model versions.

See :mod:`danet_core.project.store` for the layout and the decisions behind it.
"""

from __future__ import annotations

from danet_core.project.catalog import CATALOG_NAME, is_project_dir
from danet_core.project.records import (
    CatalogDamaged,
    ImageRecord,
    ImageStatus,
    MaskConflict,
    MaskMissing,
    MaskStamp,
    ModelVersion,
    ProjectError,
    ScanResult,
    StorageError,
)
from danet_core.project.recovery import RebuildReport, rebuild_catalog
from danet_core.project.store import LABEL_SET_FILE, Project

__all__ = [
    "CATALOG_NAME",
    "CatalogDamaged",
    "MaskConflict",
    "MaskMissing",
    "MaskStamp",
    "StorageError",
    "LABEL_SET_FILE",
    "ImageRecord",
    "ImageStatus",
    "ModelVersion",
    "Project",
    "ProjectError",
    "RebuildReport",
    "ScanResult",
    "is_project_dir",
    "rebuild_catalog",
]
