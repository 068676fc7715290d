"""Masks and the prediction cache of a project: the one save path, validation, loading with a stamp.

A mixin of :class:`danet_core.project.Project` (see the store's module docstring for the decisions);
it uses the project's ``catalog``, ``project_dir``, ``label_set``, ``record`` and ``image_size``.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from danet_core.files import StagedWrite, atomic_write_bytes
from danet_core.images import ImageReadError, atomic_save_png, encode_png, load_mask_png
from danet_core.labels import LabelSet
from danet_core.project.catalog import Catalog
from danet_core.project.records import (
    ImageRecord,
    ImageStatus,
    MaskConflict,
    MaskMissing,
    MaskStamp,
    ProjectError,
    StorageError,
)

MASK_PATH_KEY = "danet:rel_path"  # PNG text chunks of every mask: the image it belongs to,
MASK_STATUS_KEY = "danet:status"  # and the status it was saved with (what a catalog rebuild restores)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class MaskStoreMixin:
    """Mask and prediction-cache methods of :class:`danet_core.project.Project`."""

    catalog: Catalog
    project_dir: Path
    label_set: LabelSet
    _valid: np.ndarray

    # provided by Project (declared here for the type checker)
    def record(self, image_id: int) -> ImageRecord:
        raise NotImplementedError

    def image_size(self, image_id: int) -> tuple[int, int]:
        raise NotImplementedError

    # -- masks ------------------------------------------------------------------------------------
    def mask_path(self, image_id: int) -> Path:
        return self.project_dir / "masks" / f"{int(image_id)}.png"

    def load_mask(self, image_id: int) -> np.ndarray | None:
        """The saved mask (uint8 H x W label-set indices), or None when the image has none.

        Raises :class:`MaskMissing` when the catalog records a mask whose file is gone (lost work is
        reported, never shown as an empty image)."""
        return self.load_mask_stamped(image_id)[0]

    def load_mask_stamped(self, image_id: int) -> tuple[np.ndarray | None, MaskStamp]:
        """:meth:`load_mask` and the :class:`MaskStamp` to pass to :meth:`save_mask` (``expected=``)."""
        path = self.mask_path(image_id)
        stamp = MaskStamp.of(path)
        if not path.is_file():
            rec = self.record(image_id)  # a wrong id is an error, not "no mask"
            if rec.has_mask:
                what = "is not a file" if path.exists() else "is missing"
                raise MaskMissing(
                    f"the mask of {rec.rel_path} ({path}) {what}, but the catalog records one: the "
                    "annotation was deleted outside the app; restore the file from a backup"
                )
            return None, stamp
        return load_mask_png(path), stamp

    def keep_conflict_copy(self, image_id: int, mask: np.ndarray, who: str) -> Path:
        """Save one side of a save conflict as ``conflicts/<id>-<who>-<time>.png`` (never overwritten,
        never read by the app: the user's to compare or restore) and return its path."""
        rel_path = self.record(image_id).rel_path
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = self.project_dir / "conflicts" / f"{int(image_id)}-{who}-{stamp}.png"
        n = 1
        while target.exists():
            target = target.with_name(f"{int(image_id)}-{who}-{stamp}~{n}.png")
            n += 1
        data = encode_png(np.asarray(mask, dtype=np.uint8), text={MASK_PATH_KEY: rel_path})
        try:
            atomic_write_bytes(target, data)
        except OSError as exc:
            raise StorageError(f"{target}: cannot keep a copy of the mask of {rel_path} ({exc})") from exc
        return target

    def mask_stamp(self, image_id: int) -> MaskStamp:
        return MaskStamp.of(self.mask_path(image_id))

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
        expected: MaskStamp | None = None,
        busy_timeout_ms: int | None = None,
    ) -> MaskStamp:
        """Write the mask and its row together (see the module docstring); returns the new stamp.

        Without ``status``, a new or pre-segmented image becomes ``in_progress``; others keep theirs.
        ``expected``: the stamp the caller loaded; a different file on disk raises :class:`MaskConflict`.
        """
        mask = self.check_mask(image_id, mask)
        path = self.mask_path(image_id)
        rel_path = self.record(image_id).rel_path
        data = encode_png(
            mask, text={MASK_PATH_KEY: rel_path, MASK_STATUS_KEY: self._status_after(image_id, status)}
        )
        try:
            staged = StagedWrite(path, data)
        except OSError as exc:
            raise StorageError(
                f"{path}: cannot write the mask of {rel_path} ({exc}); nothing was changed"
            ) from exc
        with staged:
            try:
                with self.catalog.transaction(
                    busy_timeout_ms=busy_timeout_ms, before_commit=staged.commit
                ) as conn:
                    if expected is not None and MaskStamp.of(path) != expected:
                        raise MaskConflict(
                            f"the mask of {rel_path} changed on disk since it was opened (another program "
                            "or an import wrote it); nothing was overwritten"
                        )
                    self._update_mask_row(conn, image_id, status, pixels_changed, seconds_spent)
            except BaseException:
                staged.rollback()
                raise
        return MaskStamp.of(path)

    def _status_after(self, image_id: int, status: ImageStatus | str | None) -> str:
        if status is not None:
            return ImageStatus.parse(status).value
        current = self.record(image_id).status
        return "in_progress" if current in (ImageStatus.NEW, ImageStatus.PRESEGMENTED) else current.value

    def _update_mask_row(
        self,
        conn: sqlite3.Connection,
        image_id: int,
        status: ImageStatus | str | None,
        pixels_changed: int | None,
        seconds_spent: float | None,
    ) -> None:
        new_status = ImageStatus.parse(status).value if status is not None else None
        if new_status is None:
            conn.execute(
                "UPDATE images SET status = 'in_progress' WHERE id = ? AND status IN ('new', 'presegmented')",
                (image_id,),
            )
        else:
            conn.execute("UPDATE images SET status = ? WHERE id = ?", (new_status, image_id))
        conn.execute("UPDATE images SET has_mask = 1, updated_at = ? WHERE id = ?", (_now(), image_id))
        if pixels_changed is not None:
            conn.execute("UPDATE images SET pixels_changed = ? WHERE id = ?", (int(pixels_changed), image_id))
        if seconds_spent is not None:
            conn.execute("UPDATE images SET seconds_spent = ? WHERE id = ?", (float(seconds_spent), image_id))

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
