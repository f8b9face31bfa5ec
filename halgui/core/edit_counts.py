"""How other windows notice label edits: a count per video, moved by every edit.

Every write of a video's labels (tracks, keyframes, labeled marks) adds one to the video's row
of ``video_edits`` in the same transaction (:meth:`Project <halgui.core.project.Project>` calls
:func:`count_edit`), on both engines. A window showing a project reads the counts every second
or so (one small query, the same on SQLite and PostgreSQL) and reloads a video whose count
moved: a team member's edits appear without reopening, and so do those of a command or of
another window on the same folder.
"""

from __future__ import annotations

from typing import Any

from halgui.core.schema import TEAM_TABLES

__all__ = ["count_edit", "edit_counts"]

_ADD_ONE = " ON CONFLICT (video_id) DO UPDATE SET count = video_edits.count + 1"


def count_edit(conn: Any, *, video_id: int | None = None, track_id: int | None = None) -> None:
    """Count one edit of the video ``video_id``, or of the video that holds ``track_id``
    (inside the edit's transaction)."""
    if video_id is not None:
        conn.execute("INSERT INTO video_edits (video_id, count) VALUES (?, 1)" + _ADD_ONE,
                     (video_id,))
    else:
        conn.execute("INSERT INTO video_edits (video_id, count) SELECT video_id, 1 FROM tracks"
                     " WHERE id = ?" + _ADD_ONE, (track_id,))


def edit_counts(project: Any) -> dict[int, int]:
    """Each edited video's count (a video never edited is absent; none at all in an older
    project opened read-only, which nothing edits)."""
    if project.schema_version < TEAM_TABLES:
        return {}
    return {int(v): int(n) for v, n in project.query("SELECT video_id, count FROM video_edits")}
