"""UCF101-24 corrected annotations: the ROAD ``pyannot.pkl`` layout (``--format ucf24``).

The pickle maps a video key (``Basketball/v_Basketball_g01_c01``) to ``{'label': int, 'numf':
int, 'annotations': [{'label': int, 'sf': int, 'ef': int, 'boxes': (ef - sf, 4) [x, y, w, h]}]}``:
tubes with a box on every frame from ``sf`` (0-based) to ``ef`` (exclusive), in pixels. Every
frame of a video is annotated (frames outside tubes are negatives), so an import marks every frame
labeled; a tube becomes a track with a keyframe on each of its frames (source ``imported``).

The pickle holds no class names, frame size, rate or split. On import they come from
``halgui_ucf24.json`` beside the pickle when there is one (our exports write it); otherwise a
class is named after the folder of its videos' keys (``Basketball/...`` -> ``Basketball``),
frames are 320x240 at 25 fps (UCF101), and a ``testlist01.txt`` beside the pickle, when present,
puts the videos it lists in the test split (the others in train).

An export (``OUT`` is a folder) writes ``pyannot.pkl``, ``trainlist01.txt``, ``testlist01.txt``
and the sidecar, for the videos whose every frame is labeled (the format cannot say a frame is
unlabeled). A track becomes one tube per run of frames with a box (its boxes interpolated between
keyframes, the ``outside`` rule applied), so a track that leaves and comes back gives two tubes;
the sidecar records each tube's actor so that an import joins them again. See docs/formats/ucf24.md.
"""

from __future__ import annotations

import json
import math
import pickle
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from halgui.core.annotations import Box, Keyframe, track_boxes
from halgui.core.errors import FormatError
from halgui.core.formats import safe_pickle
from halgui.core.formats.common import (
    ExportError,
    ExportOptions,
    ExportSummary,
    ImportSummary,
    Kind,
    ParsedTrack,
    ParsedVideo,
    chosen_videos,
    each_video,
    export_target,
    parse_json,
    write_labels,
)
from halgui.core.progress import CancelFlag, Progress
from halgui.core.project import SPLITS, LabelSnapshot, Project, VideoRecord

PICKLE = "pyannot.pkl"
SIDECAR = "halgui_ucf24.json"
TRAINLIST = "trainlist01.txt"
TESTLIST = "testlist01.txt"
SIDECAR_FORMAT = "halgui-ucf24-sidecar"
WIDTH, HEIGHT, FPS = 320, 240, 25.0  # UCF101's frames
MAX_SIDE = 65535
TARGET: Kind = "folder"


# ---------------------------------------------------------------------- tubes, both ways
@dataclass(frozen=True)
class Run:
    """One tube as read: consecutive keyframes of one actor and class."""

    actor: int
    class_name: str
    keyframes: tuple[Keyframe, ...]


def run_keyframes(source: Path, where: str, start: int, boxes: np.ndarray, width: int,
                  height: int) -> tuple[Keyframe, ...]:
    """Keyframes on frames ``start, start + 1, ...`` from ``(n, 4)`` x1, y1, x2, y2 boxes,
    clipped to the frame; a box with no area inside it is an error naming ``where[i]``."""
    lo = np.minimum(boxes[:, :2], boxes[:, 2:])
    hi = np.maximum(boxes[:, :2], boxes[:, 2:])
    size = np.array([width, height], dtype=np.float64)
    lo, hi = np.clip(lo, 0, size), np.clip(hi, 0, size)
    empty = (hi <= lo).any(axis=1)
    if empty.any():
        i = int(np.argmax(empty))
        raise FormatError(source, f"{where}[{i}]: box {tuple(boxes[i].tolist())} has no area "
                                  f"inside the {width}x{height} frame")
    return tuple(
        Keyframe(start + i, Box(x1, y1, x2, y2), False, "imported")
        for i, (x1, y1, x2, y2) in enumerate(np.concatenate([lo, hi], axis=1).tolist())
    )


