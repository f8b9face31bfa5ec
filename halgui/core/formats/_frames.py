"""What the frame-based formats (coco, cvat, mot, yolo) share: which boxes of a track an export
writes, frame ranges, number formatting, checked number parsing and
frame extraction.

Every exporter turns a track into :class:`Shape` objects with :func:`track_shapes`: its
keyframes (visible and ``outside``) and, when pseudo-labels are asked for, the interpolated box
on every other frame the track covers (the ``outside`` rule included), marked ``interpolated``.
Importers keep keyframes and drop interpolated boxes, which are recomputed from keyframes.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from halgui.core.annotations import SOURCES, Keyframe, Track, track_boxes
from halgui.core.errors import FormatError
from halgui.core.formats.common import ExportOptions
from halgui.core.progress import CancelFlag, Progress
from halgui.core.project import SPLITS, LabelSnapshot, VideoRecord

#: Largest frame count, frame size, id or actor an importer accepts (fits SQLite and C ints).
MAX_INT = 2**31 - 1

Kind = Literal["keyframe", "interpolated", "outside"]


@dataclass(frozen=True)
class Shape:
    """One box of a track as an export writes it. ``source`` of an interpolated box is the
    source of the keyframe before it."""

    frame: int
    box: tuple[float, float, float, float]
    kind: Kind
    source: str

    @property
    def visible(self) -> bool:
        return self.kind != "outside"


# ---------------------------------------------------------------------- what an export writes
def export_keyframes(track: Track, options: ExportOptions, n_frames: int) -> list[Keyframe]:
    """A track's keyframes inside the video, less non-human ones when ``human_only``."""
    return sorted(
        (k for k in track.keyframes
         if k.frame < n_frames and (not options.human_only or k.source == "human")),
        key=lambda k: k.frame,
    )


def track_shapes(keyframes: Sequence[Keyframe], n_frames: int, pseudo: bool) -> list[Shape]:
    """The shapes an export writes for one track, sorted by frame (see the module docstring)."""
    shapes = {
        k.frame: Shape(k.frame, k.box.as_tuple(), "outside" if k.outside else "keyframe",
                       k.source)
        for k in keyframes
    }
    if pseudo and keyframes:
        frames = [k.frame for k in keyframes]
        j = 0
        for f, box in sorted(track_boxes(keyframes, n_frames).items()):
            while j + 1 < len(frames) and frames[j + 1] <= f:
                j += 1
            if f not in shapes:
                shapes[f] = Shape(f, box, "interpolated", keyframes[j].source)
    return [shapes[f] for f in sorted(shapes)]


def labeled_frames(snapshot: LabelSnapshot, video: VideoRecord) -> list[int]:
    return sorted(f for f in snapshot.labeled.get(video.id, ()) if f < video.n_frames)


def relative_path(video: VideoRecord, base: Path) -> str | None:
    """The video's file relative to ``base`` (absolute when no relative path exists)."""
    if video.path is None:
        return None
    try:
        return Path(os.path.relpath(video.path, base)).as_posix()
    except ValueError:  # another drive on Windows
        return str(video.path)


# ---------------------------------------------------------------------- text forms
def num(value: float, decimals: int = 3) -> str:
    """A coordinate with at most ``decimals`` decimals, no exponent, no trailing zeros."""
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def ranges(frames: Iterable[int]) -> list[list[int]]:
    """Sorted frames as inclusive ``[first, last]`` runs."""
    runs: list[list[int]] = []
    for f in sorted(set(frames)):
        if runs and f == runs[-1][1] + 1:
            runs[-1][1] = f
        else:
            runs.append([f, f])
    return runs


def format_ranges(frames: Iterable[int]) -> str:
    """Frames as ``"0-4 7 9-12"``."""
    return " ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in ranges(frames))


