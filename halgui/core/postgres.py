"""A project database on a PostgreSQL server, behind the connection the SQLite store uses.

The Project API speaks DB-API SQL with ``?`` placeholders to an ``sqlite3.Connection`` (rows
by name, ``lastrowid``, explicit ``BEGIN`` / ``COMMIT``, sqlite3's exception classes). This
module gives it the same on PostgreSQL through psycopg 3, so each method of
:class:`~halgui.core.project.Project` is written once: :class:`Connection` rewrites the few
differences of dialect (:mod:`halgui.core.postgres_sql`) and raises the constraint and lock
errors as subclasses of sqlite3's, so ``except sqlite3.IntegrityError`` means the same on both.

What SQLite keeps in ``PRAGMA application_id`` and ``user_version`` lives in the ``meta`` table
here (:data:`~halgui.core.schema.META_APPLICATION`, :data:`~halgui.core.schema.META_VERSION`):
a database without that mark is not a halgui project and is refused, as one of a newer schema.

A transaction begun for writing (``BEGIN IMMEDIATE``) runs at READ COMMITTED; a plain
``BEGIN`` (a reader's snapshot) at REPEATABLE READ, the one consistent state SQLite's read
transaction gives. A wait for another connection's lock longer than the busy timeout ends as
SQLite's does (``database is locked``), which the store reports as a busy project.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from halgui.core import connection, postgres_sql, schema
from halgui.core.errors import ProjectError, ServerUnreachable
from halgui.core.postgres_sql import label

#: Seconds to wait for the server to answer a new connection.
CONNECT_TIMEOUT_S = 10
#: After a failed reconnect, seconds before the next one is tried (each try may wait up to
#: CONNECT_TIMEOUT_S on a network that drops packets; a window's timers must not).
RECONNECT_PAUSE_S = 3.0
#: SQLite's words for PostgreSQL's constraint errors (by SQLSTATE), which the store matches.
_CONSTRAINT = {
    "23505": "UNIQUE constraint failed",
    "23503": "FOREIGN KEY constraint failed",
    "23514": "CHECK constraint failed",
    "23502": "NOT NULL constraint failed",
}
_BUSY = (pg_errors.LockNotAvailable, pg_errors.DeadlockDetected,
         pg_errors.SerializationFailure)


class IntegrityError(sqlite3.IntegrityError):
    """A constraint PostgreSQL enforced, worded as SQLite words it."""


class BusyError(sqlite3.OperationalError):
    """A lock another connection held longer than the busy timeout."""


class Row(tuple):  # type: ignore[type-arg]
    """A row by position and by column name, as ``sqlite3.Row``."""

    _names: dict[str, int]

    def __new__(cls, values: Sequence[Any], names: dict[str, int]) -> Row:
        row = super().__new__(cls, values)
        row._names = names
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            key = self._names[key]
        return super().__getitem__(key)

    def keys(self) -> list[str]:
        return list(self._names)


def _rows(cursor: Any) -> Any:
    names = {c.name: i for i, c in enumerate(cursor.description or ())}
    return lambda values: Row(values, names)


class Cursor:
    """What ``execute`` returns: the rows, and the id an ``INSERT`` gave (``lastrowid``)."""

    def __init__(self, cursor: Any, lastrowid: int | None = None) -> None:
        self._cursor = cursor
        self.lastrowid = lastrowid

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)

    def fetchone(self) -> Row | None:
        return self._cursor.fetchone() if self._cursor.description else None

    def fetchall(self) -> list[Row]:
        return self._cursor.fetchall() if self._cursor.description else []

    def __iter__(self) -> Iterator[Row]:
        return iter(self.fetchall())


class Connection:
    """An ``sqlite3.Connection`` look-alike on a PostgreSQL database (autocommit; the store
    begins and ends its transactions itself)."""

    engine = "postgresql"

    def __init__(self, raw: psycopg.Connection[Any], where: str,
                 reopen: Callable[[], psycopg.Connection[Any]] | None = None) -> None:
        self._raw = raw
        self.where = where
        self._reopen = reopen
        self._in_transaction = False
        self._next_try = 0.0  # no new connection is tried before this (time.monotonic)

    def execute(self, sql: str, args: Iterable[object] = ()) -> Cursor:
        """One statement. Outside a transaction (a read, or the ``BEGIN`` that starts an
        edit) a connection the server ended (a restart, a network drop) is opened again and
        the statement run once more; inside one the transaction is lost, so the loss is an
        error and the store's rollback leaves nothing half-written."""
        head = sql.strip().upper()
        if head == "ROLLBACK" and self._raw.broken:  # the server rolled it back already
            self._in_transaction = False
            return Cursor(None)
        retry = not self._in_transaction and self._reopen is not None
        try:
            return self._execute(sql, args, head)
        except ServerUnreachable:
            if not retry or not (self._raw.broken or self._raw.closed):
                raise
        assert self._reopen is not None
        if time.monotonic() < self._next_try:  # a window's timers must not wait on it
            raise ServerUnreachable(self.where, "cannot be reached (trying again in a few "
                                                "seconds)")
        self._raw.close()
        try:
            self._raw = self._reopen()
        except ServerUnreachable:  # still away: one line, and no new try for a while
            self._next_try = time.monotonic() + RECONNECT_PAUSE_S
            raise
        return self._execute(sql, args, head)

    def _execute(self, sql: str, args: Iterable[object], head: str) -> Cursor:
        if head in ("COMMIT", "ROLLBACK"):
            self._in_transaction = False
        if head in ("BEGIN", "BEGIN IMMEDIATE"):
            level = "REPEATABLE READ" if head == "BEGIN" else "READ COMMITTED"
            with _translated(self.where):
                self._raw.execute(f"BEGIN ISOLATION LEVEL {level}")
            self._in_transaction = True
            return Cursor(self._raw.cursor())
        text, order = postgres_sql.statement(sql)
        target = postgres_sql.insert_target(sql)
        with_id = target is not None and target[0] in schema.AUTOINCREMENT
        returning = with_id and "RETURNING" not in head
        with _translated(self.where):
            cursor = self._raw.execute(text + (" RETURNING id" if returning else ""),
                                       postgres_sql.arguments(tuple(args), order))
            row = cursor.fetchone() if returning else None  # none: ON CONFLICT DO NOTHING
            lastrowid = None if row is None else int(row[0])
            if with_id and target[1]:  # with_id: an INSERT, so target is set
                self._follow_ids(target[0])
        return Cursor(cursor, lastrowid)

    def executemany(self, sql: str, rows: Iterable[Iterable[object]]) -> None:
        text, order = postgres_sql.statement(sql)
        target = postgres_sql.insert_target(sql)
        with _translated(self.where), self._raw.cursor() as cursor:
            cursor.executemany(text, [postgres_sql.arguments(tuple(r), order) for r in rows])
            if target is not None and target[1] and target[0] in schema.AUTOINCREMENT:
                self._follow_ids(target[0])

    def close(self) -> None:
        self._raw.close()

    def _follow_ids(self, table: str) -> None:
        """After a row was put back with its own id, move the table's id sequence past it:
        a new row never takes that id, and no id below the sequence is given again."""
        self._raw.execute(
            "SELECT setval(s, GREATEST((SELECT MAX(id) FROM " + table + "), nextval(s) - 1))"
            " FROM pg_get_serial_sequence(%s, 'id') AS s", (table,))


