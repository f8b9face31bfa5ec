"""The progress throttle that the thread worker and the round's process share: at most one event
per interval, phase changes and final events always, and the last event never lost."""

import itertools

from halgui.core.progress import Progress, Throttle


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def deliver(events_at, interval=0.1):
    """Run (time, event) pairs through a throttle; what is delivered, flush included."""
    clock = FakeClock()
    throttle = Throttle(interval, clock)
    out = []
    for t, event in events_at:
        clock.now = t
        if throttle.passes(event):
            out.append(event)
    return out + throttle.flush()


def test_events_closer_than_the_interval_are_dropped_and_the_last_is_delivered():
    # one event every 30 ms for 1 s, none final: passes at 0, 120, 240, ... ms (the first
    # after 100 ms have gone by since the last passed), then the last one at the end
    events = [(i * 0.03, Progress("training", i, 1000)) for i in range(34)]
    out = deliver(events)
    assert [e.done for e in out] == [0, 4, 8, 12, 16, 20, 24, 28, 32, 33]


def test_no_two_passed_events_are_closer_than_the_interval():
    times = [i * 0.007 for i in range(300)]
    clock = FakeClock()
    throttle = Throttle(0.05, clock)
    passed = []
    for i, t in enumerate(times):
        clock.now = t
        if throttle.passes(Progress("scoring", i, 10_000)):
            passed.append(t)
    gaps = [b - a for a, b in itertools.pairwise(passed)]
    assert min(gaps) >= 0.05 - 1e-9
    assert len(passed) == 1 + int(times[-1] // 0.056)  # every 8th: 8 x 7 ms is the first >= 50


def test_a_new_phase_and_a_final_event_always_pass():
    events = [(0.000, Progress("caching clips", 0, 2)),
              (0.001, Progress("caching clips", 1, 2)),   # dropped: too soon, not final
              (0.002, Progress("caching clips", 2, 2)),   # final
              (0.003, Progress("training", 0, 5)),        # new phase
              (0.004, Progress("training", 1, 5))]        # dropped, then flushed at the end
    out = deliver(events)
    assert [(e.phase, e.done) for e in out] == [("caching clips", 0), ("caching clips", 2),
                                                ("training", 0), ("training", 1)]


def test_flush_gives_nothing_when_the_last_event_was_passed():
    events = [(0.0, Progress("a", 0, 3)), (0.01, Progress("a", 1, 3)), (0.5, Progress("a", 2, 3))]
    assert [e.done for e in deliver(events)] == [0, 2]  # 1 was dropped for 2; 2 was passed


def test_events_that_are_not_progress_pass_by_time():
    events = [(0.0, "start"), (0.05, "middle"), (0.2, "late"), (0.21, "end")]
    assert deliver(events) == ["start", "late", "end"]
