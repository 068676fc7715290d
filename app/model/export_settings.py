"""What the Export dialog proposes, checks and remembers, and the export job it runs (Qt-free).

Decisions (also in the README's app section):

- **Mapping proposal** for the Cityscapes export, per class of the project's label set, first match wins:
  1. the built-in mapping of the label set (``danet_core.formats.cityscapes_labels.BUILTIN_MAPPINGS``,
     e.g. ``camvid``: the same table as ``danet export --mapping camvid``);
  2. **by name** with the synonyms the model loader uses (``app.model.class_mapping.normalise_name``:
     case/spaces/punctuation ignored, ``Pavement`` = ``sidewalk``, ``motorbike`` = ``motorcycle``, ...);
     the Cityscapes label set itself maps every class onto itself this way;
  3. otherwise **unmapped**: nothing is guessed (VOC ``background`` is not assumed to be "unlabeled").
  What the user chose last time (saved in the project) replaces the proposal class by class.
- **Nothing silently dropped**: the export refuses to start while a class is unmapped and names every such
  class; a class the user does not want is mapped explicitly to ``unlabeled`` (id 0). Unlabeled pixels
  (255) are always written as ``unlabeled``.
- **Split and city** are parsed by the one parser the CLI uses (``cityscapes_export.parse_split`` /
  ``check_city``); an empty city means "the image's folder name", as without ``--city``.
- **Where files go**: with one format straight into the chosen folder, with several into one subfolder
  per format (``cityscapes/``, ``labelme/``, ...), as before.
- **Remembered in the project**: ``<project>/export_settings.json`` (formats, folder, reviewed only,
  split, city, the complete mapping), written atomically when an export starts. A file that cannot be
  read or does not check out is reported in one message naming it and the problem; the proposal is used
  instead and the file is replaced at the next export (the settings are preferences, not labels).
- **The summary** names the folder of each format, the number of images, for Cityscapes the images per
  split, and one line per failed image (the first 30; every line is also in the log).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from app.model.class_mapping import normalise_name
from danet_core.files import atomic_write_bytes
from danet_core.formats import EXPORT_FORMATS, BatchReport, export_project
from danet_core.formats.cityscapes_export import check_city, parse_split
from danet_core.formats.cityscapes_labels import BUILTIN_MAPPINGS, ID_TO_LABEL
from danet_core.jobs import ProgressFn, StopFn
from danet_core.labels import LabelSet
from danet_core.project import ImageStatus, Project

log = logging.getLogger(__name__)

SETTINGS_FILE = "export_settings.json"
SETTINGS_VERSION = 1
MAX_FAILED_LINES = 30
# Cityscapes label names a class can be exported as, in id order (0 unlabeled ... 33 bicycle).
CITYSCAPES_TARGETS: tuple[str, ...] = tuple(ID_TO_LABEL[i].name for i in sorted(ID_TO_LABEL))
UNLABELED_TARGET = ID_TO_LABEL[0].name
_TARGET_BY_KEY = {normalise_name(name): name for name in CITYSCAPES_TARGETS}

ORIGIN_SAVED = "saved in the project"
ORIGIN_NAME = "by name or synonym"
ORIGIN_NONE = "no match: choose one"


@dataclass(frozen=True)
class MappingRow:
    """One class of the label set and the Cityscapes label it is exported as (None = unmapped)."""

    class_name: str
    color: tuple[int, int, int]
    target: str | None
    origin: str  # built-in mapping name, ORIGIN_NAME, ORIGIN_SAVED or ORIGIN_NONE


def proposed_target(class_name: str, label_set_name: str) -> tuple[str | None, str]:
    """(Cityscapes label name or None, where it came from) for one class: built-in, by name, none."""
    builtin = BUILTIN_MAPPINGS.get(label_set_name, {})
    if class_name in builtin:
        return builtin[class_name], f"built-in {label_set_name} mapping"
    target = _TARGET_BY_KEY.get(normalise_name(class_name))
    return (target, ORIGIN_NAME) if target is not None else (None, ORIGIN_NONE)


def mapping_rows(label_set: LabelSet, saved: Mapping[str, str] | None = None) -> list[MappingRow]:
    """The table the dialog shows: every class in label-set order, the saved choice over the proposal."""
    rows = []
    for c in label_set.classes:
        target, origin = proposed_target(c.name, label_set.name)
        if saved and c.name in saved and saved[c.name] != target:
            target, origin = saved[c.name], ORIGIN_SAVED
        rows.append(MappingRow(c.name, c.color, target, origin))
    return rows


def effective_mapping(label_set: LabelSet, chosen: Mapping[str, str]) -> dict[str, str | None]:
    """Class -> Cityscapes label the export uses: the user's ``chosen`` ones over the proposal."""
    return {r.class_name: r.target for r in mapping_rows(label_set, chosen)}


