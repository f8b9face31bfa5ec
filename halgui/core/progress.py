"""Progress events and cancel flags for long work written as generators.

Long work in core (adding videos, building clip caches, generating data, training, scoring) is a
generator that yields :class:`Progress` and checks a :class:`CancelFlag` between steps. The CLI
drives it with a progress bar; the GUI drives it in a QThread through one adapter. Neither side
needs to know the other exists.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator
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

    def check(self) -> None:
        """Raise :class:`Cancelled` if cancellation was asked for."""
        if self._event.is_set():
            raise Cancelled("cancelled")


def run_to_end(work: Generator[Progress, None, T] | Iterator[Progress]) -> T | None:
    """Drain a progress generator without showing anything; return its return value."""
    while True:
        try:
            next(work)
        except StopIteration as stop:
            return stop.value
