"""A background job that fails, as the person at the window sees it: a HalguiError is its one
line; a bug is a dialog that asks for a report, with a short summary and no traceback (the
traceback is in the log)."""

import pytest

from halgui.core.errors import VideoError
from halgui.core.progress import Progress
from halgui.gui import app as app_module
from halgui.gui.main_window import MainWindow


@pytest.fixture
def window(qtbot, messages):
    win = MainWindow()
    qtbot.addWidget(win)
    yield win
    win.close()


def truncated_video(cancel):
    yield Progress("adding", 0, 1)
    raise VideoError("/videos/a.mp4", "is truncated")


def buggy(cancel):
    yield Progress("adding", 0, 1)
    return {}["frame"]


def test_a_halgui_error_shows_its_one_line_message(qtbot, window, messages, caplog):
    with qtbot.waitSignal(window.worker.failed, timeout=5000):
        assert window.run_job("Adding videos", truncated_video, lambda _: None)
    qtbot.waitUntil(lambda: messages != [], timeout=5000)
    assert messages == [("Adding videos", "/videos/a.mp4: is truncated")]
    assert [r for r in caplog.records if r.name == "halgui"] == []


def test_a_bug_asks_for_a_report_and_its_traceback_is_in_the_log(qtbot, window, messages,
                                                                  caplog):
    with qtbot.waitSignal(window.worker.failed, timeout=5000):
        assert window.run_job("Adding videos", buggy, lambda _: None)
    qtbot.waitUntil(lambda: messages != [], timeout=5000)
    ((title, text),) = messages
    assert title == "Adding videos"
    assert "Please report it" in text and "KeyError: 'frame'" in text
    assert "Traceback" not in text and "line " not in text and "\n" not in text
    assert "Traceback (most recent call last)" in caplog.text
    assert 'return {}["frame"]' in caplog.text and "in buggy" in caplog.text


def test_an_exception_that_escapes_a_slot_is_told_apart_the_same_way(qtbot, messages, caplog):
    for exc in (VideoError("/videos/a.mp4", "is truncated"), a_bug()):
        app_module._excepthook(type(exc), exc, exc.__traceback__)
    assert [text for _, text in messages] == [
        "/videos/a.mp4: is truncated",
        "halgui ran into a bug (ZeroDivisionError: division by zero). Please report it; the "
        "details are in the log."]
    assert "Traceback (most recent call last)" in caplog.text and "1 / 0" in caplog.text
    assert "/videos/a.mp4" not in caplog.text


def a_bug():
    try:
        return 1 / 0
    except ZeroDivisionError as exc:
        return exc
