"""How a failure is told to a person, in one place, and carried out of a child process.

A :class:`~halgui.core.errors.HalguiError` is the user's to fix: its one-line message names the
file and the problem, and that is all anyone is shown. Anything else is a bug in halgui: the
person is shown a short summary and asked to report it, and the traceback goes to the log (the
``halgui`` logger), never into a dialog.

Work in a child process fails there; :class:`RemoteBug` brings a bug back as plain data (type
name, message, formatted traceback), since the original exception may not pickle.
"""

from __future__ import annotations

import logging
import logging.handlers
import traceback as traceback_mod
from pathlib import Path

from halgui.core.errors import HalguiError

__all__ = ["RemoteBug", "bug_summary", "describe_error", "format_traceback", "log_failure",
           "log_to_file"]

log = logging.getLogger("halgui")
_log_path: Path | None = None


def log_to_file(path: Path, max_bytes: int = 1_000_000, backups: int = 2) -> Path:
    """Send the ``halgui`` log to ``path`` as well (rotated at ``max_bytes``), so that a bug
    met in the windowed app, which has no terminal, leaves its traceback where the person who
    reports it can find it; the message shown for a bug names this file."""
    global _log_path
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=max_bytes,
                                                   backupCount=backups, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    _log_path = path
    return path


class RemoteBug(Exception):
    """A bug raised in another process, rebuilt here from plain data: the original type's
    name, its message, and its formatted traceback (for the log)."""

    def __init__(self, type_name: str, message: str, traceback: str = "") -> None:
        super().__init__(type_name, message, traceback)  # args: so it pickles and unpickles
        self.type_name, self.message, self.traceback = type_name, message, traceback

    @classmethod
    def of(cls, exc: BaseException) -> RemoteBug:
        """The plain-data copy of ``exc``, to raise or send to another process."""
        return cls(type(exc).__name__, str(exc), format_traceback(exc))

    def __str__(self) -> str:
        return self.message


def format_traceback(exc: BaseException) -> str:
    """The full traceback of ``exc`` as the interpreter prints it."""
    return "".join(traceback_mod.format_exception(type(exc), exc, exc.__traceback__))


def bug_summary(exc: BaseException) -> str:
    """``Type: message`` of a bug, one line (a :class:`RemoteBug` names the original type)."""
    name = exc.type_name if isinstance(exc, RemoteBug) else type(exc).__name__
    text = " ".join(str(exc).split()) or "(no message)"
    return f"{name}: {text}"


def describe_error(exc: BaseException) -> tuple[str, bool]:
    """What a person is shown for ``exc``, and whether it is a bug. A HalguiError's message
    as it is; for a bug, a summary and a request to report it. Never a traceback."""
    if isinstance(exc, HalguiError):
        return str(exc), False
    where = f"the log ({_log_path})" if _log_path is not None else "the log"
    return (f"halgui ran into a bug ({bug_summary(exc)}). Please report it; the details are "
            f"in {where}."), True


def log_failure(exc: BaseException, what: str) -> None:
    """Write a bug's full traceback to the log (a HalguiError needs none: its message says it
    all); ``what`` names the work that failed."""
    if isinstance(exc, HalguiError):
        return
    if isinstance(exc, RemoteBug):
        log.error("%s failed with a bug in its process:\n%s", what, exc.traceback.rstrip())
    else:
        log.error("%s failed with a bug", what, exc_info=exc)
