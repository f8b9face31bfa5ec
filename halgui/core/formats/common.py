"""What every format shares: the parsed form of labels, the one-transaction writer, export
options, and atomic output.

An importer parses its file into :class:`ParsedVideo` objects (checking everything and naming
the line or field of any problem) and hands them to :func:`write_labels`, which checks what every
format must hold (names, numbers, no repeated track) and writes them in one transaction: a file
that fails anywhere changes nothing; JSON is read through :class:`Field`, which names where a
wrong value sits. An exporter reads a :class:`~halgui.core.project.LabelSnapshot`, starts from
an :class:`ExportJob` (the chosen videos and their safe names), loops with :func:`each_video`
(cancel and progress) and writes through :func:`export_target`, the one place that decides
where an export may write: it never deletes or replaces a file the export does not write
itself, and a failed export leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import tempfile
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from halgui.core.annotations import Keyframe
from halgui.core.errors import FormatError, VideoError
from halgui.core.formats.target import (
    ExportError,
    ExportExists,
    Kind,
    check_export_target,
    export_target,
    write_file_atomic,
)
from halgui.core.names import name_problem
from halgui.core.progress import CancelFlag, Progress, run_to_end
from halgui.core.project import LabelSnapshot, Project, VideoRecord
from halgui.core.video import fingerprint, probe

#: Largest frame count an importer accepts (fits SQLite and C ints).
MAX_FRAMES = 2**31 - 1
#: Largest frame side and frame rate an importer accepts: beyond any real video, and small
#: enough that every later computation on them (areas, timestamps) stays exact.
MAX_SIDE = 65535
MAX_FPS = 1000.0


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


# ---------------------------------------------------------------------- reading JSON
class Field:
    """Reads one JSON value and names where it sits when it is wrong (every JSON reader: the
    halgui file, COCO, and the MOT and YOLO sidecars)."""

    def __init__(self, source: Path, where: str, value: Any) -> None:
        self.source, self.where, self.value = source, where, value

    @classmethod
    def sidecar(cls, source: Path, text: str, name: str, version: int = 1) -> Field:
        """The top level of one of halgui's sidecar files (JSON ``text`` read from ``source``),
        its ``format`` and ``version`` checked: a sidecar of another format, or of a newer
        halgui, is refused rather than half understood."""
        root = cls(source, "", parse_json(source, text))
        if root.get("format", None).value != name:
            raise root.fail(f"'format' must be {name!r}")
        if root.get("version").int() > version:
            raise root.get("version").fail(f"is newer than this halgui reads ({version})")
        return root

    def fail(self, problem: str) -> FormatError:
        return FormatError(self.source, f"{self.where or 'top level'}: {problem}")

    def get(self, key: str, default: Any = ...) -> Field:
        if not isinstance(self.value, dict):
            raise self.fail("expected an object")
        if key not in self.value:
            if default is ...:
                raise self.fail(f"missing field {key!r}")
            return Field(self.source, self._join(key), default)
        return Field(self.source, self._join(key), self.value[key])

    def items(self) -> list[Field]:
        if not isinstance(self.value, list):
            raise self.fail("expected a list")
        return [Field(self.source, f"{self.where}[{i}]", v) for i, v in enumerate(self.value)]

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


# ---------------------------------------------------------------------- export
@dataclass(frozen=True)
class ExportOptions:
    """Choices of an export, shared by every format."""

    split: str | None = None          # only this split (None: all videos)
    pseudo_labels: bool = False       # also write interpolated boxes (marked where possible)
    human_only: bool = False          # leave out imported and model-accepted keyframes
    keyframe_rate: float = 1.0        # AVA: keyframes per second
    write_images: bool = False        # formats that can reference frames: extract them too
    overwrite: bool = False           # OUT may exist: replace the files this export writes


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote, and which videos it left out and why (formats that need every
    frame labeled skip the others)."""

    path: Path
    videos: int
    skipped: tuple[str, ...] = ()
    skipped_because: str = ""

    def describe(self, names: int = 5) -> str:
        """One line for a person: ``wrote OUT (3 videos; skipped 2 (why): a, b)``."""
        text = f"wrote {self.path} ({self.videos} video{'s' * (self.videos != 1)}"
        if self.skipped:
            shown = ", ".join(self.skipped[:names])
            more = f" and {len(self.skipped) - names} more" if len(self.skipped) > names else ""
            text += f"; skipped {len(self.skipped)} ({self.skipped_because}): {shown}{more}"
        return text + ")"


