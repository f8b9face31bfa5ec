"""Whether a file or frame folder can be a video's media, and which video a path names.

Labels arrive without their media (an import of UCF101-24, AVA, COCO ...) or lose it (a moved
file); linking them later must never attach frames that do not fit the boxes. A candidate is
accepted only when it agrees with what the project recorded: the frame size and count the labels
were made for, a frame folder numbered without a gap (a missing ``00027.jpg`` would shift every
later box by one frame), and, for a video that was linked before, the same fingerprint.

Names: a video imported as ``Basketball/v_Basketball_g01_c01`` is carried by a path ending in
those components (``rgb-images/Basketball/v_Basketball_g01_c01``, or ``.../v_..._c01.avi``);
the last component alone (``v_Basketball_g01_c01``) is a weaker match, used when nothing
carries the whole name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from itertools import pairwise
from pathlib import Path

from halgui.core.errors import VideoError
from halgui.core.project import VideoRecord
from halgui.core.video import (
    FRAME_EXTENSIONS,
    VIDEO_EXTENSIONS,
    VideoInfo,
    fingerprint,
    probe,
)

__all__ = [
    "check_media",
    "media_problem",
    "name_parts",
    "numbering_gap",
    "videos_named_by",
]

_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def check_media(video: VideoRecord, path: Path, *, force: bool = False
                ) -> tuple[VideoInfo, int, str]:
    """Probe and fingerprint ``path``; unless ``force``, raise a VideoError naming it when it
    cannot be ``video``'s media (see :func:`media_problem`)."""
    info = probe(path)
    size, digest = fingerprint(path)
    problem = None if force else media_problem(video, info, (size, digest))
    if problem is not None:
        raise VideoError(path, problem)
    return info, size, digest


def media_problem(video: VideoRecord, info: VideoInfo, key: tuple[int, str]) -> str | None:
    """Why media probed as ``info`` with fingerprint ``key`` cannot be ``video``'s, or None."""
    if video.hash is not None and key != (video.size, video.hash):
        return (f"is not the file that video {video.name!r} was made from (its size or "
                "content differs)")
    if (info.width, info.height) != (video.width, video.height):
        return (f"is {info.width}x{info.height}, but video {video.name!r} is "
                f"{video.width}x{video.height}")
    gap = numbering_gap(info.path) if info.kind == "frames" else None
    if info.n_frames != video.n_frames:
        why = f" ({gap})" if gap else ""
        return f"has {info.n_frames} frames, but video {video.name!r} has {video.n_frames}{why}"
    if gap:
        return f"has a gap in its frame numbers ({gap}), so its frames would not line up"
    return None


def numbering_gap(folder: Path) -> str | None:
    """The first hole or repeat in a frame folder's numbering (the last number in each name,
    any zero padding), or None when the numbers run on by one or some name carries none."""
    numbers: list[tuple[int, str]] = []
    for name in os.listdir(folder):  # names only: no stat, no natural sort (a folder is big)
        stem, ext = os.path.splitext(name)
        if ext.lower() not in FRAME_EXTENSIONS:
            continue
        match = _LAST_NUMBER.search(stem)
        if match is None:
            return None
        numbers.append((int(match.group(1)), match.group(1)))
    numbers.sort()
    for (a, text), (b, _) in pairwise(numbers):
        if b == a:
            return f"frame number {a} appears twice"
        if b != a + 1:
            missing = f"{a + 1:0{len(text)}d}" if text.startswith("0") else str(a + 1)
            return f"frame {missing} is missing"
    return None


def name_parts(name: str) -> tuple[str, ...]:
    """A video name as path components (``/`` or ``\\`` separated); () when it cannot name a
    path under a folder (empty, or with ``..``), so that it is never looked for outside it."""
    parts = tuple(p for p in re.split(r"[/\\]+", name) if p not in ("", "."))
    return () if not parts or ".." in parts else parts


def videos_named_by(path: Path, videos: Iterable[VideoRecord]) -> list[VideoRecord]:
    """The videos whose name ``path`` carries (see the module docstring): those whose whole
    name it ends with, the longest such names first wins; else those whose last component is
    its name or stem. More than one means the name is ambiguous."""
    carried = [path.parts]
    if path.suffix.lower() in VIDEO_EXTENSIONS:
        carried.append(path.with_suffix("").parts)
    best: list[VideoRecord] = []
    best_len = 0
    by_last: list[VideoRecord] = []
    for video in videos:
        parts = name_parts(video.name)
        if not parts:
            continue
        if any(_ends_with(c, parts) for c in carried):
            if len(parts) > best_len:
                best, best_len = [video], len(parts)
            elif len(parts) == best_len:
                best.append(video)
        elif parts[-1] in (c[-1] for c in carried if c):
            by_last.append(video)
    return best or by_last


def _ends_with(parts: Sequence[str], tail: Sequence[str]) -> bool:
    return len(parts) >= len(tail) and tuple(parts[len(parts) - len(tail):]) == tuple(tail)
