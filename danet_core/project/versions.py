"""Model versions of a project: checkpoints copied into ``<project>/models`` with their metrics.

Decisions: the checkpoint is stream-copied atomically under a unique name (``model-<time>-<uuid>.pt``)
*before* its catalog row is inserted, so a kill leaves at worst an unreferenced file, never a row
without its file. Metrics are stored as JSON in the catalog. The first version becomes the active
model; later ones only through :meth:`set_active_model` (the app compares old and new first).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from danet_core.files import FILE_MODE
from danet_core.project.catalog import Catalog
from danet_core.project.records import ModelVersion, ProjectError


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class ModelVersionsMixin:
    """Model-version methods of :class:`danet_core.project.Project`."""

    project_dir: Path
    catalog: Catalog

    def add_model_version(
        self,
        checkpoint_src: str | os.PathLike[str],
        *,
        metrics: dict[str, Any],
        parent: int | None = None,
    ) -> ModelVersion:
        """Copy a checkpoint into ``<project>/models`` (atomically) and record it with its metrics.

        The first version becomes the active model; later ones only when :meth:`set_active_model` is
        called (the app compares before switching).
        """
        src = Path(checkpoint_src)
        if not src.is_file():
            raise ProjectError(f"{src}: checkpoint file not found")
        metrics_text = json.dumps(metrics, sort_keys=True, default=_json_default)
        if parent is not None and not self.catalog.query(
            "SELECT 1 FROM model_versions WHERE id = ?", (parent,)
        ):
            raise ProjectError(f"parent model version {parent} does not exist")
        name = f"model-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}.pt"
        _atomic_copy(src, self.project_dir / "models" / name)
        with self.catalog.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO model_versions(file, created, parent, metrics, source) VALUES (?, ?, ?, ?, ?)",
                (name, _now(), parent, metrics_text, str(src)),
            )
            assert cur.lastrowid is not None  # set by the INSERT just executed
            vid = int(cur.lastrowid)
            if self.catalog.get_meta("active_model") is None:
                self.catalog.set_meta(conn, "active_model", str(vid))
        return self.model_version(vid)

    def model_versions(self) -> list[ModelVersion]:
        rows = self.catalog.query(
            "SELECT id, file, created, parent, metrics, source FROM model_versions ORDER BY id"
        )
        return [self._version(r) for r in rows]

    def model_version(self, version_id: int) -> ModelVersion:
        rows = self.catalog.query(
            "SELECT id, file, created, parent, metrics, source FROM model_versions WHERE id = ?",
            (int(version_id),),
        )
        if not rows:
            raise ProjectError(f"model version {version_id} is not in project {self.project_dir}")
        return self._version(rows[0])

    def active_model_version(self) -> ModelVersion | None:
        value = self.catalog.get_meta("active_model")
        return self.model_version(int(value)) if value else None

    def set_active_model(self, version_id: int | None) -> None:
        """Make a version the one that pre-segments (None: no model)."""
        if version_id is not None:
            self.model_version(version_id)
        with self.catalog.transaction() as conn:
            if version_id is None:
                conn.execute("DELETE FROM meta WHERE key = 'active_model'")
            else:
                self.catalog.set_meta(conn, "active_model", str(int(version_id)))

    def _version(self, row: tuple) -> ModelVersion:
        return ModelVersion(
            id=row[0],
            path=self.project_dir / "models" / row[1],
            created=row[2],
            parent=row[3],
            metrics=json.loads(row[4] or "{}"),
            source=row[5],
        )


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"metrics value {value!r} is not JSON serialisable")


def _atomic_copy(src: Path, dst: Path) -> None:
    """Stream-copy (checkpoints can be hundreds of MB) to a temp file beside ``dst``, fsync, replace."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.{os.getpid()}.", suffix=".tmp", dir=dst.parent)
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
            shutil.copyfileobj(inp, out, length=4 * 1024 * 1024)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
