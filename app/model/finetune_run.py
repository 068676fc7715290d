"""Qt-free side of a fine-tune child process: its run directory, metrics log, and what its end means.

The app trains in a child process (``python -m danet_core.cli train --config <run>/config.json``) so an
out-of-memory kill or a crash in training cannot take the window down. Everything the app learns about
the run comes from files and the exit status, so reading them lives here, testable without Qt:

- :class:`MetricsTail` reads the engine's ``metrics.jsonl`` incrementally (the child may be half-way
  through writing a line; a partial line waits for the next poll).
- :func:`classify_end` turns the exit status, the stderr tail and the last log records into one
  user-facing message: killed (likely out of memory), NaN loss, disk full, bad data, or success/stop.
- :func:`eta_seconds` estimates the remaining time from iterations and the time budget.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from danet_core.training.layout import RunLayout

log = logging.getLogger(__name__)


class MetricsTail:
    """Incremental reader of a JSON-lines file that another process appends to."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._offset = 0
        self._partial = b""

    def read_new(self) -> list[dict]:
        """Complete records appended since the last call (malformed lines are logged and skipped)."""
        try:
            with open(self.path, "rb") as fh:
                if os.fstat(fh.fileno()).st_size < self._offset:
                    # replaced by a shorter file (a resumed run truncates its log): start over
                    self._offset, self._partial = 0, b""
                fh.seek(self._offset)
                chunk = fh.read()
        except FileNotFoundError:
            return []
        self._offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()  # b"" when the chunk ended with a newline
        records = []
        for raw in lines:
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                log.warning("%s: skipping a malformed metrics line %r", self.path, raw[:120])
                continue
            if isinstance(rec, dict):
                records.append(rec)
        return records


@dataclass(frozen=True)
class RunOutcome:
    """How a fine-tune run ended. ``status``: "completed", "stopped" (cancel or time budget) or "failed"."""

    run_dir: Path
    status: str
    message: str
    last_checkpoint: Path | None
    best_checkpoint: Path | None
    iterations: int = 0
    end_record: dict = field(default_factory=dict)

    @property
    def checkpoint(self) -> Path | None:
        """The checkpoint that becomes the new model version: the *last* one. Why not ``best``: the
        engine picks ``best.pt`` on the same held-out images the app then compares old and new models
        on, so choosing it would bias that comparison in favour of the new model."""
        return self.last_checkpoint or self.best_checkpoint

    @property
    def can_resume(self) -> bool:
        return self.status != "completed" and self.last_checkpoint is not None


def checkpoints(run_dir: Path) -> tuple[Path | None, Path | None]:
    """(last, best) checkpoint paths of a run directory, None where absent."""
    layout = RunLayout(run_dir)
    last, best = layout.last, layout.best
    return (last if last.is_file() else None, best if best.is_file() else None)


_ERROR_LINE = re.compile(r"^danet: error: (.+)$", re.MULTILINE)


def classify_end(
    run_dir: Path,
    *,
    exit_code: int | None,
    crashed: bool,
    stderr_tail: str,
    records: list[dict],
    stop_requested: bool,
) -> RunOutcome:
    """Decide how the child's run ended and say it in one message (see the module docstring).

    ``exit_code`` None or ``crashed`` True: the process died by a signal (killed, OOM killer, segfault).
    """
    last, best = checkpoints(run_dir)
    iters = max((int(r.get("iter", 0) or 0) for r in records), default=0)
    end: dict = next((r for r in reversed(records) if r.get("type") == "end"), {})
    kept = (
        f" The last checkpoint ({last}) is kept; Resume continues from it."
        if last
        else " No checkpoint was written yet."
    )
    untouched = " The active model and every mask are unchanged."

    def outcome(status: str, message: str) -> RunOutcome:
        return RunOutcome(run_dir, status, message, last, best, iters, end)

    if (crashed or exit_code is None) and stop_requested and last is not None:
        return outcome("stopped", f"Training stopped (cancelled) after {iters} iterations.{kept}")
    if crashed or exit_code is None:
        return outcome(
            "failed",
            f"The training process was killed after {iters} iterations (out of memory? try a smaller "
            f"crop or batch).{untouched}{kept}",
        )
    status, reason = str(end.get("status", "")), str(end.get("reason", ""))
    if status == "cancelled" or (stop_requested and exit_code != 0 and status != "failed"):
        if last is None:
            return outcome("failed", f"Training was cancelled before its first checkpoint.{untouched}")
        return outcome("stopped", f"Training stopped (cancelled) after {iters} iterations.{kept}")
    error = _ERROR_LINE.findall(stderr_tail)
    text = str(end.get("message", "")) or (error[-1] if error else "") or stderr_tail.strip()[-400:]
    low = (text + " " + stderr_tail).lower()
    if reason.startswith("non_finite") or "non-finite" in low or "nan loss" in low or "loss is nan" in low:
        return outcome(
            "failed",
            f"Training stopped: the loss became NaN/inf after {iters} iterations (try a lower learning "
            f"rate or fp32).{untouched}{kept}",
        )
    if "no space left" in low or "errno 28" in low or "disk full" in low:
        return outcome(
            "failed",
            f"Training stopped: the disk is full (run folder {run_dir}). Free some space and "
            f"resume.{untouched}{kept}",
        )
    if exit_code != 0 or status == "failed":
        return outcome(
            "failed",
            f"Training failed (exit status {exit_code}): {text or 'no message'}.{untouched}{kept}",
        )
    if last is None and best is None:
        return outcome("failed", f"Training ended without writing a checkpoint.{untouched}")
    if reason == "max_time":
        return outcome("completed", f"Training reached its time budget after {iters} iterations.")
    return outcome("completed", f"Training finished after {iters} iterations.")


def eta_seconds(done: int, total: int, elapsed_s: float, max_time_s: float | None) -> float | None:
    """Remaining seconds: by the iteration rate, capped by the time budget; None before any progress."""
    if done <= 0 or elapsed_s <= 0:
        return None if max_time_s is None else max(0.0, max_time_s - elapsed_s)
    by_rate = (total - done) * elapsed_s / done
    if max_time_s is not None:
        by_rate = min(by_rate, max(0.0, max_time_s - elapsed_s))
    return max(0.0, by_rate)


def run_fraction(done: int, total: int, elapsed_s: float, max_time_s: float | None) -> float:
    """How far a run is, 0..1: the larger of its iteration and its time progress (a time-bounded run
    on a slow CPU reaches its budget long before its iteration count, and its bar must show that)."""
    by_iters = done / total if total > 0 else 0.0
    by_time = elapsed_s / max_time_s if max_time_s else 0.0
    return min(1.0, max(0.0, by_iters, by_time))


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "ETA --"
    s = int(round(seconds))
    return f"ETA {s // 60}:{s % 60:02d}" if s < 3600 else f"ETA {s // 3600}h{(s % 3600) // 60:02d}"
