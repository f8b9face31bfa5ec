"""The worker adapter: progress (throttled, the last event kept), result, failures as the
exception (a bug's traceback in the log), cancel, one job at a time."""

import threading

from halgui.core.error_report import describe_error
from halgui.core.errors import VideoError
from halgui.core.progress import Progress
from halgui.gui.worker import Worker


def counting(n, result="done"):
    for i in range(n):
        yield Progress("count", i + 1, n)
    return result


def test_progress_then_finished_with_the_return_value(qtbot):
    worker = Worker()
    seen = []
    worker.progress.connect(seen.append)
    with qtbot.waitSignal(worker.finished, timeout=5000) as blocker:
        assert worker.start(counting(3, result={"answer": 42}))
    assert blocker.args == [{"answer": 42}]
    assert seen and seen[-1] == Progress("count", 3, 3)
    assert not worker.is_running()


def test_runs_on_another_thread(qtbot):
    threads = []

    def job():
        threads.append(threading.get_ident())
        yield Progress("x", 1, 1)
        return None

    worker = Worker()
    with qtbot.waitSignal(worker.finished, timeout=5000):
        worker.start(job())
    assert threads and threads[0] != threading.get_ident()


def test_a_halgui_error_is_carried_as_the_exception_and_not_logged(qtbot, caplog):
    error = VideoError("/videos/a.mp4", "is truncated")

    def job():
        yield Progress("probing", 0, 1)
        raise error

    worker = Worker()
    with qtbot.waitSignal(worker.failed, timeout=5000) as blocker:
        worker.start(job())
    assert blocker.args == [error]
    assert describe_error(blocker.args[0]) == ("/videos/a.mp4: is truncated", False)
    assert [r for r in caplog.records if r.name == "halgui"] == []


def test_a_bug_is_carried_as_the_exception_with_its_traceback_in_the_log(qtbot, caplog):
    def job():
        yield Progress("x", 0, 1)
        return 1 / 0

    worker = Worker()
    with qtbot.waitSignal(worker.failed, timeout=5000) as blocker:
        worker.start(job())
    (error,) = blocker.args
    assert isinstance(error, ZeroDivisionError)
    assert describe_error(error)[1]
    assert "Traceback (most recent call last)" in caplog.text
    assert "return 1 / 0" in caplog.text


def test_the_last_event_arrives_even_when_it_comes_too_soon(qtbot):
    def job():
        for i in range(500):  # far faster than 50 a second; the last is not a final one
            yield Progress("scoring", i, 1000)
        return None

    worker = Worker()
    seen = []
    worker.progress.connect(seen.append)
    with qtbot.waitSignal(worker.finished, timeout=5000):
        worker.start(job())
    assert seen[-1] == Progress("scoring", 499, 1000)
    assert len(seen) < 100


def test_cancel_stops_at_the_next_yield_and_closes_the_generator(qtbot):
    gate = threading.Event()
    state = {"steps": 0, "closed": False}

    def job():
        try:
            for i in range(1000):
                state["steps"] += 1
                yield Progress("slow", i, 1000)
                gate.wait(5)
        finally:
            state["closed"] = True

    worker = Worker()
    with qtbot.waitSignal(worker.progress, timeout=5000):
        worker.start(job())
    with qtbot.waitSignal(worker.cancelled, timeout=5000):
        worker.cancel()
        gate.set()
    assert state["closed"]
    assert state["steps"] <= 2
    assert not worker.is_running()


def test_work_that_polls_the_flag_is_cancelled(qtbot):
    started = threading.Event()

    def job(cancel):
        started.set()
        while True:
            cancel.check()
            yield Progress("poll", 0, 1)

    worker = Worker()
    with qtbot.waitSignal(worker.cancelled, timeout=5000):
        worker.start(job)
        started.wait(5)
        worker.cancel()


def test_a_second_job_is_refused_while_one_runs(qtbot):
    gate = threading.Event()

    def blocking():
        yield Progress("wait", 0, 1)
        gate.wait(5)
        return "first"

    worker = Worker()
    assert worker.start(blocking())
    assert worker.is_running()
    assert worker.start(counting(1)) is False
    with qtbot.waitSignal(worker.finished, timeout=5000) as blocker:
        gate.set()
    assert blocker.args == ["first"]
    with qtbot.waitSignal(worker.finished, timeout=5000) as blocker:
        assert worker.start(counting(1, "second"))
    assert blocker.args == ["second"]


def test_a_new_job_may_start_from_the_finished_slot(qtbot):
    worker = Worker()
    results = []

    def chain(value):
        results.append(value)
        if value == "a":
            assert worker.start(counting(1, "b"))

    worker.finished.connect(chain)
    with qtbot.waitSignals([worker.finished, worker.finished], timeout=5000):
        worker.start(counting(1, "a"))
    qtbot.waitUntil(lambda: results == ["a", "b"], timeout=5000)


def test_shutdown_cancels_and_waits(qtbot):
    gate = threading.Event()
    closed = threading.Event()

    def job():
        try:
            while True:
                yield Progress("loop", 0, 1)
                gate.wait(0.01)
        finally:
            closed.set()

    worker = Worker()
    with qtbot.waitSignal(worker.progress, timeout=5000):
        worker.start(job())
    assert worker.shutdown(5000)
    assert closed.is_set()
    assert not worker.is_running()
