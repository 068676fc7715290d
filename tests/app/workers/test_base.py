"""FunctionWorker: results, failures, cancellation and progress arrive as signals in the GUI thread."""

from __future__ import annotations

import threading

import pytest

from app.workers.base import FunctionWorker, active_workers, shutdown_all
from danet_core.jobs import check_stop

pytestmark = pytest.mark.gui


def _add(a: int, b: int, *, progress, should_stop) -> tuple[int, str]:
    for i in range(3):
        progress(i + 1, 3, f"step {i + 1}")
    return a + b, threading.current_thread().name


def test_finished_delivers_result_from_another_thread(qtbot):
    worker = FunctionWorker(_add, 2, 3)
    seen: list[tuple[int, int, str]] = []
    worker.progress.connect(lambda d, t, m: seen.append((d, t, m)))
    with qtbot.waitSignal(worker.finished, timeout=5000) as blocker:
        worker.start()
    value, thread_name = blocker.args[0]
    assert value == 5
    assert thread_name != threading.current_thread().name
    assert seen[-1] == (3, 3, "step 3")  # the last progress always goes through the throttle
    qtbot.waitUntil(lambda: not worker.is_running(), timeout=5000)
    assert worker not in active_workers()


def test_failure_carries_message_and_traceback(qtbot):
    def boom(*, progress, should_stop):
        raise ValueError("bad.png: expected an image")

    worker = FunctionWorker(boom, name="load")
    with qtbot.waitSignal(worker.failed, timeout=5000) as blocker:
        worker.start()
    message, tb = blocker.args
    assert message == "load: bad.png: expected an image"
    assert "Traceback" in tb and "ValueError" in tb


def test_cancel_stops_the_job_and_emits_cancelled(qtbot):
    started = threading.Event()

    def loop(*, progress, should_stop):
        started.set()
        while True:
            check_stop(should_stop)
            threading.Event().wait(0.001)

    worker = FunctionWorker(loop)
    finished: list[object] = []
    worker.finished.connect(finished.append)
    worker.start()
    assert started.wait(5)
    with qtbot.waitSignal(worker.cancelled, timeout=5000):
        worker.cancel()
    assert finished == []


def test_without_callbacks_and_single_start(qtbot):
    worker = FunctionWorker(sorted, [3, 1, 2], callbacks=False)
    with qtbot.waitSignal(worker.finished, timeout=5000) as blocker:
        worker.start()
    assert blocker.args == [[1, 2, 3]]
    with pytest.raises(RuntimeError, match="already started"):
        worker.start()


def test_shutdown_all_cancels_running_workers(qtbot):
    started = threading.Event()

    def loop(*, progress, should_stop):
        started.set()
        while not should_stop():
            threading.Event().wait(0.001)
        return "stopped"

    worker = FunctionWorker(loop)
    worker.start()
    assert started.wait(5)
    assert shutdown_all(5000)
    assert worker.is_cancelled()
