"""FunctionWorker: run one pure long-job function in a QThread, report through typed Qt signals.

Why a generic worker: every long job of danet_core (inference, export, scanning, training) is a plain
function taking ``progress(done, total, message)`` and ``should_stop()`` callbacks (ADR 0001). The app only
needs to move such a call off the GUI thread and turn the callbacks into signals, so one class serves all
of them and the controllers stay free of threading code.

Signals are emitted from the worker thread on an object that lives in the GUI thread; Qt delivers them
queued to receivers in the GUI thread, so slots may touch widgets. Connect them before :meth:`start`.

Outcome signals, exactly one per run, then ``done``:

- ``finished(object)``: the function's return value;
- ``failed(str, str)``: one-line message and the full traceback (an exception other than Cancelled);
- ``cancelled()``: the job raised :class:`danet_core.jobs.Cancelled` after :meth:`cancel`.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

from danet_core.jobs import Cancelled

log = logging.getLogger(__name__)

# Workers that are still running; keeps the Python objects alive until their thread ends (a QThread
# collected while running aborts the process) and lets the app cancel and join them all on exit.
_ACTIVE: set[FunctionWorker] = set()


class _JobThread(QThread):
    def __init__(self, worker: FunctionWorker) -> None:
        super().__init__()
        self._worker = worker

    def run(self) -> None:  # runs in the new thread
        self._worker._run_job()


class FunctionWorker(QObject):
    """Run ``fn(*args, progress=..., should_stop=..., **kwargs)`` in a background QThread.

    ``callbacks=False`` calls ``fn(*args, **kwargs)`` for functions without the job callbacks (e.g.
    image decoding). Progress signals are throttled to one per ``progress_interval_s`` (the last one of a
    job always goes through) so a fast loop cannot flood the GUI event queue.
    """

    progress = Signal(int, int, str)
    finished = Signal(object)
    failed = Signal(str, str)
    cancelled = Signal()
    done = Signal()

    def __init__(
        self,
        fn: Callable[..., Any],
        *args: Any,
        name: str = "",
        callbacks: bool = True,
        progress_interval_s: float = 0.05,
        parent: QObject | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(parent)
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.name = name or getattr(fn, "__name__", "job")
        self._callbacks = callbacks
        self._interval = progress_interval_s
        self._last_emit = 0.0
        self._stop = threading.Event()
        self._thread: _JobThread | None = None
        self._started = False
        self._finished_run = False

    # -- control (GUI thread) ---------------------------------------------------------------------
    def start(self) -> None:
        """Start the job; a worker runs once."""
        if self._started:
            raise RuntimeError(f"worker {self.name!r} was already started")
        self._started = True
        self._thread = _JobThread(self)
        self._thread.finished.connect(self._on_thread_finished)
        _ACTIVE.add(self)
        self._thread.start()

    def cancel(self) -> None:
        """Ask the job to stop: its ``should_stop()`` returns True from now on."""
        self._stop.set()

    def is_cancelled(self) -> bool:
        return self._stop.is_set()

    def is_running(self) -> bool:
        return self._started and not self._finished_run

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until the thread ended (True) or ``timeout_ms`` passed (False). For shutdown and tests."""
        if self._thread is None:
            return True
        if timeout_ms < 0:
            return self._thread.wait()
        return self._thread.wait(timeout_ms)

    # -- the job (worker thread) -----------------------------------------------------------------
    def _should_stop(self) -> bool:
        return self._stop.is_set()

    def _progress(self, done: int, total: int, message: str = "") -> None:
        now = time.monotonic()
        if done < total and now - self._last_emit < self._interval:
            return
        self._last_emit = now
        self.progress.emit(int(done), int(total), str(message))

    def _run_job(self) -> None:
        try:
            if self._callbacks:
                result = self.fn(
                    *self.args, progress=self._progress, should_stop=self._should_stop, **self.kwargs
                )
            else:
                result = self.fn(*self.args, **self.kwargs)
        except Cancelled:
            log.info("job %s cancelled", self.name)
            self.cancelled.emit()
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the GUI, not kill the thread
            tb = traceback.format_exc()
            log.error("job %s failed: %s\n%s", self.name, exc, tb)
            message = str(exc) or type(exc).__name__
            self.failed.emit(f"{self.name}: {message}", tb)
        else:
            self.finished.emit(result)

    def _on_thread_finished(self) -> None:
        self._finished_run = True
        _ACTIVE.discard(self)
        self.done.emit()


def active_workers() -> list[FunctionWorker]:
    """Workers whose thread has not finished yet."""
    return list(_ACTIVE)


def shutdown_all(timeout_ms: int = 10_000) -> bool:
    """Cancel every running worker and wait for them (app exit). True when all stopped in time."""
    workers = active_workers()
    for w in workers:
        w.cancel()
    ok = True
    deadline = time.monotonic() + timeout_ms / 1000.0
    for w in workers:
        remaining = max(0, int((deadline - time.monotonic()) * 1000))
        ok = w.wait(remaining) and ok
    return ok
