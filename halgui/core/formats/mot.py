"""MOTChallenge sequences (``gt/gt.txt`` + ``seqinfo.ini``), with actions in a sidecar.

``OUT`` is a folder with one sequence per video at ``OUT/<split>/<video>/``::

    seqinfo.ini             [Sequence] name, imDir, frameRate, seqLength, imWidth, imHeight, imExt
    gt/gt.txt               frame (1-based), id, bb_left, bb_top, bb_width, bb_height, 1, 1, 1
    gt/labels.txt           "pedestrian": column 8 is MOT class 1 for every actor
    gt/actions.csv          frame,id,action_id,track,kind,source,bb_left,bb_top,bb_width,bb_height
    gt/action_labels.txt    the action classes, action_id = 1 + line index
    gt/halgui.json          exact name, fps, split, video file, labeled frames, class colours
    img1/000001.jpg ...     every frame, only when images are asked for

A MOT id is one actor (a person), so ``gt.txt`` has one box per actor and frame; the actor's
actions (halgui tracks: one class each, several at once for multi-label) are rows of
``actions.csv``, whose box columns are left empty when the track's box is the ``gt.txt`` one.
``kind`` is ``keyframe``, ``interpolated`` (pseudo-labels) or ``outside``. Files without
``actions.csv`` import as plain MOT: one track per id and class. See ``docs/formats/mot.md``.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from pathlib import Path
from typing import Any

from halgui.core.annotations import Keyframe, clip_box
from halgui.core.errors import BoxError, FormatError
from halgui.core.formats import _frames as fr
from halgui.core.formats.common import (
    ExportJob,
    ExportOptions,
    ExportSummary,
    Field,
    ImportSummary,
    Kind,
    ParsedTrack,
    ParsedVideo,
    each_video,
    import_parsed,
)
from halgui.core.progress import CancelFlag, Progress
from halgui.core.project import SPLITS, LabelSnapshot, Project, VideoRecord

#: MOT16/17 ``class`` column (1-based), as in the MOTChallenge paper and datumaro.
MOT_CLASSES = (
    "pedestrian", "person on vehicle", "car", "bicycle", "motorbike", "non motorized vehicle",
    "static person", "distractor", "occluder", "occluder on the ground", "occluder full",
    "reflection",
)
ACTIONS_HEADER = "frame,id,action_id,track,kind,source,bb_left,bb_top,bb_width,bb_height"
KINDS = ("keyframe", "interpolated", "outside")
TARGET: Kind = "folder"


# ---------------------------------------------------------------------- export
def export_labels(
    snapshot: LabelSnapshot, out: str | Path, options: ExportOptions | None = None,
    cancel: CancelFlag | None = None,
) -> Generator[Progress, None, ExportSummary]:
    """Write one MOT sequence per chosen video under ``OUT/<split>/``."""
    job = ExportJob.start(snapshot, out, options)
    with job.target(TARGET) as tmp:
        for progress, video in each_video(job.videos, cancel):
            yield progress
            folder = job.names[video.name]
            seq = tmp / video.split / folder
            _write_sequence(snapshot, video, folder, seq, job.out / video.split / folder,
                            job.options)
            if job.options.write_images:
                yield from fr.write_frames(video, range(video.n_frames), seq / "img1",
                                           "%06d.jpg", cancel, first=1)
    return (yield from job.done())


def _xywh(box: tuple[float, float, float, float]) -> tuple[str, str, str, str]:
    x1, y1, x2, y2 = (round(v, 3) for v in box)
    return fr.num(x1), fr.num(y1), fr.num(x2 - x1), fr.num(y2 - y1)


def _write_sequence(snapshot: LabelSnapshot, video: VideoRecord, folder: str, seq: Path,
                    final: Path, options: ExportOptions) -> None:
    (seq / "gt").mkdir(parents=True)
    (seq / "seqinfo.ini").write_text(
        f"[Sequence]\nname={folder}\nimDir=img1\nframeRate={max(round(video.fps), 1)}\n"
        f"seqLength={video.n_frames}\nimWidth={video.width}\nimHeight={video.height}\n"
        "imExt=.jpg\n", encoding="utf-8")
    action_id = {c.id: i + 1 for i, c in enumerate(snapshot.classes)}
    tracks = snapshot.tracks.get(video.id, ())
    top = max((t.actor for t in tracks), default=0)
    gt: dict[tuple[int, int], tuple[str, ...]] = {}
    actions: list[tuple[int, int, int, int, str]] = []
    number = 0
    for track in tracks:
        kfs = fr.export_keyframes(track, options, video.n_frames)
        shapes = fr.track_shapes(kfs, video.n_frames, options.pseudo_labels)
        if not shapes:
            continue
        number += 1
        mot_id = track.actor if track.actor > 0 else top + 1
        for s in shapes:
            xywh = _xywh(s.box)
            own = xywh
            if s.visible and gt.setdefault((s.frame + 1, mot_id), xywh) == xywh:
                own = ()
            row = f"{s.kind},{s.source},{','.join(own) if own else ',,,'}"
            actions.append((s.frame + 1, mot_id, number, action_id[track.class_id], row))
    gt_lines = [f"{f},{i},{','.join(box)},1,1,1\n" for (f, i), box in sorted(gt.items())]
    (seq / "gt" / "gt.txt").write_text("".join(gt_lines), encoding="utf-8")
    (seq / "gt" / "labels.txt").write_text("pedestrian\n", encoding="utf-8")
    actions.sort(key=lambda a: a[:3])
    (seq / "gt" / "actions.csv").write_text(
        "".join([f"{ACTIONS_HEADER}\n"] + [f"{f},{i},{a},{n},{row}\n"
                                           for f, i, n, a, row in actions]), encoding="utf-8")
    (seq / "gt" / "action_labels.txt").write_text(
        "".join(f"{c.name}\n" for c in snapshot.classes), encoding="utf-8")
    sidecar = {
        "format": "halgui-mot", "version": 1, "name": video.name, "fps": video.fps,
        "split": video.split, "path": fr.relative_path(video, final),
        "labeled_frames": [[a + 1, b + 1]
                           for a, b in fr.ranges(fr.labeled_frames(snapshot, video))],
        "colors": {c.name: c.color for c in snapshot.classes},
    }
    (seq / "gt" / "halgui.json").write_text(json.dumps(sidecar, ensure_ascii=False),
                                            encoding="utf-8")


# ---------------------------------------------------------------------- parsing
def _lines(path: Path) -> list[tuple[int, str]]:
    return [(n, line.strip()) for n, line in enumerate(fr.lines_of(fr.read_text(path)), 1)
            if line.strip()]


def _seqinfo(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise FormatError(path, "is missing: the sequence's frame size and length are unknown")
    fields: dict[str, tuple[str, int]] = {}
    for n, line in _lines(path):
        if line.startswith((";", "#", "[")):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise FormatError(path, f"line {n}: expected key=value")
        fields[key.strip().lower()] = (value.strip(), n)
    out = {}
    for key in ("imwidth", "imheight", "seqlength"):
        if key not in fields:
            raise FormatError(path, f"has no {key} (keys: imWidth, imHeight, seqLength)")
    for key, (value, n) in fields.items():
        try:
            if key in ("imwidth", "imheight", "seqlength"):
                value = str(fr.to_int(value, key, 1))
            elif key == "framerate" and fr.to_float(value, key) <= 0:
                raise ValueError("frameRate must be positive")
        except ValueError as exc:
            raise FormatError(path, f"line {n}: {exc}") from exc
        out[key] = value
    return out


def _row_box(path: Path, n: int, cells: list[str], width: int, height: int) -> Any:
    try:
        x, y, w, h = (fr.to_float(c, name)
                      for c, name in zip(cells, ("bb_left", "bb_top", "bb_width", "bb_height"),
                                         strict=True))
        if w <= 0 or h <= 0:
            raise ValueError(f"bb_width and bb_height must be positive, got {w} and {h}")
        return clip_box((x, y, x + w, y + h), width, height)
    except (ValueError, BoxError) as exc:
        raise FormatError(path, f"line {n}: {exc}") from exc


def _gt(path: Path, n_frames: int, width: int, height: int) -> dict[tuple[int, int], Any]:
    """``(frame, id) -> (box, class, conf, line)`` of ``gt.txt``."""
    rows: dict[tuple[int, int], Any] = {}
    for n, line in _lines(path):
        cells = line.split(",")
        if not 6 <= len(cells) <= 10:
            raise FormatError(path, f"line {n}: expected 6 to 10 comma-separated columns "
                                    f"(frame,id,bb_left,bb_top,bb_width,bb_height,...), "
                                    f"got {len(cells)}")
        try:
            frame = fr.to_int(cells[0], "frame", 1, n_frames)
            mot_id = fr.to_int(cells[1], "id", 1)
            conf = fr.to_float(cells[6], "conf") if len(cells) > 6 else 1.0
            cls = fr.to_int(cells[7], "class", -1) if len(cells) > 7 else -1
        except ValueError as exc:
            raise FormatError(path, f"line {n}: {exc}") from exc
        box = _row_box(path, n, cells[2:6], width, height)
        if (frame, mot_id) in rows:
            raise FormatError(path, f"line {n}: id {mot_id} has a second box on frame {frame}")
        rows[(frame, mot_id)] = (box, cls, conf, n)
    return rows


def _names(path: Path, what: str) -> list[str]:
    names = [line for _, line in _lines(path)]
    if len(set(names)) != len(names):
        raise FormatError(path, f"a {what} name appears twice")
    return names


def _sidecar(path: Path, n_frames: int) -> dict[str, Any]:
    if not path.is_file():
        return {}
    root = Field.sidecar(path, fr.read_text(path), "halgui-mot")
    out: dict[str, Any] = {"name": root.get("name").str()}
    fps = root.get("fps")
    if fps.number() <= 0:
        raise fps.fail("must be positive")
    out["fps"] = fps.number()
    split = root.get("split", "train")
    if split.value not in SPLITS:
        raise split.fail(f"must be one of {', '.join(SPLITS)}")
    out["split"] = split.value
    raw = root.get("path", None)
    if raw.value is not None and not fr.check_path_text(raw.str()):
        raise raw.fail("is not a usable path")
    out["path"] = None if raw.value is None else (path.parent.parent / raw.value).resolve()
    out["labeled"] = sorted(root.get("labeled_frames", []).frame_ranges(n_frames, base=1))
    colors = root.get("colors", {}).value
    out["colors"] = colors if isinstance(colors, dict) else {}
    return out


def _actions(path: Path, labels: list[str], gt: dict[tuple[int, int], Any], n_frames: int,
             width: int, height: int) -> list[ParsedTrack]:
    tracks: dict[int, dict[str, Any]] = {}
    used: set[tuple[int, int]] = set()   # (frame, id) of gt.txt boxes the rows account for
    rows: set[tuple[int, int]] = set()   # (track, frame)
    for n, line in _lines(path):
        if line.startswith("frame"):
            continue  # the header
        cells = [c.strip() for c in line.split(",")]
        if len(cells) not in (6, 10):
            raise FormatError(path, f"line {n}: expected 10 columns ({ACTIONS_HEADER}), "
                                    f"got {len(cells)}")
        try:
            frame = fr.to_int(cells[0], "frame", 1, n_frames)
            mot_id = fr.to_int(cells[1], "id", 1)
            action = fr.to_int(cells[2], "action_id", 1, max(len(labels), 1))
            number = fr.to_int(cells[3], "track", 1)
            if cells[4] not in KINDS:
                raise ValueError(f"kind {cells[4]!r} is not one of {', '.join(KINDS)}")
            if action > len(labels):
                raise ValueError("action_labels.txt holds no action")
        except ValueError as exc:
            raise FormatError(path, f"line {n}: {exc}") from exc
        entry = tracks.setdefault(number, {"id": mot_id, "action": action, "kfs": {}})
        if (entry["id"], entry["action"]) != (mot_id, action):
            raise FormatError(path, f"line {n}: track {number} was id {entry['id']} with "
                                    f"action {entry['action']} on an earlier line")
        if (number, frame) in rows:
            raise FormatError(path, f"line {n}: track {number} has a second row on frame {frame}")
        if len(cells) == 10 and any(cells[6:]):
            box = _row_box(path, n, cells[6:], width, height)
        elif cells[4] == "outside":
            raise FormatError(path, f"line {n}: an outside row needs its box columns")
        elif (frame, mot_id) in gt:
            box = gt[(frame, mot_id)][0]
        else:
            raise FormatError(path, f"line {n}: no box in gt.txt for id {mot_id} on frame "
                                    f"{frame}")
        rows.add((number, frame))
        if cells[4] != "outside":
            used.add((frame, mot_id))
        if cells[4] != "interpolated":
            entry["kfs"][frame - 1] = Keyframe(frame - 1, box, cells[4] == "outside",
                                               fr.check_source(cells[5]))
    for (frame, mot_id), (_, _, conf, n) in gt.items():
        if conf != 0 and (frame, mot_id) not in used:
            raise FormatError(path.parent / "gt.txt",
                              f"line {n}: the box of id {mot_id} on frame {frame} has no row in "
                              "actions.csv (delete actions.csv to import gt.txt as plain MOT)")
    return [ParsedTrack(e["id"], labels[e["action"] - 1],
                        tuple(e["kfs"][f] for f in sorted(e["kfs"])))
            for _, e in sorted(tracks.items()) if e["kfs"]]


def _plain(path: Path, gt: dict[tuple[int, int], Any]) -> tuple[list[ParsedTrack], set[int]]:
    labels_file = path.parent / "labels.txt"
    names = _names(labels_file, "class") if labels_file.is_file() else list(MOT_CLASSES)
    by_key: dict[tuple[int, str], list[tuple[int, Any]]] = {}
    frames: set[int] = set()
    for (frame, mot_id), (box, cls, conf, n) in sorted(gt.items()):
        if conf == 0:
            continue  # "ignore" rows are not actors
        if cls > len(names) or cls == 0:
            raise FormatError(path, f"line {n}: class {cls} is not in the class table "
                                    f"(1..{len(names)})")
        name = names[cls - 1] if cls > 0 else names[0]
        by_key.setdefault((mot_id, name), []).append((frame - 1, box))
        frames.add(frame - 1)
    tracks = []
    for (mot_id, name), boxes in sorted(by_key.items()):
        kfs: list[Keyframe] = []
        for i, (frame, box) in enumerate(boxes):
            kfs.append(Keyframe(frame, box, False, "imported"))
            if i + 1 < len(boxes) and boxes[i + 1][0] > frame + 1:  # a gap: the actor left
                kfs.append(Keyframe(frame + 1, box, True, "imported"))
        tracks.append(ParsedTrack(mot_id, name, tuple(kfs)))
    return tracks, frames


def _sequence(seq: Path) -> tuple[list[tuple[str, str]], ParsedVideo]:
    info = _seqinfo(seq / "seqinfo.ini")
    width, height = int(info["imwidth"]), int(info["imheight"])
    n_frames = int(info["seqlength"])
    gt_file = seq / "gt" / "gt.txt"
    gt = _gt(gt_file, n_frames, width, height)
    side = _sidecar(seq / "gt" / "halgui.json", n_frames)
    actions = seq / "gt" / "actions.csv"
    if actions.is_file():
        labels_file = seq / "gt" / "action_labels.txt"
        if not labels_file.is_file():
            raise FormatError(labels_file, "is missing: actions.csv refers to its action ids")
        labels = _names(labels_file, "action")
        tracks = _actions(actions, labels, gt, n_frames, width, height)
        labeled = {k.frame for t in tracks for k in t.keyframes if not k.outside}
    else:
        tracks, labeled = _plain(gt_file, gt)
        labels = list(dict.fromkeys(t.class_name for t in tracks))
    colors = side.get("colors", {})
    classes = [(name, c if isinstance(c := colors.get(name), str) else "") for name in labels]
    fps = side.get("fps") or float(info.get("framerate", 25))
    name = side.get("name") or info.get("name") or seq.name
    split = side.get("split") or fr.split_of(seq.parent.name) or "train"
    frames = side["labeled"] if "labeled" in side else sorted(labeled)
    return classes, ParsedVideo(name, side.get("path"), width, height, fps, n_frames, split,
                                tuple(frames), tuple(tracks))


def parse(path: str | Path) -> tuple[list[tuple[str, str]], list[ParsedVideo]]:
    """Read MOT sequences: ``OUT`` (``<split>/<seq>/gt/gt.txt``), a folder of sequences, one
    sequence folder, or its ``gt.txt``. Returns ``(classes, videos)``."""
    path = Path(path)
    if path.is_file():
        if path.name != "gt.txt":
            raise FormatError(path, "is not a MOT gt.txt (give the sequence folder or gt.txt)")
        seqs = [path.parent.parent]
    elif (path / "gt" / "gt.txt").is_file():
        seqs = [path]
    else:
        seqs = [p.parent.parent for p in
                sorted(path.glob("*/gt/gt.txt")) + sorted(path.glob("*/*/gt/gt.txt"))]
        if not seqs:
            raise FormatError(path, "holds no MOT sequence (<seq>/gt/gt.txt)")
    classes: dict[str, str] = {}
    videos: list[ParsedVideo] = []
    for seq in seqs:
        seq_classes, video = _sequence(seq)
        if any(v.name == video.name for v in videos):
            raise FormatError(seq / "seqinfo.ini", f"video {video.name!r} is also in another "
                                                   "sequence")
        for name, color in seq_classes:
            if not classes.get(name):
                classes[name] = color
        videos.append(video)
    return list(classes.items()), videos


# ---------------------------------------------------------------------- import
def import_labels(
    project: Project, path: str | Path, cancel: CancelFlag | None = None
) -> Generator[Progress, None, ImportSummary]:
    """Import MOT sequences (with halgui's action sidecar when present), all or nothing."""
    return (yield from import_parsed(parse, project, path, cancel))


__all__ = ["MOT_CLASSES", "export_labels", "import_labels", "parse"]
