"""Issue 13 regressions at the store: storage errors are failed saves that change nothing (D01, D12),
damaged catalogs are reported and rebuilt from the masks (D02), lost mask files are loud (D07), changed
images drop their prediction (D06), temp files of dead writers go (D08), files respect the umask (D13),
dot-named images are reported (D15)."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from danet_core.files import FILE_MODE, atomic_write_bytes, remove_stale_temp_files
from danet_core.project import (
    CATALOG_NAME,
    CatalogDamaged,
    ImageStatus,
    MaskConflict,
    MaskMissing,
    Project,
    StorageError,
    rebuild_catalog,
)


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


@pytest.fixture
def project(tmp_path: Path, image_folder: Path) -> Project:
    p = Project.create(tmp_path / "proj", image_folder, "camvid")
    yield p
    p.close()


def _mask(project: Project, image_id: int, value: int) -> np.ndarray:
    w, h = project.image_size(image_id)
    return np.full((h, w), value, np.uint8)


def test_a_locked_catalog_fails_fast_and_changes_nothing(project: Project) -> None:
    rec = project.images()[0]
    project.save_mask(rec.id, _mask(project, rec.id, 1))
    before = _digest(project.mask_path(rec.id))
    other = sqlite3.connect(project.project_dir / CATALOG_NAME, isolation_level=None)  # a second writer
    other.execute("BEGIN IMMEDIATE")
    try:
        t0 = time.monotonic()
        with pytest.raises(StorageError, match="locked by another process"):
            project.save_mask(rec.id, _mask(project, rec.id, 2), busy_timeout_ms=100)
        assert time.monotonic() - t0 < 2.0  # the window would not freeze for 30 s
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert _digest(project.mask_path(rec.id)) == before  # the PNG was not replaced before the failure
    assert (project.load_mask(rec.id) == 1).all()
    project.save_mask(rec.id, _mask(project, rec.id, 2))  # the retry succeeds
    assert (project.load_mask(rec.id) == 2).all()


class _FullDiskOnCommit:
    """A connection whose COMMIT fails as SQLite does on a full disk (everything else is real)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        if sql == "COMMIT":
            raise sqlite3.OperationalError("database or disk is full")
        return self._conn.execute(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self._conn, name)


