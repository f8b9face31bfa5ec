"""How a project's database is opened: read-write, read-only, or as an immutable file.

A project on a read-only mount, or in a folder the user may not write, is still worth viewing
and exporting. SQLite reads a WAL database read-only (``mode=ro``) when its ``-wal`` and
``-shm`` files exist or can be made; when they cannot be made and there is no ``-wal`` file
(the last writer closed cleanly, so the main file holds everything), the file is opened as
``immutable``, which needs neither. Whether a folder is writable is asked of the OS
(:func:`os.access`, which also reports a read-only mount) before SQLite is, so the user is told
why the project is read-only.

A write that waits longer than the busy timeout for another connection's write ends in a
:class:`ProjectError` naming the project and, when its lock file says, who holds it.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from halgui.core import lock as _lock
from halgui.core import schema
from halgui.core.errors import ProjectError

if TYPE_CHECKING:
    from halgui.core import postgres

#: How long a write waits for another connection's write to end (seconds).
DEFAULT_BUSY_TIMEOUT_S = 30.0
#: An environment variable that overrides it, for scripts that would rather fail fast.
BUSY_TIMEOUT_ENV = "HALGUI_BUSY_TIMEOUT"

#: How a database is opened: read-write, read-only, or read-only without any side file.
RW, RO, IMMUTABLE = "rw", "ro", "immutable"


class ReadOnlyProject(ProjectError):
    """A project was opened to be changed where it can only be read; ``why`` says why."""

    def __init__(self, folder: Path, why: str) -> None:
        self.why = why
        super().__init__(folder, f"cannot be changed here: {why}")


@dataclass(frozen=True)
class Opened:
    """An open project database and how it was opened."""

    conn: sqlite3.Connection | postgres.Connection
    mode: str
    read_only_reason: str | None
    lock: _lock.ProjectLock | None
    busy_timeout: float
    #: the schema it has: older than the current one only when opened read-only
    version: int = schema.SCHEMA_VERSION


def open_database(db: Path, *, read_only: bool | str = False, lock: str | None = None,
                  force: bool = False, busy_timeout: float | None = None) -> Opened:
    """Open a project's database as :meth:`Project.open <halgui.core.project.Project.open>`
    describes: checked, locked for ``lock``, migrated; or read-only, with the reason."""
    folder = db.parent
    timeout = busy_timeout_s(busy_timeout)
    reason = read_only_reason(folder, db)
    if reason is not None and lock is not None:
        raise ReadOnlyProject(folder, reason)
    if read_only or reason is not None:
        reason = read_only if isinstance(read_only, str) else reason or "opened read-only"
        mode = read_mode(folder, db)
        version = check_database(db, mode, reason)
        return Opened(connect(db, mode, timeout), mode, reason, None, timeout, version)
    version = check_database(db)
    held = _lock.acquire(folder, lock, force=force) if lock is not None else None
    conn = None
    try:
        conn = connect(db, timeout=timeout)
        conn.execute("PRAGMA journal_mode = WAL")  # a copied or restored file may have lost it
        if version < schema.SCHEMA_VERSION:
            schema.migrate(conn, version)
    except BaseException as exc:
        if conn is not None:
            conn.close()
        if held is not None:
            held.release()
        if isinstance(exc, sqlite3.OperationalError) and is_busy(exc):
            raise busy_error(db, timeout, folder) from exc
        raise
    return Opened(conn, RW, None, held, timeout)


def busy_timeout_s(value: float | None = None) -> float:
    """``value``, else :data:`BUSY_TIMEOUT_ENV` if set to a number, else the default."""
    if value is not None:
        return float(value)
    try:
        return float(os.environ.get(BUSY_TIMEOUT_ENV, DEFAULT_BUSY_TIMEOUT_S))
    except ValueError:
        return DEFAULT_BUSY_TIMEOUT_S


def read_only_reason(folder: Path, db: Path) -> str | None:
    """Why the project in ``folder`` cannot be written from here, or None when it can."""
    if not os.access(folder, os.W_OK):
        if _on_read_only_mount(folder):
            return "its folder is on a read-only file system"
        return "there is no write permission on its folder"
    if not os.access(db, os.W_OK):
        return "there is no write permission on its database file"
    return None


def read_mode(folder: Path, db: Path) -> str:
    """:data:`RO` where SQLite can read the WAL, :data:`IMMUTABLE` where it cannot make the
    side files and needs none (no ``-wal`` file)."""
    wal = db.with_name(db.name + "-wal")
    return RO if wal.exists() or os.access(folder, os.W_OK) else IMMUTABLE


def connect(db: Path, mode: str = RW, timeout: float = DEFAULT_BUSY_TIMEOUT_S
            ) -> sqlite3.Connection:  # fmt: skip
    """A connection in autocommit mode (transactions are explicit), rows by name."""
    if mode == RW:
        conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False,
                               timeout=timeout)
    else:
        uri = f"{db.as_uri()}?mode=ro" + ("&immutable=1" if mode == IMMUTABLE else "")
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False,
                               timeout=timeout)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    if mode == RW:
        conn.execute("PRAGMA synchronous = FULL")
    return conn


def check_database(db: Path, mode: str = RW, reason: str | None = None) -> int:
    """Return the schema version of a project database, read without writing; raise if it is
    unusable (``mode``: how the project will be opened; ``reason``: why read-only)."""
    try:
        conn = connect(db, IMMUTABLE if mode == IMMUTABLE else RO)
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        if reason is not None and "unable to open" in str(exc):
            raise ProjectError(db, f"cannot be read because {reason}: SQLite needs to create "
                                   f"its {db.name}-shm file beside it ({exc})") from exc
        raise ProjectError(db, f"is not a readable halgui database ({exc})") from exc
    if app_id != schema.APPLICATION_ID:
        raise ProjectError(db, "is an SQLite file but not a halgui project database")
    schema.check_version(db, version, writable=mode == RW)
    return version


def is_busy(exc: sqlite3.OperationalError) -> bool:
    """Whether SQLite gave up waiting for another connection (SQLITE_BUSY or SQLITE_LOCKED)."""
    text = str(exc).lower()
    return "database is locked" in text or "busy" in text or "table is locked" in text


def busy_error(db: Path | str, timeout: float, folder: Path | None = None) -> ProjectError:
    """The one-line error of a write on ``db`` that waited ``timeout`` seconds in vain;
    ``folder``: where the lock file that may name the holder is (None: there is none)."""
    owner = _lock.read_owner(folder) if folder is not None else None
    mine = owner is not None and owner.is_this_process()
    holder = owner.describe() if owner is not None and not mine else "another program"
    return ProjectError(db, f"is busy: {holder} kept a write open on it for more than "
                            f"{timeout:g} s; nothing was changed, try again when it is done")


def _on_read_only_mount(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (AttributeError, OSError):  # no statvfs (Windows)
        return False