def cityscapes_target(value: object, class_name: str) -> str:
    """A Cityscapes label name (or id 0..33) -> its name; anything else is refused, naming the class."""
    if isinstance(value, int) and not isinstance(value, bool) and value in ID_TO_LABEL:
        return ID_TO_LABEL[value].name
    if isinstance(value, str) and value in CITYSCAPES_TARGETS:
        return value
    raise ValueError(
        f"class {class_name!r} -> {value!r}: expected a Cityscapes label name (e.g. 'road', "
        f"'{UNLABELED_TARGET}') or id 0..33"
    )


def complete_mapping(label_set: LabelSet, mapping: Mapping[str, object | None]) -> dict[str, str]:
    """Every class of ``label_set`` -> its Cityscapes label name; refuses (ValueError) while any class is
    unmapped, naming all of them, so that no class is dropped without the user saying so."""
    unmapped = [c.name for c in label_set.classes if mapping.get(c.name) is None]
    if unmapped:
        raise ValueError(
            f"{len(unmapped)} class(es) have no Cityscapes label: {', '.join(unmapped)}; choose one for each "
            f"(or '{UNLABELED_TARGET}' to leave its pixels unlabeled)"
        )
    return {c.name: cityscapes_target(mapping[c.name], c.name) for c in label_set.classes}


@dataclass
class ExportSettings:
    """The Export dialog's choices, as remembered in the project."""

    formats: tuple[str, ...] = (EXPORT_FORMATS[0],)
    folder: str = ""
    reviewed_only: bool = True
    split: str = "auto"
    city: str = ""  # "" = each image's folder name
    # class name -> Cityscapes label name chosen by the user; classes not in it get the proposal
    mapping: dict[str, str] = field(default_factory=dict)

    def to_dict(self, label_set_name: str) -> dict[str, Any]:
        return {
            "version": SETTINGS_VERSION,
            "label_set": label_set_name,
            "formats": list(self.formats),
            "folder": self.folder,
            "reviewed_only": self.reviewed_only,
            "cityscapes": {"split": self.split, "city": self.city, "mapping": dict(self.mapping)},
        }

    @classmethod
    def from_dict(cls, data: object, label_set: LabelSet) -> ExportSettings:
        """Settings from their JSON form; ValueError naming the first field that does not check out."""
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        cs = data.get("cityscapes", {})
        formats = data.get("formats", list(cls.formats))
        if not isinstance(formats, list) or any(f not in EXPORT_FORMATS for f in formats):
            raise ValueError(f"formats {formats!r}: expected a list of {', '.join(EXPORT_FORMATS)}")
        if not isinstance(cs, dict):
            raise ValueError(f"cityscapes {cs!r}: expected an object with split, city and mapping")
        settings = cls(
            formats=tuple(formats),
            folder=_typed(data, "folder", str, ""),
            reviewed_only=_typed(data, "reviewed_only", bool, True),
            split=_typed(cs, "split", str, "auto"),
            city=_typed(cs, "city", str, ""),
            mapping=_saved_mapping(cs.get("mapping", {}), label_set, data.get("label_set")),
        )
        parse_split(settings.split)
        check_city(settings.city or None)
        return settings


def _typed(data: dict, key: str, kind: type, default: Any) -> Any:
    value = data.get(key, default)
    if not isinstance(value, kind):
        raise ValueError(f"{key} {value!r}: expected a {kind.__name__}")
    return value


def _saved_mapping(raw: object, label_set: LabelSet, saved_for: object) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise ValueError(f"mapping {raw!r}: expected an object {{class name: Cityscapes label}}")
    if saved_for is not None and saved_for != label_set.name:
        raise ValueError(f"saved for label set {saved_for!r}; this project's is {label_set.name!r}")
    names = {c.name for c in label_set.classes}
    unknown = sorted(k for k in raw if k not in names)
    if unknown:
        raise ValueError(f"mapping names {unknown}, which are not classes of label set {label_set.name!r}")
    return {k: cityscapes_target(v, k) for k, v in raw.items()}


def settings_path(project_dir: str | os.PathLike[str]) -> Path:
    return Path(project_dir) / SETTINGS_FILE


@dataclass(frozen=True)
class LoadedSettings:
    settings: ExportSettings
    note: str = ""  # why the saved file was not used ("" when it was, or there was none)


def load_export_settings(project_dir: str | os.PathLike[str], label_set: LabelSet) -> LoadedSettings:
    """The project's saved export settings; defaults (the proposal) when none are saved, and the same
    with a message naming the file and the problem when the file cannot be used."""
    path = settings_path(project_dir)
    if not path.is_file():
        return LoadedSettings(ExportSettings())
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return LoadedSettings(ExportSettings.from_dict(data, label_set))
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError, FormatError: ValueErrors
        note = (
            f"{path}: the saved export settings cannot be used ({exc}); showing the proposed settings "
            "instead (the file is replaced at the next export)"
        )
        log.warning("%s", note)
        return LoadedSettings(ExportSettings(), note)


