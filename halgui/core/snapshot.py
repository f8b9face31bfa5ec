"""A project's labels at one instant (:meth:`~halgui.core.project.Project.snapshot`).

Training and export read every label while the labeler goes on editing; they read on a
connection of their own, inside one read transaction, so what they see is one consistent state
(SQLite's WAL snapshot, PostgreSQL's repeatable read) and no edit waits for them.
"""

from __future__ import annotations

from typing import Any

from halgui.core.annotations import Keyframe, Track
from halgui.core.project import Project, keyframe_row
from halgui.core.records import LabelSnapshot

__all__ = ["read_snapshot"]


def read_snapshot(project: Project, conn: Any) -> LabelSnapshot:
    """Everything ``project`` holds, read on ``conn`` (its own connection, closed here)."""
    try:
        conn.execute("BEGIN")  # a read transaction: one consistent snapshot
        reader = Project(project.folder, conn, url=project.url, media_root=project.media_root)
        videos = tuple(reader.videos())
        classes = tuple(reader.classes())
        kfs: dict[int, list[Keyframe]] = {}
        for r in conn.execute("SELECT * FROM keyframes ORDER BY track_id, frame"):
            kfs.setdefault(r["track_id"], []).append(keyframe_row(r))
        tracks: dict[int, list[Track]] = {v.id: [] for v in videos}
        for r in conn.execute("SELECT * FROM tracks ORDER BY id"):
            tracks[r["video_id"]].append(Track(class_id=r["class_id"], actor=r["actor"],
                                               keyframes=tuple(kfs.get(r["id"], ())),
                                               id=r["id"]))
        labeled: dict[int, set[int]] = {v.id: set() for v in videos}
        for video_id, frame in conn.execute("SELECT video_id, frame FROM labeled_frames"):
            labeled[video_id].add(frame)
        conn.execute("COMMIT")
    finally:
        conn.close()
    return LabelSnapshot(videos=videos, classes=classes,
                         tracks={k: tuple(v) for k, v in tracks.items()},
                         labeled={k: frozenset(v) for k, v in labeled.items()})
