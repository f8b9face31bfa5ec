"""What the project store hands out: plain, frozen records of its rows and snapshots.

They live apart from :mod:`halgui.core.project` (which re-exports them) so that code that only
reads records (formats, the learning core, the GUI's models) needs nothing of the store itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from halgui.core.annotations import Track

__all__ = ["ClassRecord", "LabelSnapshot", "RoundRecord", "VideoRecord"]


@dataclass(frozen=True)
class VideoRecord:
    """A video of the project; ``path`` is absolute, or None until an annotation-only video is
    linked to its file."""

    id: int
    name: str
    path: Path | None
    size: int | None
    hash: str | None
    width: int
    height: int
    fps: float
    n_frames: int
    kind: str
    split: str


@dataclass(frozen=True)
class ClassRecord:
    id: int
    name: str
    color: str
    shortcut: str | None


@dataclass(frozen=True)
class RoundRecord:
    """A finished round as stored."""

    number: int
    strategy: str
    config: dict[str, object]
    metrics: dict[str, object]
    checkpoint: Path | None
    started_at: str
    finished_at: str


@dataclass(frozen=True)
class LabelSnapshot:
    """All labels of a project as they were at one instant; what a round or an export reads."""

    videos: tuple[VideoRecord, ...]
    classes: tuple[ClassRecord, ...]
    tracks: dict[int, tuple[Track, ...]]
    labeled: dict[int, frozenset[int]]
