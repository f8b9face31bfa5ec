"""Failures as people see them: a HalguiError's one line, or a bug to report whose traceback goes
to the log; and a bug that crosses a process boundary keeps its type, message and traceback."""

import logging
import pickle

import pytest

from halgui.core.error_report import RemoteBug, describe_error, log_failure, log_to_file
from halgui.core.errors import FormatError, HalguiError, VideoError


def raised(exc_type, *args):
    try:
        raise exc_type(*args)
    except BaseException as exc:
        return exc


def divide():
    return 1 / 0


def a_bug():
    try:
        divide()
    except ZeroDivisionError as exc:
        return exc


@pytest.mark.parametrize("exc", [VideoError("/videos/a.mp4", "is truncated"),
                                 FormatError("labels.json", "line 3: 'frame' is missing"),
                                 HalguiError("the loss became nan at step 1")])
def test_a_halgui_error_is_its_one_line_message_and_not_a_bug(exc):
    assert describe_error(exc) == (str(exc), False)


def test_a_bug_asks_to_be_reported_with_a_one_line_summary():
    message, is_bug = describe_error(a_bug())
    assert is_bug
    assert message == ("halgui ran into a bug (ZeroDivisionError: division by zero). "
                       "Please report it; the details are in the log.")


def test_a_bug_without_a_message_or_with_lines_stays_one_line():
    assert "(KeyError: 'frame')" in describe_error(raised(KeyError, "frame"))[0]
    assert "(RuntimeError: (no message))" in describe_error(raised(RuntimeError))[0]
    assert "(ValueError: bad shape (3, 4))" in describe_error(
        raised(ValueError, "bad shape\n  (3, 4)"))[0]


def test_the_log_gets_a_bugs_traceback_and_nothing_for_a_halgui_error(caplog):
    with caplog.at_level(logging.ERROR, logger="halgui"):
        log_failure(VideoError("/videos/a.mp4", "is truncated"), "adding videos")
        assert caplog.records == []
        log_failure(a_bug(), "adding videos")
    (record,) = caplog.records
    assert record.levelno == logging.ERROR and record.name == "halgui"
    text = caplog.text
    assert "adding videos failed" in text
    assert "Traceback (most recent call last)" in text
    assert "in divide" in text and "return 1 / 0" in text


def test_a_remote_bug_pickles_and_keeps_type_message_and_traceback(caplog):
    bug = RemoteBug.of(a_bug())
    back = pickle.loads(pickle.dumps(bug))
    assert (back.type_name, back.message) == ("ZeroDivisionError", "division by zero")
    assert "return 1 / 0" in back.traceback
    assert describe_error(back) == describe_error(a_bug())
    with caplog.at_level(logging.ERROR, logger="halgui"):
        log_failure(back, "a round")
    assert "a round failed" in caplog.text and "in divide" in caplog.text


def test_a_bug_goes_to_the_log_file_which_the_message_names(tmp_path, monkeypatch):
    import halgui.core.error_report as er

    monkeypatch.setattr(er, "_log_path", None)
    path = tmp_path / "logs" / "halgui.log"
    before = list(er.log.handlers)
    try:
        assert log_to_file(path) == path
        log_failure(a_bug(), "scoring")
        for handler in er.log.handlers:
            handler.flush()
        text = path.read_text(encoding="utf-8")
        assert "scoring failed with a bug" in text and "ZeroDivisionError" in text
        assert f"the details are in the log ({path})." in describe_error(a_bug())[0]
    finally:
        for handler in er.log.handlers[len(before):]:
            er.log.removeHandler(handler)
            handler.close()
