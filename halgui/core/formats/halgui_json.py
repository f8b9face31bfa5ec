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
import tempfile
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from halgui.core.annotations import Keyframe, clip_box
from halgui.core.errors import BoxError, FormatError, VideoError
from halgui.core.progress import CancelFlag, Progress
from halgui.core.project import SPLITS, LabelSnapshot, Project
from halgui.core.video import fingerprint, probe

FORMAT = "halgui"
VERSION = 1


@dataclass(frozen=True)
class ParsedTrack:
    actor: int
    class_name: str
    keyframes: tuple[Keyframe, ...]


@dataclass(frozen=True)
class ParsedVideo:
    name: str
    path: Path | None
    width: int
    height: int
    fps: float
    n_frames: int
    split: str
    labeled: tuple[int, ...]
    tracks: tuple[ParsedTrack, ...]


@dataclass(frozen=True)
class ImportSummary:
    videos: int
    linked: int
    tracks: int
    keyframes: int
    labeled_frames: int


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

    def _join(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def str(self) -> str:
        if not isinstance(self.value, str) or not self.value.strip():
            raise self.fail("expected a non-empty string")
        return self.value

    def int(self, minimum: int = 0) -> int:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise self.fail("expected a whole number")
        if self.value < minimum:
            raise self.fail(f"must be at least {minimum}, got {self.value}")
        return self.value

    def number(self) -> float:
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)):
            raise self.fail("expected a number")
        if not math.isfinite(self.value):
            raise self.fail("expected a finite number")
        return float(self.value)


def parse(path: str | Path) -> tuple[list[tuple[str, str]], list[ParsedVideo]]:
    """Read and check a halgui JSON file: ``(classes as (name, colour), videos)``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FormatError(path, f"cannot be read ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise FormatError(path, "is not UTF-8 text") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(path, f"line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc
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
    labeled: set[int] = set()
    for r in v.get("labeled_frames", []).items():
        bounds = r.items()
        if len(bounds) != 2:
            raise r.fail("expected an inclusive range [first, last]")
        first, last = bounds[0].int(), bounds[1].int()
        if last < first or last >= n_frames:
            raise r.fail(f"range [{first}, {last}] is not inside the video's {n_frames} frames")
        labeled.update(range(first, last + 1))
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
def import_file(
    project: Project, path: str | Path, cancel: CancelFlag | None = None
) -> Generator[Progress, None, ImportSummary]:
    """Import a halgui JSON file into a project, all or nothing.

    Videos whose file exists (path relative to the JSON file) are probed and must agree with the
    file's size and frame count; videos without a file are added annotation-only and can be
    linked later. A video name already in the project is refused.
    """
    path = Path(path)
    yield Progress("reading", 0, 1, path.name)
    classes, videos = parse(path)
    for video in videos:
        if project.video_by_name(video.name) is not None:
            raise FormatError(path, f"video {video.name!r} is already in the project")
    files: dict[str, tuple[int, str]] = {}
    for i, video in enumerate(videos):
        if cancel is not None:
            cancel.check()
        yield Progress("checking videos", i, len(videos), video.name)
        if video.path is not None and video.path.exists():
            files[video.name] = _check_file(path, video)
    linked = tracks = keyframes = labeled = 0
    with project.transaction():
        class_ids = {c.name: c.id for c in project.classes()}
        for name, color in classes:
            if name not in class_ids:
                class_ids[name] = project.add_class(name, color or None)
        for i, video in enumerate(videos):
            if cancel is not None:
                cancel.check()  # raising here rolls the whole import back
            if i % 20 == 0:
                yield Progress("importing", i, len(videos), video.name)
            size, digest = files.get(video.name, (None, None))
            video_id = project.add_video(
                video.name, path=video.path if video.name in files else None,
                width=video.width, height=video.height, fps=video.fps, n_frames=video.n_frames,
                size=size, hash=digest, split=video.split,
            )
            linked += video.name in files
            for track in video.tracks:
                track_id = project.add_track(video_id, class_ids[track.class_name],
                                             track.actor or None)
                project.set_keyframes(track_id, track.keyframes)
                keyframes += sum(not k.outside for k in track.keyframes)
            tracks += len(video.tracks)
            project.set_labeled(video_id, video.labeled)
            labeled += len(video.labeled)
    yield Progress("importing", len(videos), len(videos))
    return ImportSummary(len(videos), linked, tracks, keyframes, labeled)


def _check_file(source: Path, video: ParsedVideo) -> tuple[int, str]:
    assert video.path is not None
    info = probe(video.path)
    if (info.width, info.height) != (video.width, video.height):
        raise VideoError(video.path, f"is {info.width}x{info.height}, but {source.name} says "
                                     f"{video.width}x{video.height}")
    if info.n_frames != video.n_frames:
        raise VideoError(video.path, f"has {info.n_frames} frames, but {source.name} says "
                                     f"{video.n_frames}")
    return fingerprint(video.path)


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


def export_file(snapshot: LabelSnapshot, out: str | Path, *, split: str | None = None) -> Path:
    """Write a snapshot as halgui JSON atomically (temp file in the same folder, then rename)."""
    out = Path(out).resolve()
    document = to_dict(snapshot, out.parent, split=split)
    write_json_atomic(out, document)
    return out


def write_json_atomic(out: Path, document: dict[str, Any]) -> None:
    """Write JSON next to ``out`` and rename it over ``out`` only once fully written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(document, f, separators=(",", ":"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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


__all__ = ["ImportSummary", "export_file", "import_file", "parse", "to_dict"]
