"""(b) kill -9 of a process that saves through the store's save path, at random moments: afterwards the
catalog opens (integrity check), every mask file decodes (no torn file), every save the child reported
is on disk (or the one it was making), no temp file survives the next open, file and row agree."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from danet_core.project import Project
from tests.faults import corpus

REPO = Path(__file__).resolve().parents[2]


def _kill_cycles(project_dir: Path, kills: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    last: dict[int, int] = {}  # image id -> last value reported saved
    figures = {"kills": 0, "saves_reported": 0, "lost_saves": 0, "torn_files": 0, "bad_catalogs": 0}
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for k in range(kills):
        argv = [
            sys.executable,
            str(Path(__file__).with_name("saver_child.py")),
            str(project_dir),
            str(seed + k),
        ]
        child = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        consumed: list[str] = []
        deadline = time.monotonic() + rng.uniform(0.005, 0.25)
        while time.monotonic() < deadline:  # let it save for a random while
            line = child.stdout.readline()
            if not line:
                break
            consumed.append(line)
        child.send_signal(signal.SIGKILL)
        child.wait()
        # every line it wrote before dying is in the pipe: replay the whole report
        in_flight = _replay(consumed + child.stdout.read().splitlines(), last, figures)
        figures["kills"] += 1
        _check(project_dir, last, in_flight, figures)
    return figures


def _replay(lines: list[str], last: dict[int, int], figures: dict) -> tuple[int, int] | None:
    """Apply the child's report to ``last``; returns the save it was making when killed, if any."""
    in_flight: tuple[int, int] | None = None
    for raw in lines:
        word = raw.split()
        if not word:
            continue
        if word[0] == "saving":
            in_flight = (int(word[1]), int(word[2]))
        elif word[0] == "saved":
            last[int(word[1])] = int(word[2])
            figures["saves_reported"] += 1
            in_flight = None
    return in_flight


def _check(project_dir: Path, last: dict[int, int], in_flight: tuple[int, int] | None, figures: dict) -> None:
    try:
        project = Project.open(project_dir)
    except ValueError:
        figures["bad_catalogs"] += 1
        raise
    with project:
        leftovers = [p for p in (project_dir / "masks").iterdir() if p.name.startswith(".")]
        assert leftovers == [], leftovers  # the dead writer's temp files are gone after open
        for rec in project.images():
            try:
                mask = project.load_mask(rec.id)
            except ValueError:
                figures["torn_files"] += 1
                raise
            if rec.id not in last and mask is None:
                continue
            assert mask is not None and rec.has_mask
            values = set(np.unique(mask).tolist())
            assert len(values) == 1, values  # a whole mask, never half of two
            value = values.pop()
            ok = {last.get(rec.id)} | ({in_flight[1]} if in_flight and in_flight[0] == rec.id else set())
            if value not in ok:
                figures["lost_saves"] += 1
            if value == last.get(rec.id) and in_flight and in_flight[0] == rec.id and in_flight[1] != value:
                pass  # the save in flight did not land: fine, it was never reported
            last[rec.id] = value  # what is on disk now is the truth for the next cycle


def _project(tmp_path: Path) -> Path:
    images = tmp_path / "images"
    corpus.good_images(images, n=4)
    Project.create(tmp_path / "proj", images, "camvid").close()
    return tmp_path / "proj"


def test_kills_during_saves_quick(tmp_path: Path) -> None:
    figures = _kill_cycles(_project(tmp_path), kills=8, seed=1)
    assert figures["lost_saves"] == 0 and figures["torn_files"] == 0 and figures["bad_catalogs"] == 0
    assert figures["saves_reported"] > 0


@pytest.mark.slow
def test_two_hundred_kills_during_saves(tmp_path: Path) -> None:
    figures = _kill_cycles(_project(tmp_path), kills=200, seed=7)
    print(f"\nkill test: {figures}")
    assert figures["kills"] == 200
    assert figures["lost_saves"] == 0 and figures["torn_files"] == 0 and figures["bad_catalogs"] == 0
