"""YOLO detection labels (Ultralytics layout), one text file per frame, tracks in a sidecar.

``OUT`` is a folder::

    data.yaml                       train/val/test image folders, nc, names (Ultralytics, datumaro)
    classes.txt                     one class per line; the class id is the 0-based line index
    labels/<video>/frame_%06d.txt   one "class cx cy w h" line per box, normalised to [0, 1]
    images/<video>/frame_%06d.jpg   the same frames as images, only when asked for
    halgui_yolo.json                videos (size, fps, split, labeled frames) and tracks

A label file is written for every labeled frame (empty for a negative frame) and every frame
that carries a box; frame numbers are 0-based. A YOLO line has no track id (datumaro and
Ultralytics read exactly five fields), so ``halgui_yolo.json`` links lines into tracks: per track
its actor, class, keyframes as ``[frame, line, source]`` (``line``: 0-based index of the box in
that frame's file), interpolated boxes (pseudo-labels) as ``[frame, line]``, and ``outside``
keyframes, which are not boxes, as ``[frame, x1, y1, x2, y2, source]`` in pixels. A folder
without the sidecar imports as plain YOLO: one track per box. See ``docs/formats/yolo.md``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Generator, Sequence
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

SIDECAR = "halgui_yolo.json"
FRAME_NAME = "frame_%06d"
TARGET: Kind = "folder"


# ---------------------------------------------------------------------- export
def export_labels(
    snapshot: LabelSnapshot, out: str | Path, options: ExportOptions | None = None,
    cancel: CancelFlag | None = None,
) -> Generator[Progress, None, ExportSummary]:
    """Write the chosen videos as a YOLO dataset in the folder ``OUT``."""
    job = ExportJob.start(snapshot, out, options)
    entries = []
    with job.target(TARGET) as tmp:
        (tmp / "labels").mkdir(parents=True)
        for progress, video in each_video(job.videos, cancel):
            yield progress
            folder = job.names[video.name]
            entry, frames = _write_video(snapshot, video, folder, tmp / "labels" / folder,
                                         job.options, job.out)
            entries.append(entry)
            if job.options.write_images:
                yield from fr.write_frames(video, frames, tmp / "images" / folder,
                                           f"{FRAME_NAME}.jpg", cancel)
        names = [c.name for c in snapshot.classes]
        (tmp / "classes.txt").write_text("".join(f"{n}\n" for n in names), encoding="utf-8")
        (tmp / "data.yaml").write_text(_data_yaml(job.videos, job.names, names),
                                       encoding="utf-8")
        sidecar = {"format": "halgui-yolo", "version": 1,
                   "classes": [{"name": c.name, "color": c.color} for c in snapshot.classes],
                   "videos": entries}
        (tmp / SIDECAR).write_text(json.dumps(sidecar, ensure_ascii=False), encoding="utf-8")
    return (yield from job.done())


def _data_yaml(videos: Sequence[VideoRecord], folders: dict[str, str], names: list[str]) -> str:
    def images(split: str) -> str:
        return json.dumps([f"images/{folders[v.name]}" for v in videos if v.split == split])

    return ("# YOLO detection dataset written by halgui: labels/<video>/frame_%06d.txt\n"
            f"train: {images('train')}\nval: {images('val')}\ntest: {images('test')}\n"
            f"nc: {len(names)}\nnames: {json.dumps(names)}\n")


def _write_video(snapshot: LabelSnapshot, video: VideoRecord, folder: str, dest: Path,
                 options: ExportOptions, out: Path) -> tuple[dict[str, Any], list[int]]:
    class_index = {c.id: i for i, c in enumerate(snapshot.classes)}
    class_name = {c.id: c.name for c in snapshot.classes}
    w, h = video.width, video.height
    labeled = fr.labeled_frames(snapshot, video)
    lines: dict[int, list[str]] = {f: [] for f in labeled}
    tracks = []
    for track in snapshot.tracks.get(video.id, ()):
        kfs = fr.export_keyframes(track, options, video.n_frames)
        shapes = fr.track_shapes(kfs, video.n_frames, options.pseudo_labels)
        if not shapes:
            continue
        refs: dict[str, list[list[Any]]] = {"keyframes": [], "interpolated": [], "outside": []}
        cls = class_index[track.class_id]
        for s in shapes:
            x1, y1, x2, y2 = s.box
            if not s.visible:
                refs["outside"].append([s.frame, *(round(v, 3) for v in s.box), s.source])
                continue
            frame_lines = lines.setdefault(s.frame, [])
            frame_lines.append(f"{cls} {(x1 + x2) / (2 * w):.6f} {(y1 + y2) / (2 * h):.6f} "
                               f"{(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}")
            ref = [s.frame, len(frame_lines) - 1]
            if s.kind == "keyframe":
                refs["keyframes"].append([*ref, s.source])
            else:
                refs["interpolated"].append(ref)
        tracks.append({"actor": track.actor, "class": class_name[track.class_id], **refs})
    dest.mkdir(parents=True)
    for f, frame_lines in lines.items():
        (dest / f"{FRAME_NAME % f}.txt").write_text(
            "".join(f"{line}\n" for line in frame_lines), encoding="utf-8")
    entry = {"name": video.name, "folder": folder, "width": w, "height": h, "fps": video.fps,
             "n_frames": video.n_frames, "split": video.split,
             "path": fr.relative_path(video, out), "labeled_frames": fr.ranges(labeled),
             "tracks": tracks}
    return entry, sorted(lines)


# ---------------------------------------------------------------------- parsing
def _class_names(root: Path) -> list[str]:
    classes, yaml, names = root / "classes.txt", root / "data.yaml", root / "obj.names"
    if classes.is_file() or names.is_file():
        file = classes if classes.is_file() else names
        # names as written (a project keeps "walk " apart from "walk"); blank lines at the end
        lines = fr.lines_of(fr.read_text(file))
        while lines and not lines[-1].strip():
            lines.pop()
        blank = next((i for i, n in enumerate(lines) if not n.strip()), None)
        if blank is not None:
            raise FormatError(file, f"line {blank + 1}: an empty class name")
    elif yaml.is_file():
        file, lines = yaml, _yaml_names(yaml)
    else:
        raise FormatError(root, "has no classes.txt, data.yaml or obj.names: the class names "
                                "are unknown")
    if len(set(lines)) != len(lines):
        raise FormatError(file, "a class name appears twice")
    return lines


def _yaml_names(path: Path) -> list[str]:
    """``names`` of a data.yaml: a flow list, or a block list or mapping (index: name)."""
    text = fr.lines_of(fr.read_text(path))
    for i, line in enumerate(text):
        if not line.startswith("names:"):
            continue
        rest = line[len("names:"):].strip()
        if rest.startswith("["):
            try:
                value = json.loads(rest)
            except (ValueError, RecursionError):  # not JSON: a YAML flow list
                value = [v.strip().strip("'\"") for v in rest.strip("[]").split(",")]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise FormatError(path, f"line {i + 1}: names must be a list of strings")
            return [v.strip() for v in value if v.strip()]
        names = []
        for item in text[i + 1:]:
            if not item.startswith((" ", "\t", "-")):
                break
            entry = item.strip()
            entry = entry[1:] if entry.startswith("-") else entry.partition(":")[2]
            names.append(entry.strip().strip("'\""))
        return names
    raise FormatError(path, "has no 'names:'")


def _label_file(path: Path, n_classes: int) -> list[tuple[int, tuple[float, ...], int]]:
    """``(class, (cx, cy, w, h), line number)`` per box line of a YOLO label file."""
    boxes = []
    for n, line in enumerate(fr.lines_of(fr.read_text(path)), 1):
        cells = line.split()
        if not cells:
            continue
        if len(cells) != 5:
            raise FormatError(path, f"line {n}: expected 5 fields (class cx cy w h), "
                                    f"got {len(cells)}")
        try:
            cls = fr.to_int(cells[0], "class", 0, max(n_classes - 1, 0))
            if n_classes == 0:
                raise ValueError("there are no classes")
            values = tuple(fr.to_float(c, k) for c, k in zip(cells[1:], ["cx", "cy", "w", "h"],
                                                             strict=True))
        except ValueError as exc:
            raise FormatError(path, f"line {n}: {exc}") from exc
        boxes.append((cls, values, n))
    return boxes


def _pixels(path: Path, n: int, values: tuple[float, ...], width: int, height: int) -> Any:
    cx, cy, w, h = values
    if w <= 0 or h <= 0:
        raise FormatError(path, f"line {n}: w and h must be positive, got {w} and {h}")
    try:
        return clip_box(((cx - w / 2) * width, (cy - h / 2) * height,
                         (cx + w / 2) * width, (cy + h / 2) * height), width, height)
    except BoxError as exc:
        raise FormatError(path, f"line {n}: {exc}") from exc


def _frame_files(folder: Path, n_frames: int | None) -> dict[int, Path]:
    files: dict[int, Path] = {}
    paths = sorted(folder.glob("*.txt"), key=lambda p: [int(t) if t.isdigit() else t
                                                       for t in re.split(r"(\d+)", p.stem)])
    for rank, path in enumerate(paths):
        digits = re.search(r"(\d+)$", path.stem)
        frame = int(digits.group(1)) if digits and len(digits.group(1)) < 10 else rank
        if frame in files:
            raise FormatError(path, f"is frame {frame}, like {files[frame].name}")
        if n_frames is not None and frame >= n_frames:
            raise FormatError(path, f"is frame {frame}, past the video's {n_frames} frames")
        files[frame] = path
    return files


class _Boxes:
    """The label files of one video, and which of their boxes the sidecar's tracks took."""

    def __init__(self, folder: Path, n_frames: int, names: list[str], width: int,
                 height: int) -> None:
        self.folder, self.names, self.size = folder, names, (width, height)
        self.files = _frame_files(folder, n_frames)
        self.boxes = {f: _label_file(p, len(names)) for f, p in self.files.items()}
        self.unused = {(f, i) for f, bs in self.boxes.items() for i in range(len(bs))}

    def take(self, r: Field, size: int, class_name: str) -> tuple[int, Any]:
        """The box ``[frame, line, ...]`` refers to, in pixels; each box is taken once."""
        cells = r.items()
        if len(cells) != size:
            raise r.fail(f"expected {size} values")
        frame, line = cells[0].int(), cells[1].int()
        if line >= len(self.boxes.get(frame, ())):
            raise r.fail(f"labels/{self.folder.name}/{FRAME_NAME % frame}.txt has no box {line}")
        cls, values, n = self.boxes[frame][line]
        if self.names[cls] != class_name:
            raise r.fail(f"box {line} of frame {frame} is class {self.names[cls]!r}, "
                         f"not {class_name!r}")
        if (frame, line) not in self.unused:
            raise r.fail(f"box {line} of frame {frame} belongs to another track")
        self.unused.discard((frame, line))
        return frame, _pixels(self.files[frame], n, values, *self.size)

    def check_all_used(self) -> None:
        if self.unused:
            frame, line = min(self.unused)
            raise FormatError(self.files[frame], f"line {self.boxes[frame][line][2]}: this box "
                                                 f"is in no track of {SIDECAR} (delete the "
                                                 "sidecar to import plain YOLO)")


