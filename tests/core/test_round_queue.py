"""The round queue of a shared project, on both engines: one request waits and one runs, a
worker takes it, its heartbeat keeps it, the round and "done" commit together, and a request
whose worker went quiet is retried, then failed with the reason."""

import pytest

from halgui.core import round_queue as queue
from halgui.core.errors import HalguiError
from halgui.core.round_queue import DONE, FAILED, QUEUED, RUNNING, QueueConfig

OLD = "2000-01-01T00:00:00.000Z"


# project: a new project on each engine (tests/core/conftest.py)


def record(project, **kwargs):
    return project.record_round(strategy="claus", config={}, metrics={}, checkpoint=None,
                                started_at="2026-01-01T00:00:00Z", proposals=[], **kwargs)


def set_heartbeat(project, request_id, when):
    with project.transaction() as c:
        c.execute("UPDATE round_requests SET heartbeat_at = ? WHERE id = ?", (when, request_id))


def test_a_second_request_joins_the_one_that_waits(project):
    first = queue.request_round(project, "ann@a")
    again = queue.request_round(project, "bob@b")
    assert again.id == first.id and again.requested_by == "ann@a"
    assert (first.state, first.attempts, first.worker) == (QUEUED, 0, None)
    taken = queue.take(project, "gpu@w")
    assert (taken.id, taken.state, taken.attempts, taken.worker) == (first.id, RUNNING, 1,
                                                                   "gpu@w")
    # while it runs, the next request waits behind it; no worker takes a second one
    waiting = queue.request_round(project, "bob@b")
    assert waiting.id != first.id and waiting.state == QUEUED
    assert queue.take(project, "other@w") is None
    assert [(r.id, r.state) for r in queue.recent(project)] == [
        (waiting.id, QUEUED), (first.id, RUNNING)]


def test_the_database_allows_one_running_and_one_waiting_request(project, store):
    queue.request_round(project, "ann@a")
    queue.take(project, "gpu@w")
    queue.request_round(project, "ann@a")
    for state in (RUNNING, QUEUED):
        with pytest.raises(Exception, match=r"(?i)unique"), project.transaction() as c:
            c.execute("INSERT INTO round_requests (requested_by, state) VALUES (?, ?)",
                      ("x@y", state))
    assert len(queue.recent(project)) == 2


def test_the_round_and_done_commit_together(project):
    queue.request_round(project, "ann@a")
    request = queue.take(project, "gpu@w")
    number = record(project, also=lambda c, rid: queue.finish(c, request, "gpu@w", rid))
    (done,) = queue.recent(project)
    assert (done.state, done.round_number, done.fraction) == (DONE, number, 1.0)
    assert done.finished_at is not None


def test_a_round_whose_request_went_to_another_worker_is_not_kept(project):
    queue.request_round(project, "ann@a")
    request = queue.take(project, "gpu@w")
    with pytest.raises(HalguiError, match="given to another worker"):
        record(project, also=lambda c, rid: queue.finish(c, request, "late@w", rid))
    assert project.rounds() == []
    assert queue.recent(project)[0].state == RUNNING


def test_the_heartbeat_belongs_to_the_worker_that_runs_it(project):
    queue.request_round(project, "ann@a")
    request = queue.take(project, "gpu@w")
    assert queue.beat(project, request, "gpu@w", "training", 0.25)
    assert not queue.beat(project, request, "other@w", "training", 0.5)
    (now,) = queue.recent(project)
    assert (now.phase, now.fraction) == ("training", 0.25)


def test_a_quiet_worker_s_request_is_retried_then_failed_with_the_reason(project):
    config = QueueConfig(expire_s=30, max_attempts=2)
    queue.request_round(project, "ann@a")
    first = queue.take(project, "gpu@w", config)
    set_heartbeat(project, first.id, OLD)
    # the next look at the queue puts it back and the next worker takes it: try 2
    second = queue.take(project, "spare@w", config)
    assert (second.id, second.attempts, second.worker) == (first.id, 2, "spare@w")
    assert second.message is None  # cleared when taken; the retry reason was on the queue
    assert not queue.beat(project, first, "gpu@w", "training", 0.5)  # gpu@w lost it
    set_heartbeat(project, first.id, OLD)
    assert queue.take(project, "gpu@w", config) is None
    (failed,) = queue.recent(project)
    assert failed.state == FAILED and failed.finished_at is not None
    assert "spare@w stopped answering during starting" in failed.message


def test_a_fresh_heartbeat_keeps_the_request(project):
    queue.request_round(project, "ann@a")
    request = queue.take(project, "gpu@w", QueueConfig(expire_s=30))
    queue.request_round(project, "bob@b")
    assert queue.take(project, "spare@w", QueueConfig(expire_s=30)) is None
    assert queue.recent(project)[1].state == RUNNING and request.id == \
        queue.recent(project)[1].id


def test_a_quiet_request_with_a_newer_one_waiting_is_failed_in_its_favour(project):
    queue.request_round(project, "ann@a")
    old = queue.take(project, "gpu@w")
    newer = queue.request_round(project, "bob@b")
    set_heartbeat(project, old.id, OLD)
    taken = queue.take(project, "spare@w")
    assert taken.id == newer.id
    states = {r.id: (r.state, r.message) for r in queue.recent(project)}
    assert states[old.id][0] == FAILED and "a newer request waits" in states[old.id][1]


def test_a_stopped_worker_gives_its_request_back(project):
    queue.request_round(project, "ann@a")
    request = queue.take(project, "gpu@w")
    queue.release(project, request, "other@w", "not its own")  # only its worker can
    assert queue.recent(project)[0].state == RUNNING
    queue.release(project, request, "gpu@w", "the worker gpu@w was stopped")
    (back,) = queue.recent(project)
    assert (back.state, back.worker, back.message) == (QUEUED, None,
                                                       "the worker gpu@w was stopped")
    assert queue.take(project, "spare@w").attempts == 2


def test_a_failed_round_says_why_and_a_withdrawn_request_leaves_the_queue(project):
    queue.request_round(project, "ann@a")
    request = queue.take(project, "gpu@w")
    queue.fail(project, request, "gpu@w", "no linked training videos")
    waiting = queue.request_round(project, "ann@a")
    queue.abandon(project, waiting.id)
    assert [(r.state, r.message) for r in queue.recent(project)] == [
        (FAILED, "withdrawn"), (FAILED, "no linked training videos")]
    assert queue.take(project, "gpu@w") is None
