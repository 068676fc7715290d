"""Callback protocol shared by every long job (inference, training, export, scanning).

Long jobs are plain functions that take ``progress(done, total, message)`` and ``should_stop()``
callbacks, so that the CLI drives them with tqdm and the desktop app with a Qt worker, without
either knowing about the other. A job that sees ``should_stop()`` return True raises
:class:`Cancelled` at the next safe point (nothing half-written is left behind).
"""

from __future__ import annotations

from collections.abc import Callable

ProgressFn = Callable[[int, int, str], None]
StopFn = Callable[[], bool]


class Cancelled(Exception):
    """Raised by a long job that stopped because ``should_stop()`` returned True."""


def check_stop(should_stop: StopFn | None) -> None:
    """Raise :class:`Cancelled` when the caller asked to stop."""
    if should_stop is not None and should_stop():
        raise Cancelled("cancelled by the user")
