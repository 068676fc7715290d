"""The annotation project store (Qt-free): catalog, masks, prediction cache, model versions.

See :mod:`danet_core.project.store` for the layout and the decisions behind it.
"""

from __future__ import annotations

from danet_core.project.catalog import CATALOG_NAME, is_project_dir
from danet_core.project.records import ImageRecord, ImageStatus, ModelVersion, ProjectError, ScanResult
from danet_core.project.store import LABEL_SET_FILE, Project

__all__ = [
    "CATALOG_NAME",
    "LABEL_SET_FILE",
    "ImageRecord",
    "ImageStatus",
    "ModelVersion",
    "Project",
    "ProjectError",
    "ScanResult",
    "is_project_dir",
]
