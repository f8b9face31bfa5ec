"""Round requests: Retrain on any member's desktop queues a round, a worker runs it.

The queue is a table of the project's own database (``round_requests``), so a team needs no job
server: at most one request waits and one runs (two unique indexes say so, and the database
enforces it against every client at once); a worker takes the waiting one with an ``UPDATE``
only one worker can win; its heartbeat, written with the database server's clock, says it is
alive; and the round it runs is recorded in the same transaction that marks the request done
(:func:`finish`, called inside :meth:`~halgui.core.project.Project.record_round`), so a
worker that dies mid-round leaves no round half-written. A request whose worker has not
beaten for :attr:`QueueConfig.expire_s` is taken for abandoned: it goes back to the queue for
another try, or is marked failed, with the reason, after :attr:`QueueConfig.max_attempts`.
"""

from __future__ import annotations

import getpass
import socket
from dataclasses import dataclass
from typing import Any

from halgui.core.errors import HalguiError
from halgui.core.project import Project
from halgui.core.server_time import NOW, age_s

__all__ = [
    "DONE",
    "FAILED",
    "QUEUED",
    "RUNNING",
    "QueueConfig",
    "RoundRequest",
    "abandon",
    "beat",
    "fail",
    "finish",
    "member_name",
    "recent",
    "release",
    "request_round",
    "take",
]

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


@dataclass(frozen=True)
class QueueConfig:
    """How a worker and the members' desktops follow the queue."""

    #: seconds between a worker's heartbeats (and its progress updates)
    heartbeat_s: float = 2.0
    #: a running request whose worker has not beaten for this long is taken as abandoned
    expire_s: float = 30.0
    #: tries of one request before it is marked failed
    max_attempts: int = 2
    #: seconds between looks at the queue (an idle worker; a desktop's status bar)
    poll_s: float = 2.0


@dataclass(frozen=True)
class RoundRequest:
    """One request and where it is."""

    id: int
    requested_by: str
    requested_at: str
    state: str
    attempts: int
    worker: str | None
    phase: str | None
    fraction: float | None
    message: str | None
    round_number: int | None
    finished_at: str | None


