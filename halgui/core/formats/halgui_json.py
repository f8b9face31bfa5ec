"""halgui's native label format: one JSON file of videos, classes, tracks and keyframes.

The schema (``"format": "halgui", "version": 1``) is documented in ``docs/formats/halgui.md``;
SynthActions writes its ground truth in it. Import parses and checks the whole file before it
writes anything, then writes in one transaction, so a malformed file changes nothing and the
error names the JSON field at fault (``videos[3].tracks[0].keyframes[12].box``).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Generator
from pathlib import Path
from typing import Any

from halgui.core.annotations import Keyframe, clip_box
from halgui.core.errors import BoxError, FormatError
from halgui.core.formats.common import (
    MAX_FRAMES,
    ExportOptions,
    ExportSummary,
    ImportSummary,
    Kind,
    ParsedTrack,
    ParsedVideo,
    export_target,
    import_parsed,
    parse_json,
    write_json_atomic,  # predictions are written with it
)
from halgui.core.progress import CancelFlag, Progress
from halgui.core.project import SPLITS, LabelSnapshot, Project

FORMAT = "halgui"
VERSION = 1
TARGET: Kind = "file"
SUFFIX = ".json"


# ---------------------------------------------------------------------- parsing
class _Field:
    """Reads one JSON value and names where it sits when it is wrong."""

    def __init__(self, source: Path, where: str, value: Any) -> None:
        self.source, self.where, self.value = source, where, value

    def fail(self, problem: str) -> FormatError:
        return FormatError(self.source, f"{self.where or 'top level'}: {problem}")

    def get(self, key: str, default: Any = ...) -> _Field:
        if not isinstance(self.value, dict):
            raise self.fail("expected an object")
        if key not in self.value:
            if default is ...:
                raise self.fail(f"missing field {key!r}")
            return _Field(self.source, self._join(key), default)
        return _Field(self.source, self._join(key), self.value[key])

    def items(self) -> list[_Field]:
        if not isinstance(self.value, list):
            raise self.fail("expected a list")
        return [_Field(self.source, f"{self.where}[{i}]", v) for i, v in enumerate(self.value)]

    def frame_ranges(self, n_frames: int, base: int = 0) -> set[int]:
        """A list of inclusive ``[first, last]`` frame ranges (numbered from ``base``), as the
        0-based frames they cover."""
        frames: set[int] = set()
        for r in self.items():
            bounds = r.items()
            if len(bounds) != 2:
                raise r.fail("expected an inclusive range [first, last]")
            first, last = bounds[0].int(base), bounds[1].int(base)
            if last < first or last > n_frames - 1 + base:
                raise r.fail(f"range [{first}, {last}] is not inside frames "
                             f"{base}..{n_frames - 1 + base}")
            frames.update(range(first - base, last - base + 1))
        return frames

    def _join(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def str(self) -> str:
        if not isinstance(self.value, str) or not self.value.strip():
            raise self.fail("expected a non-empty string")
        return self.value

    def int(self, minimum: int = 0, maximum: int = MAX_FRAMES) -> int:
        """A whole number in ``[minimum, maximum]`` (the default bound fits SQLite and C)."""
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise self.fail("expected a whole number")
        if self.value < minimum:
            raise self.fail(f"must be at least {minimum}, got {self.value}")
        if self.value > maximum:
            raise self.fail(f"must be at most {maximum}, got {_short(self.value)}")
        return self.value

    def number(self) -> float:
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)):
            raise self.fail("expected a number")
        if not math.isfinite(self.value):
            raise self.fail("expected a finite number")
        return float(self.value)


def _short(value: int) -> str:
    text = str(value)
    return text if len(text) <= 20 else f"a number of {len(text)} digits"


def parse(path: str | Path) -> tuple[list[tuple[str, str]], list[ParsedVideo]]:
    """Read and check a halgui JSON file: ``(classes as (name, colour), videos)``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FormatError(path, f"cannot be read ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise FormatError(path, "is not UTF-8 text") from exc
    data = parse_json(path, text)
    root = _Field(path, "", data)
    if root.get("format", None).value != FORMAT:
        raise root.fail(f"'format' must be {FORMAT!r} (is this a halgui label file?)")
    version = root.get("version").int()
    if version > VERSION:
        raise root.fail(f"version {version} is newer than this halgui reads ({VERSION})")

    classes: list[tuple[str, str]] = []
    for c in root.get("classes").items():
        color = c.get("color", "")
        classes.append((c.get("name").str(), color.value if isinstance(color.value, str) else ""))
    class_names = {name for name, _ in classes}
    if len(class_names) != len(classes):
        raise root.get("classes").fail("class names must be unique")

    videos: list[ParsedVideo] = []
    names: set[str] = set()
    for v in root.get("videos").items():
        video = _parse_video(v, path.parent, class_names)
        if video.name in names:
            raise v.get("name").fail(f"video name {video.name!r} appears twice")
        names.add(video.name)
        videos.append(video)
    return classes, videos


def _parse_video(v: _Field, base: Path, class_names: set[str]) -> ParsedVideo:
    name = v.get("name").str()
    raw_path = v.get("path", None)
    path = None if raw_path.value is None else (base / raw_path.str()).resolve()
    width, height = v.get("width").int(1), v.get("height").int(1)
    n_frames = v.get("n_frames").int(1)
    fps_field = v.get("fps", 25.0)
    fps = fps_field.number()
    if fps <= 0:
        raise fps_field.fail("must be positive")
    split_field = v.get("split", "train")
    if split_field.value not in SPLITS:
        raise split_field.fail(f"must be one of {', '.join(SPLITS)}")
    labeled = v.get("labeled_frames", []).frame_ranges(n_frames)
    tracks = []
    for t in v.get("tracks", []).items():
        class_field = t.get("class")
        if class_field.str() not in class_names:
            raise class_field.fail(f"class {class_field.value!r} is not in 'classes'")
        keyframes = []
        seen: set[int] = set()
        for k in t.get("keyframes").items():
            frame = k.get("frame").int()
            if frame >= n_frames:
                raise k.get("frame").fail(f"frame {frame} is past the video's {n_frames} frames")
            if frame in seen:
                raise k.get("frame").fail(f"frame {frame} has two keyframes in one track")
            seen.add(frame)
            box_field = k.get("box")
            coords = [c.number() for c in box_field.items()]
            if len(coords) != 4:
                raise box_field.fail("expected [x1, y1, x2, y2]")
            try:
                box = clip_box(coords, width, height)
            except BoxError as exc:
                raise box_field.fail(str(exc)) from exc
            outside = k.get("outside", False).value
            if not isinstance(outside, bool):
                raise k.get("outside").fail("expected true or false")
            source = k.get("source", "imported").value
            try:
                keyframes.append(Keyframe(frame, box, outside, source))
            except BoxError as exc:
                raise k.fail(str(exc)) from exc
        tracks.append(ParsedTrack(t.get("actor", 0).int(), class_field.value, tuple(keyframes)))
    return ParsedVideo(name, path, width, height, fps, n_frames, split_field.value,
                       tuple(sorted(labeled)), tuple(tracks))


# ---------------------------------------------------------------------- import
def import_labels(
    project: Project, path: str | Path, cancel: CancelFlag | None = None
) -> Generator[Progress, None, ImportSummary]:
    """Import a halgui JSON file into a project, all or nothing.

    Videos whose file exists (path relative to the JSON file) are probed and must agree with the
    file's size and frame count; videos without a file are added annotation-only and can be
    linked later. A video name already in the project is refused.
    """
    return (yield from import_parsed(parse, project, path, cancel))


# ---------------------------------------------------------------------- export
def to_dict(snapshot: LabelSnapshot, base: Path, *, split: str | None = None) -> dict[str, Any]:
    """The labels of a snapshot as a halgui JSON document; video paths relative to ``base``."""
    class_names = {c.id: c.name for c in snapshot.classes}
    videos = []
    for video in snapshot.videos:
        if split is not None and video.split != split:
            continue
        tracks = [
            {
                "actor": t.actor,
                "class": class_names[t.class_id],
                "keyframes": [_keyframe_dict(k) for k in t.keyframes],
            }
            for t in snapshot.tracks.get(video.id, ())
        ]
        videos.append({
            "name": video.name,
            "path": None if video.path is None else os.path.relpath(video.path, base),
            "width": video.width, "height": video.height, "fps": video.fps,
            "n_frames": video.n_frames, "split": video.split,
            "labeled_frames": _ranges(snapshot.labeled.get(video.id, frozenset())),
            "tracks": tracks,
        })
    return {
        "format": FORMAT,
        "version": VERSION,
        "classes": [{"name": c.name, "color": c.color} for c in snapshot.classes],
        "videos": videos,
    }


def export_file(snapshot: LabelSnapshot, out: str | Path, *, split: str | None = None,
                overwrite: bool = False) -> Path:
    """Write a snapshot as halgui JSON atomically (temp file in the same folder, then rename);
    an existing ``out`` is refused unless ``overwrite`` (see :mod:`.target`)."""
    out = Path(out).expanduser().resolve()
    text = json.dumps(to_dict(snapshot, out.parent, split=split), separators=(",", ":"))
    with export_target(out, TARGET, overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return out


def export_labels(
    snapshot: LabelSnapshot, out: str | Path, options: ExportOptions | None = None,
    cancel: CancelFlag | None = None,
) -> Generator[Progress, None, ExportSummary]:
    """The registry's export entry point. ``OUT`` is the JSON file; pseudo-labels are not
    written (the format keeps keyframes, from which they are recomputed)."""
    options = options or ExportOptions()
    yield Progress("exporting", 0, 1)
    path = export_file(snapshot, out, split=options.split, overwrite=options.overwrite)
    yield Progress("exporting", 1, 1)
    return ExportSummary(path, sum(options.split in (None, v.split) for v in snapshot.videos))


def _keyframe_dict(k: Keyframe) -> dict[str, Any]:
    d: dict[str, Any] = {"frame": k.frame, "box": [round(v, 3) for v in k.box.as_tuple()]}
    if k.outside:
        d["outside"] = True
    d["source"] = k.source
    return d


def _ranges(frames: frozenset[int]) -> list[list[int]]:
    """Sorted frames as inclusive ``[first, last]`` runs."""
    runs: list[list[int]] = []
    for f in sorted(frames):
        if runs and f == runs[-1][1] + 1:
            runs[-1][1] = f
        else:
            runs.append([f, f])
    return runs


__all__ = ["export_file", "export_labels", "import_labels", "parse", "to_dict",
           "write_json_atomic"]
