"""Read-only queries over what active-learning rounds wrote: rounds, proposed frames, per-video
scores and per-frame uncertainty, and the per-video counts the video list shows.

Rounds write these tables (in one transaction each); this module only reads them, on a private
read-only connection per call, so a view can ask from the GUI thread while a round or an edit
writes on another connection. Every function takes a :class:`~halgui.core.project.Project` (on
either engine) or the path of its database, and reads the latest round unless a ``round_id`` is
given.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from halgui.core.errors import ProjectError
from halgui.core.project import DB_NAME, Project

__all__ = [
    "RoundRecord",
    "VideoScore",
    "VideoSummary",
    "cluster_sizes",
    "latest_round",
    "open_proposals",
    "proposal_counts",
    "proposals",
    "round_progress",
    "video_scores",
    "video_summaries",
]

Source = Project | str | Path


@dataclass(frozen=True)
class RoundRecord:
    id: int
    number: int
    strategy: str
    started_at: str
    finished_at: str


@dataclass(frozen=True)
class VideoScore:
    """What a round learned about one video; ``uncertainty`` has one value per frame."""

    cluster: int | None
    informativeness: float | None
    uncertainty: np.ndarray | None


@dataclass(frozen=True)
class VideoSummary:
    """One row of the video list: counts over labels and the latest round's proposals."""

    video_id: int
    name: str
    n_frames: int
    labeled: int
    proposed: int
    proposed_labeled: int
    cluster: int | None
    informativeness: float | None
    after_round: bool = False  # whether any round has run yet
    path: str | None = None  # as stored: relative to the project folder, or absolute; None:
    #                          annotation-only, waiting to be linked to its media

    @property
    def linked(self) -> bool:
        return self.path is not None

    @property
    def status(self) -> str:
        """``"to label"`` (nothing labeled), ``"done"`` (some frames labeled and, after a
        round, every frame it proposed here labeled too) or ``"in progress"`` (the rest; before
        the first round every partly labeled video is in progress)."""
        if self.labeled == 0:
            return "to label"
        if self.after_round and self.proposed_labeled >= self.proposed:
            return "done"
        return "in progress"


def latest_round(source: Source) -> RoundRecord | None:
    """The round with the highest number, or None before the first round."""
    with _reader(source) as conn:
        row = conn.execute(
            "SELECT id, number, strategy, started_at, finished_at FROM rounds"
            " ORDER BY number DESC LIMIT 1"
        ).fetchone()
    return None if row is None else RoundRecord(*row)


def proposals(source: Source, video_id: int, round_id: int | None = None
              ) -> list[tuple[int, float, int]]:  # fmt: skip
    """``(frame, score, rank)`` of a round's proposed frames in one video, by frame."""
    rows = _round_rows(
        source, round_id,
        "SELECT frame, score, rank FROM proposals WHERE round_id = ? AND video_id = ?"
        " ORDER BY frame", video_id)
    return [(int(f), float(s), int(r)) for f, s, r in rows]


def open_proposals(source: Source, round_id: int | None = None) -> list[tuple[int, int]]:
    """``(video_id, frame)`` of a round's proposed frames not labeled yet, in rank order:
    the labeler's to-do list."""
    rows = _round_rows(
        source, round_id,
        "SELECT p.video_id, p.frame FROM proposals p LEFT JOIN labeled_frames l"
        " ON l.video_id = p.video_id AND l.frame = p.frame"
        " WHERE p.round_id = ? AND l.frame IS NULL ORDER BY p.rank")
    return [(int(v), int(f)) for v, f in rows]


def proposal_counts(source: Source, round_id: int | None = None) -> dict[int, int]:
    """Proposed frames per video in a round (videos without proposals are absent)."""
    rows = _round_rows(
        source, round_id,
        "SELECT video_id, COUNT(*) FROM proposals WHERE round_id = ? GROUP BY video_id")
    return {int(v): int(n) for v, n in rows}


def round_progress(source: Source, round_id: int | None = None,
                   video_id: int | None = None) -> tuple[int, int]:  # fmt: skip
    """``(labeled, proposed)``: how many of a round's proposed frames are labeled by now
    (in one video, or in the whole project)."""
    one_video = () if video_id is None else (video_id,)
    rows = _round_rows(
        source, round_id,
        "SELECT COUNT(*), COUNT(l.frame) FROM proposals p LEFT JOIN labeled_frames l"
        " ON l.video_id = p.video_id AND l.frame = p.frame WHERE p.round_id = ?"
        + (" AND p.video_id = ?" if one_video else ""), *one_video)
    if not rows:
        return (0, 0)
    ((total, done),) = rows
    return int(done), int(total)