def member_name() -> str:
    """Who asks, or who works, as others see it: ``user@host``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        user = "someone"
    return f"{user}@{socket.gethostname()}"


_SELECT = ("SELECT q.*, r.number AS round_number FROM round_requests q"
           " LEFT JOIN rounds r ON r.id = q.round_id")


def request_round(project: Project, requested_by: str) -> RoundRequest:
    """Queue a round; when one is already waiting, that one (it will see every label made
    until it starts) is returned instead of queuing a second."""
    with project.transaction() as c:
        c.execute("INSERT INTO round_requests (requested_by) VALUES (?) ON CONFLICT DO NOTHING",
                  (requested_by,))
        row = c.execute(f"{_SELECT} WHERE q.state = ?", (QUEUED,)).fetchone()
    return _request(row)


def take(project: Project, worker: str, config: QueueConfig | None = None
         ) -> RoundRequest | None:
    """The waiting request, now running on ``worker``; None when none waits or one runs.
    Abandoned requests are put back (or failed) first."""
    config = config or QueueConfig()
    with project.transaction() as c:
        _expire(c, config)
        if c.execute("SELECT 1 FROM round_requests WHERE state = ?", (RUNNING,)).fetchone():
            return None
        row = c.execute("SELECT id FROM round_requests WHERE state = ?", (QUEUED,)).fetchone()
        if row is None:
            return None
        taken = c.execute(
            "UPDATE round_requests SET state = ?, worker = ?, attempts = attempts + 1,"
            f" heartbeat_at = {NOW}, phase = 'starting', fraction = 0, message = NULL"
            " WHERE id = ? AND state = ?", (RUNNING, worker, row[0], QUEUED))
        if taken.rowcount != 1:  # another worker took it first
            return None
        return _request(c.execute(f"{_SELECT} WHERE q.id = ?", (row[0],)).fetchone())


def beat(project: Project, request: RoundRequest, worker: str, phase: str,
         fraction: float) -> bool:
    """Say ``worker`` is alive and how far it is; False when the request is no longer its
    (it was taken for abandoned): the worker must then stop the round."""
    with project.transaction() as c:
        cur = c.execute(
            f"UPDATE round_requests SET heartbeat_at = {NOW}, phase = ?, fraction = ?"
            " WHERE id = ? AND state = ? AND worker = ?",
            (phase, float(fraction), request.id, RUNNING, worker))
        return cur.rowcount == 1


def finish(conn: Any, request: RoundRequest, worker: str, round_id: int) -> None:
    """Mark the request done with its round, inside the transaction that records the round
    (``record_round(..., also=...)``): both are written, or neither."""
    cur = conn.execute(
        f"UPDATE round_requests SET state = ?, round_id = ?, finished_at = {NOW},"
        " phase = ?, fraction = 1 WHERE id = ? AND state = ? AND worker = ?",
        (DONE, round_id, DONE, request.id, RUNNING, worker))
    if cur.rowcount != 1:
        raise HalguiError(f"round request {request.id} was given to another worker while "
                          f"{worker} ran it (its heartbeat was late); this round is not kept")


def fail(project: Project, request: RoundRequest, worker: str, message: str) -> None:
    """Mark the request failed with the reason every member will see."""
    with project.transaction() as c:
        c.execute(f"UPDATE round_requests SET state = ?, message = ?, finished_at = {NOW}"
                  " WHERE id = ? AND state = ? AND worker = ?",
                  (FAILED, message, request.id, RUNNING, worker))


def release(project: Project, request: RoundRequest, worker: str, why: str) -> None:
    """Give the request back (the worker was stopped): it waits for the next worker, or, when
    a newer request already waits, it is marked failed in favour of that one."""
    with project.transaction() as c:
        if c.execute("SELECT 1 FROM round_requests WHERE id = ? AND state = ? AND worker = ?",
                     (request.id, RUNNING, worker)).fetchone():
            _put_back(c, request.id, why, attempts_left=True)


def abandon(project: Project, request_id: int) -> None:
    """Stop waiting for a queued request (a member withdraws it)."""
    with project.transaction() as c:
        c.execute(f"UPDATE round_requests SET state = ?, message = 'withdrawn',"
                  f" finished_at = {NOW} WHERE id = ? AND state = ?",
                  (FAILED, request_id, QUEUED))


def recent(project: Project, limit: int = 5) -> list[RoundRequest]:
    """The newest requests, newest first (what a member's status bar and history show)."""
    return [_request(r) for r in project.query(f"{_SELECT} ORDER BY q.id DESC LIMIT ?",
                                               (limit,))]


# ---------------------------------------------------------------------- helpers
def _expire(c: Any, config: QueueConfig) -> None:
    row = c.execute(f"SELECT id, worker, phase, attempts, heartbeat_at, {NOW}"
                    " FROM round_requests WHERE state = ?", (RUNNING,)).fetchone()
    if row is None or age_s(row[4], row[5]) < config.expire_s:
        return
    why = (f"the worker {row[1]} stopped answering during {row[2] or 'the round'} "
           f"(no heartbeat for {config.expire_s:.0f} s)")
    _put_back(c, row[0], why, attempts_left=row[3] < config.max_attempts)


def _put_back(c: Any, request_id: int, why: str, *, attempts_left: bool) -> None:
    waiting = c.execute("SELECT 1 FROM round_requests WHERE state = ?", (QUEUED,)).fetchone()
    if attempts_left and waiting is None:
        c.execute("UPDATE round_requests SET state = ?, worker = NULL, heartbeat_at = NULL,"
                  " phase = NULL, fraction = NULL, message = ? WHERE id = ?",
                  (QUEUED, why, request_id))
    else:
        reason = why if waiting is None else f"{why}; a newer request waits"
        c.execute(f"UPDATE round_requests SET state = ?, message = ?, finished_at = {NOW}"
                  " WHERE id = ?", (FAILED, reason, request_id))


def _request(row: Any) -> RoundRequest:
    return RoundRequest(
        id=row["id"], requested_by=row["requested_by"], requested_at=row["requested_at"],
        state=row["state"], attempts=row["attempts"], worker=row["worker"], phase=row["phase"],
        fraction=row["fraction"], message=row["message"], round_number=row["round_number"],
        finished_at=row["finished_at"])
