"""The AVA CSV family: ground truth CSV, label map pbtxt, excluded timestamps (``--format ava``).

An export (``OUT`` is a folder) writes, for each split that has videos:

- ``ava_{split}_v2.2.csv``: ``video_id,%04d timestamp,x1,y1,x2,y2,action_id,person_id``, one row
  per (person box, action) on the keyframes at the chosen rate; coordinates normalised to [0, 1]
  with 3 decimals (identical boxes give identical strings); ``action_id`` is the class's id in
  the label map (1-based, project class order); ``person_id`` is the track's actor, so that the
  rows of one person doing two actions (two tracks of one actor) share it. Only real keyframes
  are written: interpolated boxes never are.
- ``ava_{split}_excluded_timestamps_v2.2.csv``: ``video_id,timestamp`` of every keyframe
  timestamp on a frame not marked labeled (not ground truth; evaluators and loaders skip it).
- with ``pseudo_labels``: ``ava_{split}_pseudo_labels_v2.2.csv``, same columns, the interpolated
  boxes of tracks at keyframe timestamps where they have no keyframe (extra training keyframes,
  flagged as such by living in their own file and in the sidecar).

and ``ava_action_list_v2.2.pbtxt`` (``item { name: "..." id: N }``, two-space indentation), and
``halgui_ava.json``, the sidecar: keyframe rate, ``timestamp_start`` (0), each video's frame size,
rate, frame count and split. Timestamp ``T`` is frame ``floor((T - timestamp_start) * fps /
keyframe_rate + 0.5)`` (0-based); at the default 1 Hz timestamps are seconds from the video's
start.

An import reads a CSV, or an export folder (every CSV its sidecar lists), with the label map and
excluded-timestamps file beside it. Each (video, person, action) becomes a track (actor = person
id, shifted to start at 1 when a video has ids <= 0) with a keyframe per row (source
``imported``). Labeled frames are the keyframe timestamps that are not excluded: with the
sidecar every timestamp of the video, without it the timestamps that have rows. A person
missing at a labeled timestamp between two of their rows is gone there: an ``outside`` keyframe.
Without the sidecar a video's size and rate come from its file, ``<id>.<ext>`` beside the CSV
or in ``videos/`` beside it or its parent, which is then linked. See docs/formats/ava.md.
"""

from __future__ import annotations

import bisect
import json
import math
import re
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from halgui.core.annotations import Box, Keyframe, clip_box, track_boxes
from halgui.core.errors import BoxError, FormatError
from halgui.core.formats import safe_pickle
from halgui.core.formats.common import (
    ExportOptions,
    ExportSummary,
    ImportSummary,
    Kind,
    ParsedTrack,
    ParsedVideo,
    chosen_videos,
    each_video,
    export_target,
    import_parsed,
)
from halgui.core.formats.ucf24 import read_json, sidecar_video
from halgui.core.progress import CancelFlag, Progress
from halgui.core.project import SPLITS, LabelSnapshot, Project
from halgui.core.video import probe

