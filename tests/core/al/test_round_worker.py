"""``halgui worker``'s loop on real projects: it runs what members queue with the round code
(a cold start on both engines; a trained round on PostgreSQL, whose checkpoint another desktop
then fetches from the database), reports a failed round to the team and goes on, and stops a
round whose request was taken from it."""

import threading
import time

import pytest

from halgui.core import round_queue as queue
from halgui.core.al.oracle import Oracle
from halgui.core.al.rounds import latest_checkpoint, run_round
from halgui.core.locations import local_folder
from halgui.core.progress import CancelFlag, run_to_end
from halgui.core.project import Project
from halgui.core.round_queue import DONE, FAILED, RUNNING, QueueConfig
from halgui.core.round_worker import _Heartbeat, serve
from tests.core.al.test_rounds import TINY, dataset, new_project, proposals_of  # noqa: F401

FAST = QueueConfig(heartbeat_s=0.05, poll_s=0.05)


def filled(store, dataset, p=None):  # noqa: F811
    """A project on ``store``'s engine (or ``p``) with the synthetic videos and classes."""
    return new_project(None, dataset, p or store.create())


def where(project):
    return project.url or project.folder


def test_the_worker_runs_the_queued_round_and_marks_it_done(store, dataset):  # noqa: F811
    with filled(store, dataset) as p:
        queue.request_round(p, "ann@a")
        events, recorded = [], None
        work = serve(where(p), TINY, CancelFlag(), name="gpu@w", config=FAST, once=True)
        try:
            while True:
                events.append(next(work))
        except StopIteration as stop:
            recorded = stop.value
        assert recorded == 1
        (done,) = queue.recent(p)
        assert (done.state, done.worker, done.round_number) == (DONE, "gpu@w", 0)
        assert p.rounds()[0].strategy == "cold-start" and p.stats()["proposals"] > 0
        said = [e.message for e in events if e.phase in ("request", "recorded")]
        assert said[0] == f"round request {done.id} from ann@a"
        assert said[1].startswith("round 0 recorded (")


def test_a_failed_round_is_reported_and_the_worker_goes_on(store):
    with store.create() as p:  # no videos: the round cannot run
        queue.request_round(p, "ann@a")
        events = []
        work = serve(where(p), TINY, CancelFlag(), name="gpu@w", config=FAST, once=True)
        with pytest.raises(StopIteration) as stop:
            while True:
                events.append(next(work))
        assert stop.value.value == 0
        (failed,) = queue.recent(p)
        assert failed.state == FAILED and "no linked training videos" in failed.message
        assert any(e.phase == "failed" and "no linked training videos" in e.message
                   for e in events)


def test_a_trained_round_s_model_reaches_another_desktop(pg, tmp_path, dataset,  # noqa: F811
                                                         monkeypatch):
    document, _ = dataset
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    url_of = pg.new_database()
    try:
        p = filled(None, dataset, Project.create_url(url_of, tmp_path / "worker"))
        run_to_end(run_round(p, TINY))  # round 0, then the oracle labels its proposals
        Oracle.from_json(document).reveal(p, [tuple(r) for r in proposals_of(p, 0)])
        queue.request_round(p, "ann@a")
        assert run_to_end(serve(url_of, TINY, CancelFlag(), name="gpu@w", config=FAST,
                                once=True)) == 1
        # the worker trained it in its own folder for the project
        trained = local_folder(url_of) / "models" / p.rounds()[-1].checkpoint.name
        assert trained.is_file() and trained.is_relative_to(tmp_path / "data")
        p.close()
        with Project.open_url(url_of, tmp_path / "desk") as desk:
            fetched = latest_checkpoint(desk)
            assert fetched == tmp_path / "desk" / "models" / trained.name
            assert fetched.read_bytes() == trained.read_bytes()
    finally:
        pg.drop_database(url_of)