def parse_ranges(text: str, n_frames: int) -> list[int]:
    """Read ``"0-4 7 9-12"``; raises ValueError with the problem."""
    frames: set[int] = set()
    for part in text.split():
        first, sep, last = part.partition("-")
        if not (first.isdigit() and (last.isdigit() or not sep)):
            raise ValueError(f"{part!r} is not a frame or a range first-last")
        a, b = int(first), int(last) if sep else int(first)
        if b < a or b >= n_frames:
            raise ValueError(f"range {part} is not inside the video's {n_frames} frames")
        frames.update(range(a, b + 1))
    return sorted(frames)


# ---------------------------------------------------------------------- checked parsing
def read_text(path: Path) -> str:
    """A UTF-8 text file (a leading BOM is dropped), or FormatError."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise FormatError(path, f"cannot be read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise FormatError(path, f"is not UTF-8 text (byte {exc.start})") from exc


def lines_of(text: str) -> list[str]:
    """Lines split at newlines only, so that line numbers match what an editor shows."""
    return [line.rstrip("\r") for line in text.split("\n")]


def to_int(text: str, what: str, minimum: int = 0, maximum: int = MAX_INT) -> int:
    """A whole number in ``[minimum, maximum]``; raises ValueError naming ``what``."""
    text = text.strip()
    if not re.fullmatch(r"[+-]?\d{1,12}", text):
        # "12.0" is a whole number too (MOT files written by some tools)
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{what} {text!r} is not a whole number") from None
        if not math.isfinite(value) or value != int(value):
            raise ValueError(f"{what} {text!r} is not a whole number")
        result = int(value)
    else:
        result = int(text)
    if not minimum <= result <= maximum:
        raise ValueError(f"{what} {result} is outside {minimum}..{maximum}")
    return result


def to_float(text: str, what: str) -> float:
    """A finite number; raises ValueError naming ``what``."""
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError(f"{what} {text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{what} {text.strip()!r} is not a finite number")
    return value


def check_source(value: object, default: str = "imported") -> str:
    """A keyframe source read from a file; anything unknown is ``default``."""
    return value if isinstance(value, str) and value in SOURCES else default


def split_of(name: str) -> str | None:
    """``train``/``val``/``test`` from a subset or folder name (``validation`` is ``val``)."""
    lowered = name.strip().lower()
    aliases = {"validation": "val", "valid": "val", "training": "train", "testing": "test"}
    lowered = aliases.get(lowered, lowered)
    return lowered if lowered in SPLITS else None


def check_path_text(raw: str) -> bool:
    return "\x00" not in raw and raw.strip() == raw and raw != ""


# ---------------------------------------------------------------------- frame images
def write_frames(
    video: VideoRecord, frames: Iterable[int], dest: Path, name: str,
    cancel: CancelFlag | None = None, first: int = 0,
) -> Generator[Progress, None, int]:
    """Extract ``frames`` of a linked video as images ``dest / (name % (frame + first))``
    (``first=1`` numbers files from 1); the extension of ``name`` picks the encoding. Videos
    without a file are skipped. Returns the number of images written."""
    if video.path is None or not video.path.exists():
        return 0
    import cv2

    from halgui.core.video import open_video

    wanted = sorted({f for f in frames if 0 <= f < video.n_frames})
    dest.mkdir(parents=True, exist_ok=True)
    ext = Path(name).suffix or ".jpg"
    with open_video(video.path, sequential=True) as reader:
        for i, frame in enumerate(wanted):
            if cancel is not None:
                cancel.check()
            if i % 25 == 0:
                yield Progress("writing images", i, len(wanted), video.name)
            ok, data = cv2.imencode(ext, reader.read(frame)[:, :, ::-1])
            if not ok:
                raise OSError(f"could not encode frame {frame} of {video.name} as {ext}")
            (dest / (name % (frame + first))).write_bytes(data.tobytes())
    yield Progress("writing images", len(wanted), len(wanted), video.name)
    return len(wanted)


__all__ = [
    "MAX_INT",
    "Shape",
    "check_source",
    "export_keyframes",
    "format_ranges",
    "labeled_frames",
    "lines_of",
    "num",
    "parse_ranges",
    "ranges",
    "read_text",
    "relative_path",
    "split_of",
    "to_float",
    "to_int",
    "track_shapes",
    "write_frames",
]