@contextmanager
def _translated(where: str) -> Iterator[None]:
    """psycopg's errors as the store knows them: constraint and lock errors as sqlite3's, a
    connection the server or the network ended as the one-line :class:`ProjectError`."""
    try:
        yield
    except pg_errors.IntegrityError as exc:
        kind = _CONSTRAINT.get(exc.sqlstate or "", "constraint failed")
        raise IntegrityError(f"{kind}: {exc.diag.message_primary}") from exc
    except _BUSY as exc:
        raise BusyError(f"database is locked ({exc.diag.message_primary})") from exc
    except psycopg.OperationalError as exc:
        raise ServerUnreachable(where, "lost its connection to the server "
                                       f"({_first_line(exc)})"
                           ) from exc


def _first_line(exc: Exception) -> str:
    """The first line of a driver's message (psycopg's run over several), or its type."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def connect(url: str, timeout: float = connection.DEFAULT_BUSY_TIMEOUT_S, *,
            read_only: bool = False) -> Connection:
    """A connection to the database at ``url``; a lock waited for longer than ``timeout``
    seconds ends in :class:`BusyError`; ``read_only``: the server refuses every write. It
    opens itself again after the server ended it (see :meth:`Connection.execute`)."""

    def open_raw() -> psycopg.Connection[Any]:
        try:
            raw = psycopg.connect(url, autocommit=True, row_factory=_rows,
                                  connect_timeout=CONNECT_TIMEOUT_S)
            raw.execute(f"SET lock_timeout = {max(1, round(timeout * 1000))}")
            if read_only:
                raw.execute("SET default_transaction_read_only = on")
        except psycopg.Error as exc:
            raise ServerUnreachable(label(url), f"cannot be reached ({_first_line(exc)})"
                                    ) from exc
        return raw

    return Connection(open_raw(), label(url), open_raw)


def open_database(url: str, *, read_only: bool | str = False,
                  busy_timeout: float | None = None) -> connection.Opened:
    """Open a project database on a server: checked, migrated (unless ``read_only``)."""
    timeout = connection.busy_timeout_s(busy_timeout)
    conn = connect(url, timeout, read_only=bool(read_only))
    try:
        version = check(conn, writable=not read_only)
        if not read_only and version < schema.SCHEMA_VERSION:
            migrate(conn, version)
    except BaseException as exc:
        conn.close()
        if isinstance(exc, BusyError):
            raise connection.busy_error(label(url), timeout) from exc
        raise
    if read_only:
        reason = read_only if isinstance(read_only, str) else "opened read-only"
        return connection.Opened(conn, connection.RO, reason, None, timeout, version)
    return connection.Opened(conn, connection.RW, None, None, timeout)


def create_database(url: str, busy_timeout: float | None = None,
                    fill: Callable[[Connection], None] | None = None) -> connection.Opened:
    """Make the current schema in an empty database (refused if it holds any table);
    ``fill(connection)`` writes the project's rows in the same transaction (``halgui
    migrate``): the database then holds the whole project or nothing."""
    timeout = connection.busy_timeout_s(busy_timeout)
    conn = connect(url, timeout)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("SELECT pg_advisory_xact_lock(?)", (schema.APPLICATION_ID,))
            _check_empty(conn)
            for statement in schema.statements(conn.engine):
                conn.execute(statement)
            conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", [
                (schema.META_APPLICATION, str(schema.APPLICATION_ID)),
                (schema.META_VERSION, str(schema.SCHEMA_VERSION)),
            ])
            if fill is not None:
                fill(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    except BaseException:
        conn.close()
        raise
    return connection.Opened(conn, connection.RW, None, None, timeout)


def check(conn: Connection, *, writable: bool = True) -> int:
    """The schema version of a project database; raise if it is not one, or is unusable."""
    marks: dict[str, str] = {}
    if conn.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone()[0]:
        marks = dict(conn.execute("SELECT key, value FROM meta WHERE key IN (?, ?)",
                                  (schema.META_APPLICATION, schema.META_VERSION)).fetchall())
    if marks.get(schema.META_APPLICATION) != str(schema.APPLICATION_ID):
        raise ProjectError(conn.where, "is a PostgreSQL database but not a halgui project "
                                       "database")
    try:
        version = int(marks.get(schema.META_VERSION, ""))
    except ValueError:
        raise ProjectError(conn.where, "has no readable schema version in its meta table"
                           ) from None
    if 1 <= version < schema.FIRST_POSTGRESQL:  # older than any PostgreSQL project
        raise ProjectError(conn.where, f"has schema version {version}, which cannot be migrated")
    schema.check_version(conn.where, version, writable=writable)
    return version


def migrate(conn: Connection, from_version: int) -> None:
    """Run every migration from ``from_version`` up to the current schema, one transaction
    each; a step another program ran meanwhile (the version in ``meta`` moved) is skipped."""
    for version in range(from_version, schema.SCHEMA_VERSION):
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("SELECT pg_advisory_xact_lock(?)", (schema.APPLICATION_ID,))
            row = conn.execute("SELECT value FROM meta WHERE key = ?",
                               (schema.META_VERSION,)).fetchone()
            if row is not None and int(row[0]) == version:
                schema.MIGRATIONS[version](conn)
                conn.execute("UPDATE meta SET value = ? WHERE key = ?",
                             (str(version + 1), schema.META_VERSION))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def _check_empty(conn: Connection) -> None:
    tables = [r[0] for r in conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]
    if not tables:
        return
    if "meta" in tables and conn.execute(
            "SELECT 1 FROM meta WHERE key = ? AND value = ?",
            (schema.META_APPLICATION, str(schema.APPLICATION_ID))).fetchone():
        raise ProjectError(conn.where, "already holds a halgui project; open it instead")
    raise ProjectError(conn.where, f"is not empty ({len(tables)} tables): a new project needs "
                                   "an empty database")