VERSION = "v2.2"
SIDECAR = "halgui_ava.json"
SIDECAR_FORMAT = "halgui-ava-sidecar"
LABEL_MAP = f"ava_action_list_{VERSION}.pbtxt"
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov")
MAX_ID = 2**31 - 1
TARGET: Kind = "folder"
_INT = re.compile(r"-?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def gt_name(split: str) -> str:
    return f"ava_{split}_{VERSION}.csv"


def excluded_name(csv_name: str) -> str:
    """``ava_val_v2.2.csv`` -> ``ava_val_excluded_timestamps_v2.2.csv``."""
    m = re.fullmatch(r"(.*)_(v[\d.]+)\.csv", csv_name)
    return (f"{m[1]}_excluded_timestamps_{m[2]}.csv" if m
            else f"{csv_name.removesuffix('.csv')}_excluded_timestamps.csv")


def pseudo_name(split: str) -> str:
    return f"ava_{split}_pseudo_labels_{VERSION}.csv"


def frame_of(timestamp: int, fps: float, rate: float, start: int = 0) -> int:
    """The 0-based frame of a keyframe timestamp (one formula for export and import), rounded
    half up: at 2 Hz and 25 fps timestamp 1 is frame 13."""
    return math.floor((timestamp - start) * fps / rate + 0.5)


def timestamps(n_frames: int, fps: float, rate: float, start: int = 0) -> list[tuple[int, int]]:
    """``(timestamp, frame)`` of every keyframe of a video at ``rate`` keyframes per second."""
    out = []
    k = 0
    while (f := frame_of(start + k, fps, rate, start)) < n_frames:
        out.append((start + k, f))
        k += 1
    return out


# ---------------------------------------------------------------------- export
def _norm_box(box: Box, width: int, height: int) -> str:
    """x1,y1,x2,y2 normalised, 3 decimals; a box never collapses to zero width by rounding."""
    def pair(a: float, b: float, size: int) -> tuple[int, int]:
        lo = min(max(round(a / size * 1000), 0), 1000)
        hi = min(max(round(b / size * 1000), 0), 1000)
        if hi <= lo:
            lo, hi = (999, 1000) if lo >= 1000 else (lo, lo + 1)
        return lo, hi

    (x1, x2), (y1, y2) = pair(box.x1, box.x2, width), pair(box.y1, box.y2, height)
    return ",".join(f"{v / 1000:.3f}" for v in (x1, y1, x2, y2))


def export_labels(
    snapshot: LabelSnapshot, out: str | Path, options: ExportOptions | None = None,
    cancel: CancelFlag | None = None,
) -> Generator[Progress, None, ExportSummary]:
    """Write ``OUT/`` (atomically): CSVs per split, label map, excluded timestamps, sidecar."""
    options = options or ExportOptions()
    out = Path(out)
    rate = float(options.keyframe_rate)
    if not (math.isfinite(rate) and rate > 0):
        raise FormatError(out, f"the keyframe rate must be a positive number, got {rate}")
    for c in snapshot.classes:
        if '"' in c.name or any(ord(ch) < 32 for ch in c.name):
            raise FormatError(out, f"class {c.name!r}: an AVA label map name cannot hold a "
                                   "double quote or a control character")
    action_of = {c.id: i + 1 for i, c in enumerate(snapshot.classes)}
    chosen = chosen_videos(snapshot, options.split)
    files: dict[str, dict[str, list[str]]] = {}
    meta: dict[str, dict[str, Any]] = {}
    for progress, video in each_video(chosen, cancel):
        yield progress
        if any(ch in video.name for ch in ',"') or any(ord(ch) < 32 for ch in video.name):
            raise FormatError(out, f"video {video.name!r}: an AVA video id cannot hold a comma,"
                                   " a double quote or a control character")
        if rate > video.fps:
            raise FormatError(out, f"video {video.name!r}: keyframe rate {rate:g}/s is above "
                                   f"its {video.fps:g} fps")
        times = timestamps(video.n_frames, video.fps, rate)
        labeled = snapshot.labeled.get(video.id, frozenset())
        split = files.setdefault(video.split, {"gt": [], "excluded": [], "pseudo": []})
        gt, pseudo = [], []
        for track in snapshot.tracks.get(video.id, ()):
            keyframes = [k for k in track.keyframes
                         if k.outside or not options.human_only or k.source == "human"]
            visible = {k.frame: k.box for k in keyframes if not k.outside}
            filled = track_boxes(keyframes, video.n_frames) if options.pseudo_labels else {}
            action = action_of[track.class_id]
            for t, f in times:
                if f in visible:
                    gt.append((t, track.actor, action, _norm_box(visible[f], video.width,
                                                                 video.height)))
                elif f in filled:
                    pseudo.append((t, track.actor, action,
                                   _norm_box(Box.of(filled[f]), video.width, video.height)))
        for rows, key in ((gt, "gt"), (pseudo, "pseudo")):
            split[key] += [f"{video.name},{t:04d},{box},{a},{p}" for t, p, a, box in sorted(rows)]
        split["excluded"] += [f"{video.name},{t:04d}" for t, f in times if f not in labeled]
        meta[video.name] = {"width": video.width, "height": video.height, "fps": video.fps,
                            "n_frames": video.n_frames, "split": video.split}
    sidecar = {
        "format": SIDECAR_FORMAT, "version": 1, "keyframe_rate": rate, "timestamp_start": 0,
        "frame_of_timestamp": "floor((timestamp - timestamp_start) * fps / keyframe_rate + 0.5)",
        "label_map": LABEL_MAP,
        "files": {s: {"csv": gt_name(s), "excluded": excluded_name(gt_name(s)),
                      "pseudo_labels": pseudo_name(s) if options.pseudo_labels else None}
                  for s in sorted(files)},
        "videos": meta,
    }
    yield Progress("writing", 0, 1)
    with export_target(out, TARGET, options.overwrite) as tmp:
        (tmp / LABEL_MAP).write_text("".join(
            f'item {{\n  name: "{c.name}"\n  id: {action_of[c.id]}\n}}\n'
            for c in snapshot.classes), encoding="utf-8")
        for s, lines in files.items():
            names = sidecar["files"][s]  # type: ignore[index]
            _write_lines(tmp / names["csv"], lines["gt"])
            _write_lines(tmp / names["excluded"], lines["excluded"])
            if options.pseudo_labels:
                _write_lines(tmp / names["pseudo_labels"], lines["pseudo"])
        (tmp / SIDECAR).write_text(json.dumps(sidecar, indent=1), encoding="utf-8")
    yield Progress("writing", 1, 1)
    return ExportSummary(out.resolve(), len(chosen))


def _write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


# ---------------------------------------------------------------------- import: files
@dataclass(frozen=True)
class _Row:
    line: int
    video: str
    timestamp: int
    box: tuple[float, float, float, float]
    action: int
    person: int


def _lines(path: Path) -> list[tuple[int, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FormatError(path, f"cannot be read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise FormatError(path, "is not UTF-8 text") from exc
    return [(n, line) for n, line in enumerate(text.removeprefix("\ufeff").splitlines(), 1)
            if line.strip()]


def _int(path: Path, n: int, what: str, value: str, low: int, high: int) -> int:
    value = value.strip()
    if not _INT.fullmatch(value) or not low <= int(value) <= high:
        raise FormatError(path, f"line {n}: {what} {value!r} is not a whole number in "
                                f"[{low}, {high}]")
    return int(value)


def _video_id(path: Path, n: int, value: str) -> str:
    name = value.strip()
    if not name or any(ord(ch) < 32 for ch in name):
        raise FormatError(path, f"line {n}: video id {value!r} is empty or holds a control "
                                "character")
    return name


def read_csv(path: Path) -> list[_Row]:
    """The rows of a ground-truth CSV (8 columns, normalised boxes)."""
    rows = []
    for n, line in _lines(path):
        cols = line.split(",")
        if len(cols) != 8:
            raise FormatError(path, f"line {n}: expected 8 columns (video_id, timestamp, x1, y1,"
                                    f" x2, y2, action_id, person_id), got {len(cols)}")
        coords = []
        for name, value in zip(("x1", "y1", "x2", "y2"), cols[2:6], strict=True):
            value = value.strip()
            if not _FLOAT.fullmatch(value) or not 0.0 <= float(value) <= 1.0:
                raise FormatError(path, f"line {n}: {name} {value!r} is not a number in [0, 1]")
            coords.append(float(value))
        if coords[2] <= coords[0] or coords[3] <= coords[1]:
            raise FormatError(path, f"line {n}: box {cols[2:6]} is empty (x2 <= x1 or y2 <= y1)")
        rows.append(_Row(n, _video_id(path, n, cols[0]),
                         _int(path, n, "timestamp", cols[1], 0, 10**7), tuple(coords),  # type: ignore[arg-type]
                         _int(path, n, "action_id", cols[6], 1, MAX_ID),
                         _int(path, n, "person_id", cols[7], -MAX_ID, MAX_ID)))
    return rows


def read_excluded(path: Path) -> set[tuple[str, int]]:
    """``(video_id, timestamp)`` pairs of an excluded-timestamps CSV (exactly 2 columns)."""
    if not path.is_file():
        return set()
    out = set()
    for n, line in _lines(path):
        cols = line.split(",")
        if len(cols) != 2:
            raise FormatError(path, f"line {n}: expected 2 columns (video_id, timestamp), got "
                                    f"{len(cols)}")
        out.add((_video_id(path, n, cols[0]), _int(path, n, "timestamp", cols[1], 0, 10**7)))
    return out


def read_labelmap(path: Path) -> dict[int, str]:
    """Label map ``id -> name`` by the reference parser's rules: only lines starting with exactly
    two spaces and ``name:`` (a quoted name), ``id:`` or ``label_id:`` count."""
    names: dict[int, str] = {}
    pending: str | None = None
    for n, line in _lines(path):
        if line.startswith("  name:"):
            parts = line.split('"')
            if len(parts) < 3:
                raise FormatError(path, f"line {n}: expected name: \"...\" (a quoted name)")
            pending = parts[1].strip()
            if not pending or any(ord(ch) < 32 for ch in pending):
                raise FormatError(path, f"line {n}: a class name must not be empty")
        elif line.startswith(("  id:", "  label_id:")):
            class_id = _int(path, n, "id", line.strip().split(" ")[-1], 1, MAX_ID)
            if pending is None:
                raise FormatError(path, f"line {n}: id {class_id} has no name before it")
            if class_id in names or pending in names.values():
                raise FormatError(path, f"line {n}: id {class_id} or name {pending!r} repeats")
            names[class_id], pending = pending, None
    if not names:
        raise FormatError(path, "holds no classes (item { name: \"...\" id: N })")
    return dict(sorted(names.items()))


@dataclass(frozen=True)
class _Sidecar:
    rate: float
    start: int
    label_map: str | None
    files: dict[str, tuple[str, str]]  # split -> (csv, excluded)
    videos: dict[str, dict[str, Any]]


def _read_sidecar(path: Path) -> _Sidecar | None:
    if not path.is_file():
        return None
    data = read_json(path)
    if not isinstance(data, dict) or data.get("format") != SIDECAR_FORMAT:
        raise FormatError(path, f"top level: 'format' must be {SIDECAR_FORMAT!r}")
    rate = data.get("keyframe_rate", 1.0)
    if (isinstance(rate, bool) or not isinstance(rate, (int, float))
            or not (math.isfinite(rate) and 0 < rate <= 1000)):
        raise FormatError(path, "keyframe_rate: expected a number in (0, 1000]")
    start = safe_pickle.whole(path, "timestamp_start", data.get("timestamp_start", 0), 0, 10**7)
    label_map = data.get("label_map")
    if label_map is not None and (not isinstance(label_map, str) or Path(label_map).name
                                  != label_map or not label_map.endswith(".pbtxt")):
        raise FormatError(path, "label_map: expected a .pbtxt file name beside the sidecar")
    files: dict[str, tuple[str, str]] = {}
    raw_files = data.get("files", {})
    if not isinstance(raw_files, dict):
        raise FormatError(path, "files: expected an object keyed by split")
    for split, entry in raw_files.items():
        names = [entry.get(k) if isinstance(entry, dict) else None for k in ("csv", "excluded")]
        if split not in SPLITS or not all(isinstance(v, str) and v and Path(v).name == v
                                          and v.endswith(".csv") for v in names):
            raise FormatError(path, f"files[{split!r}]: expected a split with 'csv' and "
                                    "'excluded' file names beside the sidecar")
        files[split] = (names[0], names[1])
    raw_videos = data.get("videos", {})
    if not isinstance(raw_videos, dict):
        raise FormatError(path, "videos: expected an object keyed by video id")
    videos = {}
    for name, entry in raw_videos.items():
        where = f"videos[{name!r}]"
        video = sidecar_video(path, where, entry)
        if isinstance(entry, dict) and "n_frames" in entry:
            video["n_frames"] = safe_pickle.whole(path, f"{where}.n_frames", entry["n_frames"],
                                                  1, safe_pickle.MAX_FRAMES)
        if {"width", "height", "fps", "n_frames"} - set(video):
            raise FormatError(path, f"{where}: needs width, height, fps and n_frames")
        if rate > video["fps"]:
            raise FormatError(path, f"{where}.fps: below the keyframe rate {rate:g}")
        videos[name] = video
    return _Sidecar(float(rate), start, label_map, files, videos)


# ---------------------------------------------------------------------- import: assembling
def _split_of(csv_name: str) -> str:
    m = re.search(r"(?:^|_)(train|val|test)(?=[_.]|$)", csv_name)
    return m[1] if m else "train"


def _find_labelmap(folder: Path, side: _Sidecar | None, anchor: Path) -> Path:
    if side is not None and side.label_map and (folder / side.label_map).is_file():
        return folder / side.label_map
    found = sorted(folder.glob("*.pbtxt"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise FormatError(anchor, "no label map (.pbtxt) beside it")
    raise FormatError(anchor, f"several label maps beside it ({', '.join(p.name for p in found)})"
                              f": keep one, or name it in {SIDECAR}")


def _probe_video(csv: Path, row: _Row) -> dict[str, Any]:
    """Size, rate and frame count of a video without sidecar entry, from its file."""
    for folder in (csv.parent, csv.parent / "videos", csv.parent.parent / "videos"):
        for ext in VIDEO_EXTENSIONS:
            candidate = folder / f"{row.video}{ext}"
            if candidate.is_file():
                info = probe(candidate)
                return {"width": info.width, "height": info.height, "fps": info.fps,
                        "n_frames": info.n_frames, "path": candidate}
    raise FormatError(csv, f"line {row.line}: the frame size of video {row.video!r} is unknown: "
                           f"put {SIDECAR} or the video file ({row.video}.mp4) beside the CSV or "
                           "in videos/")


def _csv_files(path: Path, side: _Sidecar | None) -> list[tuple[Path, Path, str]]:
    """``(csv, excluded csv, split)`` to read for an import of ``path`` (a CSV or a folder)."""
    if path.is_dir():
        if side is not None and side.files:
            return [(path / c, path / e, s) for s, (c, e) in side.files.items()]
        found = [(p, p.with_name(excluded_name(p.name)), _split_of(p.name))
                 for p in sorted(path.glob("*.csv"))
                 if "excluded_timestamps" not in p.name and "pseudo_labels" not in p.name]
        if not found:
            raise FormatError(path, "holds no AVA ground-truth CSV")
        return found
    for s, (c, e) in (side.files.items() if side is not None else ()):
        if c == path.name:
            return [(path, path.with_name(e), s)]
    return [(path, path.with_name(excluded_name(path.name)), _split_of(path.name))]


def parse(path: str | Path) -> tuple[list[tuple[str, str]], list[ParsedVideo]]:
    """Read and check an AVA CSV (or an export folder) with its label map and exclusions."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    side = _read_sidecar(folder / SIDECAR)
    csvs = _csv_files(path, side)
    labelmap_path = _find_labelmap(folder, side, csvs[0][0])
    labelmap = read_labelmap(labelmap_path)
    by_video: dict[str, tuple[Path, str, list[_Row]]] = {}
    excluded: dict[str, set[int]] = {}
    for csv, excluded_csv, split in csvs:
        for row in read_csv(csv):
            if row.action not in labelmap:
                raise FormatError(csv, f"line {row.line}: action_id {row.action} is not in "
                                       f"{labelmap_path.name}")
            entry = by_video.setdefault(row.video, (csv, split, []))
            if entry[0] != csv:
                raise FormatError(csv, f"line {row.line}: video {row.video!r} also has rows in "
                                       f"{entry[0].name}")
            entry[2].append(row)
        for video, t in read_excluded(excluded_csv):
            excluded.setdefault(video, set()).add(t)
    if side is not None:  # videos with no rows at all (negatives) are in the sidecar
        splits = {s: csv for csv, _, s in csvs}
        for name, meta in side.videos.items():
            if name not in by_video and meta.get("split", "train") in splits:
                by_video[name] = (splits[meta.get("split", "train")], meta.get("split", "train"),
                                  [])
    rate, start = (side.rate, side.start) if side is not None else (1.0, 0)
    videos = []
    for name in sorted(by_video):
        csv, split, rows = by_video[name]
        meta = side.videos.get(name) if side is not None else None
        all_times = meta is not None
        meta = meta if meta is not None else _probe_video(csv, rows[0])
        if rate > meta["fps"]:
            raise FormatError(csv, f"video {name!r}: its {meta['fps']:g} fps is below the "
                                   f"keyframe rate {rate:g}")
        gone = excluded.get(name, set())
        times = ([t for t, _ in timestamps(meta["n_frames"], meta["fps"], rate, start)]
                 if all_times else sorted({r.timestamp for r in rows}))
        labeled = [t for t in times if t not in gone]
        tracks = _tracks(csv, rows, labelmap, meta, rate, start, labeled)
        frames = sorted({f for t in labeled
                         if 0 <= (f := frame_of(t, meta["fps"], rate, start)) < meta["n_frames"]})
        videos.append(ParsedVideo(name, meta.get("path"), meta["width"], meta["height"],
                                  meta["fps"], meta["n_frames"], meta.get("split", split),
                                  tuple(frames), tracks))
    return [(n, "") for n in labelmap.values()], videos


def _tracks(csv: Path, rows: list[_Row], labelmap: dict[int, str], meta: dict[str, Any],
            rate: float, start: int, labeled: list[int]) -> tuple[ParsedTrack, ...]:
    """One track per (person, action) (a second one when a person has two boxes for one action
    at one timestamp), with ``outside`` where the person is missing at a labeled timestamp."""
    width, height, fps, n = meta["width"], meta["height"], meta["fps"], meta["n_frames"]
    shift = 1 - min(r.person for r in rows) if rows and min(r.person for r in rows) <= 0 else 0
    slots: dict[tuple[int, int], list[dict[int, Box]]] = {}
    seen: set[tuple[int, int, int, tuple[float, ...]]] = set()
    for row in rows:
        if (key := (row.timestamp, row.person, row.action, row.box)) in seen:
            continue  # the same row twice
        seen.add(key)
        f = frame_of(row.timestamp, fps, rate, start)
        if not 0 <= f < n:
            raise FormatError(csv, f"line {row.line}: timestamp {row.timestamp} is frame {f}, "
                                   f"outside video {row.video!r}'s {n} frames")
        x1, y1, x2, y2 = row.box
        try:
            box = clip_box((x1 * width, y1 * height, x2 * width, y2 * height), width, height)
        except BoxError as exc:
            raise FormatError(csv, f"line {row.line}: {exc}") from exc
        group = slots.setdefault((row.person, row.action), [])
        slot = next((s for s in group if row.timestamp not in s), None)
        if slot is None:
            group.append(slot := {})
        slot[row.timestamp] = box
    tracks = []
    for (person, action), group in sorted(slots.items()):
        for slot in group:
            keyframes = []
            times = sorted(slot)
            for a, b in zip(times, [*times[1:], None], strict=True):
                keyframes.append(Keyframe(frame_of(a, fps, rate, start), slot[a], False,
                                          "imported"))
                i = bisect.bisect_right(labeled, a)
                if b is not None and i < len(labeled) and labeled[i] < b:
                    keyframes.append(Keyframe(frame_of(labeled[i], fps, rate, start), slot[a],
                                              True, "imported"))
            tracks.append(ParsedTrack(person + shift, labelmap[action], tuple(keyframes)))
    return tuple(tracks)


def import_labels(
    project: Project, path: str | Path, cancel: CancelFlag | None = None
) -> Generator[Progress, None, ImportSummary]:
    """Import an AVA CSV or export folder, all or nothing."""
    return (yield from import_parsed(parse, project, path, cancel))


__all__ = ["export_labels", "import_labels", "parse", "read_csv", "read_excluded",
           "read_labelmap"]