def chosen_videos(snapshot: LabelSnapshot, split: str | None) -> list[VideoRecord]:
    """The videos an export covers: all, or those of ``split``."""
    return [v for v in snapshot.videos if split is None or v.split == split]


def safe_names(names: Iterable[str]) -> dict[str, str]:
    """A file-system-safe, unique (also ignoring case) file or folder stem for each name."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "video"
        stem = stem[:100]
        candidate, n = stem, 1
        while candidate.lower() in taken:
            n += 1
            candidate = f"{stem}_{n}"
        taken.add(candidate.lower())
        out[name] = candidate
    return out


def each_video(videos: Sequence[VideoRecord], cancel: CancelFlag | None = None,
               stage: str = "exporting") -> Iterator[tuple[Progress, VideoRecord]]:
    """Each video with the progress to report before writing it, the cancel flag checked first:
    the loop every export runs, so that each one can be cancelled between videos."""
    for i, video in enumerate(videos):
        if cancel is not None:
            cancel.check()
        yield Progress(stage, i, len(videos), video.name), video


@dataclass(frozen=True)
class ExportJob:
    """Where every per-video export starts: its options, the absolute ``OUT``, the chosen
    videos and a safe, unique file or folder name for each."""

    out: Path
    options: ExportOptions
    videos: tuple[VideoRecord, ...]
    names: dict[str, str]  # video name -> safe file or folder stem

    @classmethod
    def start(cls, snapshot: LabelSnapshot, out: str | Path,
              options: ExportOptions | None) -> ExportJob:
        options = options or ExportOptions()
        videos = chosen_videos(snapshot, options.split)
        return cls(Path(out).resolve(), options, tuple(videos),
                   safe_names(v.name for v in videos))

    def target(self, kind: Kind) -> AbstractContextManager[Path]:
        """The temporary place to write into (see :func:`export_target`)."""
        return export_target(self.out, kind, self.options.overwrite)

    def done(self) -> Generator[Progress, None, ExportSummary]:
        """The last progress step and the summary: every chosen video written."""
        yield Progress("exporting", len(self.videos), len(self.videos))
        return ExportSummary(self.out, len(self.videos))


# ---------------------------------------------------------------------- import
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
    count, otherwise it is added annotation-only, to be linked later. Before anything is written,
    :func:`check_parsed` checks what every format must hold.
    """
    check_parsed(source, classes, videos)
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


# ---------------------------------------------------------------------- checks for every format
def check_parsed(source: Path, classes: Sequence[tuple[str, str]],
                 videos: Sequence[ParsedVideo]) -> None:
    """Refuse, naming ``source``, what no format may bring in: a class or video name with a
    control character (MOT and YOLO write one class per line, so a newline would shift every
    class after it), a frame count, size or rate beyond any real video (or not a number at all),
    and a track given twice in one video: the same actor, class and visible keyframes (its boxes
    would count twice). A repeated track is refused rather than merged, so that a file that
    means something else is not silently changed."""
    for name, _ in classes:
        _check_name(source, "class", name)
    for video in videos:
        _check_name(source, "video", video.name)
        _check_numbers(source, video)
        seen: set[tuple[Any, ...]] = set()
        for track in video.tracks:
            _check_name(source, "class", track.class_name)
            key = (track.actor, track.class_name,  # the boxes it draws: its visible keyframes
                   tuple(sorted((k.frame, k.box.as_tuple()) for k in track.keyframes
                                if not k.outside)))
            if key in seen:
                actor = f"actor {track.actor}" if track.actor else "a track without actor"
                raise FormatError(source, f"video {video.name!r}: {actor} has the same "
                                          f"{track.class_name!r} track twice; refused (not "
                                          "merged): remove the repeated track")
            seen.add(key)


