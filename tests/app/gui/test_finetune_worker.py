"""FinetuneWorker mechanics against a scripted child process (fast, no model): records reach the GUI,
cancel goes through the STOP file, a killed child and an error exit become clear failures."""

from __future__ import annotations

import os
import signal
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from app.workers.finetune import FinetuneWorker  # noqa: E402

pytestmark = pytest.mark.gui

# Mimics the engine's run directory protocol: metrics.jsonl lines, checkpoints/last.pt, STOP file.
CHILD = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    run, iters, mode = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    (run / "checkpoints").mkdir(exist_ok=True)
    log = open(run / "metrics.jsonl", "a")
    for it in range(1, iters + 1):
        if (run / "STOP").exists():
            log.write(json.dumps({"type": "end", "status": "cancelled", "reason": "stop_file"}) + "\\n")
            log.flush(); sys.exit(1)
        if mode == "nan" and it == 3:
            print("danet: error: loss is NaN at iteration 3", file=sys.stderr); sys.exit(1)
        log.write(json.dumps({"type": "train", "iter": it, "loss": 1.0 / it, "max_iters": iters}) + "\\n")
        log.flush()
        (run / "checkpoints" / "last.pt").write_bytes(b"ckpt")
        time.sleep(0.05 if mode != "slow" else 0.2)
    log.write(json.dumps({"type": "val", "iter": iters, "miou": 0.5}) + "\\n")
    log.write(json.dumps({"type": "end", "status": "completed", "reason": "max_iters"}) + "\\n")
    """
)


def _worker(tmp_path: Path, iters: int, mode: str) -> FinetuneWorker:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    run = tmp_path / "run"
    run.mkdir()
    return FinetuneWorker(
        run, max_iters=iters, args=[str(script), str(run), str(iters), mode], poll_ms=50, grace_s=5
    )


def test_records_progress_and_completion(qtbot, tmp_path: Path) -> None:
    w = _worker(tmp_path, 6, "ok")
    records, progress = [], []
    w.record.connect(records.append)
    w.progress.connect(lambda d, t, m: progress.append((d, t, m)))
    with qtbot.waitSignal(w.finished, timeout=20_000) as blocker:
        w.start()
    outcome = blocker.args[0]
    assert outcome.status == "completed" and outcome.iterations == 6
    assert [r["iter"] for r in records if r["type"] == "train"] == [1, 2, 3, 4, 5, 6]
    assert any(r["type"] == "val" for r in records)
    # permille of the larger of iteration and time progress (issue 10: a time-bounded run moves too)
    assert (
        progress[-1][:2] == (1000, 1000) and "iteration 6/6" in progress[-1][2] and "ETA" in progress[-1][2]
    )


def test_cancel_writes_stop_and_keeps_the_checkpoint(qtbot, tmp_path: Path) -> None:
    w = _worker(tmp_path, 200, "slow")
    w.start()
    qtbot.waitUntil(lambda: len(w.records()) >= 2, timeout=20_000)
    with qtbot.waitSignal(w.finished, timeout=20_000) as blocker:
        w.cancel()
    outcome = blocker.args[0]
    assert outcome.status == "stopped" and outcome.last_checkpoint is not None
    assert (w.run_dir / "STOP").exists()


def test_killed_child_is_a_clear_failure(qtbot, tmp_path: Path) -> None:
    w = _worker(tmp_path, 200, "slow")
    w.start()
    qtbot.waitUntil(lambda: len(w.records()) >= 1, timeout=20_000)
    with qtbot.waitSignal(w.failed, timeout=20_000) as blocker:
        os.kill(w.process_id(), signal.SIGKILL)
    assert "killed" in blocker.args[0] and w.last_outcome.can_resume


def test_error_exit_reports_the_engine_message(qtbot, tmp_path: Path) -> None:
    w = _worker(tmp_path, 10, "nan")
    with qtbot.waitSignal(w.failed, timeout=20_000) as blocker:
        w.start()
    assert "NaN" in blocker.args[0]
    assert "loss is NaN" in (w.run_dir / "child_stderr.log").read_text()


def test_missing_program_fails_to_start(qtbot, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    w = FinetuneWorker(run, max_iters=1, program=str(tmp_path / "no-such-python"), args=[])
    with qtbot.waitSignal(w.failed, timeout=10_000) as blocker:
        w.start()
    assert "Cannot start the training process" in blocker.args[0]