def save_export_settings(
    project_dir: str | os.PathLike[str], settings: ExportSettings, label_set: LabelSet
) -> Path:
    """Write the settings atomically into the project folder; returns the file."""
    path = settings_path(project_dir)
    text = json.dumps(settings.to_dict(label_set.name), indent=2, ensure_ascii=False) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))
    return path


# -- the export job --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExportJob:
    fmt: str
    folder: Path
    options: dict[str, Any] = field(default_factory=dict)  # format options of export_project


@dataclass(frozen=True)
class ExportPlan:
    jobs: tuple[ExportJob, ...]
    statuses: tuple[ImageStatus, ...] | None  # None: every image with a mask


def plan_export(settings: ExportSettings, label_set: LabelSet) -> ExportPlan:
    """The export ``settings`` stand for, or ValueError with the one thing to fix (no format, no
    folder, a bad split or city, an unmapped class)."""
    if not settings.formats:
        raise ValueError("no format chosen; expected at least one of " + ", ".join(EXPORT_FORMATS))
    unknown = [f for f in settings.formats if f not in EXPORT_FORMATS]
    if unknown:
        raise ValueError(f"formats {unknown}: expected {', '.join(EXPORT_FORMATS)}")
    folder = settings.folder.strip()
    if not folder or folder == ".":
        raise ValueError("no destination folder; choose the folder the files go to")
    root = Path(folder).expanduser()
    jobs = []
    for fmt in settings.formats:
        options: dict[str, Any] = {}
        if fmt == "cityscapes":
            options = {
                "split": parse_split(settings.split),
                "city": check_city(settings.city.strip() or None),
                "mapping": complete_mapping(label_set, effective_mapping(label_set, settings.mapping)),
            }
        jobs.append(ExportJob(fmt, root / fmt if len(settings.formats) > 1 else root, options))
    return ExportPlan(tuple(jobs), (ImageStatus.REVIEWED,) if settings.reviewed_only else None)


def run_export_plan(
    project: Project,
    plan: ExportPlan,
    *,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> list[tuple[ExportJob, BatchReport]]:
    """Export each job in turn through ``export_project`` (the entry point of ``danet export``); a
    worker job: progress runs 0..1000 per format."""
    reports = []
    total = 1000 * len(plan.jobs)
    for n, job in enumerate(plan.jobs):

        def step(done: int, count: int, message: str, n: int = n, fmt: str = job.fmt) -> None:
            if progress is not None:
                progress(n * 1000 + int(1000 * done / max(count, 1)), total, f"{fmt}: {message}")

        report = export_project(
            project,
            job.folder,
            job.fmt,
            statuses=plan.statuses,
            progress=step,
            should_stop=should_stop,
            **job.options,
        )
        reports.append((job, report))
    return reports


def _per_split(report: BatchReport, folder: Path) -> dict[str, int]:
    """Cityscapes images written per split, from the exporter's list of written files."""
    counts: dict[str, int] = {}
    for path in report.written:
        rel = PurePath(path).relative_to(folder).parts if PurePath(path).is_relative_to(folder) else ()
        if len(rel) == 4 and rel[0] == "leftImg8bit":
            counts[rel[1]] = counts.get(rel[1], 0) + 1
    return counts


def export_summary(results: Sequence[tuple[ExportJob, BatchReport]]) -> tuple[str, bool]:
    """(text of the end-of-export message, True when every image was exported)."""
    blocks = []
    for job, report in results:
        lines = [f"{job.fmt}: {report.done} image(s) exported to {job.folder}"]
        if job.fmt == "cityscapes" and report.done:
            splits = _per_split(report, Path(job.folder).expanduser().absolute())
            per = ", ".join(f"{name} {count}" for name, count in sorted(splits.items()))
            lines.append(f"  leftImg8bit/ and gtFine/ by split: {per}; names in mapping.csv")
        if report.skipped:
            lines.append(f"  {report.skipped} skipped")
        if report.errors:
            lines.append(f"  {len(report.errors)} failed:")
            lines += [f"  {line}" for line in report.errors[:MAX_FAILED_LINES]]
            if len(report.errors) > MAX_FAILED_LINES:
                lines.append(
                    f"  ... and {len(report.errors) - MAX_FAILED_LINES} more (every line is in the log)"
                )
        blocks.append("\n".join(lines))
    ok = all(report.ok for _, report in results)
    return "\n\n".join(blocks) or "Nothing was exported.", ok
