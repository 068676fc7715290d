"""Time spent on an image, counting work and not breaks.

Each user event (an edit, a cursor move) adds the gap since the previous event, capped at
``idle_cap_s`` (60 s), so a lunch break with the image open is not counted as labeling time. The clock
is injectable so the rule is unit-tested without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable

IDLE_CAP_S = 60.0


class WorkTimer:
    """Seconds of work on the open image; ``seconds`` starts from what the project already recorded."""

    def __init__(
        self, *, idle_cap_s: float = IDLE_CAP_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.idle_cap_s = idle_cap_s
        self._clock = clock
        self.seconds = 0.0
        self._last = clock()

    def restart(self, recorded_seconds: float) -> None:
        """A new image is open: continue from its recorded total; the gap before now is not work."""
        self.seconds = float(recorded_seconds)
        self._last = self._clock()

    def tick(self) -> float:
        """A user event: add the (capped) gap since the previous one; returns the total."""
        now = self._clock()
        self.seconds += min(now - self._last, self.idle_cap_s)
        self._last = now
        return self.seconds

    def unsaved(self, recorded_seconds: float) -> float:
        """Seconds counted here beyond what the project recorded (after a :meth:`tick`)."""
        return self.seconds - float(recorded_seconds)
