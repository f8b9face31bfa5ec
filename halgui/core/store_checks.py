"""What the project store checks around its writes: names, and the folder a project keeps.

An insert the schema refuses is told as one :class:`ProjectError` in the user's words instead
of the database's; both engines word constraint errors as SQLite does
(:mod:`halgui.core.postgres`), so one reading serves both.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from halgui.core.errors import ProjectError
from halgui.core.names import InvalidName
from halgui.core.names import check_name as _check

#: The subfolders of a project folder (caches, checkpoints, exports).
SUBFOLDERS = ("cache", "models", "exports")


def make_folder(folder: Path) -> None:
    """Make a project folder and its subfolders, or say why it cannot be one."""
    if folder.exists() and not folder.is_dir():
        raise ProjectError(folder, "is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for sub in SUBFOLDERS:
            (folder / sub).mkdir(exist_ok=True)
    except OSError as exc:
        raise ProjectError(folder, f"cannot create the project folder ({exc.strerror})") from exc


class NameRefused(ProjectError, InvalidName):
    """A name :mod:`halgui.core.names` refuses, naming the project (importers catch InvalidName)."""


def check_name(kind: str, name: str, where: Path | str) -> None:
    try:
        _check(kind, name)
    except InvalidName as exc:
        raise NameRefused(where, str(exc)) from None


@contextmanager
def refused(where: Path | str, what: str) -> Iterator[None]:
    """An insert the schema refuses (a name already used, a class that does not exist) as one
    ProjectError naming ``what``, instead of SQLite's message."""
    try:
        yield
    except sqlite3.IntegrityError as exc:
        raise ProjectError(where, f"cannot add {what}: {_why(exc)}") from exc


def _why(exc: sqlite3.IntegrityError) -> str:
    text = str(exc)
    if "UNIQUE" in text:
        return "the name is already used"
    if "FOREIGN KEY" in text:
        return "it refers to something that does not exist"
    if "CHECK" in text:
        return "a value is out of range"
    return text
