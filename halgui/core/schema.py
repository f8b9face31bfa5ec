"""The project database's schema, its version, and the migrations between versions.

The version lives in ``PRAGMA user_version``; ``PRAGMA application_id`` marks the file as a
halgui project so that any other SQLite file is refused instead of being written into. On
PostgreSQL (:mod:`halgui.core.postgres`) both live in the ``meta`` table, under
:data:`META_APPLICATION` and :data:`META_VERSION`. A database made by a newer halgui is never
opened for writing (it would be corrupted by code that does not know its tables). Older
versions are migrated forward, each step one transaction, by the same :data:`MIGRATIONS` on
both engines (a step gets either engine's connection and runs SQL both accept).

The schema is written once, below, in SQLite's words; PostgreSQL's is derived from it
(:func:`halgui.core.postgres_sql.schema`).

Versions: 1, the first; 2, ``AUTOINCREMENT`` on the tables whose ids the app hands around
(videos, classes, tracks, rounds), so that an id is never given again once deleted: an undo, or
another window, that still holds a deleted track's id must not reach a new track by it; 3, what
a team shares beyond the labels: ``round_requests`` (Retrain on any member's desktop queues one,
``halgui worker`` runs it; at most one waits and one runs, which unique indexes enforce) and
``round_models`` (each trained round's checkpoint, so that every member's desktop can fetch the
model in use), ``video_claims`` (who is labeling which video; a claim not renewed expires) and
``video_edits`` (a count of each video's label edits, which other windows watch to show a
member's edits without reopening).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from halgui.core import postgres_sql
from halgui.core.errors import ProjectError

#: ``PRAGMA application_id`` of a halgui project ("HALG" in ASCII).
APPLICATION_ID = 0x48414C47
#: The schema this code reads and writes.
SCHEMA_VERSION = 3
#: The oldest schema this code can read without migrating it (a read-only project cannot be
#: migrated; version 1 differs from 2 only in how new ids are chosen).
OLDEST_READABLE = 1
#: Tables whose ``id`` is ``AUTOINCREMENT`` from version 2 on.
NEVER_REUSED = ("videos", "classes", "tracks", "rounds")
#: Every table with an ``AUTOINCREMENT`` id (an identity column on PostgreSQL), from version 3.
AUTOINCREMENT = (*NEVER_REUSED, "round_requests")
#: The first schema with the team's tables (round queue, shared checkpoints, claims, edit
#: counts): an older project opened read-only has none of them.
TEAM_TABLES = 3
#: The first schema of a project on PostgreSQL (none was ever made at version 1).
FIRST_POSTGRESQL = 2
#: The ``meta`` rows that stand on PostgreSQL for SQLite's application id and user version.
META_APPLICATION = "halgui.application_id"
META_VERSION = "halgui.schema_version"

_SCHEMA_V1 = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE videos (
    id       INTEGER PRIMARY KEY,
    name     TEXT NOT NULL UNIQUE,
    path     TEXT,                          -- relative to the project folder when inside it,
                                            -- NULL for an annotation-only video not linked yet
    size     INTEGER,                       -- bytes, to notice a changed or moved file
    hash     TEXT,
    width    INTEGER NOT NULL CHECK (width > 0),
    height   INTEGER NOT NULL CHECK (height > 0),
    fps      REAL NOT NULL CHECK (fps > 0),
    n_frames INTEGER NOT NULL CHECK (n_frames > 0),
    kind     TEXT NOT NULL DEFAULT 'file' CHECK (kind IN ('file', 'frames')),
    split    TEXT NOT NULL DEFAULT 'train' CHECK (split IN ('train', 'val', 'test')),
    added_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE classes (
    id       INTEGER PRIMARY KEY,
    name     TEXT NOT NULL UNIQUE,
    color    TEXT NOT NULL,
    shortcut TEXT UNIQUE
);
CREATE TABLE tracks (
    id       INTEGER PRIMARY KEY,
    video_id INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    class_id INTEGER NOT NULL REFERENCES classes(id) ON DELETE RESTRICT,
    actor    INTEGER NOT NULL CHECK (actor >= 0)
);
CREATE INDEX tracks_by_video ON tracks(video_id);
CREATE TABLE keyframes (
    track_id   INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    frame      INTEGER NOT NULL CHECK (frame >= 0),
    x1         REAL NOT NULL,
    y1         REAL NOT NULL,
    x2         REAL NOT NULL CHECK (x2 > x1),
    y2         REAL NOT NULL CHECK (y2 > y1),
    outside    INTEGER NOT NULL DEFAULT 0 CHECK (outside IN (0, 1)),
    source     TEXT NOT NULL DEFAULT 'human'
               CHECK (source IN ('human', 'imported', 'model-accepted')),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (track_id, frame)
) WITHOUT ROWID;
CREATE TABLE labeled_frames (
    video_id   INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    frame      INTEGER NOT NULL CHECK (frame >= 0),
    labeled_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (video_id, frame)
) WITHOUT ROWID;
CREATE TABLE rounds (
    id          INTEGER PRIMARY KEY,
    number      INTEGER NOT NULL UNIQUE CHECK (number >= 0),
    strategy    TEXT NOT NULL,
    config      TEXT NOT NULL DEFAULT '{}',  -- JSON
    metrics     TEXT NOT NULL DEFAULT '{}',  -- JSON
    checkpoint  TEXT,                        -- relative to the project folder
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE proposals (
    round_id INTEGER NOT NULL REFERENCES rounds(id) ON DELETE CASCADE,
    video_id INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    frame    INTEGER NOT NULL CHECK (frame >= 0),
    score    REAL NOT NULL,
    rank     INTEGER NOT NULL,
    PRIMARY KEY (round_id, video_id, frame)
) WITHOUT ROWID;
CREATE TABLE video_scores (
    round_id        INTEGER NOT NULL REFERENCES rounds(id) ON DELETE CASCADE,
    video_id        INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    uncertainty     BLOB,     -- float32 little-endian, one value per frame (the timeline curve)
    cluster         INTEGER,
    informativeness REAL,
    PRIMARY KEY (round_id, video_id)
) WITHOUT ROWID;
"""