def _video_entry(v: Field, root: Path, names: list[str]) -> ParsedVideo:
    name, folder = v.get("name").str(), v.get("folder").str()
    if not re.fullmatch(r"[A-Za-z0-9._-]+", folder) or folder in (".", ".."):
        raise v.get("folder").fail("is not a plain folder name")
    width, height, n_frames = (v.get(k).int(1) for k in ("width", "height", "n_frames"))
    if max(width, height, n_frames) > fr.MAX_INT:
        raise v.fail("width, height or n_frames is too large")
    fps = v.get("fps", 25.0)
    if fps.number() <= 0:
        raise fps.fail("must be positive")
    split = v.get("split", "train")
    if split.value not in SPLITS:
        raise split.fail(f"must be one of {', '.join(SPLITS)}")
    raw = v.get("path", None)
    if raw.value is not None and not fr.check_path_text(raw.str()):
        raise raw.fail("is not a usable path")
    labeled = v.get("labeled_frames", []).frame_ranges(n_frames)
    boxes = _Boxes(root / "labels" / folder, n_frames, names, width, height)
    tracks = []
    for t in v.get("tracks", []).items():
        cls = t.get("class")
        if cls.str() not in names:
            raise cls.fail(f"class {cls.value!r} is not in classes.txt")
        actor = t.get("actor", 0).int()
        if actor > fr.MAX_INT:
            raise t.get("actor").fail("is too large")
        kfs: dict[int, Keyframe] = {}
        for r in t.get("keyframes", []).items():
            frame, box = boxes.take(r, 3, cls.value)
            if frame in kfs:
                raise r.fail(f"a second keyframe on frame {frame}")
            kfs[frame] = Keyframe(frame, box, False, fr.check_source(r.value[2]))
        for r in t.get("interpolated", []).items():
            boxes.take(r, 2, cls.value)
        for r in t.get("outside", []).items():
            cells = r.items()
            if len(cells) != 6:
                raise r.fail("expected [frame, x1, y1, x2, y2, source]")
            frame = cells[0].int()
            if frame >= n_frames or frame in kfs:
                raise r.fail(f"frame {frame} is past the video or already has a keyframe")
            try:
                box = clip_box([c.number() for c in cells[1:5]], width, height)
            except BoxError as exc:
                raise r.fail(str(exc)) from exc
            kfs[frame] = Keyframe(frame, box, True, fr.check_source(cells[5].value))
        if kfs:
            tracks.append(ParsedTrack(actor, cls.value, tuple(kfs[f] for f in sorted(kfs))))
    boxes.check_all_used()
    path = None if raw.value is None else (root / raw.value).resolve()
    return ParsedVideo(name, path, width, height, fps.number(), n_frames, split.value,
                       tuple(sorted(labeled)), tuple(tracks))


