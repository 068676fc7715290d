"""A stand-in for danet_core.project.ImageRecord with just the fields app.model reads."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Rec:
    id: int
    rel_path: str
    status: object = "presegmented"
    width: int = 10
    height: int = 10
    model_version: object = None
    pixels_changed: int | None = None
    seconds_spent: float | None = None
    uncertainty: float | None = None