def _never_reused(sql: str) -> str:
    """Schema text with ``AUTOINCREMENT`` on the ids of :data:`NEVER_REUSED`."""
    for table in NEVER_REUSED:
        head = f"CREATE TABLE {table} (\n    id "
        start = sql.index(head) + len(head)
        end = sql.index("\n", start)
        sql = sql[:start] + sql[start:end].replace("PRIMARY KEY", "PRIMARY KEY AUTOINCREMENT",
                                                   1) + sql[end:]
    return sql


_SCHEMA_V2 = _never_reused(_SCHEMA_V1)

_ADDED_V3 = """
CREATE TABLE round_requests (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    requested_by TEXT NOT NULL,
    requested_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    state        TEXT NOT NULL DEFAULT 'queued'
                 CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    worker       TEXT,                    -- who runs (or ran) it: user@host and device
    heartbeat_at TEXT,                    -- the worker's last sign of life (server clock)
    phase        TEXT,                    -- the round's progress, for every member to see
    fraction     REAL,
    message      TEXT,                    -- why it failed
    round_id     INTEGER REFERENCES rounds(id) ON DELETE SET NULL,
    finished_at  TEXT
);
CREATE UNIQUE INDEX one_round_running ON round_requests(state) WHERE state = 'running';
CREATE UNIQUE INDEX one_round_waiting ON round_requests(state) WHERE state = 'queued';
CREATE TABLE round_models (
    round_id INTEGER PRIMARY KEY REFERENCES rounds(id) ON DELETE CASCADE,
    data     BLOB NOT NULL                -- the checkpoint file's bytes
);
CREATE TABLE video_claims (
    video_id     INTEGER PRIMARY KEY REFERENCES videos(id) ON DELETE CASCADE,
    member       TEXT NOT NULL,           -- who labels it (user@host)
    session      TEXT NOT NULL,           -- which window: an id of its own per opening
    heartbeat_at TEXT NOT NULL            -- renewed while the window has it (server clock)
);
CREATE TABLE video_edits (
    video_id INTEGER PRIMARY KEY REFERENCES videos(id) ON DELETE CASCADE,
    count    INTEGER NOT NULL             -- label edits of the video so far: a window showing
);                                        -- it reloads when another one moves it
"""

