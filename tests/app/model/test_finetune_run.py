"""Metrics-log tailing, end classification and ETA of the fine-tune child (Qt-free)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.model.finetune_run import MetricsTail, classify_end, eta_seconds, format_eta


def test_tail_reads_only_complete_new_lines(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    tail = MetricsTail(path)
    assert tail.read_new() == []  # not created yet
    with open(path, "w") as fh:
        fh.write(json.dumps({"type": "train", "iter": 1}) + "\n" + '{"type": "tra')
    assert tail.read_new() == [{"type": "train", "iter": 1}]
    with open(path, "a") as fh:
        fh.write('in", "iter": 2}\nnot json\n')
    assert tail.read_new() == [{"type": "train", "iter": 2}]
    assert tail.read_new() == []
    path.write_text('{"type": "train", "iter": 1}\n')  # a resumed run rewrote a shorter log
    assert tail.read_new() == [{"type": "train", "iter": 1}]


def _run(tmp_path: Path, *, last: bool = True) -> Path:
    (tmp_path / "checkpoints").mkdir(parents=True)
    if last:
        (tmp_path / "checkpoints" / "last.pt").write_bytes(b"x")
    return tmp_path


def test_killed_child_keeps_the_last_checkpoint_and_says_so(tmp_path: Path) -> None:
    out = classify_end(
        _run(tmp_path),
        exit_code=None,
        crashed=True,
        stderr_tail="",
        records=[{"iter": 7}],
        stop_requested=False,
    )
    assert out.status == "failed" and "killed after 7 iterations" in out.message
    assert "active model and every mask are unchanged" in out.message and out.can_resume


def test_nan_disk_full_and_other_errors(tmp_path: Path) -> None:
    run = _run(tmp_path)
    nan = classify_end(
        run,
        exit_code=1,
        crashed=False,
        stderr_tail="danet: error: loss is NaN at iteration 3\n",
        records=[],
        stop_requested=False,
    )
    assert "NaN" in nan.message and nan.status == "failed"
    full = classify_end(
        run,
        exit_code=1,
        crashed=False,
        stderr_tail="OSError: [Errno 28] No space left on device\n",
        records=[],
        stop_requested=False,
    )
    assert "disk is full" in full.message
    other = classify_end(
        run,
        exit_code=1,
        crashed=False,
        stderr_tail="danet: error: data/x.png: cannot read image\n",
        records=[],
        stop_requested=False,
    )
    assert "exit status 1" in other.message and "data/x.png: cannot read image" in other.message


def test_completed_and_stopped(tmp_path: Path) -> None:
    run = _run(tmp_path)
    done = classify_end(
        run,
        exit_code=0,
        crashed=False,
        stderr_tail="",
        records=[{"type": "end", "iter": 5}],
        stop_requested=False,
    )
    assert done.status == "completed" and done.checkpoint == run / "checkpoints" / "last.pt"
    stopped = classify_end(
        run,
        exit_code=1,
        crashed=False,
        stderr_tail="Traceback ...\nCancelled: training stopped",
        records=[{"type": "end", "status": "cancelled", "reason": "stop_file", "iter": 4}],
        stop_requested=True,
    )
    assert stopped.status == "stopped" and "cancelled" in stopped.message and stopped.can_resume
    engine_nan = classify_end(
        run,
        exit_code=1,
        crashed=False,
        stderr_tail="",
        records=[
            {
                "type": "end",
                "status": "failed",
                "reason": "non_finite_loss",
                "message": "loss became non-finite",
            }
        ],
        stop_requested=False,
    )
    assert "NaN/inf" in engine_nan.message
    budget = classify_end(
        run,
        exit_code=0,
        crashed=False,
        stderr_tail="",
        records=[{"type": "end", "status": "completed", "reason": "max_time", "iter": 9}],
        stop_requested=False,
    )
    assert budget.status == "completed" and "time budget" in budget.message
    killed_after_stop = classify_end(
        run, exit_code=None, crashed=True, stderr_tail="", records=[], stop_requested=True
    )
    assert killed_after_stop.status == "stopped"


def test_no_checkpoint_is_a_failure(tmp_path: Path) -> None:
    out = classify_end(
        _run(tmp_path, last=False),
        exit_code=0,
        crashed=False,
        stderr_tail="",
        records=[],
        stop_requested=False,
    )
    assert out.status == "failed" and not out.can_resume


def test_eta() -> None:
    assert eta_seconds(0, 100, 0.0, None) is None
    assert eta_seconds(10, 100, 20.0, None) == pytest.approx(180.0)
    assert eta_seconds(10, 100, 20.0, 60.0) == pytest.approx(40.0)  # the time budget ends it first
    assert format_eta(125) == "ETA 2:05" and format_eta(None) == "ETA --"


def test_run_fraction_is_the_larger_of_iterations_and_time() -> None:
    from app.model.finetune_run import run_fraction

    assert run_fraction(9, 38, 120.0, 180.0) == pytest.approx(120 / 180)  # time-bounded on a slow CPU
    assert run_fraction(30, 40, 10.0, 180.0) == pytest.approx(0.75)
    assert run_fraction(0, 100_000, 0.0, None) == 0.0 and run_fraction(5, 4, 1.0, None) == 1.0
