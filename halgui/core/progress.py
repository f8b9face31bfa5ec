"""Progress events and cancel flags for long work written as generators.

Long work in core (adding videos, building clip caches, generating data, training, scoring) is a
generator that yields :class:`Progress` and checks a :class:`CancelFlag` between steps. The CLI
drives it with a progress bar; the GUI drives it in a QThread through one adapter. Neither side
needs to know the other exists.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from halgui.core.errors import Cancelled

T = TypeVar("T")


@dataclass(frozen=True)
class Progress:
    """One step of long work: ``done`` of ``total`` units in ``phase``."""

    phase: str
    done: int
    total: int
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total > 0 else 0.0


class CancelFlag:
    """A thread-safe "please stop" flag that long work polls between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``, waking at once when cancelled; True if cancelled."""
        return self._event.wait(seconds)

    def check(self) -> None:
        """Raise :class:`Cancelled` if cancellation was asked for."""
        if self._event.is_set():
            raise Cancelled("cancelled")


class Throttle:
    """Which progress events to pass on, so a job yielding thousands a second does not flood
    the GUI's event loop (or the pipe from a child process).

    An event passes when its phase differs from the last one passed, when it is a final one
    (``done >= total``), or when at least ``min_interval_s`` has gone by since the last one
    passed; the others are held back, each replacing the one before. :meth:`flush` hands over
    the one still held when the work ends, so the last event is always delivered. ``clock``
    is a seconds counter (a fake one in tests).
    """

    #: 50 events a second is smoother than a progress bar needs and far below what costs time
    MIN_INTERVAL_S = 0.02

    def __init__(self, min_interval_s: float = MIN_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.min_interval_s = min_interval_s
        self._clock = clock
        self._phase: str | None = None
        self._sent_at: float | None = None
        self._held: list[object] = []  # at most one: the latest held back (may be None)

    def passes(self, event: object) -> bool:
        """Whether to pass ``event`` on now; if not, it is held until :meth:`flush`."""
        now = self._clock()
        phase = getattr(event, "phase", None)
        final = isinstance(event, Progress) and event.done >= event.total
        if (self._sent_at is None or phase != self._phase or final
                or now - self._sent_at >= self.min_interval_s):
            self._phase, self._sent_at = phase, now
            self._held.clear()
            return True
        self._held[:] = [event]
        return False

    def flush(self) -> list[object]:
        """The event held back since the last one passed (none, or one), to deliver at the
        end."""
        held, self._held = self._held, []
        return held


def run_with_events(work: Generator[Progress, None, T]) -> tuple[list[Progress], T]:
    """Drain a progress generator, keeping every event it yielded and its return value."""
    events: list[Progress] = []
    while True:
        try:
            events.append(next(work))
        except StopIteration as stop:
            return events, stop.value


def run_to_end(work: Generator[Progress, None, T] | Iterator[Progress]) -> T | None:
    """Drain a progress generator without showing anything; return its return value."""
    while True:
        try:
            next(work)
        except StopIteration as stop:
            return stop.value