_SCHEMA_V3 = _SCHEMA_V2 + _ADDED_V3


def _statements(sql: str) -> list[str]:
    return [s for s in sql.split(";\n") if s.strip()]


def _v1_to_v2(conn: sqlite3.Connection) -> None:
    """Rebuild the id tables with ``AUTOINCREMENT`` (SQLite cannot add it in place): copy each
    into a new table of the version 2 definition, drop the old one, rename the new one. The
    ids kept are the same, and none below the highest one left is ever given again."""
    for table in NEVER_REUSED:
        create = next(s for s in _statements(_SCHEMA_V2)
                      if s.strip().startswith(f"CREATE TABLE {table} ("))
        conn.execute(create.replace(f"CREATE TABLE {table} (", f"CREATE TABLE {table}_v2 (", 1))
        conn.execute(f"INSERT INTO {table}_v2 SELECT * FROM {table}")
        conn.execute(f"DROP TABLE {table}")
        conn.execute(f"ALTER TABLE {table}_v2 RENAME TO {table}")
    for statement in _statements(_SCHEMA_V2):  # the indexes dropped with their tables
        if statement.strip().startswith("CREATE INDEX"):
            conn.execute(statement.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1))


def _v2_to_v3(conn: Any) -> None:
    """Add the round queue and the shared checkpoints (new tables only)."""
    for statement in _statements(_for_engine(_ADDED_V3, getattr(conn, "engine", "sqlite"))):
        conn.execute(statement)


def _for_engine(sql: str, engine: str) -> str:
    return postgres_sql.schema(sql) if engine == "postgresql" else sql


#: A migration step: gets an ``sqlite3.Connection`` or a :class:`halgui.core.postgres.Connection`.
Migration = Callable[[Any], None]

#: ``MIGRATIONS[v]`` upgrades a database from version ``v`` to ``v + 1`` inside a transaction.
MIGRATIONS: dict[int, Migration] = {1: _v1_to_v2, 2: _v2_to_v3}


def statements(engine: str = "sqlite") -> list[str]:
    """The current schema's statements for ``engine`` ("sqlite" or "postgresql")."""
    return _statements(_for_engine(_SCHEMA_V3, engine))


def check_version(where: str | Path, version: int, *, writable: bool) -> None:
    """Refuse a schema ``version`` this code cannot open (``writable``: to be written, and
    so migrated), with the one-line error naming ``where``."""
    if version > SCHEMA_VERSION:
        raise ProjectError(
            where,
            f"was written by a newer halgui (schema {version}; this version reads up to "
            f"{SCHEMA_VERSION}): update halgui to open it",
        )
    if version < 1 or (version < SCHEMA_VERSION and version not in MIGRATIONS):
        raise ProjectError(where, f"has schema version {version}, which cannot be migrated")
    if not writable and version < OLDEST_READABLE:
        raise ProjectError(where, f"has schema version {version}, which must be migrated before "
                                  "it can be read; open it once where it can be written")


def create(conn: sqlite3.Connection) -> None:
    """Create the current schema in an empty database (inside the caller's transaction)."""
    for statement in statements():
        conn.execute(statement)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def migrate(conn: sqlite3.Connection, from_version: int) -> None:
    """Run every migration from ``from_version`` up to :data:`SCHEMA_VERSION`, one per step.

    Foreign keys are off while a step runs (a step may rebuild a table others refer to, as
    SQLite's own procedure for schema changes does) and checked before it commits: a step that
    would leave a dangling reference is rolled back whole."""
    conn.execute("PRAGMA foreign_keys = OFF")  # has no effect inside a transaction: before it
    try:
        for version in range(from_version, SCHEMA_VERSION):
            conn.execute("BEGIN IMMEDIATE")
            try:
                MIGRATIONS[version](conn)
                bad = conn.execute("PRAGMA foreign_key_check").fetchall()
                if bad:
                    raise sqlite3.IntegrityError(
                        f"migration to schema {version + 1} leaves {len(bad)} broken references")
                conn.execute(f"PRAGMA user_version = {version + 1}")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
    finally:
        conn.execute("PRAGMA foreign_keys = ON")
