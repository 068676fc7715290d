"""The project store: catalog + masks + prediction cache + model versions in one project folder.

Layout of ``<project>/``::

    project.sqlite          catalog (WAL): meta, images, model_versions
    label_set.json          the project's LabelSet (written once at creation, atomically)
    masks/<id>.png          annotation: 8-bit PNG of label-set indices, 255 = unlabeled
    predictions/<id>.png    cached prediction: 2-channel 8-bit PNG (L = label index, A = confidence * 255)
    models/<name>.pt        checkpoints copied in by add_model_version

Decisions (also in docs/formats.md):
- Source images are only read. Every file write is atomic (danet_core.files); the catalog row is updated
  in a transaction *after* the file is in place, so a kill between the two leaves a valid file whose
  row still shows the previous state — never a row pointing at a torn file.
- The prediction cache keeps label and confidence in ONE file so they can never come from two
  different models; confidence is quantised to 8 bits (steps of 1/255, enough for heatmaps and
  thresholds; the per-image uncertainty used for ordering is stored unquantised in the catalog).
- Image ids come from AUTOINCREMENT and are never reused, so ``masks/<id>.png`` never names the work
  of a removed image. Images that vanish from the folder are dropped from the catalog unless they
  have a mask, in which case they are kept with ``missing=True`` (nothing the user drew is lost).
- Opening never scans or decodes images; sizes are read lazily from headers (:meth:`image_size`).
  Call :meth:`rescan` (e.g. in a worker) to pick up added/removed files.
- ``save_mask``'s ``pixels_changed`` and ``seconds_spent`` are totals for the image (they replace the
  stored values); use :meth:`add_seconds` to accumulate time instead.
- One save path (:meth:`save_mask`) for the app, the CLI and importers: the new PNG is staged, the row
  is updated, the file goes in place right before COMMIT, and a failed COMMIT (disk full) puts the old
  file back — the mask file and its row change together or not at all. A caller that loaded the mask
  passes its :class:`MaskStamp`; a file changed on disk since then raises :class:`MaskConflict` and
  nothing is written. SQLite errors are :class:`StorageError` (an ``OSError``) naming the catalog.
- Every mask PNG carries its image's relative path (text chunk ``danet:rel_path``), so the catalog can
  be rebuilt from the masks alone (:func:`danet_core.project.recovery.rebuild_catalog`).
- Opening checks the catalog's integrity (:class:`CatalogDamaged` otherwise) and reconciles it with the
  masks on disk (a kill between a mask's replace and its COMMIT leaves a file the row does not know of).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

from danet_core.files import remove_stale_temp_files
from danet_core.images import image_size
from danet_core.jobs import ProgressFn, StopFn
from danet_core.labels import LabelSet, resolve_label_set
from danet_core.project.catalog import CATALOG_NAME, IMAGE_COLUMNS, SCHEMA_VERSION, Catalog, is_project_dir
from danet_core.project.masks import MaskStoreMixin
from danet_core.project.records import (
    CatalogDamaged,
    ImageRecord,
    ImageStatus,
    ProjectError,
    ScanResult,
    StorageError,
)
from danet_core.project.scan import scan_images
from danet_core.project.versions import ModelVersionsMixin

logger = logging.getLogger(__name__)

LABEL_SET_FILE = "label_set.json"
# a temp file without a writer pid (older versions) this old belongs to a killed write
STALE_TEMP_SECONDS = 3600


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class Project(MaskStoreMixin, ModelVersionsMixin):
    """An open annotation project. Thread-safe (one locked connection); use as a context manager."""

    def __init__(self, project_dir: Path, catalog: Catalog, label_set: LabelSet, image_root: Path) -> None:
        self.project_dir = project_dir
        self.catalog = catalog
        self.label_set = label_set
        self.image_root = image_root
        self._valid = label_set.valid_index_mask()
        self.last_scan: ScanResult | None = None  # set by create(): what the first scan skipped

    # -- life cycle -------------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        project_dir: str | os.PathLike[str],
        image_root: str | os.PathLike[str],
        label_set: LabelSet | str | os.PathLike[str],
        *,
        progress: ProgressFn | None = None,
        should_stop: StopFn | None = None,
    ) -> Project:
        """Create a project for ``image_root`` (scanned recursively) in ``project_dir``.

        ``label_set``: a LabelSet, a built-in name or a label-set JSON path. Refuses an existing project.
        """
        pdir = Path(project_dir).expanduser().absolute()
        root = Path(image_root).expanduser().absolute()
        if not root.is_dir():
            raise ProjectError(f"{root}: image folder not found; expected a folder of images")
        if (pdir / CATALOG_NAME).exists():
            raise ProjectError(f"{pdir}: already contains a project; open it instead")
        ls = resolve_label_set(label_set)
        pdir.mkdir(parents=True, exist_ok=True)
        ls.save(pdir / LABEL_SET_FILE)
        catalog = Catalog(pdir / CATALOG_NAME, create=True)
        with catalog.transaction() as conn:
            catalog.set_meta(conn, "schema_version", str(SCHEMA_VERSION))
            catalog.set_meta(conn, "image_root", str(root))
            catalog.set_meta(conn, "image_root_rel", os.path.relpath(root, pdir))
            catalog.set_meta(conn, "created", _now())
        project = cls(pdir, catalog, ls, root)
        try:
            project.last_scan = project.rescan(progress=progress, should_stop=should_stop)
        except BaseException:
            project.close()
            for name in (CATALOG_NAME, CATALOG_NAME + "-wal", CATALOG_NAME + "-shm", LABEL_SET_FILE):
                (pdir / name).unlink(missing_ok=True)
            raise
        return project

    @classmethod
    def open(cls, project_dir: str | os.PathLike[str], *, busy_timeout_s: float | None = None) -> Project:
        """Open an existing project (no scanning, no image decoding).

        Raises :class:`CatalogDamaged` when the catalog fails its integrity check (the masks on disk
        can rebuild it), :class:`ProjectError` for a folder that is not a project.
        """
        pdir = Path(project_dir).expanduser().absolute()
        if not is_project_dir(pdir):
            raise ProjectError(f"{pdir}: not a project folder (no {CATALOG_NAME})")
        catalog = _open_catalog(pdir / CATALOG_NAME, busy_timeout_s)
        try:
            version = int(catalog.get_meta("schema_version", "0") or 0)
        except (ValueError, StorageError):
            catalog.close()
            raise
        if version > SCHEMA_VERSION:
            catalog.close()
            raise ProjectError(
                f"{pdir}: catalog schema {version} is newer than this program ({SCHEMA_VERSION})"
            )
        try:
            ls = resolve_label_set(pdir / LABEL_SET_FILE)
        except ValueError:
            catalog.close()
            raise
        root = Path(catalog.get_meta("image_root") or "")
        rel = catalog.get_meta("image_root_rel")
        if not root.is_dir() and rel is not None and (pdir / rel).is_dir():
            root = (pdir / rel).resolve()  # project and images were moved together
        if not root.is_dir():
            logger.warning("%s: image folder %s not found; images cannot be loaded", pdir, root)
        project = cls(pdir, catalog, ls, root)
        project._remove_stale_temp_files()
        project._reconcile_masks()
        return project

    def close(self) -> None:
        self.catalog.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _remove_stale_temp_files(self) -> None:
        """Temp files of writes that were killed before os.replace (:func:`remove_stale_temp_files`:
        only those whose writer process is gone, so a second process's write in flight is safe)."""
        for sub in ("masks", "predictions", "models"):
            remove_stale_temp_files(self.project_dir / sub, max_age_s=STALE_TEMP_SECONDS)

    def _reconcile_masks(self) -> None:
        """Rows that do not know of their mask file (a kill between the file's replace and the COMMIT):
        the file is the truth. Best effort: a read-only or locked catalog is reconciled next time."""
        folder = self.project_dir / "masks"
        if not folder.is_dir():
            return
        on_disk = {int(p.stem) for p in folder.glob("*.png") if p.stem.isdigit() and p.is_file()}
        unknown = {r[0] for r in self.catalog.query("SELECT id FROM images WHERE has_mask = 0")} & on_disk
        if not unknown:
            return
        try:
            with self.catalog.transaction() as conn:
                for image_id in sorted(unknown):
                    conn.execute(
                        "UPDATE images SET has_mask = 1, status = CASE WHEN status IN "
                        "('new', 'presegmented') THEN 'in_progress' ELSE status END WHERE id = ?",
                        (image_id,),
                    )
            logger.warning(
                "%s: %d masks on disk were not in the catalog; added", self.project_dir, len(unknown)
            )
        except StorageError as exc:
            logger.warning("%s: cannot reconcile the catalog with the masks now (%s)", self.project_dir, exc)

    # -- images -----------------------------------------------------------------------------------
    def images(
        self,
        status: ImageStatus | str | Iterable[ImageStatus | str] | None = None,
        order: str = "name",
        *,
        include_missing: bool = False,
    ) -> list[ImageRecord]:
        """Catalog rows, by relative path (``order="name"``) or most uncertain first
        (``order="uncertainty"``, images without a prediction last)."""
        where, params = [], []
        if status is not None:
            statuses = [status] if isinstance(status, str | ImageStatus) else list(status)
            values = [ImageStatus.parse(s).value for s in statuses]
            where.append(f"status IN ({','.join('?' * len(values))})")
            params.extend(values)
        if not include_missing:
            where.append("missing = 0")
        orders = {"name": "rel_path", "uncertainty": "uncertainty IS NULL, uncertainty DESC, rel_path"}
        if order not in orders:
            raise ProjectError(f"unknown order {order!r}; expected 'name' or 'uncertainty'")
        sql = f"SELECT {IMAGE_COLUMNS} FROM images"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY " + orders[order]
        return [_record(row) for row in self.catalog.query(sql, tuple(params))]

    def record(self, image_id: int) -> ImageRecord:
        rows = self.catalog.query(f"SELECT {IMAGE_COLUMNS} FROM images WHERE id = ?", (int(image_id),))
        if not rows:
            raise ProjectError(f"image id {image_id} is not in project {self.project_dir}")
        return _record(rows[0])

    def find(self, rel_path: str) -> ImageRecord | None:
        rows = self.catalog.query(f"SELECT {IMAGE_COLUMNS} FROM images WHERE rel_path = ?", (rel_path,))
        return _record(rows[0]) if rows else None

    def image_path(self, image_id: int) -> Path:
        return self.image_root / self.record(image_id).rel_path

    def image_size(self, image_id: int) -> tuple[int, int]:
        """(width, height) from the catalog, or read once from the file header and stored."""
        rec = self.record(image_id)
        if rec.width is not None and rec.height is not None:
            return rec.width, rec.height
        w, h = image_size(self.image_root / rec.rel_path)
        try:  # a cache: a full disk or a locked catalog must not fail the caller (a save, an export)
            with self.catalog.transaction(busy_timeout_ms=100) as conn:
                conn.execute("UPDATE images SET width = ?, height = ? WHERE id = ?", (w, h, rec.id))
        except StorageError as exc:
            logger.debug("size of image %d not cached: %s", rec.id, exc)
        return w, h

    def current_size(self, image_id: int) -> tuple[int, int]:
        """(width, height) read from the image file now (an image replaced on disk may differ from the
        catalog's cached size until the next rescan)."""
        return image_size(self.image_path(image_id))

    def counts(self) -> dict[str, int]:
        """Images per status (missing images excluded) plus ``total`` and ``missing``."""
        out = {s.value: 0 for s in ImageStatus}
        for status, n in self.catalog.query(
            "SELECT status, COUNT(*) FROM images WHERE missing = 0 GROUP BY status"
        ):
            out[status] = n
        out["total"] = sum(out.values())
        out["missing"] = self.catalog.query("SELECT COUNT(*) FROM images WHERE missing = 1")[0][0]
        return out

    # -- scanning ---------------------------------------------------------------------------------
    def rescan(self, progress: ProgressFn | None = None, should_stop: StopFn | None = None) -> ScanResult:
        """Sync the catalog with the image folder (one transaction; a cancelled scan changes nothing)."""
        found, errors = scan_images(
            self.image_root, exclude=self.project_dir, progress=progress, should_stop=should_stop
        )
        result = ScanResult(errors=errors)
        known = {
            r[1]: r
            for r in self.catalog.query("SELECT id, rel_path, file_size, mtime_ns, has_mask FROM images")
        }
        seen = set()
        changed: list[int] = []
        with self.catalog.transaction() as conn:
            for f in found:
                seen.add(f.rel_path)
                row = known.get(f.rel_path)
                if row is None:
                    conn.execute(
                        "INSERT INTO images(rel_path, file_size, mtime_ns) VALUES (?, ?, ?)",
                        (f.rel_path, f.size, f.mtime_ns),
                    )
                    result.added += 1
                elif (row[2], row[3]) != (f.size, f.mtime_ns):
                    # the file changed: its size must be read again, its prediction is stale
                    conn.execute(
                        "UPDATE images SET file_size = ?, mtime_ns = ?, width = NULL, height = NULL, "
                        "missing = 0, has_prediction = 0, model_version = NULL, uncertainty = NULL, "
                        "status = CASE WHEN status = 'presegmented' THEN 'new' ELSE status END WHERE id = ?",
                        (f.size, f.mtime_ns, row[0]),
                    )
                    changed.append(row[0])
                else:
                    conn.execute("UPDATE images SET missing = 0 WHERE id = ? AND missing = 1", (row[0],))
            for rel, row in known.items():
                if rel in seen:
                    continue
                if row[4]:
                    conn.execute("UPDATE images SET missing = 1 WHERE id = ?", (row[0],))
                    result.missing_with_work += 1
                else:
                    conn.execute("DELETE FROM images WHERE id = ?", (row[0],))
                    result.removed += 1
        for rel, row in known.items():
            if rel not in seen and not row[4]:
                self.prediction_path(row[0]).unlink(missing_ok=True)
        for image_id in changed:
            self.prediction_path(image_id).unlink(missing_ok=True)
        result.changed = len(changed)
        result.total = len(found)
        if progress is not None:
            progress(len(found), len(found), f"{len(found)} images")
        logger.info(
            "scan of %s: %d images, %d added, %d removed, %d missing with work, %d errors",
            self.image_root,
            result.total,
            result.added,
            result.removed,
            result.missing_with_work,
            len(errors),
        )
        return result


def _record(row: tuple) -> ImageRecord:
    return ImageRecord(
        id=row[0],
        rel_path=row[1],
        status=ImageStatus(row[2]),
        width=row[3],
        height=row[4],
        model_version=row[5],
        pixels_changed=row[6],
        seconds_spent=row[7],
        uncertainty=row[8],
        has_mask=bool(row[9]),
        has_prediction=bool(row[10]),
        missing=bool(row[11]),
    )


def _open_catalog(path: Path, busy_timeout_s: float | None) -> Catalog:
    """Connect and check integrity; a damaged catalog is :class:`CatalogDamaged`, never a traceback."""
    try:
        catalog = Catalog(path) if busy_timeout_s is None else Catalog(path, busy_timeout_s=busy_timeout_s)
    except sqlite3.DatabaseError as exc:
        raise CatalogDamaged(
            f"{path}: the catalog is damaged ({exc}); `danet project rebuild {path.parent}` recovers it "
            "from the masks on disk",
            path.parent,
        ) from exc
    problems = catalog.integrity_problems()
    if problems:
        catalog.close()
        raise CatalogDamaged(
            f"{path}: the catalog is damaged ({'; '.join(problems[:3])}); `danet project rebuild "
            f"{path.parent}` recovers it from the masks on disk",
            path.parent,
        )
    return catalog