def _with_sidecar(root: Path, names: list[str]) -> tuple[list[tuple[str, str]], list[ParsedVideo]]:
    path = root / SIDECAR
    top = Field.sidecar(path, fr.read_text(path), "halgui-yolo")
    colors = {}
    for c in top.get("classes", []).items():
        color = c.get("color", "").value
        colors[c.get("name").str()] = color if isinstance(color, str) else ""
    videos: list[ParsedVideo] = []
    for v in top.get("videos").items():
        video = _video_entry(v, root, names)
        if any(o.name == video.name for o in videos):
            raise v.get("name").fail(f"video name {video.name!r} appears twice")
        videos.append(video)
    return [(n, colors.get(n, "")) for n in names], videos


def _plain(root: Path, names: list[str]) -> list[ParsedVideo]:
    labels = root / "labels"
    if not labels.is_dir():
        raise FormatError(root, "has no labels/ folder")
    folders = [labels] if any(labels.glob("*.txt")) else sorted(
        p for p in labels.iterdir() if p.is_dir() and any(p.glob("*.txt")))
    videos = []
    for folder in folders:
        files = _frame_files(folder, None)
        size = _image_size(root / "images" / folder.relative_to(labels), files)
        if size is None:
            raise FormatError(folder, "has no image beside its labels (images/...): the frame "
                                      "size, needed to read normalised boxes, is unknown")
        tracks = []
        for frame, path in sorted(files.items()):
            for cls, values, n in _label_file(path, len(names)):
                box = _pixels(path, n, values, *size)
                tracks.append(ParsedTrack(0, names[cls], (Keyframe(frame, box, False,
                                                                   "imported"),)))
        name = folder.name if folder != labels else root.name
        videos.append(ParsedVideo(name, None, size[0], size[1], 25.0, max(files) + 1, "train",
                                  tuple(sorted(files)), tuple(tracks)))
    if not videos:
        raise FormatError(labels, "holds no label files")
    return videos


