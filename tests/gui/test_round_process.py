"""The round's process behind the one worker adapter: progress, result, errors rebuilt from the
child (a HalguiError's message; a bug's type, message and traceback, for the log), cancel, a
child that dies, and a GUI thread that never waits on the child."""

import os
import time

import pytest
from PySide6.QtWidgets import QMessageBox, QWidget

from halgui.core.error_report import RemoteBug, describe_error
from halgui.core.errors import Cancelled, HalguiError, VideoError
from halgui.core.progress import CancelFlag, Progress, run_to_end
from halgui.gui import round_panel
from halgui.gui.process_job import ProcessJobError, in_subprocess
from halgui.gui.round_panel import RoundController
from halgui.gui.worker import Worker

pytestmark = pytest.mark.slow


# targets run in the child: module level, so they pickle by name
def counting(n, *, cancel):
    for i in range(n):
        yield Progress("count", i + 1, n, extra={"pid": os.getpid()})
    return {"n": n, "pid": os.getpid()}


def failing(kind, *, cancel):
    yield Progress("work", 0, 1)
    if kind == "halgui":
        raise VideoError("/videos/a.mp4", "is truncated")
    return 1 / 0


# stand-ins for round_job: they fail in the round's process before any work
def round_with_a_user_error(folder, config, *, cancel):
    yield Progress("starting", 0, 1)
    raise HalguiError("the loss became nan at step 1; nothing was saved")


def round_with_a_bug(folder, config, *, cancel):
    yield Progress("starting", 0, 1)
    return {}["frame"]


def quick(n, *, cancel):
    """Yields far faster than 50 events a second; the last is not a final one."""
    for i in range(n):
        yield Progress("scoring", i, 10 * n)
    return n


def endless(marker, *, cancel):
    """Yields until cancelled; writes ``marker`` from its finally block (cleanup ran)."""
    try:
        i = 0
        while True:
            cancel.check()
            yield Progress("training", i, 10**9)
            time.sleep(0.02)
            i += 1
    finally:
        with open(marker, "w") as f:
            f.write("cleaned up")


def dying(*, cancel):
    yield Progress("work", 0, 1)
    os._exit(3)


def test_progress_and_result_come_from_another_process(qtbot):
    worker = Worker()
    seen = []
    worker.progress.connect(seen.append)
    with qtbot.waitSignal(worker.finished, timeout=60_000) as done:
        assert worker.start(in_subprocess(counting, 3))
    result = done.args[0]
    assert result["n"] == 3 and result["pid"] != os.getpid()
    assert seen[-1].done == 3 and seen[-1].extra["pid"] == result["pid"]


def test_a_halgui_error_comes_back_as_its_message(qtbot, caplog):
    worker = Worker()
    with qtbot.waitSignal(worker.failed, timeout=60_000) as failed:
        worker.start(in_subprocess(failing, "halgui"))
    (error,) = failed.args
    assert isinstance(error, ProcessJobError)
    assert describe_error(error) == ("/videos/a.mp4: is truncated", False)
    assert [r for r in caplog.records if r.name == "halgui"] == []


def test_a_bug_comes_back_with_its_type_message_and_the_childs_traceback(qtbot, caplog):
    worker = Worker()
    with qtbot.waitSignal(worker.failed, timeout=60_000) as failed:
        worker.start(in_subprocess(failing, "bug"))
    (error,) = failed.args
    assert isinstance(error, RemoteBug)
    assert (error.type_name, error.message) == ("ZeroDivisionError", "division by zero")
    message, is_bug = describe_error(error)
    assert is_bug and "(ZeroDivisionError: division by zero)" in message
    # the log has the traceback from the child, down to the line that failed
    assert "Traceback (most recent call last)" in caplog.text
    assert "in failing" in caplog.text and "return 1 / 0" in caplog.text


def test_the_last_event_from_the_child_arrives(qtbot):
    worker = Worker()
    seen = []
    worker.progress.connect(seen.append)
    with qtbot.waitSignal(worker.finished, timeout=60_000):
        worker.start(in_subprocess(quick, 500))
    assert seen[-1] == Progress("scoring", 499, 5000)
    assert len(seen) < 100


@pytest.mark.parametrize("target", [round_with_a_user_error, round_with_a_bug])
def test_a_failed_round_is_told_apart_in_the_dialog(qtbot, monkeypatch, project, caplog,
                                                   target):
    shown = []
    monkeypatch.setattr(QMessageBox, "exec",
                        lambda box: shown.append(box.text()) or QMessageBox.StandardButton.Ok)
    monkeypatch.setattr(round_panel, "round_job", target)
    parent = QWidget()
    qtbot.addWidget(parent)
    rounds = RoundController(parent)
    with qtbot.waitSignal(rounds.worker.failed, timeout=60_000):
        assert rounds.start(project)
    qtbot.waitUntil(lambda: shown != [], timeout=5000)
    (text,) = shown
    assert text.endswith("Nothing was changed: the labels and the model in use are as they "
                         "were.")
    assert "Traceback" not in text
    if target is round_with_a_user_error:
        assert text.startswith("the loss became nan at step 1; nothing was saved\n\n")
        assert "Please report" not in text
    else:
        assert text.startswith("halgui ran into a bug (KeyError: 'frame'). Please report it")
        assert 'return {}["frame"]' in caplog.text and "in round_with_a_bug" in caplog.text


def test_cancel_stops_the_child_after_its_cleanup(qtbot, tmp_path):
    marker = tmp_path / "marker"
    worker = Worker()
    seen = []
    worker.progress.connect(seen.append)
    with qtbot.waitSignal(worker.cancelled, timeout=60_000):
        worker.start(in_subprocess(endless, str(marker)))
        qtbot.waitUntil(lambda: len(seen) > 2, timeout=60_000)
        worker.cancel()
    assert marker.read_text() == "cleaned up"


def test_shutdown_cancels_and_waits(qtbot, tmp_path):
    marker = tmp_path / "marker"
    worker = Worker()
    seen = []
    worker.progress.connect(seen.append)
    worker.start(in_subprocess(endless, str(marker)))
    qtbot.waitUntil(lambda: len(seen) > 2, timeout=60_000)
    assert worker.shutdown()
    assert marker.read_text() == "cleaned up" and not worker.is_running()


def test_a_child_that_dies_is_an_error_not_a_hang():
    flag = CancelFlag()
    with pytest.raises(ProcessJobError, match=r"stopped unexpectedly \(exit code 3\)"):
        run_to_end(in_subprocess(dying)(flag))


def test_cancel_without_a_worker_raises_cancelled(tmp_path):
    flag = CancelFlag()
    work = in_subprocess(endless, str(tmp_path / "m"))(flag)
    next(work)
    flag.cancel()
    with pytest.raises(Cancelled):
        for _ in work:
            pass