def tracks_from_runs(runs: Iterable[Run]) -> tuple[ParsedTrack, ...]:
    """Tracks from tubes: runs of one actor and class that do not overlap join into one track,
    with an ``outside`` keyframe where a gap separates them (the actor left and came back)."""
    groups: dict[tuple[int, str], list[Run]] = {}
    for run in runs:
        groups.setdefault((run.actor, run.class_name), []).append(run)
    tracks: list[ParsedTrack] = []
    for (actor, class_name), members in groups.items():
        joined: list[list[Keyframe]] = []
        for run in sorted(members, key=lambda r: r.keyframes[0].frame):
            for kfs in joined:
                end = kfs[-1].frame + 1
                if run.keyframes[0].frame >= end:
                    if run.keyframes[0].frame > end:
                        kfs.append(Keyframe(end, kfs[-1].box, True, "imported"))
                    kfs.extend(run.keyframes)
                    break
            else:
                joined.append(list(run.keyframes))
        tracks.extend(ParsedTrack(actor, class_name, tuple(kfs)) for kfs in joined)
    return tuple(tracks)


@dataclass(frozen=True)
class Tube:
    """One tube to write: frames ``start .. start + len(boxes) - 1``, boxes x1, y1, x2, y2."""

    actor: int
    label: int
    start: int
    boxes: np.ndarray


@dataclass(frozen=True)
class TubePlan:
    """What a tube export writes: class names, and each fully labeled video with its tubes."""

    labels: tuple[str, ...]
    videos: tuple[tuple[VideoRecord, tuple[Tube, ...]], ...]
    skipped: tuple[str, ...]  # videos left out: not every frame labeled


def plan_tubes(snapshot: LabelSnapshot, options: ExportOptions,
               cancel: CancelFlag | None = None) -> Generator[Progress, None, TubePlan]:
    """Tubes of the selected videos whose every frame is labeled (``ucf24`` and ``act``).

    A track's boxes on each frame (interpolated between its keyframes, ``outside`` rule applied;
    with ``human_only`` from its human keyframes alone) are cut into runs of consecutive frames.
    """
    label_of = {c.id: i for i, c in enumerate(snapshot.classes)}
    videos: list[tuple[VideoRecord, tuple[Tube, ...]]] = []
    skipped: list[str] = []
    for progress, video in each_video(chosen_videos(snapshot, options.split), cancel,
                                      "collecting tubes"):
        yield progress
        labeled = snapshot.labeled.get(video.id, frozenset())
        if sum(0 <= f < video.n_frames for f in labeled) < video.n_frames:
            skipped.append(video.name)
            continue
        tubes: list[Tube] = []
        for track in snapshot.tracks.get(video.id, ()):
            keyframes = [k for k in track.keyframes
                         if k.outside or not options.human_only or k.source == "human"]
            boxes = track_boxes(keyframes, video.n_frames)
            for run in _runs(sorted(boxes)):
                coords = np.array([boxes[f] for f in run], dtype=np.float64)
                tubes.append(Tube(track.actor, label_of[track.class_id], run[0], coords))
        videos.append((video, tuple(tubes)))
    return TubePlan(tuple(c.name for c in snapshot.classes), tuple(videos), tuple(skipped))


#: Why a tube export leaves a video out (the summary and the error say it).
SKIPPED_BECAUSE = "not labeled on every frame"


def check_plan(plan: TubePlan, out: str | Path, format_name: str) -> None:
    """A tube export that would write no video is an error, not an empty file: say why."""
    if plan.videos:
        return
    if plan.skipped:
        raise ExportError(Path(out), f"nothing to write: {format_name} holds only videos "
                                     f"labeled on every frame, and none of the "
                                     f"{len(plan.skipped)} video(s) is (mark every frame "
                                     "labeled, or use another format)")
    raise ExportError(Path(out), "nothing to write: no video is chosen (check --split)")


def tube_summary(plan: TubePlan, out: Path) -> ExportSummary:
    return ExportSummary(out, len(plan.videos), plan.skipped, SKIPPED_BECAUSE)


