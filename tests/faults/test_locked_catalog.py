"""(d) The catalog held locked by another process during save, import and export: a save fails fast
and changes nothing; a `danet project import` waits for a short lock and succeeds, and after a long one
exits with one line having replaced no mask; an export (read-only) goes on while the lock is held."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from danet_core.cli import main
from danet_core.formats import export_project
from danet_core.project import CATALOG_NAME, Project, StorageError
from tests.faults import corpus

HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


@contextmanager
def held(project_dir: Path, seconds: float) -> Iterator[subprocess.Popen]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(project_dir / CATALOG_NAME), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    corpus.good_images(tmp_path / "images", n=3)
    with Project.create(tmp_path / "proj", tmp_path / "images", "camvid") as p:
        for rec in p.images():
            p.save_mask(rec.id, np.full((corpus.H, corpus.W), 1, np.uint8), status="reviewed")
    masks = tmp_path / "new_masks"
    masks.mkdir()
    for i in range(3):
        Image.fromarray(np.full((corpus.H, corpus.W), 2, np.uint8)).save(masks / f"good{i}.png")
    return tmp_path / "proj"


def _import(project_dir: Path) -> int:
    folder = project_dir.parent / "new_masks"
    return main(["project", "import", str(project_dir), str(folder), "--format", "mask", "--overwrite"])


def _masks(project_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((project_dir / "masks").glob("*.png"))}


def test_save_and_export_under_a_lock(project_dir: Path, tmp_path: Path) -> None:
    before = _masks(project_dir)
    with Project.open(project_dir) as project, held(project_dir, 30):
        rec = project.images()[0]
        t0 = time.monotonic()
        with pytest.raises(StorageError, match="locked by another process"):
            project.save_mask(rec.id, np.full((corpus.H, corpus.W), 5, np.uint8), busy_timeout_ms=200)
        assert time.monotonic() - t0 < 3
        report = export_project(project, tmp_path / "out", "mask")  # reading needs no write lock
        assert report.done == 3 and report.ok
    assert _masks(project_dir) == before


def test_import_waits_for_a_short_lock(project_dir: Path, capsys) -> None:
    with held(project_dir, 1.0):
        code = _import(project_dir)
    capsys.readouterr()
    assert code == 0
    with Project.open(project_dir) as project:
        assert all((project.load_mask(r.id) == 2).all() for r in project.images())


@pytest.mark.slow
def test_import_under_a_long_lock_is_one_line_and_replaces_nothing(project_dir: Path, capsys) -> None:
    before = _masks(project_dir)
    with held(project_dir, 60):
        t0 = time.monotonic()
        code = _import(project_dir)
        elapsed = time.monotonic() - t0
    out, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in out + err
    assert "locked by another process" in out + err
    assert elapsed < 20  # one busy timeout: a locked catalog ends the batch, it is not retried per image
    assert _masks(project_dir) == before
