"""``halgui migrate DIR URL``: a folder project becomes a shared project on PostgreSQL.

Every table is copied as it is, ids included (undo and other windows hold ids, and the
rounds' proposals name videos by id), into an empty database, in the one transaction that
makes its schema; before that transaction commits, each table's row count is checked against
the folder's, so the database ends up holding the whole project or nothing. The folder is left
as it was (it is locked while it is read, so no edit slips between the two).

Two things change on the way, because a database is not a folder: a video's path stored
relative to the project folder becomes absolute (each desktop relinks by fingerprint where its
copy differs), and each trained round's checkpoint is stored in the database
(:mod:`halgui.core.shared_models`) and copied to this computer's folder for the project.
"""

from __future__ import annotations

import shutil
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from halgui.core import postgres, schema
from halgui.core.errors import ProjectError
from halgui.core.locations import local_folder
from halgui.core.postgres_sql import label
from halgui.core.progress import CancelFlag, Progress
from halgui.core.project import Project

__all__ = ["TABLES", "MigrateReport", "migrate"]

#: Every table of the schema, each after the tables it refers to.
TABLES = ("meta", "classes", "videos", "tracks", "keyframes", "labeled_frames", "rounds",
          "proposals", "video_scores", "round_requests", "round_models", "video_claims",
          "video_edits")
#: ``meta`` rows that say what the database is: written by the new database itself.
_OWN_META = (schema.META_APPLICATION, schema.META_VERSION)


@dataclass(frozen=True)
class MigrateReport:
    """What was copied: rows per table (checked equal in both), checkpoints stored."""

    counts: dict[str, int]
    checkpoints: int
    local_folder: Path


def migrate(folder: str | Path, url: str, cancel: CancelFlag | None = None
            ) -> Generator[Progress, None, MigrateReport]:
    """Copy the project in ``folder`` into the empty database at ``url`` (see the module)."""
    cancel = cancel or CancelFlag()
    with Project.open(folder, lock="halgui migrate") as source:
        rows: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
        for i, table in enumerate(TABLES):
            cancel.check()
            yield Progress("reading", i, len(TABLES), table)
            rows[table] = _read(source, table)
        models = {number: path for number, path in _checkpoints(source)}
        ids = dict(source.query("SELECT number, id FROM rounds"))
        cancel.check()
        yield Progress("writing", 0, 1, label(url))
        expected = {table: len(r[1]) for table, r in rows.items()}
        kept = {r[0] for r in rows["round_models"][1]}  # a shared project's, copied as rows
        stored = {ids[n]: p for n, p in models.items() if ids[n] not in kept}
        expected["round_models"] += len(stored)

        def fill(conn: postgres.Connection) -> None:
            for table in TABLES:
                columns, values = rows[table]
                if values:
                    marks = ", ".join("?" * len(columns))
                    conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                                     f"({marks})", values)
            conn.executemany("INSERT INTO round_models (round_id, data) VALUES (?, ?)",
                             [(rid, path.read_bytes()) for rid, path in stored.items()])
            _check_counts(conn, {**expected, "meta": expected["meta"] + len(_OWN_META)},
                          source.folder)

        postgres.create_database(url, fill=fill).conn.close()
        local = local_folder(url)
        for path in models.values():
            copy = local / path.relative_to(source.folder)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, copy)
    yield Progress("writing", 1, 1, label(url))
    return MigrateReport(expected, len(stored), local)


def _read(project: Project, table: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """``(columns, rows)`` of ``table`` as the database will take them."""
    found = project.query(f"SELECT * FROM {table}")
    if not found:
        return [], []
    columns = list(found[0].keys())
    values = [tuple(r) for r in found]
    if table == "meta":
        values = [v for v in values if v[0] not in _OWN_META]
    elif table == "videos":  # relative to the folder the project leaves: made absolute
        at = columns.index("path")
        values = [(*v[:at], _absolute(project.folder, v[at]), *v[at + 1:]) for v in values]
    return columns, values


def _absolute(folder: Path, path: str | None) -> str | None:
    return None if path is None else str((folder / path).resolve())


def _checkpoints(project: Project) -> list[tuple[int, Path]]:
    """``(round number, file)`` of each round whose checkpoint is in the folder."""
    return [(r.number, r.checkpoint) for r in project.rounds()
            if r.checkpoint is not None and r.checkpoint.is_file()]


def _check_counts(conn: postgres.Connection, expected: dict[str, int], folder: Path) -> None:
    for table, count in expected.items():
        copied = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        if copied != count:
            raise ProjectError(conn.where, f"holds {copied} rows of {table} after the copy, "
                                           f"{folder} has {count}: nothing was kept")