def _runs(frames: Sequence[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for f in frames:
        if runs and f == runs[-1][-1] + 1:
            runs[-1].append(f)
        else:
            runs.append([f])
    return runs


def video_label(tubes: Sequence[Tube]) -> int:
    """A video's one label: the class with most tube frames (the lowest on a tie), -1 if none."""
    frames: dict[int, int] = {}
    for t in tubes:
        frames[t.label] = frames.get(t.label, 0) + len(t.boxes)
    return min(frames, key=lambda label: (-frames[label], label)) if frames else -1


# ---------------------------------------------------------------------- sidecar JSON
def read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FormatError(path, f"cannot be read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise FormatError(path, "is not UTF-8 text") from exc
    return parse_json(path, text)


def sidecar_video(source: Path, where: str, value: Any) -> dict[str, Any]:
    """Check one ``videos`` entry of a sidecar: width, height, fps, split (all optional)."""
    if not isinstance(value, dict):
        raise FormatError(source, f"{where}: expected an object")
    out: dict[str, Any] = {}
    for key in ("width", "height"):
        if key in value:
            out[key] = safe_pickle.whole(source, f"{where}.{key}", value[key], 1, MAX_SIDE)
    if "fps" in value:
        fps = value["fps"]
        if (isinstance(fps, bool) or not isinstance(fps, (int, float))
                or not (math.isfinite(fps) and 0 < fps <= 1000)):
            raise FormatError(source, f"{where}.fps: expected a number in (0, 1000]")
        out["fps"] = float(fps)
    if "split" in value:
        if value["split"] not in SPLITS:
            raise FormatError(source, f"{where}.split: must be one of {', '.join(SPLITS)}")
        out["split"] = value["split"]
    return out


def class_names(source: Path, where: str, value: Any) -> list[str]:
    """Unique, non-empty class names (surrounding spaces removed, as the project stores them)."""
    if not isinstance(value, list):
        raise FormatError(source, f"{where}: expected a list of class names")
    names = [safe_pickle.text(source, f"{where}[{i}]", v).strip() for i, v in enumerate(value)]
    if len(set(names)) != len(names):
        raise FormatError(source, f"{where}: class names must be unique")
    return names


def _read_sidecar(path: Path) -> tuple[list[str] | None, dict[str, dict[str, Any]]]:
    if not path.is_file():
        return None, {}
    data = read_json(path)
    if not isinstance(data, dict) or data.get("format") != SIDECAR_FORMAT:
        raise FormatError(path, f"top level: 'format' must be {SIDECAR_FORMAT!r}")
    labels = class_names(path, "labels", data.get("labels", []))
    entries = data.get("videos", {})
    if not isinstance(entries, dict):
        raise FormatError(path, "videos: expected an object keyed by video name")
    videos: dict[str, dict[str, Any]] = {}
    for name, entry in entries.items():
        where = f"videos[{name!r}]"
        videos[name] = sidecar_video(path, where, entry)
        actors = entry.get("actors", [])
        if not isinstance(actors, list):
            raise FormatError(path, f"{where}.actors: expected a list")
        videos[name]["actors"] = [safe_pickle.whole(path, f"{where}.actors[{i}]", a)
                                  for i, a in enumerate(actors)]
    return labels, videos


def _read_list(path: Path) -> set[str]:
    """Video names of a split list (``Class/v_name`` or ``Class/v_name.avi [label]``)."""
    if not path.is_file():
        return set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise FormatError(path, f"cannot be read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise FormatError(path, "is not UTF-8 text") from exc
    names = set()
    for line in lines:
        if line.strip():
            name = line.split()[0]
            names.add(name[:-4] if name.endswith(".avi") else name)
    return names


# ---------------------------------------------------------------------- import
def parse(path: str | Path) -> tuple[list[tuple[str, str]], list[ParsedVideo]]:
    """Read and check a ``pyannot.pkl`` (or a folder holding one) and what lies beside it."""
    path = Path(path)
    if path.is_dir():
        path = path / PICKLE
    data = safe_pickle.load(path)
    if not isinstance(data, dict) or not data:
        raise FormatError(path, "top level: expected a dict of videos (pyannot.pkl layout)")
    labels, meta = _read_sidecar(path.parent / SIDECAR)
    tests = _read_list(path.parent / TESTLIST)

    entries: list[tuple[str, int, int, list[Any]]] = []
    for key, entry in data.items():
        name = safe_pickle.text(path, "key", key)
        where = f"key {name!r}"
        if not isinstance(entry, dict):
            raise FormatError(path, f"{where}: expected a dict with 'numf' and 'annotations'")
        for field in ("numf", "annotations"):
            if field not in entry:
                raise FormatError(path, f"{where}: missing {field!r}")
        numf = safe_pickle.whole(path, f"{where}.numf", entry["numf"], 1, safe_pickle.MAX_FRAMES)
        label = safe_pickle.whole(path, f"{where}.label", entry.get("label", -1), -1)
        annotations = entry["annotations"]
        if not isinstance(annotations, (list, tuple)):
            raise FormatError(path, f"{where}.annotations: expected a list of tubes")
        entries.append((name, numf, label, list(annotations)))
    entries.sort(key=lambda e: e[0])
    if len({e[0] for e in entries}) != len(entries):
        raise FormatError(path, "top level: a video key appears twice")

    used: set[int] = set()
    videos = []
    for name, numf, _, annotations in entries:
        extra = meta.get(name, {})
        width, height = extra.get("width", WIDTH), extra.get("height", HEIGHT)
        actors = extra.get("actors")
        if actors is not None and len(actors) != len(annotations):
            raise FormatError(path.parent / SIDECAR, f"videos[{name!r}].actors: {len(actors)} "
                                                     f"actors for {len(annotations)} tubes")
        raw_runs = []
        for i, tube in enumerate(annotations):
            where = f"key {name!r}.annotations[{i}]"
            label, start, boxes = _tube(path, where, tube, numf, labels)
            used.add(label)
            xyxy = np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)
            kfs = run_keyframes(path, f"{where}.boxes", start, xyxy, width, height)
            raw_runs.append((actors[i] if actors else i + 1, label, kfs))
        split = extra.get("split", "test" if name in tests else "train")
        videos.append((name, numf, width, height, extra.get("fps", FPS), split, raw_runs))

    names = labels if labels is not None else _names_from_keys(entries)
    classes = [(names[i], "") for i in (range(len(names)) if labels is not None else sorted(used))]
    parsed = [
        ParsedVideo(name, None, width, height, fps, numf, split, tuple(range(numf)),
                    tracks_from_runs(Run(a, names[label], k) for a, label, k in raw_runs))
        for name, numf, width, height, fps, split, raw_runs in videos
    ]
    return classes, parsed


def _tube(source: Path, where: str, tube: Any, numf: int,
          labels: list[str] | None) -> tuple[int, int, np.ndarray]:
    if not isinstance(tube, dict):
        raise FormatError(source, f"{where}: expected a dict with label, sf, ef, boxes")
    for field in ("label", "sf", "ef", "boxes"):
        if field not in tube:
            raise FormatError(source, f"{where}: missing {field!r}")
    top = len(labels) - 1 if labels is not None else 2**31 - 1
    label = safe_pickle.whole(source, f"{where}.label", tube["label"], 0, top)
    sf = safe_pickle.whole(source, f"{where}.sf", tube["sf"], 0, numf - 1)
    ef = safe_pickle.whole(source, f"{where}.ef", tube["ef"], sf + 1, numf)
    boxes = safe_pickle.table(source, f"{where}.boxes", tube["boxes"], 4)
    if len(boxes) != ef - sf:
        raise FormatError(source, f"{where}.boxes: {len(boxes)} boxes for frames {sf}..{ef - 1}"
                                  f" ({ef - sf} frames)")
    return label, sf, boxes


def _names_from_keys(entries: Sequence[tuple[str, int, int, list[Any]]]) -> dict[int, str]:
    """Class names from the keys' folders: label L is named X when every video labeled L is
    ``X/...`` and no other label claims X; otherwise ``class_L``."""
    folders: dict[int, set[str]] = {}
    for name, _, label, tubes in entries:
        if "/" in name and label >= 0:
            folders.setdefault(label, set()).add(name.split("/", 1)[0].strip())
        for tube in tubes:  # labels of tubes with no video of their own label
            if isinstance(tube, dict) and isinstance(tube.get("label"), (int, np.integer)):
                folders.setdefault(int(tube["label"]), set())
    claimed: dict[str, int] = {}
    for found in folders.values():
        if len(found) == 1 and next(iter(found)):
            folder = next(iter(found))
            claimed[folder] = claimed.get(folder, 0) + 1
    names: dict[int, str] = {}
    for label, found in folders.items():
        folder = next(iter(found)) if len(found) == 1 else ""
        names[label] = folder if folder and claimed[folder] == 1 else f"class_{label}"
    if len(set(names.values())) != len(names):  # e.g. a folder literally named class_N
        names = {label: f"class_{label}" for label in names}
    return names


def import_labels(
    project: Project, path: str | Path, cancel: CancelFlag | None = None
) -> Generator[Progress, None, ImportSummary]:
    """Import a ``pyannot.pkl`` (or an export folder holding one), all or nothing."""
    path = Path(path)
    yield Progress("reading", 0, 1, path.name)
    classes, videos = parse(path)
    source = path / PICKLE if path.is_dir() else path
    return (yield from write_labels(project, source, classes, videos, cancel))


# ---------------------------------------------------------------------- export
def export_labels(
    snapshot: LabelSnapshot, out: str | Path, options: ExportOptions | None = None,
    cancel: CancelFlag | None = None,
) -> Generator[Progress, None, ExportSummary]:
    """Write ``OUT/`` with ``pyannot.pkl``, the split lists and the sidecar (atomically).

    ``pseudo_labels`` changes nothing: tubes hold a box on every frame, interpolated boxes
    included, by the format's nature. Videos not labeled on every frame are left out (listed in
    the sidecar's ``skipped``)."""
    options = options or ExportOptions()
    plan = yield from plan_tubes(snapshot, options, cancel)
    check_plan(plan, out, "ucf24")
    database: dict[str, dict[str, Any]] = {}
    sidecar: dict[str, Any] = {"format": SIDECAR_FORMAT, "version": 1,
                               "labels": list(plan.labels), "videos": {},
                               "skipped": list(plan.skipped)}
    for video, tubes in plan.videos:
        database[video.name] = {
            "label": video_label(tubes),
            "numf": video.n_frames,
            "annotations": [
                {"label": t.label, "sf": t.start, "ef": t.start + len(t.boxes),
                 "boxes": np.concatenate([t.boxes[:, :2], t.boxes[:, 2:] - t.boxes[:, :2]],
                                         axis=1).astype(np.float32)}
                for t in tubes
            ],
        }
        sidecar["videos"][video.name] = {
            "width": video.width, "height": video.height, "fps": video.fps,
            "split": video.split, "actors": [t.actor for t in tubes],
        }
    yield Progress("writing", 0, 1)
    with export_target(out, TARGET, options.overwrite) as tmp:
        with open(tmp / PICKLE, "wb") as f:
            pickle.dump(database, f, protocol=3)  # as the published pyannot.pkl
        for name, split in ((TRAINLIST, "train"), (TESTLIST, "test")):
            lines = sorted(v.name for v, _ in plan.videos if v.split == split)
            (tmp / name).write_text("".join(f"{n}\n" for n in lines), encoding="utf-8")
        (tmp / SIDECAR).write_text(json.dumps(sidecar, indent=1), encoding="utf-8")
    summary = tube_summary(plan, Path(out).resolve())
    yield Progress("writing", 1, 1, summary.describe())
    return summary


__all__ = ["check_plan", "export_labels", "import_labels", "parse", "plan_tubes",
           "tracks_from_runs", "tube_summary"]
