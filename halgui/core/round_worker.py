"""``halgui worker``: run on this machine the rounds a shared project's members ask for.

The worker is the machine with the GPU. It takes requests from the project's queue
(:mod:`halgui.core.round_queue`) one at a time and runs each with the same round code as the app
(:func:`halgui.core.al.rounds.run_round`, the project's Round settings, this machine's device);
the round is recorded in the transaction that marks its request done. While it runs, a thread
with its own connection writes a heartbeat and the round's progress every
:attr:`QueueConfig.heartbeat_s`, which every member's status bar shows. A round that fails is
marked failed with the reason and the worker goes on to the next request; a worker stopped
(Ctrl-C) gives its request back; a worker that dies is found out by its missing heartbeat; a
server out of reach is waited for (a round cut short by it is retried after its heartbeat
expires).
"""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
import threading
from collections.abc import Generator
from pathlib import Path

from halgui.core import round_queue as queue
from halgui.core.al.rounds import RoundConfig, RoundResult, run_round
from halgui.core.error_report import describe_error, log_failure
from halgui.core.errors import Cancelled, HalguiError, ServerUnreachable
from halgui.core.locations import open_project
from halgui.core.progress import CancelFlag, Progress
from halgui.core.project import Project

__all__ = ["serve"]

log = logging.getLogger(__name__)


def serve(where: str | Path, base: RoundConfig, cancel: CancelFlag, *, device: str | None = None,
          name: str | None = None, config: queue.QueueConfig | None = None,
          once: bool = False) -> Generator[Progress, None, int]:
    """Run requests as they come until cancelled (with ``once``: until none waits). Each round
    is ``base`` with the project's Round settings over it and ``device`` (this machine's) over
    those. Returns how many rounds were recorded."""
    name = name or queue.member_name()
    config = config or queue.QueueConfig()
    recorded = 0
    with open_project(where) as project:
        while not cancel.cancelled:
            try:
                request = queue.take(project, name, config)
                if request is None and once:
                    break
                if request is not None:
                    result = yield from _run(project, where, request, base, cancel, device,
                                             name, config)
                    recorded += result is not None
                    continue
                yield Progress("waiting", 0, 0, "waiting for a round request")
            except ServerUnreachable as exc:  # a restart: a request cut short is retried
                yield Progress("waiting", 0, 0, f"waiting for the server: {exc}")
            cancel.wait(config.poll_s)
    return recorded


def _run(project: Project, where: str | Path, request: queue.RoundRequest, base: RoundConfig,
         cancel: CancelFlag, device: str | None, name: str, config: queue.QueueConfig
         ) -> Generator[Progress, None, RoundResult | None]:
    """One request, start to end; None when it did not end in a recorded round."""
    from halgui.core.al.settings import RoundSettings

    yield Progress("request", 0, 1, f"round request {request.id} from {request.requested_by}")
    round_config = RoundSettings.load(project).apply(base)
    if device is not None:
        round_config = dataclasses.replace(
            round_config, train=dataclasses.replace(round_config.train, device=device))
    heart = _Heartbeat(where, request, name, config, cancel)
    heart.start()
    try:
        work = run_round(project, round_config, heart.round_cancel,
                         also=lambda conn, round_id: queue.finish(conn, request, name, round_id))
        while True:
            try:
                event = next(work)
            except StopIteration as stop:
                result: RoundResult = stop.value
                break
            heart.phase, heart.fraction = event.phase, event.fraction
            yield event
            if cancel.cancelled:  # stopped while this event was shown: at the next check
                heart.round_cancel.cancel()
    except Cancelled:
        if cancel.cancelled:  # this worker was stopped: the request waits for the next one
            queue.release(project, request, name, f"the worker {name} was stopped")
            raise
        yield Progress("lost", 1, 1, f"round request {request.id} was given to another "
                                     "worker (this one's heartbeat was late); round dropped")
        return None
    except Exception as exc:  # a failed round is reported to the team; the worker goes on
        log_failure(exc, f"round request {request.id}")
        message = describe_error(exc)[0]
        queue.fail(project, request, name, message)
        yield Progress("failed", 1, 1, f"round request {request.id} failed: {message}")
        return None
    finally:
        heart.stop()
    yield Progress("recorded", 1, 1, f"round {result.number} recorded "
                                     f"({result.proposals} frames proposed, "
                                     f"{result.seconds:.0f} s)")
    return result


class _Heartbeat(threading.Thread):
    """Writes the running request's heartbeat and progress on its own connection; stops the
    round when the worker is stopped or the request is no longer this worker's."""

    def __init__(self, where: str | Path, request: queue.RoundRequest, name: str,
                 config: queue.QueueConfig, worker_cancel: CancelFlag) -> None:
        super().__init__(name=f"heartbeat {request.id}", daemon=True)
        self._where, self._request, self._name, self._config = where, request, name, config
        self._worker_cancel = worker_cancel
        self._stopped = threading.Event()
        #: the round's own cancel flag: set when the worker stops or loses the request
        self.round_cancel = CancelFlag()
        self.phase, self.fraction = "starting", 0.0

    def run(self) -> None:
        project: Project | None = None
        try:
            while not self._stopped.wait(self._config.heartbeat_s):
                if self._worker_cancel.cancelled:
                    self.round_cancel.cancel()
                try:
                    project = project or open_project(self._where)
                    mine = queue.beat(project, self._request, self._name, self.phase,
                                      self.fraction)
                except (HalguiError, sqlite3.Error) as exc:  # server away: try again next beat
                    log.warning("heartbeat of round request %s: %s", self._request.id, exc)
                    if project is not None:
                        project.close()
                    project = None
                    continue
                if not mine:
                    self.round_cancel.cancel()
                    return
        finally:
            if project is not None:
                project.close()

    def stop(self) -> None:
        self._stopped.set()
        self.join()
