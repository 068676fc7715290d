"""One background job shown in the status bar's job indicator: start, progress, cancel, clean-up."""

from __future__ import annotations

from collections.abc import Callable

from app.widgets.status_bar import JobIndicator
from app.workers.base import FunctionWorker


class JobSlot:
    """At most one worker under ``key`` in ``jobs``; ``worker`` is None when idle."""

    def __init__(self, jobs: JobIndicator, key: str) -> None:
        self.jobs = jobs
        self.key = key
        self.worker: FunctionWorker | None = None

    def start(
        self,
        worker: FunctionWorker,
        text: str,
        total: int,
        status: Callable[[int, int, str], str] | None = None,
    ) -> None:
        """Show ``text`` with a bar of ``total`` steps, follow the worker's progress, clear when done."""
        worker.progress.connect(
            lambda d, t, m: self.jobs.update_progress(self.key, d, t, status(d, t, m) if status else m)
        )
        worker.done.connect(self._done)
        self.jobs.start(self.key, text, total)
        self.worker = worker
        worker.start()

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()

    def _done(self) -> None:
        self.worker = None
        self.jobs.stop(self.key)
