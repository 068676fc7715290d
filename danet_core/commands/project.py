"""``danet project create|info|rescan|import`` and ``danet export``: thin wrappers over
:mod:`danet_core.project` and :mod:`danet_core.formats`.

Exit status: 0 when every item succeeded, 1 when some items failed (the summary lists them, one line
each) or the command was refused (one ``danet: error:`` line from the dispatcher).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from danet_core.jobs import ProgressFn

if TYPE_CHECKING:
    from tqdm import tqdm

FORMATS = ("cityscapes", "labelme", "palette", "mask")
STATUSES = ("new", "presegmented", "in_progress", "reviewed")


def register(subparsers: argparse._SubParsersAction) -> None:
    project = subparsers.add_parser("project", help="create, inspect and import into annotation projects")
    sub = project.add_subparsers(dest="project_command", metavar="ACTION", required=True)

    p = sub.add_parser("create", help="create a project for an image folder (scanned recursively)")
    p.add_argument("project_dir", type=Path)
    p.add_argument("image_dir", type=Path)
    p.add_argument("--labels", default="cityscapes", help="cityscapes | camvid | voc | label-set JSON file")
    p.set_defaults(func=_create)

    p = sub.add_parser("info", help="print a project's summary")
    p.add_argument("project_dir", type=Path)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_info)

    p = sub.add_parser("rescan", help="pick up images added to or removed from the image folder")
    p.add_argument("project_dir", type=Path)
    p.set_defaults(func=_rescan)

    p = sub.add_parser("rebuild", help="rebuild a damaged catalog from the masks on disk")
    p.add_argument("project_dir", type=Path)
    p.add_argument("--images", type=Path, default=None, help="the image folder (when the catalog lost it)")
    p.set_defaults(func=_rebuild)

    p = sub.add_parser("import", help="import existing annotations into the matching project images")
    p.add_argument("project_dir", type=Path)
    p.add_argument("folder", type=Path, help="gtFine folder, labelme JSON folder or mask folder")
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("--status", default="reviewed", choices=STATUSES, help="status of imported images")
    p.add_argument("--overwrite", action="store_true", help="replace masks the project already has")
    p.add_argument(
        "--dry-run", action="store_true", help="only show which files match which images; write nothing"
    )
    p.set_defaults(func=_import)

    e = subparsers.add_parser("export", help="export a project's masks (cityscapes, labelme, palette, mask)")
    e.add_argument("project_dir", type=Path)
    e.add_argument("out_dir", type=Path)
    e.add_argument("--format", required=True, choices=FORMATS)
    e.add_argument(
        "--status",
        nargs="+",
        default=["reviewed"],
        choices=STATUSES,
        help="export images with these statuses (default: reviewed)",
    )
    e.add_argument("--all", action="store_true", help="export every image that has a mask")
    e.add_argument(
        "--split",
        default="auto",
        help="cityscapes: auto (train/val/test folder in the path, else train) | a name | train=0.8,val=0.2",
    )
    e.add_argument("--city", default=None, help="cityscapes: city of generated names (default: folder name)")
    e.add_argument("--mapping", default=None, help="cityscapes: 'camvid' or a JSON {class: Cityscapes label}")
    e.set_defaults(func=_export)


def _progress(desc: str) -> tuple[ProgressFn, tqdm]:
    from tqdm import tqdm

    bar = tqdm(desc=desc, unit="img", file=sys.stderr, disable=not sys.stderr.isatty())

    def progress(done: int, total: int, message: str) -> None:
        if total and bar.total != total:
            bar.total = total
        bar.n = done
        bar.refresh()

    return progress, bar


def _create(args: argparse.Namespace) -> int:
    from danet_core.project import Project

    progress, bar = _progress("scanning")
    with Project.create(args.project_dir, args.image_dir, args.labels, progress=progress) as project:
        bar.close()
        counts = project.counts()
        print(
            f"created {project.project_dir}: {counts['total']} images, label set {project.label_set.name!r}"
        )
        errors = project.last_scan.errors if project.last_scan is not None else []
    return _report_scan_errors(errors)


def _report_scan_errors(errors: list[str]) -> int:
    """Files the scan skipped, one line each; exit status 1 when there are any (create and rescan alike:
    the project is usable, but not every file was taken in)."""
    for line in errors:
        print(f"  skipped {line}", file=sys.stderr)
    return 1 if errors else 0


def _rebuild(args: argparse.Namespace) -> int:
    from danet_core.project import rebuild_catalog

    report = rebuild_catalog(args.project_dir, image_root=args.images)
    print(report.summary())
    for mask in report.unmatched_masks:
        print(f"  unmatched mask {mask}", file=sys.stderr)
    return 0


def _info(args: argparse.Namespace) -> int:
    from danet_core.project import Project

    with Project.open(args.project_dir) as project:
        active = project.active_model_version()
        info = {
            "project_dir": str(project.project_dir),
            "image_root": str(project.image_root),
            "label_set": project.label_set.name,
            "classes": len(project.label_set),
            "images": project.counts(),
            "model_versions": len(project.model_versions()),
            "active_model": None if active is None else {"id": active.id, "metrics": active.metrics},
        }
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            print(f"{key}: {value}")
    return 0


def _rescan(args: argparse.Namespace) -> int:
    from danet_core.project import Project

    with Project.open(args.project_dir) as project:
        result = project.rescan()
    print(
        f"{result.total} images: {result.added} added, {result.removed} removed, "
        f"{result.changed} changed on disk, {result.missing_with_work} missing"
    )
    return _report_scan_errors(result.errors)


def _import(args: argparse.Namespace) -> int:
    from danet_core.formats import import_labels, preview_labels
    from danet_core.project import Project

    if args.dry_run:
        with Project.open(args.project_dir) as project:
            print(preview_labels(project, args.folder, args.format).summary())
        return 0
    progress, bar = _progress("importing")
    with Project.open(args.project_dir) as project:
        report = import_labels(
            project, args.folder, args.format, status=args.status, overwrite=args.overwrite, progress=progress
        )
    bar.close()
    print(f"import: {report.summary()}")
    if report.details.get("kept_existing"):
        print(f"  {len(report.details['kept_existing'])} images kept their mask (use --overwrite to replace)")
    return 0 if report.ok else 1


def _export(args: argparse.Namespace) -> int:
    from danet_core.formats import export_project
    from danet_core.formats.cityscapes_export import parse_split
    from danet_core.project import Project

    options: dict = {"statuses": None if args.all else args.status}
    if args.format == "cityscapes":
        options.update(split=parse_split(args.split), city=args.city, mapping=args.mapping)
    elif args.mapping or args.city:
        raise ValueError("--mapping and --city only apply to --format cityscapes")
    progress, bar = _progress("exporting")
    with Project.open(args.project_dir) as project:
        report = export_project(project, args.out_dir, args.format, progress=progress, **options)
    bar.close()
    print(f"export to {args.out_dir}: {report.summary()}")
    return 0 if report.ok else 1
