"""(c) A real full filesystem (a small tmpfs, mounted when this machine allows it; skipped with the reason
otherwise) during saving, export and training: each fails with one clear error, nothing saved before is
changed, and everything works again once space is freed."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from danet_core.cli import main
from danet_core.formats import ExportFolderError, export_project
from danet_core.project import Project, StorageError
from tests.danet_core.training.train_helpers import make_folder_dataset
from tests.faults import corpus

pytestmark = pytest.mark.slow


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "fs"
    mnt.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root and mount(8); not available here")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(fs: Path) -> Path:
    """Leave (almost) no free space; returns the filler to delete."""
    filler = fs / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        for block in (65536, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * block)
    finally:
        os.close(fd)
    return filler


def _digest(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.png")) if p.is_file()}


def test_saves_on_a_full_disk_fail_cleanly_and_retry(small_fs: Path, tmp_path: Path) -> None:
    corpus.good_images(tmp_path / "images", n=3)
    with Project.create(small_fs / "proj", tmp_path / "images", "camvid") as project:
        recs = project.images()
        rng = np.random.default_rng(0)
        noisy = [rng.integers(0, 11, (corpus.H * 40, corpus.W * 40), dtype=np.uint8) for _ in recs]
        project.save_mask(recs[0].id, np.full((corpus.H, corpus.W), 1, np.uint8), status="reviewed")
        before = _digest(small_fs / "proj" / "masks")
        filler = _fill(small_fs)
        failures = 0
        for rec in recs:
            try:
                project.save_mask(rec.id, np.full((corpus.H, corpus.W), 7, np.uint8))
            except StorageError as exc:
                failures += 1
                assert "proj" in str(exc) and ("full" in str(exc) or "No space" in str(exc)), str(exc)
        assert failures >= 1, "the disk was not full enough to fail a save"
        after = _digest(small_fs / "proj" / "masks")
        for name, data in before.items():
            assert after.get(name) in (data, None) or after[name] == data
        assert (
            after[f"{recs[0].id}.png"] == before[f"{recs[0].id}.png"]
            or project.load_mask(recs[0].id).max() == 7
        )
        filler.unlink()
        for rec in recs:
            project.save_mask(rec.id, np.full((corpus.H, corpus.W), 4, np.uint8))
        del noisy
    with Project.open(small_fs / "proj") as project:
        for rec in project.images():
            assert (project.load_mask(rec.id) == 4).all() and project.record(rec.id).has_mask


def test_an_export_into_a_full_disk_stops_cleanly(small_fs: Path, tmp_path: Path) -> None:
    corpus.good_images(tmp_path / "images", n=3)
    with Project.create(tmp_path / "proj", tmp_path / "images", "camvid") as project:
        for rec in project.images():
            project.save_mask(rec.id, np.full((corpus.H, corpus.W), 3, np.uint8), status="reviewed")
        out = small_fs / "export"
        assert export_project(project, out, "cityscapes", mapping="camvid").done == 3
        mapping = (out / "mapping.csv").read_bytes()
        filler = _fill(small_fs)
        with pytest.raises(ExportFolderError):
            export_project(project, out, "cityscapes", mapping="camvid")
        assert (out / "mapping.csv").read_bytes() == mapping  # merged or untouched, never truncated
        filler.unlink()
        assert export_project(project, out, "cityscapes", mapping="camvid").done == 3
        assert not [p for p in out.rglob(".*.tmp")]


def test_training_on_a_full_disk_is_one_line(small_fs: Path, tmp_path: Path, capsys) -> None:
    root = make_folder_dataset(tmp_path / "data", n_train=2, n_val=0)
    run = small_fs / "run"
    filler = _fill(small_fs)
    code = main([
        "train", "--data-root", str(root), "--dataset", "folder", "--label-set", str(root / "labels.json"),
        "--depth", "18", "--crop-size", "32,32", "--batch-size", "2", "--max-iters", "1", "--workers", "0",
        "--run-dir", str(run), "--val-split", "none", "--no-progress",
    ])  # fmt: skip
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("danet: error:")]
    assert code == 1 and len(lines) == 1 and "Traceback" not in err, err
    assert "No space left" in lines[0] and str(small_fs) in lines[0], lines[0]
    filler.unlink()
