"""Who is labeling which video of a shared project: claims that expire.

A member's window claims a video when it opens it for editing and renews the claim every
:attr:`ClaimConfig.renew_s` while it has it open. Another window that opens the same video is
told who has it: it opens it read-only, or takes it over explicitly (the first window then
learns at its next renewal that the video is no longer its own). A claim not renewed for
:attr:`ClaimConfig.expire_s` (the labeler's machine died or lost the network) has expired: the
next window takes it without asking. Ages are measured with the server's clock
(:mod:`halgui.core.server_time`). A claim guards edits in the windows that honour it; the
database itself accepts any edit, so commands and scripts still work.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from halgui.core.project import Project
from halgui.core.server_time import NOW, age_s

__all__ = ["ClaimConfig", "Holder", "claim", "holder", "holders", "release", "renew"]


@dataclass(frozen=True)
class ClaimConfig:
    """How often a window renews its claims, and when an unrenewed claim has expired."""

    renew_s: float = 10.0
    expire_s: float = 30.0


@dataclass(frozen=True)
class Holder:
    """The window that has a video: who, which window, seconds since it last renewed."""

    member: str
    session: str
    age_s: float


def claim(project: Project, video_id: int, member: str, session: str, *,
          take_over: bool = False, config: ClaimConfig | None = None) -> Holder | None:
    """Claim ``video_id`` for the window ``session``: None when it is now the window's; the
    holder, changing nothing, when another window has a live claim (unless ``take_over``)."""
    config = config or ClaimConfig()
    with project.transaction() as c:
        row = c.execute(f"SELECT member, session, heartbeat_at, {NOW} FROM video_claims"
                        " WHERE video_id = ?", (video_id,)).fetchone()
        if row is not None and row[1] != session and not take_over:
            age = age_s(row[2], row[3])
            if age < config.expire_s:
                return Holder(row[0], row[1], age)
        c.execute(f"INSERT INTO video_claims (video_id, member, session, heartbeat_at)"
                  f" VALUES (?, ?, ?, {NOW}) ON CONFLICT (video_id) DO UPDATE SET"
                  " member = excluded.member, session = excluded.session,"
                  " heartbeat_at = excluded.heartbeat_at", (video_id, member, session))
    return None


def renew(project: Project, session: str, video_ids: Iterable[int]) -> set[int]:
    """Renew the window's claims; returns those of ``video_ids`` it no longer has (taken
    over by another window, or expired and claimed since)."""
    with project.transaction() as c:
        c.execute(f"UPDATE video_claims SET heartbeat_at = {NOW} WHERE session = ?", (session,))
        mine = {r[0] for r in c.execute("SELECT video_id FROM video_claims WHERE session = ?",
                                        (session,)).fetchall()}
    return set(video_ids) - mine


def release(project: Project, session: str, video_id: int | None = None) -> None:
    """Give up the window's claim on ``video_id`` (None: all of them)."""
    with project.transaction() as c:
        if video_id is None:
            c.execute("DELETE FROM video_claims WHERE session = ?", (session,))
        else:
            c.execute("DELETE FROM video_claims WHERE session = ? AND video_id = ?",
                      (session, video_id))


def holder(project: Project, video_id: int) -> Holder | None:
    """Who has ``video_id`` now, live or expired (None: nobody claimed it)."""
    rows = project.query(f"SELECT member, session, heartbeat_at, {NOW} FROM video_claims"
                         " WHERE video_id = ?", (video_id,))
    return None if not rows else Holder(rows[0][0], rows[0][1], age_s(rows[0][2], rows[0][3]))


def holders(project: Project, config: ClaimConfig | None = None) -> dict[int, Holder]:
    """The live claims, by video (what the video list shows)."""
    config = config or ClaimConfig()
    rows = project.query(f"SELECT video_id, member, session, heartbeat_at, {NOW}"
                         " FROM video_claims")
    live = ((r[0], Holder(r[1], r[2], age_s(r[3], r[4]))) for r in rows)
    return {video: h for video, h in live if h.age_s < config.expire_s}