def _image_size(folder: Path, files: dict[int, Path]) -> tuple[int, int] | None:
    import cv2

    from halgui.core.video import FRAME_EXTENSIONS

    for path in files.values():
        for image in folder.glob(f"{glob_escape(path.stem)}.*"):
            if image.suffix.lower() in FRAME_EXTENSIONS:
                pixels = cv2.imread(str(image), cv2.IMREAD_UNCHANGED)
                if pixels is not None:
                    return int(pixels.shape[1]), int(pixels.shape[0])
    return None


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def parse(path: str | Path) -> tuple[list[tuple[str, str]], list[ParsedVideo]]:
    """Read a YOLO folder (or a file in it): with ``halgui_yolo.json`` tracks are restored,
    without it every box is a track. Returns ``(classes, videos)``."""
    path = Path(path)
    root = path if path.is_dir() else path.parent
    names = _class_names(root)
    if (root / SIDECAR).is_file():
        return _with_sidecar(root, names)
    return [(n, "") for n in names], _plain(root, names)


# ---------------------------------------------------------------------- import
def import_labels(
    project: Project, path: str | Path, cancel: CancelFlag | None = None
) -> Generator[Progress, None, ImportSummary]:
    """Import a YOLO folder, all or nothing."""
    return (yield from import_parsed(parse, project, path, cancel))


__all__ = ["export_labels", "import_labels", "parse"]
