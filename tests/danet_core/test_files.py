"""Atomic writes and the temp files killed writers leave (issue 13 D08): every place that writes big
files removes the temp files of dead writers when it starts, and never those of a live one."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from danet_core.files import StagedWrite, atomic_write_bytes


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


def _temps(folder: Path, dead: int) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    stale = folder / f".last.pt.{dead}.x1y2.tmp"
    live = folder / f".best.pt.{os.getpid()}.z3w4.tmp"
    stale.write_bytes(b"0" * 1000)
    live.write_bytes(b"1")
    return stale, live


def test_training_run_folders_drop_dead_writers_temp_files(tmp_path: Path) -> None:
    from danet_core.training.rundir import RunDir

    stale, live = _temps(tmp_path / "run" / "checkpoints", _dead_pid())
    RunDir(tmp_path / "run")
    assert not stale.exists() and live.exists()


def test_export_folders_drop_dead_writers_temp_files(tmp_path: Path) -> None:
    from danet_core.formats.common import prepare_export_folder

    stale, live = _temps(tmp_path / "out" / "gtFine" / "train" / "city", _dead_pid())
    prepare_export_folder(tmp_path / "out")
    assert not stale.exists() and live.exists()


def test_a_staged_write_commits_rolls_back_and_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "mask.png"
    atomic_write_bytes(target, b"old")
    with StagedWrite(target, b"new") as staged:
        assert target.read_bytes() == b"old"  # staged only
        staged.commit()
        assert target.read_bytes() == b"new"
        staged.rollback()
        assert target.read_bytes() == b"old"
    fresh = tmp_path / "first.png"
    with StagedWrite(fresh, b"x") as staged:
        staged.commit()
        staged.rollback()
    assert not fresh.exists()
    with StagedWrite(tmp_path / "never.png", b"y"):
        pass  # not committed: nothing appears
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mask.png"]


def test_a_failed_write_names_the_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(os, "fdopen", lambda fd, mode: _Full(fd))  # the disk fills up on write()
    with pytest.raises(OSError, match=r"report\.json: cannot write \(No space left on device\)"):
        atomic_write_bytes(tmp_path / "report.json", b"{}")
    assert list(tmp_path.iterdir()) == []


class _Full:
    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __enter__(self) -> _Full:
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)

    def write(self, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