def video_scores(source: Source, round_id: int | None = None) -> dict[int, VideoScore]:
    """``video_id -> VideoScore`` for every video a round scored."""
    rows = _round_rows(
        source, round_id,
        "SELECT video_id, cluster, informativeness, uncertainty FROM video_scores"
        " WHERE round_id = ?")
    return {
        int(v): VideoScore(
            None if c is None else int(c),
            None if i is None else float(i),
            None if u is None else np.frombuffer(u, dtype="<f4").copy(),
        )
        for v, c, i, u in rows
    }


def cluster_sizes(source: Source) -> dict[int, list[int]]:
    """``round number -> pool videos per cluster`` (cluster 0 first, clusters without a video
    left out) for every round that clustered the pool: whether the clusters spread or one holds
    almost every video, which leaves the per-cluster quota nothing to do."""
    with _reader(source) as conn:
        rows = conn.execute(
            "SELECT r.number, s.cluster, COUNT(*) FROM video_scores s JOIN rounds r"
            " ON r.id = s.round_id WHERE s.cluster IS NOT NULL"
            " GROUP BY r.number, s.cluster ORDER BY r.number, s.cluster"
        ).fetchall()
    out: dict[int, list[int]] = {}
    for number, _, count in rows:
        out.setdefault(int(number), []).append(int(count))
    return out


def video_summaries(source: Source) -> list[VideoSummary]:
    """One :class:`VideoSummary` per video (by id), in a single read over the latest round."""
    with _reader(source) as conn:
        round_id = _round(conn, None)
        rows = conn.execute(
            """
            SELECT v.id, v.name, v.n_frames,
                   (SELECT COUNT(*) FROM labeled_frames l WHERE l.video_id = v.id),
                   (SELECT COUNT(*) FROM proposals p WHERE p.round_id = ?1
                        AND p.video_id = v.id),
                   (SELECT COUNT(*) FROM proposals p JOIN labeled_frames l
                        ON l.video_id = p.video_id AND l.frame = p.frame
                        WHERE p.round_id = ?1 AND p.video_id = v.id),
                   s.cluster, s.informativeness, v.path
            FROM videos v
            LEFT JOIN video_scores s ON s.video_id = v.id AND s.round_id = ?1
            ORDER BY v.id
            """,
            (round_id if round_id is not None else -1,),
        ).fetchall()
    return [
        VideoSummary(int(i), name, int(n), int(lab), int(prop), int(done),
                     None if c is None else int(c), None if inf is None else float(inf),
                     round_id is not None, path)
        for i, name, n, lab, prop, done, c, inf, path in rows
    ]


# ---------------------------------------------------------------------- helpers
def _round_rows(source: Source, round_id: int | None, sql: str, *args: Any) -> list[Any]:
    """The rows of ``sql`` over a round (its first parameter; ``args`` follow it): the given
    round, or the latest one; none before the first round."""
    with _reader(source) as conn:
        round_id = _round(conn, round_id)
        if round_id is None:
            return []
        return conn.execute(sql, (round_id, *args)).fetchall()


def _round(conn: Any, round_id: int | None) -> int | None:
    if round_id is not None:
        return round_id
    row = conn.execute("SELECT id FROM rounds ORDER BY number DESC LIMIT 1").fetchone()
    return None if row is None else int(row[0])


@contextmanager
def _reader(source: Source) -> Iterator[Any]:
    """A read-only connection to the project database, closed on exit."""
    if isinstance(source, Project) and source.url is not None:
        from halgui.core import postgres

        with closing(postgres.connect(source.url, read_only=True)) as conn:
            yield conn
        return
    if isinstance(source, Project):
        db = source.db_path
    else:
        db = Path(source)
        if db.is_dir():
            db = db / DB_NAME
    if not db.is_file():
        raise ProjectError(db, "no project database here")
    try:
        conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=30.0)
    except sqlite3.Error as exc:
        raise ProjectError(db, f"cannot be read ({exc})") from exc
    with closing(conn):
        yield conn
