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
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from danet_core.images import ImageReadError, atomic_save_png, image_size, load_mask_png
from danet_core.jobs import ProgressFn, StopFn
from danet_core.labels import LabelSet, resolve_label_set
from danet_core.project.catalog import CATALOG_NAME, IMAGE_COLUMNS, SCHEMA_VERSION, Catalog, is_project_dir
from danet_core.project.records import ImageRecord, ImageStatus, ProjectError, ScanResult
from danet_core.project.scan import scan_images
from danet_core.project.versions import ModelVersionsMixin

logger = logging.getLogger(__name__)

LABEL_SET_FILE = "label_set.json"
# a temp file this old belongs to a killed write (a live one, even a large checkpoint copy, is younger)
STALE_TEMP_SECONDS = 3600


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class Project(ModelVersionsMixin):
    """An open annotation project. Thread-safe (one locked connection); use as a context manager."""

    def __init__(self, project_dir: Path, catalog: Catalog, label_set: LabelSet, image_root: Path) -> None:
        self.project_dir = project_dir
        self.catalog = catalog
        self.label_set = label_set
        self.image_root = image_root
        self._valid = label_set.valid_index_mask()

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
            project.rescan(progress=progress, should_stop=should_stop)
        except BaseException:
            project.close()
            for name in (CATALOG_NAME, CATALOG_NAME + "-wal", CATALOG_NAME + "-shm", LABEL_SET_FILE):
                (pdir / name).unlink(missing_ok=True)
            raise
        return project

    @classmethod
    def open(cls, project_dir: str | os.PathLike[str]) -> Project:
        """Open an existing project (no scanning, no image decoding)."""
        pdir = Path(project_dir).expanduser().absolute()
        if not is_project_dir(pdir):
            raise ProjectError(f"{pdir}: not a project folder (no {CATALOG_NAME})")
        try:
            catalog = Catalog(pdir / CATALOG_NAME)
            version = int(catalog.get_meta("schema_version", "0") or 0)
        except sqlite3.DatabaseError as exc:
            raise ProjectError(f"{pdir / CATALOG_NAME}: cannot read the catalog ({exc})") from exc
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
        return project

    def close(self) -> None:
        self.catalog.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _remove_stale_temp_files(self) -> None:
        """Temp files of writes that were killed before os.replace (``.<name>.<rand>.tmp``).

        Only files older than :data:`STALE_TEMP_SECONDS`: another process (or thread) sharing the
        project may be writing one right now, and removing it would make its os.replace fail.
        """
        cutoff = time.time() - STALE_TEMP_SECONDS
        for sub in ("masks", "predictions", "models"):
            folder = self.project_dir / sub
            if not folder.is_dir():
                continue
            with os.scandir(folder) as it:
                for entry in it:
                    if not (entry.name.startswith(".") and entry.name.endswith(".tmp")):
                        continue
                    try:
                        if entry.stat().st_mtime < cutoff:
                            Path(entry.path).unlink(missing_ok=True)
                    except OSError:
                        pass

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
        with self.catalog.transaction() as conn:
            conn.execute("UPDATE images SET width = ?, height = ? WHERE id = ?", (w, h, rec.id))
        return w, h

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

    # -- masks ------------------------------------------------------------------------------------
    def mask_path(self, image_id: int) -> Path:
        return self.project_dir / "masks" / f"{int(image_id)}.png"

    def load_mask(self, image_id: int) -> np.ndarray | None:
        """The saved mask (uint8 H x W label-set indices), or None when the image has none."""
        path = self.mask_path(image_id)
        if not path.is_file():
            self.record(image_id)  # a wrong id is an error, not "no mask"
            return None
        return load_mask_png(path)

    def check_mask(self, image_id: int, mask: np.ndarray, *, what: str = "mask") -> np.ndarray:
        """Validate dtype, shape (== the image) and values (label-set indices or ignore)."""
        mask = np.asarray(mask)
        if mask.ndim != 2 or mask.dtype != np.uint8:
            raise ProjectError(
                f"{what} for image {image_id}: got {mask.dtype} {mask.shape}; expected uint8 H x W"
            )
        w, h = self.image_size(image_id)
        if mask.shape != (h, w):
            raise ProjectError(
                f"{what} for {self.record(image_id).rel_path}: size {mask.shape[1]}x{mask.shape[0]} "
                f"differs from the image ({w}x{h})"
            )
        present = np.flatnonzero(np.bincount(mask.ravel(), minlength=256))
        bad = [int(v) for v in present if not self._valid[v]]
        if bad:
            raise ProjectError(
                f"{what} for {self.record(image_id).rel_path}: values {bad[:10]} are not classes of "
                f"label set {self.label_set.name!r} (255 = unlabeled)"
            )
        return mask

    def save_mask(
        self,
        image_id: int,
        mask: np.ndarray,
        *,
        status: ImageStatus | str | None = None,
        pixels_changed: int | None = None,
        seconds_spent: float | None = None,
    ) -> None:
        """Atomically write the mask, then update the row in one transaction.

        Without ``status``, a new or pre-segmented image becomes ``in_progress``; others keep theirs.
        """
        mask = self.check_mask(image_id, mask)
        atomic_save_png(self.mask_path(image_id), mask)
        new_status = ImageStatus.parse(status).value if status is not None else None
        with self.catalog.transaction() as conn:
            if new_status is None:
                conn.execute(
                    "UPDATE images SET status = 'in_progress' "
                    "WHERE id = ? AND status IN ('new', 'presegmented')",
                    (image_id,),
                )
            else:
                conn.execute("UPDATE images SET status = ? WHERE id = ?", (new_status, image_id))
            conn.execute("UPDATE images SET has_mask = 1, updated_at = ? WHERE id = ?", (_now(), image_id))
            if pixels_changed is not None:
                conn.execute(
                    "UPDATE images SET pixels_changed = ? WHERE id = ?", (int(pixels_changed), image_id)
                )
            if seconds_spent is not None:
                conn.execute(
                    "UPDATE images SET seconds_spent = ? WHERE id = ?", (float(seconds_spent), image_id)
                )

    def add_seconds(self, image_id: int, seconds: float) -> None:
        """Add annotation time to the image's total."""
        with self.catalog.transaction() as conn:
            conn.execute(
                "UPDATE images SET seconds_spent = COALESCE(seconds_spent, 0) + ? WHERE id = ?",
                (float(seconds), int(image_id)),
            )

    def set_status(self, image_id: int, status: ImageStatus | str) -> None:
        value = ImageStatus.parse(status).value
        self.record(image_id)
        with self.catalog.transaction() as conn:
            conn.execute(
                "UPDATE images SET status = ?, updated_at = ? WHERE id = ?", (value, _now(), image_id)
            )

    # -- prediction cache -------------------------------------------------------------------------
    def prediction_path(self, image_id: int) -> Path:
        return self.project_dir / "predictions" / f"{int(image_id)}.png"

    def save_prediction(
        self,
        image_id: int,
        label: np.ndarray,
        confidence: np.ndarray,
        *,
        model_version: int | None,
        uncertainty: float | None,
    ) -> None:
        """Cache a prediction. ``label``: uint8 H x W of *label-set indices* (map model train ids with
        ``label_set.lut_from_train_ids()``); ``confidence``: float H x W in 0..1 (stored as 8 bits).
        A new image becomes ``presegmented``."""
        label = self.check_mask(image_id, label, what="prediction")
        conf = np.asarray(confidence, dtype=np.float32)
        if conf.shape != label.shape:
            raise ProjectError(f"confidence for image {image_id}: shape {conf.shape}; expected {label.shape}")
        q = np.clip(np.nan_to_num(conf, nan=0.0) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        atomic_save_png(self.prediction_path(image_id), np.stack([label, q], axis=-1))
        with self.catalog.transaction() as conn:
            conn.execute(
                "UPDATE images SET has_prediction = 1, model_version = ?, uncertainty = ?, "
                "status = CASE WHEN status = 'new' THEN 'presegmented' ELSE status END WHERE id = ?",
                (model_version, None if uncertainty is None else float(uncertainty), image_id),
            )

    def load_prediction(self, image_id: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(label uint8 H x W, confidence float32 H x W in 0..1) or None when not cached."""
        path = self.prediction_path(image_id)
        if not path.is_file():
            return None
        try:
            with Image.open(path) as img:
                img.load()
                arr = np.asarray(img)
        except OSError as exc:
            raise ImageReadError(f"{path}: cannot read cached prediction ({exc})") from exc
        if arr.ndim != 3 or arr.shape[2] != 2:
            raise ImageReadError(f"{path}: cached prediction has shape {arr.shape}; expected H x W x 2")
        return arr[..., 0].copy(), arr[..., 1].astype(np.float32) / 255.0

    def invalidate_predictions(self, image_ids: Iterable[int] | None = None) -> int:
        """Drop cached predictions (all, or of ``image_ids``); pre-segmented images without a mask go back
        to ``new``. Masks are never touched. Returns how many predictions were dropped."""
        if image_ids is None:
            rows = self.catalog.query("SELECT id FROM images WHERE has_prediction = 1")
            ids = [r[0] for r in rows]
        else:
            ids = [int(i) for i in image_ids]
        with self.catalog.transaction() as conn:
            for i in ids:
                conn.execute(
                    "UPDATE images SET has_prediction = 0, model_version = NULL, uncertainty = NULL, "
                    "status = CASE WHEN status = 'presegmented' THEN 'new' ELSE status END WHERE id = ?",
                    (i,),
                )
        for i in ids:
            self.prediction_path(i).unlink(missing_ok=True)
        return len(ids)

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
                        "missing = 0 WHERE id = ?",
                        (f.size, f.mtime_ns, row[0]),
                    )
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
