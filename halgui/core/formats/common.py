"""What every format shares: the parsed form of labels, the one-transaction writer, export
options, and atomic output.

An importer parses its file into :class:`ParsedVideo` objects (checking everything and naming
the line or field of any problem) and hands them to :func:`write_labels`, which writes them in
one transaction: a file that fails anywhere changes nothing. An exporter reads a
:class:`~halgui.core.project.LabelSnapshot` and writes through :func:`atomic_path` or
:func:`write_json_atomic`, so a failed export never leaves a half-written file.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from halgui.core.annotations import Keyframe
from halgui.core.errors import FormatError, VideoError
from halgui.core.progress import CancelFlag, Progress
from halgui.core.project import Project
from halgui.core.video import fingerprint, probe


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



@dataclass(frozen=True)
class ExportOptions:
    """Choices of an export, shared by every format."""

    split: str | None = None          # only this split (None: all videos)
    pseudo_labels: bool = False       # also write interpolated boxes (marked where possible)
    human_only: bool = False          # leave out imported and model-accepted keyframes
    keyframe_rate: float = 1.0        # AVA: keyframes per second
    write_images: bool = False        # formats that can reference frames: extract them too


def import_parsed(
    parse: Callable[[Path], tuple[Sequence[tuple[str, str]], Sequence[ParsedVideo]]],
    project: Project, path: str | Path, cancel: CancelFlag | None = None,
) -> Generator[Progress, None, ImportSummary]:
    """What every format's ``import_labels`` does: parse the whole file, then write it in
    one transaction."""
    path = Path(path)
    yield Progress("reading", 0, 1, path.name)
    classes, videos = parse(path)
    return (yield from write_labels(project, path, classes, videos, cancel))


def write_labels(
    project: Project, source: Path, classes: Sequence[tuple[str, str]],
    videos: Sequence[ParsedVideo], cancel: CancelFlag | None = None,
) -> Generator[Progress, None, ImportSummary]:
    """Write parsed labels into a project in one transaction (all or nothing).

    Classes are matched by name (new ones added); a video name already in the project is
    refused; a video whose file exists is probed and must agree with the labels' frame size and
    count, otherwise it is added annotation-only, to be linked later.
    """
    for video in videos:
        if project.video_by_name(video.name) is not None:
            raise FormatError(source, f"video {video.name!r} is already in the project")
    files: dict[str, tuple[int, str]] = {}
    for i, video in enumerate(videos):
        if cancel is not None:
            cancel.check()
        yield Progress("checking videos", i, len(videos), video.name)
        if video.path is not None and video.path.exists():
            files[video.name] = check_file(source, video)
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
                if track.class_name not in class_ids:
                    class_ids[track.class_name] = project.add_class(track.class_name)
                track_id = project.add_track(video_id, class_ids[track.class_name],
                                             track.actor or None)
                project.set_keyframes(track_id, track.keyframes)
                keyframes += sum(not k.outside for k in track.keyframes)
            tracks += len(video.tracks)
            project.set_labeled(video_id, video.labeled)
            labeled += len(video.labeled)
    yield Progress("importing", len(videos), len(videos))
    return ImportSummary(len(videos), linked, tracks, keyframes, labeled)


def check_file(source: Path, video: ParsedVideo) -> tuple[int, str]:
    """Probe a video's file; it must match the labels' frame size and count."""
    assert video.path is not None
    info = probe(video.path)
    if (info.width, info.height) != (video.width, video.height):
        raise VideoError(video.path, f"is {info.width}x{info.height}, but {source.name} says "
                                     f"{video.width}x{video.height}")
    if info.n_frames != video.n_frames:
        raise VideoError(video.path, f"has {info.n_frames} frames, but {source.name} says "
                                     f"{video.n_frames}")
    return fingerprint(video.path)


@contextmanager
def atomic_path(out: str | Path) -> Iterator[Path]:
    """A temporary path beside ``out`` (file or folder) that replaces ``out`` only when the
    block ends without an error; otherwise it is removed and ``out`` is untouched."""
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    target = tmp / out.name
    try:
        yield target
        if out.is_dir() and target.is_dir():
            old = out.with_name(f".{out.name}.old")
            os.replace(out, old)
            os.replace(target, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(target, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_json_atomic(out: Path, document: dict[str, Any]) -> None:
    """Write JSON next to ``out`` and rename it over ``out`` only once fully written."""
    with atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(document, f, separators=(",", ":"))
        f.flush()
        os.fsync(f.fileno())
