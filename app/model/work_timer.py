"""Time spent on an image: active time only.

Each user event (an edit, a cursor move) adds the gap since the previous event when that gap is at
most ``idle_timeout_s`` (30 s); a longer gap counts nothing (the user was away or doing something
else), so the seconds per image do not creep up while the window sits open. Issue 10 observed the
previous rule (gaps capped at 60 s) adding a minute per image switch with no work. The clock is
injectable so the rule is unit-tested without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable

IDLE_TIMEOUT_S = 30.0


class WorkTimer:
    """Seconds of work on the open image; ``seconds`` starts from what the project already recorded."""

    def __init__(
        self, *, idle_timeout_s: float = IDLE_TIMEOUT_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.idle_timeout_s = idle_timeout_s
        self._clock = clock
        self.seconds = 0.0
        self._last = clock()

    def restart(self, recorded_seconds: float) -> None:
        """A new image is open: continue from its recorded total; the gap before now is not work."""
        self.seconds = float(recorded_seconds)
        self._last = self._clock()

    def tick(self) -> float:
        """A user event: add the gap since the previous one unless it was idle; returns the total."""
        now = self._clock()
        gap = now - self._last
        if gap <= self.idle_timeout_s:
            self.seconds += gap
        self._last = now
        return self.seconds

    def unsaved(self, recorded_seconds: float) -> float:
        """Seconds counted here beyond what the project recorded (after a :meth:`tick`)."""
        return self.seconds - float(recorded_seconds)
