"""The error types that core raises: each names the file and the problem.

The CLI prints ``str(error)`` as one line and exits 2; the GUI shows it in a dialog. Neither ever
shows a traceback for these, so every message must stand on its own.
"""

from __future__ import annotations

from pathlib import Path


class HalguiError(Exception):
    """Base of every error halgui reports to a user (as opposed to a bug)."""


class FileProblem(HalguiError):
    """A problem with one file: the message starts with the path (or a database's URL, as
    given: a project on a PostgreSQL server)."""

    def __init__(self, path: str | Path, reason: str) -> None:
        #: the file, or a database's URL as given (a Path would fold its "//")
        self.path: Path | str = path if isinstance(path, str) and "://" in path else Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ProjectError(FileProblem):
    """The project folder or its database cannot be used as asked (and was not changed)."""


class ServerUnreachable(ProjectError):
    """A shared project's server cannot be reached now, or ended the connection mid-edit;
    nothing was changed, and the next step tries again (the app says so in one line)."""


class VideoError(FileProblem):
    """A video is missing, corrupt, truncated or in a format that cannot be decoded."""


class FormatError(FileProblem):
    """An import file is malformed; the reason names the line or field."""


class BoxError(HalguiError):
    """A box that cannot exist (empty after clipping to the frame, or not finite)."""


class Cancelled(HalguiError):
    """Long work stopped because its cancel flag was set; nothing was written."""
