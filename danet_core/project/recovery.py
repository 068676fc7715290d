"""Rebuilding a damaged catalog from what is on disk: the masks are the truth.

``project.sqlite`` can be damaged by a disk fault, a copy interrupted half-way or a hand edit. Nothing the
user drew lives only there: every mask is ``masks/<id>.png`` and carries the relative path of its image
and its status in PNG text chunks (:data:`danet_core.project.store.MASK_PATH_KEY`). Rebuilding:

1. salvages what the damaged catalog still yields (meta, image rows, model versions; row by row, so one
   bad page loses only its rows) — it is moved aside as ``project.sqlite.damaged-<time>``, never deleted;
2. creates a fresh catalog, re-inserts the salvaged rows with their ids (mask file names stay valid) and
   a row for every mask whose text names an image the salvage did not;
3. rescans the image folder for the rest, re-adds model files without a row, drops the prediction cache.

Masks that can be matched to no image are left where they are and listed in the report.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from danet_core.images import png_text
from danet_core.labels import resolve_label_set
from danet_core.project.catalog import CATALOG_NAME, SCHEMA_VERSION, Catalog
from danet_core.project.masks import MASK_PATH_KEY, MASK_STATUS_KEY
from danet_core.project.records import ImageStatus, ProjectError
from danet_core.project.store import LABEL_SET_FILE, Project

log = logging.getLogger(__name__)

_ROW_COLUMNS = "id, rel_path, status, pixels_changed, seconds_spent"


@dataclass
class RebuildReport:
    """What a rebuild recovered. ``unmatched_masks``: mask files no image could be found for."""

    damaged_copy: Path
    salvaged_rows: int = 0
    masks_recovered: int = 0
    model_versions: int = 0
    unmatched_masks: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"catalog rebuilt: {self.salvaged_rows} image rows salvaged, {self.masks_recovered} masks "
            f"recovered from their files, {self.model_versions} model versions; the damaged catalog is "
            f"kept as {self.damaged_copy}"
        )
        if self.unmatched_masks:
            text += f"; {len(self.unmatched_masks)} masks match no image and were left in place"
        return text


def _salvage(path: Path) -> tuple[dict[str, str], list[tuple], list[tuple]]:
    """(meta, image rows, model-version rows) that can still be read, row by row."""
    meta: dict[str, str] = {}
    images: list[tuple] = []
    versions: list[tuple] = []
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return meta, images, versions
    with conn:
        for sql, sink in (
            ("SELECT key, value FROM meta", None),
            (f"SELECT {_ROW_COLUMNS} FROM images WHERE rowid = ?", images),
            (
                "SELECT id, file, created, parent, metrics, source FROM model_versions WHERE rowid = ?",
                versions,
            ),
        ):
            try:
                if sink is None:
                    meta.update({str(k): str(v) for k, v in conn.execute(sql)})
                    continue
                top = conn.execute(f"SELECT max(rowid) FROM {sql.split(' FROM ')[1].split()[0]}").fetchone()[
                    0
                ]
            except sqlite3.Error:
                continue
            for rowid in range(1, int(top or 0) + 1):
                try:
                    sink.extend(conn.execute(sql, (rowid,)).fetchall())
                except sqlite3.Error:
                    continue
    conn.close()
    return meta, images, versions


def _move_aside(pdir: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    copy = pdir / f"{CATALOG_NAME}.damaged-{stamp}"
    for suffix in ("", "-wal", "-shm"):
        src = pdir / (CATALOG_NAME + suffix)
        if src.exists():
            os.replace(src, pdir / f"{copy.name}{suffix}")
    return copy


def rebuild_catalog(
    project_dir: str | os.PathLike[str], *, image_root: str | os.PathLike[str] | None = None
) -> RebuildReport:
    """Rebuild ``<project>/project.sqlite`` (see the module docstring); returns what was recovered.

    ``image_root``: the image folder, needed only when the damaged catalog no longer says where it is.
    """
    pdir = Path(project_dir).expanduser().absolute()
    label_set = resolve_label_set(pdir / LABEL_SET_FILE)  # checked before anything is moved
    meta, rows, versions = _salvage(pdir / CATALOG_NAME)
    if image_root is not None:
        root = Path(image_root).expanduser().absolute()
    elif meta.get("image_root"):
        root = Path(meta["image_root"])
    else:
        raise ProjectError(
            f"{pdir}: the damaged catalog no longer says where the images are; pass --images DIR"
        )
    if not root.is_dir():
        raise ProjectError(f"{pdir}: image folder {root} not found; pass the image folder (--images DIR)")
    report = RebuildReport(damaged_copy=_move_aside(pdir), salvaged_rows=len(rows))
    catalog = Catalog(pdir / CATALOG_NAME, create=True)
    known = {int(r[0]): str(r[1]) for r in rows}
    with catalog.transaction() as conn:
        for key, value in {**meta, "schema_version": str(SCHEMA_VERSION), "image_root": str(root)}.items():
            catalog.set_meta(conn, key, value)
        catalog.set_meta(conn, "image_root_rel", os.path.relpath(root, pdir))
        for r in rows:
            conn.execute(f"INSERT INTO images({_ROW_COLUMNS}) VALUES (?, ?, ?, ?, ?)", r)
        _recover_masks(conn, pdir, known, report)
        _restore_versions(conn, pdir, versions, report)
    catalog.close()
    with Project.open(pdir) as project:
        if project.label_set.name != label_set.name:  # pragma: no cover - same file read twice
            raise ProjectError(f"{pdir}: the label set changed while rebuilding")
        project.rescan()
        project.invalidate_predictions()
    log.info("%s: %s", pdir, report.summary())
    return report


def _recover_masks(
    conn: sqlite3.Connection, pdir: Path, known: dict[int, str], report: RebuildReport
) -> None:
    """A row for every mask file (by the image path in its text); has_mask from the files, not the rows."""
    taken = set(known.values())
    for mask in sorted((pdir / "masks").glob("*.png")):
        if not mask.stem.isdigit():
            continue
        image_id = int(mask.stem)
        text = png_text(mask)
        if image_id not in known:
            rel = text.get(MASK_PATH_KEY)
            if not rel or rel in taken:
                report.unmatched_masks.append(mask)
                continue
            status = text.get(MASK_STATUS_KEY, ImageStatus.IN_PROGRESS.value)
            conn.execute(
                "INSERT INTO images(id, rel_path, status) VALUES (?, ?, ?)",
                (image_id, rel, ImageStatus.parse(status).value),
            )
            known[image_id], report.masks_recovered = rel, report.masks_recovered + 1
            taken.add(rel)
        conn.execute("UPDATE images SET has_mask = 1 WHERE id = ?", (image_id,))


def _restore_versions(
    conn: sqlite3.Connection, pdir: Path, versions: list[tuple], report: RebuildReport
) -> None:
    listed = set()
    for v in versions:
        conn.execute(
            "INSERT INTO model_versions(id, file, created, parent, metrics, source) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            v,
        )
        listed.add(str(v[1]))
    for f in sorted((pdir / "models").glob("*.pt")) if (pdir / "models").is_dir() else []:
        if f.name not in listed and str(f) not in listed:
            conn.execute(
                "INSERT INTO model_versions(file, created, metrics, source) VALUES (?, ?, ?, ?)",
                (f.name, time.strftime("%Y-%m-%dT%H:%M:%S%z"), json.dumps({"recovered": True}), "recovered"),
            )
    report.model_versions = conn.execute("SELECT COUNT(*) FROM model_versions").fetchone()[0]
    active = conn.execute("SELECT value FROM meta WHERE key = 'active_model'").fetchone()
    if active and not conn.execute("SELECT 1 FROM model_versions WHERE id = ?", (int(active[0]),)).fetchone():
        conn.execute("DELETE FROM meta WHERE key = 'active_model'")  # its row was not salvaged
