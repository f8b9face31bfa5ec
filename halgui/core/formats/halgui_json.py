"""halgui's native label format: one JSON file of videos, classes, tracks and keyframes.

The schema (``"format": "halgui", "version": 1``) is documented in ``docs/formats/halgui.md``;
SynthActions writes its ground truth in it. Import parses and checks the whole file before it
writes anything, then writes in one transaction, so a malformed file changes nothing and the
error names the JSON field at fault (``videos[3].tracks[0].keyframes[12].box``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Generator
from pathlib import Path
from typing import Any

from halgui.core.annotations import Keyframe, clip_box
from halgui.core.errors import BoxError, FormatError
from halgui.core.formats import _frames as fr
from halgui.core.formats.common import (
    ExportOptions,
    ExportSummary,
    Field,
    ImportSummary,
    Kind,
    ParsedTrack,
    ParsedVideo,
    chosen_videos,
    export_target,
    import_parsed,
    parse_json,
)
from halgui.core.progress import CancelFlag, Progress
from halgui.core.project import SPLITS, LabelSnapshot, Project

FORMAT = "halgui"
VERSION = 1
TARGET: Kind = "file"
SUFFIX = ".json"


# ---------------------------------------------------------------------- parsing
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
    root = Field(path, "", data)
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


def _parse_video(v: Field, base: Path, class_names: set[str]) -> ParsedVideo:
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
    for video in chosen_videos(snapshot, split):
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
            "labeled_frames": fr.ranges(snapshot.labeled.get(video.id, ())),
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
    return ExportSummary(path, len(chosen_videos(snapshot, options.split)))


def _keyframe_dict(k: Keyframe) -> dict[str, Any]:
    d: dict[str, Any] = {"frame": k.frame, "box": [round(v, 3) for v in k.box.as_tuple()]}
    if k.outside:
        d["outside"] = True
    d["source"] = k.source
    return d


__all__ = ["export_file", "export_labels", "import_labels", "parse", "to_dict"]