def test_the_heartbeat_reports_progress_and_stops_a_round_taken_from_it(store):
    with store.create() as p:
        queue.request_round(p, "ann@a")
        request = queue.take(p, "gpu@w")
        heart = _Heartbeat(where(p), request, "gpu@w", FAST, CancelFlag())
        heart.phase, heart.fraction = "training", 0.5
        heart.start()
        try:
            deadline = time.monotonic() + 10
            while queue.recent(p)[0].phase != "training" and time.monotonic() < deadline:
                time.sleep(0.02)
            assert (queue.recent(p)[0].phase, queue.recent(p)[0].fraction) == ("training", 0.5)
            assert not heart.round_cancel.cancelled
            with p.transaction() as c:  # taken for abandoned and given to another worker
                c.execute("UPDATE round_requests SET worker = 'spare@w' WHERE id = ?",
                          (request.id,))
            while not heart.round_cancel.cancelled and time.monotonic() < deadline:
                time.sleep(0.02)
            assert heart.round_cancel.cancelled
        finally:
            heart.stop()
        assert queue.recent(p)[0].state == RUNNING


def test_a_stopped_worker_stops_its_round_and_gives_the_request_back(store, dataset):  # noqa
    with filled(store, dataset) as p:
        queue.request_round(p, "ann@a")
        cancel = CancelFlag()
        work = serve(where(p), TINY, cancel, name="gpu@w", config=FAST)
        for event in work:
            if event.phase not in ("request", "starting", "waiting"):
                break  # the round is under way
        cancel.cancel()
        from halgui.core.errors import Cancelled

        with pytest.raises(Cancelled):
            for _ in work:
                time.sleep(0.01)
        (back,) = queue.recent(p)
        assert back.state == "queued" and back.message == "the worker gpu@w was stopped"
        assert p.rounds() == []


def test_an_idle_worker_waits_and_stops_when_asked(store):
    with store.create() as p:
        cancel = CancelFlag()
        events = []
        thread = threading.Thread(target=lambda: events.extend(
            run_to_end_events(serve(where(p), TINY, cancel, name="gpu@w", config=FAST))))
        thread.start()
        time.sleep(0.3)
        cancel.cancel()
        thread.join(10)
        assert not thread.is_alive()
        assert events and all(e.phase == "waiting" for e in events)


def run_to_end_events(work):
    out = []
    try:
        while True:
            out.append(next(work))
    except StopIteration:
        return out


def test_a_worker_waits_out_a_server_restart_and_runs_the_next_request(tmp_path, dataset,  # noqa: F811
                                                                       monkeypatch):
    from halgui.core import postgres
    from tests.core import pg_server

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setattr(postgres, "RECONNECT_PAUSE_S", 0.0)
    server = pg_server.start()
    try:
        url = server.new_database()
        filled(None, dataset, Project.create_url(url, tmp_path / "desk")).close()
        cancel, events = CancelFlag(), []
        work = serve(url, TINY, cancel, name="gpu@w", config=FAST)
        thread = threading.Thread(target=lambda: events.extend(e for e in work))  # as they come
        thread.start()
        try:
            deadline = time.monotonic() + 20
            while not events and time.monotonic() < deadline:  # it is waiting for requests
                time.sleep(0.05)
            server.stop_server()
            while not any("waiting for the server" in e.message for e in events) and \
                    time.monotonic() < deadline:
                time.sleep(0.05)
            server.start_server()
            with Project.open_url(url, tmp_path / "desk") as p:
                queue.request_round(p, "ann@a")
                while not p.rounds() and time.monotonic() < deadline + 60:
                    time.sleep(0.1)
                assert [r.strategy for r in p.rounds()] == ["cold-start"], events[-5:]
                assert queue.recent(p)[0].state == DONE
        finally:
            cancel.cancel()
            thread.join(30)
        assert any("waiting for the server" in e.message for e in events)
        assert not thread.is_alive()
    finally:
        server.stop()