def _check_name(source: Path, kind: str, name: str) -> None:
    problem = name_problem(name)
    if problem is not None:
        raise FormatError(source, f"{kind} {problem}")


def _whole(value: object, lo: int, hi: int) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) and lo <= value <= hi


def _check_numbers(source: Path, video: ParsedVideo) -> None:
    where = f"video {video.name!r}"
    if not _whole(video.n_frames, 1, MAX_FRAMES):
        raise FormatError(source, f"{where}: frame count {video.n_frames!r} is not a whole "
                                  f"number in 1..{MAX_FRAMES}")
    for what, side in (("width", video.width), ("height", video.height)):
        if not _whole(side, 1, MAX_SIDE):
            raise FormatError(source, f"{where}: {what} {side!r} is not a whole number in "
                                      f"1..{MAX_SIDE}")
    fps = video.fps
    if (isinstance(fps, bool) or not isinstance(fps, (int, float)) or not math.isfinite(fps)
            or not 0 < fps <= MAX_FPS):
        raise FormatError(source, f"{where}: frame rate {fps!r} is not a number in "
                                  f"(0, {MAX_FPS:g}]")


def input_files(path: Path, patterns: Sequence[str], what: str) -> list[Path]:
    """The files an import reads: ``path`` itself, or in a folder the files of the first
    pattern that finds any (a FormatError naming ``what`` when none does)."""
    if not path.is_dir():
        return [path]
    for pattern in patterns:
        found = sorted(path.glob(pattern))
        if found:
            return found
    raise FormatError(path, f"holds no {what}")


def parse_json(path: Path, text: str) -> Any:
    """JSON text read from ``path``; every way it can fail is a FormatError naming the file
    (a number of thousands of digits is a ValueError, deep nesting a RecursionError)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(path, f"line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc
    except ValueError as exc:
        raise FormatError(path, "holds a number too long to read (thousands of digits)") from exc
    except RecursionError as exc:
        raise FormatError(path, "is nested too deeply to read") from exc


def files_written(module: ModuleType, snapshot: LabelSnapshot, options: ExportOptions,
                  cancel: CancelFlag | None = None) -> list[str]:
    """The files (relative paths) an export of ``snapshot`` with ``module`` writes, found by
    writing it to a temporary folder without frame images: what a dialog names before it asks
    to overwrite. A one-file format gives ``[""]`` (the file itself)."""
    dry = dataclasses.replace(options, write_images=False, overwrite=False)
    with tempfile.TemporaryDirectory(prefix="halgui-preview-") as folder:
        out = Path(folder) / "out"
        run_to_end(module.export_labels(snapshot, out, dry, cancel))
        if out.is_file():
            return [""]
        return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())


def write_json_atomic(out: Path, document: dict[str, Any]) -> None:
    """Write JSON next to ``out`` and rename it over ``out`` only once fully written (for
    outputs that are meant to be replaced, such as predictions)."""
    text = json.dumps(document, separators=(",", ":"))
    write_file_atomic(Path(out), text.encode("utf-8"))


__all__ = [
    "MAX_FPS",
    "MAX_FRAMES",
    "MAX_SIDE",
    "ExportError",
    "ExportExists",
    "ExportJob",
    "ExportOptions",
    "ExportSummary",
    "Field",
    "ImportSummary",
    "Kind",
    "ParsedTrack",
    "ParsedVideo",
    "check_export_target",
    "check_file",
    "check_parsed",
    "chosen_videos",
    "each_video",
    "export_target",
    "files_written",
    "import_parsed",
    "input_files",
    "parse_json",
    "safe_names",
    "write_file_atomic",
    "write_json_atomic",
    "write_labels",
]
