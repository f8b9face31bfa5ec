"""The ACT/MOC/YOWO ground-truth pickle: ``UCF101v2-GT.pkl`` / ``JHMDB-GT.pkl`` (``--format act``).

One dict: ``labels`` (class names), ``train_videos`` / ``test_videos`` (one list of video names
per split), ``nframes`` (video -> frame count), ``resolution`` (video -> ``(h, w)``) and
``gttubes`` (video -> {label index: [tube]}), each tube an ``(n, 5)`` array of ``frame, x1, y1,
x2, y2`` with 1-based frames and pixel coordinates.

Coordinates are read as ACT's evaluator reads them: inclusive pixel indices (its box IoU adds 1
to widths), so a tube box ``x1..x2`` is halgui's continuous ``[x1, x2 + 1)``, and an export
writes ``x2 - 1``. Every frame of a video is annotated (frames outside tubes are negatives): an
import marks all frames labeled and makes each tube a track with a keyframe on every frame
(source ``imported``); a gap in a tube's frames becomes an ``outside`` keyframe. The split is the
first of the file's splits (``train_videos[0]``, ``test_videos[0]``); a video in neither list is
imported as ``val``. The frame rate, which the format lacks, is 25 fps.

An export (``OUT`` is the pickle) holds the videos whose every frame is labeled, with one tube
per run of frames with a box (interpolated between keyframes, the ``outside`` rule applied), and
an extra key ``halgui`` (plain containers; ACT/MOC/YOWO read the keys they know and ignore it)
with each video's frame rate, split and the actor of each tube, so an import restores them.
See docs/formats/act.md.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np

from halgui.core.errors import FormatError
from halgui.core.formats import safe_pickle
from halgui.core.formats.common import (
    ExportOptions,
    ExportSummary,
    ImportSummary,
    Kind,
    ParsedVideo,
    export_target,
    import_parsed,
)
from halgui.core.formats.ucf24 import (
    MAX_SIDE,
    Run,
    check_plan,
    class_names,
    plan_tubes,
    run_keyframes,
    tracks_from_runs,
    tube_summary,
)
from halgui.core.progress import CancelFlag, Progress
from halgui.core.project import SPLITS, LabelSnapshot, Project

FPS = 25.0
TARGET: Kind = "file"
SUFFIX = ".pkl"
EXTRA = "halgui"  # our key in the dict


# ---------------------------------------------------------------------- import
def parse(path: str | Path) -> tuple[list[tuple[str, str]], list[ParsedVideo]]:
    """Read and check an ACT ground-truth pickle."""
    path = Path(path)
    data = safe_pickle.load(path)
    if not isinstance(data, dict):
        raise FormatError(path, "top level: expected a dict (labels, nframes, gttubes, ...)")
    for key in ("labels", "nframes", "resolution", "gttubes"):
        if key not in data:
            raise FormatError(path, f"top level: missing key {key!r}")
    labels = class_names(path, "key 'labels'", list(data["labels"])
                         if isinstance(data["labels"], tuple) else data["labels"])
    nframes, resolution, gttubes = data["nframes"], data["resolution"], data["gttubes"]
    for key, value in (("nframes", nframes), ("resolution", resolution), ("gttubes", gttubes)):
        if not isinstance(value, dict):
            raise FormatError(path, f"key {key!r}: expected a dict keyed by video")
    splits = {name: "test" for name in _first_split(path, data, "test_videos")}
    for name in _first_split(path, data, "train_videos"):
        if splits.setdefault(name, "train") != "train":
            raise FormatError(path, f"key 'train_videos': {name!r} is also in test_videos")
    extra = _extra(path, data.get(EXTRA, {}))

    names = {safe_pickle.text(path, "key 'nframes'", k): k for k in nframes}
    for key in gttubes:
        if safe_pickle.text(path, "key 'gttubes'", key) not in names:
            raise FormatError(path, f"key 'gttubes'[{key!r}]: video not in nframes")
    videos = []
    for name in sorted(names):
        key = names[name]
        n = safe_pickle.whole(path, f"key 'nframes'[{name!r}]", nframes[key], 1,
                              safe_pickle.MAX_FRAMES)
        if key not in resolution:
            raise FormatError(path, f"key 'resolution': no entry for {name!r}")
        height, width = _resolution(path, f"key 'resolution'[{name!r}]", resolution[key])
        meta = extra.get(name, {})
        runs: list[Run] = []
        count = 0  # tubes so far: the actor of a tube when the file does not say
        tubes_by_label = gttubes.get(key, {})
        if not isinstance(tubes_by_label, dict):
            raise FormatError(path, f"key 'gttubes'[{name!r}]: expected a dict label -> tubes")
        for label_key, tubes in tubes_by_label.items():
            where = f"key 'gttubes'[{name!r}][{label_key!r}]"
            label = safe_pickle.whole(path, where, label_key, 0, len(labels) - 1)
            if not isinstance(tubes, (list, tuple)):
                raise FormatError(path, f"{where}: expected a list of tubes")
            actors = meta.get("actors", {}).get(label)
            if actors is not None and len(actors) != len(tubes):
                raise FormatError(path, f"key {EXTRA!r}[{name!r}]: {len(actors)} actors for "
                                        f"{len(tubes)} tubes of label {label}")
            for i, tube in enumerate(tubes):
                count += 1
                actor = actors[i] if actors is not None else count
                runs.extend(_tube_runs(path, f"{where}[{i}]", tube, n, width, height, actor,
                                       labels[label]))
        split = meta.get("split", splits.get(name, "val"))
        videos.append(ParsedVideo(name, None, width, height, meta.get("fps", FPS), n, split,
                                  tuple(range(n)), tracks_from_runs(runs)))
    return [(name, "") for name in labels], videos


def _first_split(source: Path, data: dict[str, Any], key: str) -> list[str]:
    value = data.get(key, [])
    if not isinstance(value, (list, tuple)) or not all(isinstance(s, (list, tuple))
                                                       for s in value):
        raise FormatError(source, f"key {key!r}: expected a list of video lists, one per split")
    return [safe_pickle.text(source, f"key {key!r}[0]", v) for v in value[0]] if value else []


def _resolution(source: Path, where: str, value: Any) -> tuple[int, int]:
    if not isinstance(value, (tuple, list, np.ndarray)) or len(value) != 2:
        raise FormatError(source, f"{where}: expected (height, width)")
    return (safe_pickle.whole(source, where, value[0], 1, MAX_SIDE),
            safe_pickle.whole(source, where, value[1], 1, MAX_SIDE))


def _tube_runs(source: Path, where: str, tube: Any, n_frames: int, width: int, height: int,
               actor: int, class_name: str) -> list[Run]:
    rows = safe_pickle.table(source, where, tube, 5)
    frames = rows[:, 0]
    if not (frames == np.round(frames)).all():
        raise FormatError(source, f"{where}: frame numbers must be whole")
    if frames.min() < 1 or frames.max() > n_frames:
        raise FormatError(source, f"{where}: frames must be 1..{n_frames} (1-based), got "
                                  f"{int(frames.min())}..{int(frames.max())}")
    if (np.diff(frames) <= 0).any():
        raise FormatError(source, f"{where}: frames must increase")
    boxes = rows[:, 1:].copy()
    if ((boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])).any():
        i = int(np.argmax((boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])))
        raise FormatError(source, f"{where}[{i}]: x2 < x1 or y2 < y1")
    boxes[:, 2:] += 1.0  # inclusive pixel indices -> continuous coordinates
    cuts = np.flatnonzero(np.diff(frames) > 1) + 1
    runs = []
    for lo, hi in zip([0, *cuts.tolist()], [*cuts.tolist(), len(rows)], strict=True):
        start = int(frames[lo]) - 1
        runs.append(Run(actor, class_name,
                        run_keyframes(source, where, start, boxes[lo:hi], width, height)))
    return runs


def _extra(source: Path, value: Any) -> dict[str, dict[str, Any]]:
    """Our own key: ``{video: {'fps': float, 'split': str, 'actors': {label: [int]}}}``."""
    where = f"key {EXTRA!r}"
    if not isinstance(value, dict):
        raise FormatError(source, f"{where}: expected a dict keyed by video")
    out: dict[str, dict[str, Any]] = {}
    for name, meta in value.items():
        w = f"{where}[{name!r}]"
        if not isinstance(meta, dict):
            raise FormatError(source, f"{w}: expected a dict")
        entry: dict[str, Any] = {}
        if "fps" in meta:
            fps = meta["fps"]
            if (isinstance(fps, bool) or not isinstance(fps, (int, float))
                    or not (math.isfinite(fps) and 0 < fps <= 1000)):
                raise FormatError(source, f"{w}['fps']: expected a number in (0, 1000]")
            entry["fps"] = float(fps)
        if "split" in meta:
            if meta["split"] not in SPLITS:
                raise FormatError(source, f"{w}['split']: must be one of {', '.join(SPLITS)}")
            entry["split"] = meta["split"]
        actors = meta.get("actors", {})
        if not isinstance(actors, dict):
            raise FormatError(source, f"{w}['actors']: expected a dict label -> actors")
        entry["actors"] = {}
        for label, ids in actors.items():
            label = safe_pickle.whole(source, f"{w}['actors']", label)
            if not isinstance(ids, (list, tuple)):
                raise FormatError(source, f"{w}['actors'][{label}]: expected a list")
            entry["actors"][label] = [safe_pickle.whole(source, f"{w}['actors'][{label}]", a)
                                      for a in ids]
        out[safe_pickle.text(source, where, name)] = entry
    return out


def import_labels(
    project: Project, path: str | Path, cancel: CancelFlag | None = None
) -> Generator[Progress, None, ImportSummary]:
    """Import an ACT ground-truth pickle, all or nothing."""
    return (yield from import_parsed(parse, project, path, cancel))


# ---------------------------------------------------------------------- export
def export_labels(
    snapshot: LabelSnapshot, out: str | Path, options: ExportOptions | None = None,
    cancel: CancelFlag | None = None,
) -> Generator[Progress, None, ExportSummary]:
    """Write the ground-truth pickle ``OUT`` (atomically), protocol 2 like the published ones.

    ``pseudo_labels`` changes nothing: tubes hold a box on every frame by the format's nature.
    Videos not labeled on every frame are left out. Validation videos are in neither split list.
    """
    options = options or ExportOptions()
    plan = yield from plan_tubes(snapshot, options, cancel)
    check_plan(plan, out, "act")
    gttubes: dict[str, dict[int, list[np.ndarray]]] = {}
    extra: dict[str, dict[str, Any]] = {}
    for video, tubes in plan.videos:
        by_label: dict[int, list[np.ndarray]] = {}
        actors: dict[int, list[int]] = {}
        for t in tubes:
            rows = np.empty((len(t.boxes), 5), dtype=np.float64)
            rows[:, 0] = np.arange(t.start + 1, t.start + 1 + len(t.boxes))
            rows[:, 1:3] = t.boxes[:, :2]
            rows[:, 3:5] = np.maximum(t.boxes[:, 2:] - 1.0, t.boxes[:, :2])  # inclusive
            by_label.setdefault(t.label, []).append(rows.astype(np.float32))
            actors.setdefault(t.label, []).append(t.actor)
        gttubes[video.name] = by_label
        extra[video.name] = {"fps": video.fps, "split": video.split, "actors": actors}
    data = {
        "labels": list(plan.labels),
        "train_videos": [[v.name for v, _ in plan.videos if v.split == "train"]],
        "test_videos": [[v.name for v, _ in plan.videos if v.split == "test"]],
        "nframes": {v.name: v.n_frames for v, _ in plan.videos},
        "resolution": {v.name: (v.height, v.width) for v, _ in plan.videos},
        "gttubes": gttubes,
        EXTRA: extra,
    }
    yield Progress("writing", 0, 1)
    with export_target(out, TARGET, options.overwrite) as tmp, open(tmp, "wb") as f:
        pickle.dump(data, f, protocol=2)
    summary = tube_summary(plan, Path(out).resolve())
    yield Progress("writing", 1, 1, summary.describe())
    return summary


__all__ = ["export_labels", "import_labels", "parse"]