@pytest.mark.parametrize("first_mask", [True, False])
def test_a_failed_commit_puts_the_old_mask_back(project: Project, first_mask: bool) -> None:
    rec = project.images()[1]
    if not first_mask:
        project.save_mask(rec.id, _mask(project, rec.id, 3))
    before = _digest(project.mask_path(rec.id))
    real = project.catalog._conn
    project.catalog._conn = _FullDiskOnCommit(real)  # type: ignore[assignment]
    try:
        with pytest.raises(StorageError, match="disk is full"):
            project.save_mask(rec.id, _mask(project, rec.id, 4))
    finally:
        project.catalog._conn = real
    assert _digest(project.mask_path(rec.id)) == before  # file and row changed together or not at all
    assert project.record(rec.id).has_mask is (not first_mask)
    leftovers = [p.name for p in (project.project_dir / "masks").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_a_mask_changed_on_disk_is_not_overwritten_unseen(project: Project) -> None:
    rec = project.images()[0]
    project.save_mask(rec.id, _mask(project, rec.id, 1))
    mine, stamp = project.load_mask_stamped(rec.id)
    assert mine is not None
    with Project.open(project.project_dir) as other:  # e.g. `danet project import` while the app is open
        time.sleep(0.01)
        other.save_mask(rec.id, _mask(other, rec.id, 5), status=ImageStatus.REVIEWED)
    theirs = _digest(project.mask_path(rec.id))
    with pytest.raises(MaskConflict, match="changed on disk"):
        project.save_mask(rec.id, _mask(project, rec.id, 2), expected=stamp)
    assert _digest(project.mask_path(rec.id)) == theirs
    copy = project.keep_conflict_copy(rec.id, _mask(project, rec.id, 2), "mine")
    assert copy.parent.name == "conflicts" and (np.asarray(project.load_mask(rec.id)) == 5).all()
    new_stamp = project.save_mask(rec.id, _mask(project, rec.id, 2), expected=project.mask_stamp(rec.id))
    assert new_stamp == project.mask_stamp(rec.id)


def _damage(path: Path) -> None:
    """Overwrite the middle of the catalog (the header stays valid, so it still 'opens')."""
    data = bytearray(path.read_bytes())
    page = 4096
    for offset in range(page, len(data), page):
        data[offset : offset + 64] = os.urandom(64)
    path.write_bytes(bytes(data))


def test_a_damaged_catalog_is_reported_and_rebuilt_from_the_masks(project: Project) -> None:
    recs = project.images()
    project.save_mask(recs[0].id, _mask(project, recs[0].id, 1), status=ImageStatus.REVIEWED)
    project.save_mask(recs[2].id, _mask(project, recs[2].id, 3))
    pdir = project.project_dir
    project.close()
    _damage(pdir / CATALOG_NAME)
    (pdir / (CATALOG_NAME + "-wal")).unlink(missing_ok=True)
    with pytest.raises(CatalogDamaged, match="danet project rebuild") as info:
        Project.open(pdir)
    assert info.value.project_dir == pdir
    report = rebuild_catalog(pdir, image_root=project.image_root)  # the meta page may be lost too
    assert report.damaged_copy.exists() and "catalog rebuilt" in report.summary()
    with Project.open(pdir) as rebuilt:
        by_path = {r.rel_path: r for r in rebuilt.images()}
        first, third = by_path[recs[0].rel_path], by_path[recs[2].rel_path]
        assert first.status == ImageStatus.REVIEWED and first.has_mask
        assert third.status == ImageStatus.IN_PROGRESS and third.has_mask
        assert (rebuilt.load_mask(first.id) == 1).all() and (rebuilt.load_mask(third.id) == 3).all()
        assert len(by_path) == len(recs)


def test_a_lost_mask_file_is_reported(project: Project) -> None:
    rec = project.images()[0]
    project.save_mask(rec.id, _mask(project, rec.id, 1), status=ImageStatus.REVIEWED)
    project.mask_path(rec.id).unlink()
    with pytest.raises(MaskMissing, match="is missing"):
        project.load_mask(rec.id)
    project.mask_path(rec.id).mkdir()  # a directory in its place
    with pytest.raises(MaskMissing, match="is not a file"):
        project.load_mask(rec.id)


def test_a_replaced_image_drops_its_prediction_on_rescan(project: Project, make_image) -> None:
    rec = project.images()[0]
    w, h = project.image_size(rec.id)
    project.save_prediction(
        rec.id, _mask(project, rec.id, 1), np.ones((h, w)), model_version=None, uncertainty=0.5
    )
    make_image(project.image_path(rec.id), w * 2, h, seed=9)
    result = project.rescan()
    after = project.record(rec.id)
    assert result.changed == 1 and not after.has_prediction and after.status == ImageStatus.NEW
    assert not project.prediction_path(rec.id).exists()
    assert project.image_size(rec.id) == (w * 2, h)


def test_temp_files_of_dead_writers_are_removed(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".last.pt.{dead_pid}.abc123.tmp"
    live = tmp_path / f".last.pt.{os.getpid()}.def456.tmp"
    other = tmp_path / "keep.png"
    for p in (stale, live, other):
        p.write_bytes(b"x")
    assert remove_stale_temp_files(tmp_path) == 1
    assert not stale.exists() and live.exists() and other.exists()


def test_written_files_respect_the_umask(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    atomic_write_bytes(target, b"data")
    assert target.stat().st_mode & 0o777 == FILE_MODE
    assert FILE_MODE & 0o044  # readable by others under the usual umask 022 (not mkstemp's 0600)


def test_dot_named_images_are_reported_not_dropped(tmp_path: Path, make_image) -> None:
    root = tmp_path / "images"
    make_image(root / "..dotdot..png", 8, 8)
    make_image(root / "._resource.png", 8, 8)
    make_image(root / "ok.png", 8, 8)
    with Project.create(tmp_path / "p", root, "camvid") as project:
        assert [r.rel_path for r in project.images()] == ["ok.png"]
        errors = project.last_scan.errors if project.last_scan else []
        assert len(errors) == 1 and "..dotdot..png" in errors[0] and "hidden" in errors[0]
