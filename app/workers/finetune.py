"""FinetuneWorker: the training engine in a child process (QProcess), tailed through its metrics log.

Why a process and not a thread: training allocates gigabytes and runs native code for minutes; an
out-of-memory kill, a segfault in a kernel or a NaN that blows up must end the *training*, not the window
holding the user's unsaved edits. The child is ``sys.executable -m danet_core.cli train --config
<run>/config.json`` (the same engine and CLI a researcher uses), and the app learns everything from the
run directory: ``metrics.jsonl`` (polled with a QTimer: a file watcher misses appends on some network
file systems and fires per write on others), the checkpoints and the exit status.

Cancel writes the engine's STOP file, so the run stops at the next iteration and saves ``last.pt``;
if the child has not exited after ``grace_s`` seconds it is killed (the last checkpoint on disk is still
the previous complete one: the engine writes checkpoints atomically).

Signals (connect before :meth:`start`): ``progress(done, total, message)`` with an ETA in the message,
``record(dict)`` for every metrics record (curves), ``finished(RunOutcome)`` for a completed or
stopped run with a checkpoint, ``failed(str, str)`` (message, stderr tail) otherwise, then ``done()``.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from app.model.finetune_run import (
    MetricsTail,
    RunOutcome,
    classify_end,
    eta_seconds,
    format_eta,
    run_fraction,
)
from danet_core.training.layout import RunLayout

log = logging.getLogger(__name__)

STDERR_TAIL_BYTES = 16_000


def train_command(run_dir: Path, *, resume: bool = False) -> list[str]:
    """The child's argv (without the interpreter): the ``danet train`` CLI on the run's config."""
    layout = RunLayout(run_dir)
    args = ["-m", "danet_core.cli", "train", "--config", str(layout.config)]
    if resume:
        args += ["--resume", str(layout.last)]
    return args


class FinetuneWorker(QObject):
    """Run one training child process for ``run_dir`` (which already holds ``config.json``)."""

    progress = Signal(int, int, str)
    record = Signal(dict)
    finished = Signal(object)
    failed = Signal(str, str)
    done = Signal()

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        *,
        max_iters: int,
        max_time_s: float | None = None,
        args: Sequence[str] | None = None,
        program: str = sys.executable,
        poll_ms: int = 300,
        grace_s: float = 15.0,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.run_dir = Path(run_dir)
        self.max_iters = max_iters
        self.max_time_s = max_time_s
        self._program = program
        self._args = list(args) if args is not None else train_command(self.run_dir)
        self._grace_ms = int(grace_s * 1000)
        self._tail = MetricsTail(RunLayout(self.run_dir).metrics)
        self._records: list[dict] = []
        self._stderr = b""
        self._stop_requested = False
        self._started_at = 0.0
        self._process = QProcess(self)
        self._process.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        self._process.readyReadStandardError.connect(self._read_stderr)
        self._process.readyReadStandardOutput.connect(self._read_stdout)
        self._process.finished.connect(self._on_finished)
        self._process.errorOccurred.connect(self._on_error)
        self._poll = QTimer(self)
        self._poll.setInterval(poll_ms)
        self._poll.timeout.connect(self._poll_metrics)
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self._kill_after_grace)
        self._ended = False
        self._last_train: dict = {}
        self.last_outcome: RunOutcome | None = None

    # -- control ----------------------------------------------------------------------------------
    def start(self) -> None:
        stale = RunLayout(self.run_dir).stop
        if stale.exists():
            stale.unlink()  # a STOP of a cancelled earlier attempt must not end this one at once
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        self._process.setProcessEnvironment(env)
        self._process.setWorkingDirectory(str(self.run_dir))
        self._started_at = time.monotonic()
        log.info("fine-tune child: %s %s", self._program, " ".join(self._args))
        self._process.start(self._program, self._args)
        self._poll.start()

    def cancel(self) -> None:
        """Ask the run to stop at its next iteration (STOP file); kill it after the grace period."""
        if self._ended or self._stop_requested:
            return
        self._stop_requested = True
        try:
            RunLayout(self.run_dir).stop.write_bytes(b"stop requested by the app\n")
        except OSError as exc:  # cannot even write a file (disk full): stop it the hard way
            log.warning(
                "cannot write the STOP file in %s (%s); killing the training process", self.run_dir, exc
            )
            self._process.kill()
            return
        self._kill_timer.start(self._grace_ms)

    def kill(self) -> None:
        """Kill the child at once (app exit). The outcome is reported as a failure."""
        if not self._ended:
            self._process.kill()

    def is_running(self) -> bool:
        return not self._ended

    def process_id(self) -> int:
        return int(self._process.processId())

    def records(self) -> list[dict]:
        return list(self._records)

    def wait(self, timeout_ms: int = 30_000) -> bool:
        """Block until the child exited (shutdown and tests; the GUI never calls it)."""
        return self._ended or self._process.waitForFinished(timeout_ms)

    # -- child output -----------------------------------------------------------------------------
    def _read_stderr(self) -> None:
        self._stderr = (self._stderr + bytes(self._process.readAllStandardError()))[-STDERR_TAIL_BYTES:]

    def _read_stdout(self) -> None:
        data = bytes(self._process.readAllStandardOutput())
        if data:
            log.debug("fine-tune child: %s", data.decode("utf-8", "replace").rstrip())

    def _poll_metrics(self) -> None:
        for rec in self._tail.read_new():
            self._records.append(rec)
            self.record.emit(rec)
            if rec.get("type") == "train":
                self._last_train = rec
        self._emit_progress()  # every poll: a time-bounded run's bar moves with the clock

    def _emit_progress(self) -> None:
        """progress(permille, 1000, text): the larger of iteration and time progress (run_fraction)."""
        rec = self._last_train
        done = int(rec.get("iter", 0) or 0)
        total = int(rec.get("max_iters", self.max_iters) or self.max_iters)
        elapsed = time.monotonic() - self._started_at
        eta = eta_seconds(done, total, elapsed, self.max_time_s)
        loss = rec.get("loss")
        loss_text = f" · loss {loss:.3f}" if isinstance(loss, int | float) else ""
        steps = f"iteration {done}" + (f"/{total}" if total < 10_000 else "")
        clock = f" · {int(elapsed) // 60}:{int(elapsed) % 60:02d}" + (
            f" of {int(self.max_time_s) // 60}:{int(self.max_time_s) % 60:02d}" if self.max_time_s else ""
        )
        permille = int(1000 * run_fraction(done, total, elapsed, self.max_time_s))
        self.progress.emit(permille, 1000, f"{steps}{clock}{loss_text} · {format_eta(eta)}")

    # -- end --------------------------------------------------------------------------------------
    def _kill_after_grace(self) -> None:
        if not self._ended:
            log.warning("training did not stop within the grace period; killing it")
            self._process.kill()

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and not self._ended:
            self._finish_failed(
                f"Cannot start the training process ({self._program}): {self._process.errorString()}", ""
            )

    def _on_finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        if self._ended:
            return
        self._read_stderr()
        self._poll_metrics()
        crashed = exit_status == QProcess.ExitStatus.CrashExit
        stderr_text = self._stderr.decode("utf-8", "replace")
        outcome = classify_end(
            self.run_dir,
            exit_code=None if crashed else exit_code,
            crashed=crashed,
            stderr_tail=stderr_text,
            records=self._records,
            stop_requested=self._stop_requested,
        )
        self._save_child_log(stderr_text)
        if outcome.status == "failed":
            self._finish_failed(outcome.message, stderr_text, outcome)
            return
        self._end()
        self.last_outcome = outcome
        self.finished.emit(outcome)
        self.done.emit()

    def _finish_failed(self, message: str, details: str, outcome: RunOutcome | None = None) -> None:
        self._end()
        self.last_outcome = outcome
        log.error("fine-tune failed: %s", message)
        self.failed.emit(message, details)
        self.done.emit()

    def _end(self) -> None:
        self._ended = True
        self._poll.stop()
        self._kill_timer.stop()

    def _save_child_log(self, stderr_text: str) -> None:
        try:
            with open(self.run_dir / "child_stderr.log", "a", encoding="utf-8") as fh:
                fh.write(stderr_text)
        except OSError as exc:  # disk full: the message already says so; the log file is a nicety
            log.warning("cannot write the child log in %s: %s", self.run_dir, exc)
