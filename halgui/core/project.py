"""The project store: a folder with an SQLite database (WAL mode) and regenerable caches, or
a database on a PostgreSQL server (:mod:`halgui.core.postgres`) with a local folder for them.

Layout of a project folder::

    project.halgui   the database: videos, classes, tracks, keyframes, labeled frames, rounds
    cache/           decoded clip caches and thumbnails (can be deleted; rebuilt when needed)
    models/          checkpoints, one per round
    exports/         default destination of exports

Every edit method is one transaction, committed before it returns (``synchronous=FULL``), so an
edit the GUI shows as done survives a crash or a kill. Long readers (training, export) take a
:meth:`Project.snapshot`: a separate connection reads one consistent state while edits go on.
A program that edits holds ``project.lock`` (:mod:`halgui.core.lock`); a project opened
read-only, or in a folder that cannot be written (:mod:`halgui.core.connection`), refuses edits.
The same methods run on both engines: :meth:`Project.create_url` and :meth:`Project.open_url`
take a ``postgresql://`` URL instead of a folder.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from halgui.core import connection, schema
from halgui.core.annotations import Box, Keyframe, Source, Track
from halgui.core.edit_counts import count_edit
from halgui.core.errors import ProjectError
from halgui.core.lock import ProjectLock
from halgui.core.postgres_sql import label as postgres_label
from halgui.core.records import ClassRecord, LabelSnapshot, RoundRecord, VideoRecord
from halgui.core.store_checks import SUBFOLDERS, make_folder, refused
from halgui.core.store_checks import check_name as _check_name

DB_NAME = "project.halgui"
SPLITS = ("train", "val", "test")
_SETTING = "setting."  # prefix of per-project settings in the meta table
#: Putting a keyframe where one is: its box, flags and source change, its creation time stays.
_REPLACE_KEYFRAME = (
    " ON CONFLICT (track_id, frame) DO UPDATE SET x1 = excluded.x1, y1 = excluded.y1,"
    " x2 = excluded.x2, y2 = excluded.y2, outside = excluded.outside, source = excluded.source,"
    " updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')")

#: Colours given to new classes in turn when none is chosen (Tableau 10, distinct and readable).
DEFAULT_COLORS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)


class Project:
    """An open project. Create with :meth:`create`, open with :meth:`open` (or
    :meth:`create_url`, :meth:`open_url`: on PostgreSQL, ``url`` then says where)."""

    def __init__(self, folder: Path, conn: Any, *, mode: str = connection.RW,
                 read_only_reason: str | None = None, file_lock: ProjectLock | None = None,
                 busy_timeout: float = connection.DEFAULT_BUSY_TIMEOUT_S,
                 url: str | None = None, media_root: Path | None = None,
                 version: int = schema.SCHEMA_VERSION) -> None:
        self.folder = folder
        #: its schema (older than the current one only when opened read-only): a version 2
        #: project has none of the team's tables (round queue, claims, edit counts)
        self.schema_version = version
        #: Where this computer keeps a shared project's videos (told once, per machine):
        #: video paths inside it are stored relative to it, so each member's desktop finds them.
        self.media_root = media_root
        #: The PostgreSQL database's URL, or None for a project whose database is in its folder.
        self.url = url
        #: What messages name: the database file, or the URL (without its password).
        self.location: Path | str = self.db_path if url is None else postgres_label(url)
        self._named: Path | str = folder if url is None else self.location
        self._conn = conn
        self._lock = threading.RLock()
        self._depth = 0
        self._mode = mode
        #: Why edits are refused (opened read-only, a folder that cannot be written), or None.
        self.read_only_reason = read_only_reason
        self._file_lock = file_lock
        self._busy_timeout = busy_timeout

    # ------------------------------------------------------------------ opening and closing
    @property
    def db_path(self) -> Path:
        return self.folder / DB_NAME

    @property
    def clip_cache_dir(self) -> Path:
        """Where the clip caches (model input) live: the one definition of that folder."""
        return self.folder / "cache" / "clips"

    @property
    def proxy_dir(self) -> Path:
        """Where the videos' proxies (small copies for fast seeking) live."""
        return self.folder / "cache" / "proxies"

    @classmethod
    def create(cls, folder: str | Path) -> Project:
        """Make a new project in ``folder`` (created if needed; must not hold a project)."""
        folder = Path(folder).resolve()
        if (folder / DB_NAME).exists():
            raise ProjectError(folder, "already holds a halgui project; open it instead")
        make_folder(folder)
        timeout = connection.busy_timeout_s()
        conn = connection.connect(folder / DB_NAME, timeout=timeout)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN IMMEDIATE")
        schema.create(conn)
        conn.execute("COMMIT")
        return cls(folder, conn, busy_timeout=timeout)

    @classmethod
    def open(cls, folder: str | Path, *, read_only: bool | str = False, lock: str | None = None,
             force: bool = False, busy_timeout: float | None = None) -> Project:
        """Open an existing project; refuse (changing nothing) anything that is not one.

        ``lock`` names the program that will edit it (the app, a command that writes): the
        lock file is taken for it, from a live holder only with ``force``, and a project that
        cannot be written is refused. Without ``lock`` nothing is locked (reading, or work done
        for the program that holds the lock). ``read_only`` (True, or the reason to show) opens
        it for viewing and export only; so does a folder that cannot be written, the reason in
        :attr:`read_only_reason`. ``busy_timeout``: seconds a write waits for another one
        (default: :func:`connection.busy_timeout_s`)."""
        folder = Path(folder).resolve()
        if not folder.is_dir():
            raise ProjectError(folder, "no such project folder")
        if not (folder / DB_NAME).is_file():
            raise ProjectError(folder, f"is not a halgui project (no {DB_NAME} in it)")
        db = connection.open_database(folder / DB_NAME, read_only=read_only, lock=lock,
                                      force=force, busy_timeout=busy_timeout)
        if db.read_only_reason is None:
            for sub in SUBFOLDERS:
                (folder / sub).mkdir(exist_ok=True)
        return cls(folder, db.conn, mode=db.mode, read_only_reason=db.read_only_reason,
                   file_lock=db.lock, busy_timeout=db.busy_timeout, version=db.version)

    @classmethod
    def create_url(cls, url: str, folder: str | Path, media_root: Path | None = None
                   ) -> Project:
        """Make a new project in the empty PostgreSQL database at ``url``; ``folder`` (made
        if needed) holds this computer's caches, checkpoints and exports."""
        from halgui.core import postgres

        folder = Path(folder).resolve()
        make_folder(folder)
        db = postgres.create_database(url)
        return cls(folder, db.conn, busy_timeout=db.busy_timeout, url=url, media_root=media_root)

    @classmethod
    def open_url(cls, url: str, folder: str | Path, *, read_only: bool | str = False,
                 busy_timeout: float | None = None, media_root: Path | None = None) -> Project:
        """Open the project in the PostgreSQL database at ``url`` as :meth:`open` opens a
        folder (no lock file: the server arbitrates writes); ``folder`` as in
        :meth:`create_url`."""
        from halgui.core import postgres

        folder = Path(folder).resolve()
        db = postgres.open_database(url, read_only=read_only, busy_timeout=busy_timeout)
        if not db.read_only_reason:
            make_folder(folder)
        return cls(folder, db.conn, mode=db.mode, read_only_reason=db.read_only_reason,
                   busy_timeout=db.busy_timeout, url=url, media_root=media_root,
                   version=db.version)

    @property
    def read_only(self) -> bool:
        return self.read_only_reason is not None

    def close(self) -> None:
        """Close the database and give up the lock file (a crash leaves it, to be taken over
        as stale)."""
        with self._lock:
            self._conn.close()
            if self._file_lock is not None:
                self._file_lock.release()
                self._file_lock = None

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transactions
    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """One transaction; nested calls join the outer one (an import is one transaction)."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._conn
                finally:
                    self._depth -= 1
                return
            if self.read_only_reason is not None:
                raise ProjectError(self._named, f"is open read-only ({self.read_only_reason}):"
                                                " nothing can be changed")
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise self._busy(exc) from exc
            self._depth = 1
            try:
                yield self._conn
            except BaseException as exc:
                self._conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.OperationalError) and connection.is_busy(exc):
                    raise self._busy(exc) from exc  # PostgreSQL waits on rows, not at BEGIN
                raise
            else:
                self._conn.execute("COMMIT")
            finally:
                self._depth = 0

    def query(self, sql: str, args: Iterable[object] = ()) -> list[Any]:
        """Rows of one read (for modules that own their own tables, as the round queue)."""
        with self._lock:
            try:
                return self._conn.execute(sql, tuple(args)).fetchall()
            except sqlite3.OperationalError as exc:
                raise self._busy(exc) from exc

    def _busy(self, exc: sqlite3.OperationalError) -> Exception:
        """A ProjectError for SQLite's ``database is locked``; any other error as it is."""
        if connection.is_busy(exc):
            return connection.busy_error(self.location, self._busy_timeout,
                                         self.folder if self.url is None else None)
        return exc

    # ------------------------------------------------------------------ videos
    def add_video(
        self,
        name: str,
        *,
        path: str | Path | None,
        width: int,
        height: int,
        n_frames: int,
        fps: float = 25.0,
        size: int | None = None,
        hash: str | None = None,
        kind: str = "file",
        split: str = "train",
    ) -> int:
        """Record a video (probing it is the caller's job, see :mod:`halgui.core.ingest`)."""
        _check_split(split)
        _check_name("video", name, self._named)
        stored = self._store_path(path, self.media_base) if path is not None else None
        with refused(self._named, f"video {name!r}"), self.transaction() as c:
            cur = c.execute(
                "INSERT INTO videos (name, path, size, hash, width, height, fps, n_frames,"
                " kind, split) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (name, stored, size, hash, width, height, fps, n_frames, kind, split),
            )
        return int(cur.lastrowid)

    def videos(self) -> list[VideoRecord]:
        return [self._video(r) for r in self.query("SELECT * FROM videos ORDER BY id")]

    def video(self, video_id: int) -> VideoRecord:
        rows = self.query("SELECT * FROM videos WHERE id = ?", (video_id,))
        if not rows:
            raise ProjectError(self.location, f"no video with id {video_id}")
        return self._video(rows[0])

    def video_by_name(self, name: str) -> VideoRecord | None:
        rows = self.query("SELECT * FROM videos WHERE name = ?", (name,))
        return self._video(rows[0]) if rows else None

    def link_video(self, video_id: int, path: str | Path, size: int, hash: str,
                   kind: str | None = None) -> None:
        """Point a video at a (moved or newly found) file or frame folder (``kind``, when
        given); the caller checked it matches."""
        with self.transaction() as c:
            c.execute(
                "UPDATE videos SET path = ?, size = ?, hash = ?, kind = COALESCE(?, kind)"
                " WHERE id = ?",
                (self._store_path(path, self.media_base), size, hash, kind, video_id),
            )

    def set_split(self, video_id: int, split: str) -> None:
        _check_split(split)
        with self.transaction() as c:
            c.execute("UPDATE videos SET split = ? WHERE id = ?", (split, video_id))

    @property
    def media_base(self) -> Path | None:
        """What a video path stored relative is relative to: the project folder, or for a
        shared project this computer's :attr:`media_root` (None: not told one)."""
        return self.folder if self.url is None else self.media_root

    def video_path(self, stored: str) -> Path | None:
        """A video path as stored, on this computer: a relative one under :attr:`media_base`
        (None: this desktop was not told where a shared project's videos are)."""
        path = Path(stored)
        base = self.media_base
        return path if path.is_absolute() else None if base is None else base / path

    @staticmethod
    def _store_path(path: str | Path, base: Path | None) -> str:
        """``path`` relative to ``base`` when inside it (it moves with it), else absolute."""
        path = Path(path).resolve()
        return path.relative_to(base).as_posix() if base and path.is_relative_to(base) \
            else str(path)

    def _video(self, row: Any) -> VideoRecord:
        path = None if row["path"] is None else self.video_path(row["path"])
        return VideoRecord(
            id=row["id"], name=row["name"], path=path, size=row["size"], hash=row["hash"],
            width=row["width"], height=row["height"], fps=row["fps"], n_frames=row["n_frames"],
            kind=row["kind"], split=row["split"],
        )

    # ------------------------------------------------------------------ classes
    def add_class(self, name: str, color: str | None = None, shortcut: str | None = None) -> int:
        """Stored exactly as given, spaces at its ends included (dialogs strip what a person
        types), so a name round-trips and an import never takes "walk " for "walk"."""
        if not name.strip():
            raise ProjectError(self.location, "a class needs a non-empty name")
        _check_name("class", name, self.location)
        with self._lock:
            count = self._conn.execute("SELECT COUNT(*) FROM classes").fetchone()[0]
            color = color or DEFAULT_COLORS[count % len(DEFAULT_COLORS)]
            with refused(self.location, f"class {name!r}"), self.transaction() as c:
                cur = c.execute("INSERT INTO classes (name, color, shortcut) VALUES (?,?,?)",
                                (name, color, shortcut))
        return int(cur.lastrowid)

    def classes(self) -> list[ClassRecord]:
        return [
            ClassRecord(r["id"], r["name"], r["color"], r["shortcut"])
            for r in self.query("SELECT * FROM classes ORDER BY id")
        ]

    def class_by_name(self, name: str) -> ClassRecord | None:
        return next((c for c in self.classes() if c.name == name), None)

    # ------------------------------------------------------------------ tracks and keyframes
    def add_track(self, video_id: int, class_id: int, actor: int | None = None) -> int:
        """A new track; ``actor`` defaults to the next unused actor id of the video."""
        with self.transaction() as c:
            if actor is None:
                actor = c.execute(
                    "SELECT COALESCE(MAX(actor), 0) + 1 FROM tracks WHERE video_id = ?",
                    (video_id,),
                ).fetchone()[0]
            with refused(self.location, "track"):
                cur = c.execute("INSERT INTO tracks (video_id, class_id, actor) VALUES (?,?,?)",
                                (video_id, class_id, actor))
            count_edit(c, video_id=video_id)
        return int(cur.lastrowid)

    def set_track_class(self, track_id: int, class_id: int) -> None:
        with self.transaction() as c:
            c.execute("UPDATE tracks SET class_id = ? WHERE id = ?", (class_id, track_id))
            count_edit(c, track_id=track_id)

    def delete_track(self, track_id: int) -> Track:
        """Delete a track and its keyframes; returns it whole so an undo can restore it."""
        with self.transaction() as c:
            track = self.track(track_id)
            count_edit(c, track_id=track_id)
            c.execute("DELETE FROM tracks WHERE id = ?", (track_id,))
        return track

    def restore_track(self, video_id: int, track: Track) -> int:
        """Re-insert a deleted track (same id when free) with all its keyframes."""
        with self.transaction() as c:
            cur = c.execute(
                "INSERT INTO tracks (id, video_id, class_id, actor) VALUES (?,?,?,?)",
                (track.id, video_id, track.class_id, track.actor),
            )
            track_id = int(cur.lastrowid)
            count_edit(c, video_id=video_id)
            for kf in track.keyframes:
                self.set_keyframe(track_id, kf.frame, kf.box, outside=kf.outside, source=kf.source)
        return track_id

    def track(self, track_id: int) -> Track:
        rows = self.query("SELECT * FROM tracks WHERE id = ?", (track_id,))
        if not rows:
            raise ProjectError(self.location, f"no track with id {track_id}")
        return self._track(rows[0], self.keyframes(track_id))

    def tracks(self, video_id: int) -> list[Track]:
        rows = self.query("SELECT * FROM tracks WHERE video_id = ? ORDER BY id", (video_id,))
        return [self._track(r, self.keyframes(r["id"])) for r in rows]

    def set_keyframe(
        self,
        track_id: int,
        frame: int,
        box: Box,
        *,
        outside: bool = False,
        source: Source = "human",
    ) -> Keyframe | None:
        """Put a keyframe box on ``frame`` (replacing one there); returns what it replaced."""
        kf = Keyframe(frame, box, outside, source)  # validates frame and source
        with self.transaction() as c:
            previous = self._keyframe(track_id, frame)
            c.execute(
                "INSERT INTO keyframes (track_id, frame, x1, y1, x2, y2, outside, source)"
                " VALUES (?,?,?,?,?,?,?,?)" + _REPLACE_KEYFRAME,
                (track_id, kf.frame, *kf.box.as_tuple(), int(kf.outside), kf.source),
            )
            count_edit(c, track_id=track_id)
        return previous

    def set_keyframes(self, track_id: int, keyframes: Iterable[Keyframe]) -> None:
        """Put many keyframes on a track in one statement (imports); replaces any on those
        frames."""
        rows = [(track_id, k.frame, *k.box.as_tuple(), int(k.outside), k.source)
                for k in keyframes]
        with self.transaction() as c:
            c.executemany(
                "INSERT INTO keyframes (track_id, frame, x1, y1, x2, y2, outside, source)"
                " VALUES (?,?,?,?,?,?,?,?)" + _REPLACE_KEYFRAME,
                rows,
            )
            count_edit(c, track_id=track_id)

    def delete_keyframe(self, track_id: int, frame: int) -> Keyframe | None:
        """Remove a keyframe; returns it (None if there was none) so an undo can put it back."""
        with self.transaction() as c:
            previous = self._keyframe(track_id, frame)
            c.execute("DELETE FROM keyframes WHERE track_id = ? AND frame = ?", (track_id, frame))
            count_edit(c, track_id=track_id)
        return previous

    def keyframes(self, track_id: int) -> tuple[Keyframe, ...]:
        rows = self.query(
            "SELECT * FROM keyframes WHERE track_id = ? ORDER BY frame", (track_id,)
        )
        return tuple(keyframe_row(r) for r in rows)

    def _keyframe(self, track_id: int, frame: int) -> Keyframe | None:
        rows = self.query(
            "SELECT * FROM keyframes WHERE track_id = ? AND frame = ?", (track_id, frame)
        )
        return keyframe_row(rows[0]) if rows else None

    @staticmethod
    def _track(row: Any, keyframes: tuple[Keyframe, ...]) -> Track:
        return Track(class_id=row["class_id"], actor=row["actor"], keyframes=keyframes,
                     id=row["id"])

    # ------------------------------------------------------------------ labeled frames
    def set_labeled(self, video_id: int, frames: Iterable[int], labeled: bool = True) -> None:
        """Mark frames as finished by a person (or take the mark back)."""
        frames = [int(f) for f in frames]
        if any(f < 0 for f in frames):
            raise ProjectError(self.location, "frames are 0-based: a negative frame was given")
        with self.transaction() as c:
            if labeled:
                c.executemany(
                    "INSERT INTO labeled_frames (video_id, frame) VALUES (?, ?)"
                    " ON CONFLICT DO NOTHING",
                    [(video_id, f) for f in frames],
                )
            else:
                c.executemany(
                    "DELETE FROM labeled_frames WHERE video_id = ? AND frame = ?",
                    [(video_id, f) for f in frames],
                )
            count_edit(c, video_id=video_id)

    def labeled_frames(self, video_id: int) -> frozenset[int]:
        rows = self.query("SELECT frame FROM labeled_frames WHERE video_id = ?", (video_id,))
        return frozenset(r[0] for r in rows)

    # ------------------------------------------------------------------ reading it all
    def snapshot(self) -> LabelSnapshot:
        """All labels at one instant, read on a private connection (safe from any thread)."""
        from halgui.core.snapshot import read_snapshot

        if self.url is None:
            return read_snapshot(self, connection.connect(self.db_path, self._mode,
                                                          self._busy_timeout))
        from halgui.core import postgres

        return read_snapshot(self, postgres.connect(self.url, self._busy_timeout,
                                                    read_only=self.read_only))

    # ------------------------------------------------------------------ rounds
    def rounds(self) -> list[RoundRecord]:
        """Finished rounds, oldest first."""
        import json

        return [
            RoundRecord(r["number"], r["strategy"], json.loads(r["config"]),
                        json.loads(r["metrics"]),
                        None if r["checkpoint"] is None else self.folder / r["checkpoint"],
                        r["started_at"], r["finished_at"])
            for r in self.query("SELECT * FROM rounds ORDER BY number")
        ]

    def record_round(
        self,
        *,
        strategy: str,
        config: dict[str, object],
        metrics: dict[str, object],
        checkpoint: str | Path | None,
        started_at: str,
        proposals: Iterable[tuple[int, int, float]],
        video_scores: Iterable[tuple[int, bytes | None, int | None, float | None]] = (),
        also: Callable[[Any, int], None] | None = None,
    ) -> int:
        """Write a finished round in one transaction: the round, its proposals in rank order,
        and per video the uncertainty curve (float32 bytes), cluster and informativeness;
        ``also(connection, round_id)`` writes what must commit with it, or nothing.
        Returns the round's number (0, 1, 2, ...)."""
        import json

        ckpt = None if checkpoint is None else self._store_path(checkpoint, self.folder)
        with self.transaction() as c:
            number = c.execute("SELECT COALESCE(MAX(number) + 1, 0) FROM rounds").fetchone()[0]
            cur = c.execute(
                "INSERT INTO rounds (number, strategy, config, metrics, checkpoint, started_at)"
                " VALUES (?,?,?,?,?,?)",
                (number, strategy, json.dumps(config), json.dumps(metrics), ckpt, started_at),
            )
            round_id = cur.lastrowid
            c.executemany(
                "INSERT INTO proposals (round_id, video_id, frame, score, rank)"
                " VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING",
                [(round_id, v, f, float(s), rank) for rank, (v, f, s) in enumerate(proposals)],
            )
            c.executemany(
                "INSERT INTO video_scores (round_id, video_id, uncertainty, cluster,"
                " informativeness) VALUES (?,?,?,?,?)",
                [(round_id, *row) for row in video_scores],
            )
            if also is not None:
                also(c, int(round_id))
        return int(number)

    # ------------------------------------------------------------------ settings
    def get_setting(self, key: str, default: object = None) -> object:
        """A per-project setting (a JSON value in the ``meta`` table, under ``setting.<key>``);
        ``default`` when it was never set or cannot be read."""
        import json

        rows = self.query("SELECT value FROM meta WHERE key = ?", (_SETTING + key,))
        if not rows:
            return default
        try:
            return json.loads(rows[0][0])
        except ValueError:
            return default

    def set_setting(self, key: str, value: object) -> None:
        """Remember a per-project setting; ``value`` must be JSON (TypeError otherwise)."""
        import json

        text = json.dumps(value)
        with self.transaction() as c:
            c.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE"
                      " SET value = excluded.value", (_SETTING + key, text))

    def stats(self) -> dict[str, int]:
        """Counts shown by ``halgui info``."""
        q = {
            "videos": "SELECT COUNT(*) FROM videos",
            "linked_videos": "SELECT COUNT(*) FROM videos WHERE path IS NOT NULL",
            "frames": "SELECT COALESCE(SUM(n_frames), 0) FROM videos",
            "labeled_frames": "SELECT COUNT(*) FROM labeled_frames",
            "keyframe_boxes": "SELECT COUNT(*) FROM keyframes WHERE outside = 0",
            "tracks": "SELECT COUNT(*) FROM tracks",
            "classes": "SELECT COUNT(*) FROM classes",
            "rounds": "SELECT COUNT(*) FROM rounds",
            "proposals": "SELECT COUNT(*) FROM proposals WHERE round_id ="
                         " (SELECT id FROM rounds ORDER BY number DESC LIMIT 1)",
        }
        with self._lock:
            return {k: int(self._conn.execute(sql).fetchone()[0]) for k, sql in q.items()}


# ---------------------------------------------------------------------- helpers
def keyframe_row(r: Any) -> Keyframe:
    """A keyframe as a ``keyframes`` row holds it."""
    return Keyframe(r["frame"], Box(r["x1"], r["y1"], r["x2"], r["y2"]), bool(r["outside"]),
                    r["source"])


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ProjectError(Path(DB_NAME), f"split {split!r} is not one of {', '.join(SPLITS)}")
