"""WorkTimer counts the gaps between user events, each capped, and only what was not yet recorded."""

from __future__ import annotations

from app.model.work_timer import WorkTimer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_only_active_time_counts_and_restart_continues_the_recorded_total() -> None:
    clock = Clock()
    timer = WorkTimer(idle_timeout_s=30.0, clock=clock)
    timer.restart(10.0)
    clock.now += 5
    assert timer.tick() == 15.0
    clock.now += 3600  # a lunch break with the image open: nothing
    assert timer.tick() == 15.0
    clock.now += 31  # a pause longer than the idle timeout: nothing either
    assert timer.tick() == 15.0
    clock.now += 20
    assert timer.tick() == 35.0
    assert timer.unsaved(15.0) == 20.0
    clock.now += 1000
    timer.restart(0.0)  # the next image: the time before it opened is not work on it
    clock.now += 2
    assert timer.tick() == 2.0
