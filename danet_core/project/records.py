"""Plain records the project store hands out (no database handles inside, safe to pass between threads)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ProjectError(ValueError):
    """A project that cannot be created/opened, or a call with a wrong image id or mask."""


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
    total: int = 0
    errors: list[str] = field(default_factory=list)
