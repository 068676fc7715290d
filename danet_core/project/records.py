"""Plain records the project store hands out (no database handles inside, safe to pass between threads)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ProjectError(ValueError):
    """A project that cannot be created/opened, or a call with a wrong image id or mask."""


class StorageError(OSError):
    """The catalog or a file of the project could not be read or written: disk full, the catalog locked
    by another process, a read-only folder. Nothing was changed; the same call can be retried."""


class CatalogDamaged(ProjectError):
    """``project.sqlite`` is unreadable or fails its integrity check. The masks on disk are the truth:
    :func:`danet_core.project.rebuild_catalog` (``danet project rebuild``) recovers from them."""

    def __init__(self, message: str, project_dir: Path | None = None) -> None:
        super().__init__(message)
        self.project_dir = project_dir


class MaskConflict(ProjectError):
    """The mask file changed on disk (another process, an import) since the caller loaded it; saving
    would overwrite that change unseen, so nothing was written."""


class MaskMissing(ProjectError):
    """The catalog says the image has a mask but the file is gone (deleted, or not a file): lost work."""


@dataclass(frozen=True)
class MaskStamp:
    """Identity of a mask file's content at load time (None fields: there was no file)."""

    mtime_ns: int | None
    size: int | None

    @classmethod
    def of(cls, path: Path) -> MaskStamp:
        try:
            st = path.stat()
        except FileNotFoundError:
            return cls(None, None)
        return cls(st.st_mtime_ns, st.st_size)


class ImageStatus(enum.StrEnum):
    """Where an image is in the labeling loop."""

    NEW = "new"
    PRESEGMENTED = "presegmented"
    IN_PROGRESS = "in_progress"
    REVIEWED = "reviewed"

    @classmethod
    def parse(cls, value: str | ImageStatus) -> ImageStatus:
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(s.value for s in cls)
            raise ProjectError(f"unknown image status {value!r}; expected one of {allowed}") from None


@dataclass(frozen=True)
class ImageRecord:
    """One catalog row. ``width``/``height`` are None until the header was read (lazily, see
    :meth:`Project.image_size`); ``seconds_spent`` and ``pixels_changed`` are totals for the image."""

    id: int
    rel_path: str
    status: ImageStatus
    width: int | None
    height: int | None
    model_version: int | None
    pixels_changed: int | None
    seconds_spent: float | None
    uncertainty: float | None
    has_mask: bool = False
    has_prediction: bool = False
    missing: bool = False


@dataclass(frozen=True)
class ModelVersion:
    """A checkpoint copied into the project (``path`` is inside ``<project>/models``)."""

    id: int
    path: Path
    created: str
    parent: int | None
    metrics: dict[str, Any] = field(default_factory=dict)
    source: str = ""


@dataclass
class ScanResult:
    """What a (re)scan did; ``errors`` are one line per skipped file."""

    added: int = 0
    removed: int = 0
    missing_with_work: int = 0
    changed: int = 0  # files replaced on disk: size re-read, cached prediction dropped
    total: int = 0
    errors: list[str] = field(default_factory=list)
