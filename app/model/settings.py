"""Qt-free session state of the app: where projects live, recent projects, user settings.

Decisions (documented in the README section ``app``):

- ``danet-annotator FOLDER`` with a folder of images creates (or reopens) the project at
  ``<platformdirs user data>/projects/<folder name>-<8 hex of the folder's absolute path hash>``. Why not
  ``FOLDER/.danet-project``: image folders are often read-only or shared datasets, and a project folder
  inside the image root would be scanned as images. The location is deterministic, so reopening the same
  folder always finds the same project, and the window title shows it.
- A folder that already is a project (``danet_core.project.is_project_dir``: it holds the catalog) opens
  directly; ``is_project_dir`` is re-exported here for the app.
- Settings are one JSON file in the platformdirs config dir, written atomically; an unreadable file is
  reported in the log and replaced by defaults (the settings are preferences, not user data).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from danet_core.files import atomic_write_bytes
from danet_core.options import PRECISIONS, PredictOptions, check_choice
from danet_core.project.catalog import is_project_dir

log = logging.getLogger(__name__)

__all__ = ["AppSettings", "RecentProjects", "default_project_dir", "is_project_dir", "projects_root"]

# The app offers whole-image and sliding-window inference (multi-scale is an evaluation protocol).
APP_MODES = ("whole", "slide")
APP_NAME = "danet-annotator"
MAX_RECENT = 10


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def projects_root() -> Path:
    """Parent folder of the projects created from image folders."""
    return data_dir() / "projects"


def default_project_dir(image_folder: str | os.PathLike[str]) -> Path:
    """Predictable project location of an image folder (see the module docstring)."""
    folder = Path(image_folder).expanduser().resolve()
    digest = hashlib.sha1(str(folder).encode("utf-8")).hexdigest()[:8]
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in folder.name) or "images"
    return projects_root() / f"{name}-{digest}"


@dataclass
class AppSettings:
    """User preferences that outlive a project; inference options mirror ``inference.Predictor``."""

    device: str = "auto"  # danet_core.options.DEVICE_HELP
    precision: str = "fp32"  # danet_core.options.PRECISIONS
    mode: str = "whole"  # APP_MODES (sliding window for large images)
    crop: int = 1024  # sliding-window crop side (pixels)
    stride: int = 768
    # Images wider/taller than this are predicted with a sliding window even in "whole" mode, so an
    # 8000 x 6000 photo does not allocate a 48 Mpx feature pyramid at once.
    slide_above: int = 2048
    prefetch: int = 2  # next images of the list pre-segmented ahead of time
    autosave_delay_ms: int = 2000
    overlay_opacity: float = 0.5
    heatmap_opacity: float = 0.6
    default_label_set: str = "cityscapes"
    # remembered across launches (issue 10): the list order, the brush, fine-tune overrides
    list_order: str = "name"  # "name" | "uncertainty"
    brush_size: int = 15
    finetune_overrides: dict | None = None  # a FinetunePlan dict while "advanced settings" is on

    def validate(self) -> None:
        check_choice("precision", self.precision, PRECISIONS)
        check_choice("inference mode", self.mode, APP_MODES)
        if not (64 <= self.stride <= self.crop):
            raise ValueError(f"stride {self.stride} with crop {self.crop}; expected 64 <= stride <= crop")
        if not (0 <= self.prefetch <= 16):
            raise ValueError(f"prefetch {self.prefetch}; expected 0..16")
        if self.autosave_delay_ms < 0:
            raise ValueError(f"autosave delay {self.autosave_delay_ms} ms; expected >= 0")
        check_choice("list order", self.list_order, ("name", "uncertainty"))
        if not (1 <= int(self.brush_size) <= 512):
            raise ValueError(f"brush size {self.brush_size}; expected 1..512 pixels")

    def predict_options(self, **changes: object) -> PredictOptions:
        """The inference options these settings stand for (``changes`` override, e.g. ``mode="slide"``)."""
        base = PredictOptions(
            device=self.device,
            precision=self.precision,
            mode=self.mode,
            crop=(self.crop, self.crop),
            stride=(self.stride, self.stride),
        )
        return base.replace(**changes)

    @classmethod
    def from_dict(cls, data: dict) -> AppSettings:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        settings = cls(**values)
        settings.validate()
        return settings

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def settings_path() -> Path:
    return config_dir() / "settings.json"


def load_settings(path: Path | None = None) -> AppSettings:
    p = path or settings_path()
    if not p.is_file():
        return AppSettings()
    try:
        return AppSettings.from_dict(json.loads(p.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        log.warning("%s: unreadable settings (%s); using defaults", p, exc)
        return AppSettings()


def save_settings(settings: AppSettings, path: Path | None = None) -> None:
    settings.validate()
    atomic_write_bytes(path or settings_path(), json.dumps(settings.to_dict(), indent=2).encode("utf-8"))


@dataclass(frozen=True)
class RecentEntry:
    """One recent project: its folder and the image folder it labels (what the menu shows)."""

    project_dir: Path
    image_root: Path | None = None

    def label(self) -> str:
        """The menu text: the image folder the user chose, the project folder only as a fallback."""
        if self.image_root is None:
            return str(self.project_dir)
        return f"{self.image_root}  —  {self.project_dir.name}"


@dataclass
class RecentProjects:
    """Most recently opened projects, newest first, persisted as JSON (the first is the last project,
    offered again at the next launch)."""

    path: Path = field(default_factory=lambda: config_dir() / "recent_projects.json")
    entries: list[RecentEntry] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path | None = None) -> RecentProjects:
        recent = cls() if path is None else cls(path=path)
        try:
            raw = json.loads(recent.path.read_text(encoding="utf-8")) if recent.path.is_file() else []
            recent.entries = [e for e in (_entry(item) for item in raw) if e is not None]
        except (OSError, ValueError, TypeError) as exc:
            log.warning("%s: unreadable recent-projects list (%s); starting empty", recent.path, exc)
        return recent

    def add(self, project_dir: Path, image_root: Path | None = None) -> None:
        entry = RecentEntry(Path(project_dir).resolve(), None if image_root is None else Path(image_root))
        self.entries = [entry] + [e for e in self.entries if e.project_dir != entry.project_dir]
        del self.entries[MAX_RECENT:]
        self.save()

    def existing(self) -> list[RecentEntry]:
        """Entries whose project folder still exists (a deleted project is hidden, not an error)."""
        return [e for e in self.entries if e.project_dir.is_dir()]

    def last(self) -> RecentEntry | None:
        existing = self.existing()
        return existing[0] if existing else None

    def clear(self) -> None:
        self.entries = []
        self.save()

    def save(self) -> None:
        data = [{"project": str(e.project_dir), "images": str(e.image_root or "")} for e in self.entries]
        atomic_write_bytes(self.path, json.dumps(data, indent=2).encode("utf-8"))


def _entry(item: object) -> RecentEntry | None:
    if isinstance(item, str):  # the list of versions before the image folder was recorded
        return RecentEntry(Path(item))
    if isinstance(item, dict) and isinstance(item.get("project"), str):
        images = item.get("images")
        return RecentEntry(
            Path(item["project"]), Path(images) if isinstance(images, str) and images else None
        )
    return None
