"""CVAT for video 1.1 XML: one task file per video, tracks with keyframe/outside boxes.

``OUT`` is a folder with ``<video>.xml`` per video (file names made safe; the task ``<name>`` is
the exact video name) and, when asked for, the frames as ``images/<video>/frame_%06d.png`` (the
layout of CVAT's own video export, which datumaro reads as subset ``<video>``).

Each class is a CVAT label; each track a ``<track>`` of that label, with ``group_id`` = actor.
Keyframes are ``keyframe="1"`` boxes, ``outside`` keyframes ``outside="1"``; interpolated boxes
(pseudo-labels) are ``keyframe="0"``. A track whose last keyframe is visible gets a closing
``outside="1"`` box on the next frame, because in CVAT a track without one goes on to the end of
the video. Each label has a mutable ``source`` attribute (human, imported, model-accepted). What
CVAT has no field for sits in ``<meta><halgui>``: the frame rate, the video file, the labeled
frames and which closing boxes halgui added. See ``docs/formats/cvat.md``.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from xml.parsers import expat
from xml.sax.saxutils import escape, quoteattr

from halgui.core.annotations import SOURCES, Keyframe, clip_box
from halgui.core.errors import BoxError, FormatError
from halgui.core.formats import _frames as fr
from halgui.core.formats.common import (
    ExportJob,
    ExportOptions,
    ExportSummary,
    ImportSummary,
    Kind,
    ParsedTrack,
    ParsedVideo,
    each_video,
    import_parsed,
    input_files,
)
from halgui.core.progress import CancelFlag, Progress
from halgui.core.project import LabelSnapshot, Project, VideoRecord

IMAGE_NAME = "frame_%06d.png"
TARGET: Kind = "folder"
_DEFAULT_FPS = 25.0


# ---------------------------------------------------------------------- export
def export_labels(
    snapshot: LabelSnapshot, out: str | Path, options: ExportOptions | None = None,
    cancel: CancelFlag | None = None,
) -> Generator[Progress, None, ExportSummary]:
    """Write one CVAT for video 1.1 XML file per chosen video into the folder ``OUT``."""
    job = ExportJob.start(snapshot, out, options)
    now = datetime.now(timezone.utc).isoformat(sep=" ", timespec="seconds")
    with job.target(TARGET) as tmp:
        for progress, video in each_video(job.videos, cancel):
            yield progress
            text = _document(snapshot, video, job.options, now, job.out)
            (tmp / f"{job.names[video.name]}.xml").write_text(text, encoding="utf-8")
        if job.options.write_images:
            for video in job.videos:
                yield from fr.write_frames(video, range(video.n_frames),
                                           tmp / "images" / job.names[video.name], IMAGE_NAME,
                                           cancel)
    return (yield from job.done())


def _labels(snapshot: LabelSnapshot) -> list[str]:
    values = "\n".join(SOURCES)
    lines = ["      <labels>"]
    for c in snapshot.classes:
        lines += [
            f"        <label><name>{escape(c.name)}</name><color>{escape(c.color)}</color>"
            "<type>rectangle</type>",
            "          <attributes><attribute><name>source</name><mutable>True</mutable>"
            "<input_type>select</input_type><default_value>human</default_value>"
            f"<values>{values}</values></attribute></attributes>",
            "        </label>",
        ]
    return [*lines, "      </labels>"]


def _document(snapshot: LabelSnapshot, video: VideoRecord, options: ExportOptions, now: str,
              out: Path) -> str:
    last = video.n_frames - 1
    source = video.path.name if video.path is not None else video.name
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>', "<annotations>", "  <version>1.1</version>",
        "  <meta>", "    <task>", "      <id>1</id>",
        f"      <name>{escape(video.name)}</name>", f"      <size>{video.n_frames}</size>",
        "      <mode>interpolation</mode>", "      <overlap>0</overlap>",
        "      <bugtracker></bugtracker>",
        f"      <created>{now}</created>", f"      <updated>{now}</updated>",
        f"      <subset>{video.split}</subset>",
        "      <start_frame>0</start_frame>", f"      <stop_frame>{last}</stop_frame>",
        "      <frame_filter></frame_filter>",
        f"      <segments><segment><id>1</id><start>0</start><stop>{last}</stop><url></url>"
        "</segment></segments>",
        "      <owner><username></username><email></email></owner>",
        *_labels(snapshot),
        f"      <original_size><width>{video.width}</width><height>{video.height}</height>"
        "</original_size>",
        f"      <source>{escape(source)}</source>",
        "    </task>", f"    <dumped>{now}</dumped>",
    ]
    classes = {c.id: c.name for c in snapshot.classes}
    body: list[str] = []
    closing: list[int] = []
    track_id = 0
    for track in snapshot.tracks.get(video.id, ()):
        kfs = fr.export_keyframes(track, options, video.n_frames)
        shapes = fr.track_shapes(kfs, video.n_frames, options.pseudo_labels)
        if not shapes:
            continue
        end = shapes[-1]
        if end.visible and end.frame + 1 < video.n_frames:
            shapes.append(fr.Shape(end.frame + 1, end.box, "outside", end.source))
            closing.append(track_id)
        group = f" group_id=\"{track.actor}\"" if track.actor > 0 else ""
        kind = {s.source for s in shapes}
        origin = "manual" if kind == {"human"} else (
            "semi-auto" if "model-accepted" in kind else "file")
        body.append(f'  <track id="{track_id}" label={quoteattr(classes[track.class_id])}'
                    f' source="{origin}"{group}>')
        for s in shapes:
            x1, y1, x2, y2 = s.box
            body.append(
                f'    <box frame="{s.frame}" keyframe="{int(s.kind != "interpolated")}"'
                f' outside="{int(not s.visible)}" occluded="0" xtl="{x1:.2f}" ytl="{y1:.2f}"'
                f' xbr="{x2:.2f}" ybr="{y2:.2f}" z_order="0">'
                f'<attribute name="source">{s.source}</attribute></box>')
        body.append("  </track>")
        track_id += 1
    path = fr.relative_path(video, out)
    lines += [
        '    <halgui version="1">', f"      <fps>{video.fps!r}</fps>",
        *([f"      <path>{escape(path)}</path>"] if path is not None else []),
        f"      <labeled_frames>{fr.format_ranges(fr.labeled_frames(snapshot, video))}"
        "</labeled_frames>",
        f"      <closing_outside>{' '.join(map(str, closing))}</closing_outside>",
        "    </halgui>", "  </meta>", *body, "</annotations>", "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------- parsing
@dataclass
class _Node:
    """An element of ``<meta>`` (small, so kept whole)."""

    tag: str
    line: int
    children: list[_Node] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)

    def find(self, tag: str) -> _Node | None:
        return next((c for c in self.children if c.tag == tag), None)

    def text(self, tag: str, default: str | None = None) -> str | None:
        node = self.find(tag)
        return default if node is None else "".join(node.parts).strip()

    def exact(self, tag: str) -> str | None:
        """The text of a name as written: a video or class name may end in spaces, and a round
        trip must keep them."""
        node = self.find(tag)
        return None if node is None else "".join(node.parts)


@dataclass
class _Video:
    name: str
    width: int
    height: int
    n_frames: int
    split: str
    labels: dict[str, str]             # declared labels -> colour (empty: none declared)
    fps: float | None = None
    path: Path | None = None
    labeled: list[int] | None = None
    closing: set[int] = field(default_factory=set)


@dataclass
class _Track:
    id: int
    label: str
    actor: int
    line: int
    boxes_only: bool = True
    shapes: list[tuple[int, bool, bool, Any, str, int]] = field(default_factory=list)


class _Reader:
    """Streams one XML file through expat: ``<meta>`` is kept as a tree, boxes as tuples."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.parser = expat.ParserCreate()
        self.parser.buffer_text = True
        self.stack: list[str] = []
        self.meta_nodes: list[_Node] = []
        self.video: _Video | None = None
        self.tracks: list[_Track] = []
        self.track: _Track | None = None
        self.box: tuple[dict[str, str], int, dict[str, str]] | None = None
        self.attribute: str | None = None
        self.parts: list[str] = []
        p = self.parser
        p.StartElementHandler, p.EndElementHandler = self._start, self._end
        p.CharacterDataHandler = self._chars
        p.StartDoctypeDeclHandler = self._refuse
        p.EntityDeclHandler = self._refuse

    def fail(self, problem: str, line: int | None = None) -> FormatError:
        line = self.parser.CurrentLineNumber if line is None else line
        return FormatError(self.path, f"line {line}: {problem}")

    def read(self) -> tuple[_Video, list[_Track]]:
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise FormatError(self.path, f"cannot be read ({exc.strerror or exc})") from exc
        try:
            self.parser.Parse(data, True)
        except expat.ExpatError as exc:
            raise FormatError(self.path, f"line {exc.lineno}, column {exc.offset + 1}: "
                                         f"{expat.ErrorString(exc.code)}") from exc
        except (LookupError, UnicodeError) as exc:  # the declared encoding: unknown or wrong
            raise FormatError(self.path, f"cannot be decoded ({exc})") from exc
        if self.video is None:
            raise FormatError(self.path, "has no <meta> with a <task>")
        return self.video, self.tracks

    def _refuse(self, *args: Any) -> None:
        raise self.fail("DTDs and entity declarations are not allowed")

    def _start(self, tag: str, attrs: dict[str, str]) -> None:
        depth, parent = len(self.stack), (self.stack[-1] if self.stack else "")
        self.stack.append(tag)
        line = self.parser.CurrentLineNumber
        if depth == 0 and tag != "annotations":
            raise self.fail(f"the root element is <{tag}>, not <annotations>")
        if self.meta_nodes:
            node = _Node(tag, line)
            self.meta_nodes[-1].children.append(node)
            self.meta_nodes.append(node)
        elif depth == 1 and tag == "meta":
            if self.video is not None:
                raise self.fail("a second <meta>")
            self.meta_nodes.append(_Node(tag, line))
        elif depth == 1 and tag == "track":
            if self.video is None:
                raise self.fail("<track> before <meta>: the frame size is not known yet")
            self.track = _Track(
                self._int(attrs.get("id", "-1"), "track id", -1), attrs.get("label", ""),
                self._int(attrs.get("group_id", "0"), "group_id"), line)
            if not self.track.label.strip():
                raise self.fail("<track> has no label")
        elif depth == 1 and tag == "image":
            raise self.fail("<image> is CVAT for images; export the task as CVAT for video 1.1")
        elif depth == 2 and parent == "track" and self.track is not None:
            if tag == "box":
                self.box = (attrs, line, {})
            else:
                self.track.boxes_only = False
        elif depth == 3 and parent == "box" and tag == "attribute" and self.box is not None:
            self.attribute, self.parts = attrs.get("name", ""), []

    def _end(self, tag: str) -> None:
        self.stack.pop()
        if self.meta_nodes:
            node = self.meta_nodes.pop()
            if not self.meta_nodes:
                self.video = self._meta(node)
        elif tag == "attribute" and self.attribute is not None and self.box is not None:
            self.box[2][self.attribute] = "".join(self.parts).strip()
            self.attribute = None
        elif tag == "box" and self.box is not None and self.track is not None:
            self.track.shapes.append(self._shape(*self.box))
            self.box = None
        elif tag == "track" and self.track is not None:
            self.tracks.append(self.track)
            self.track = None

    def _chars(self, data: str) -> None:
        if self.meta_nodes:
            self.meta_nodes[-1].parts.append(data)
        elif self.attribute is not None:
            self.parts.append(data)

    def _int(self, text: str | None, what: str, minimum: int = 0, line: int | None = None) -> int:
        if text is None:
            raise self.fail(f"no {what}", line)
        try:
            return fr.to_int(text, what, minimum)
        except ValueError as exc:
            raise self.fail(str(exc), line) from exc

    def _meta(self, meta: _Node) -> _Video:
        if meta.find("project") is not None:
            raise self.fail("a CVAT project export: export each task as CVAT for video 1.1",
                            meta.line)
        task = meta.find("task") or meta.find("job")
        if task is None:
            raise self.fail("<meta> has neither <task> nor <job>", meta.line)
        name = task.exact("name") or ""
        if not name.strip():
            raise self.fail("the task has no <name> (the video's name)", task.line)
        size = task.find("original_size")
        if size is None:
            raise self.fail("the task has no <original_size>: the frame size is unknown",
                            task.line)
        width = self._int(size.text("width"), "original_size width", 1, size.line)
        height = self._int(size.text("height"), "original_size height", 1, size.line)
        start = self._int(task.text("start_frame", "0"), "start_frame", 0, task.line)
        count = self._int(task.text("size"), "size", 1, task.line)
        stop = self._int(task.text("stop_frame", str(start + count - 1)), "stop_frame", 0,
                         task.line)
        labels: dict[str, str] = {}
        holder = task.find("labels")
        for label in holder.children if holder is not None else []:
            label_name = label.exact("name") or ""
            if label.tag != "label" or not label_name.strip():
                raise self.fail("a <label> without a <name>", label.line)
            labels.setdefault(label_name, label.text("color") or "")
        video = _Video(name, width, height, stop + 1, fr.split_of(task.text("subset") or "")
                       or "train", labels)
        source = task.text("source") or ""
        if fr.check_path_text(source) and "/" not in source and "\\" not in source:
            video.path = (self.path.parent / source).resolve()
        extra = meta.find("halgui")
        if extra is not None:
            self._extra(extra, video)
        return video

    def _extra(self, extra: _Node, video: _Video) -> None:
        video.path = None  # halgui's own file says where the video is, or that it has none
        fps_text = extra.text("fps")
        if fps_text is not None:
            try:
                video.fps = fr.to_float(fps_text, "fps")
            except ValueError as exc:
                raise self.fail(str(exc), extra.line) from exc
            if video.fps <= 0:
                raise self.fail("fps must be positive", extra.line)
        path = extra.text("path")
        if path is not None:
            if not fr.check_path_text(path):
                raise self.fail("<path> is not a usable path", extra.line)
            video.path = (self.path.parent / path).resolve()
        try:
            labeled = extra.text("labeled_frames")
            if labeled is not None:
                video.labeled = fr.parse_ranges(labeled, video.n_frames)
            closing = extra.text("closing_outside") or ""
            video.closing = {fr.to_int(t, "track id") for t in closing.split()}
        except ValueError as exc:
            raise self.fail(str(exc), extra.line) from exc

    def _shape(self, attrs: dict[str, str], line: int,
               attributes: dict[str, str]) -> tuple[int, bool, bool, Any, str, int]:
        video = self.video
        assert video is not None
        frame = self._int(attrs.get("frame"), "frame", 0, line)
        if frame >= video.n_frames:
            raise self.fail(f"frame {frame} is past the task's last frame {video.n_frames - 1}",
                            line)
        flags = []
        for key, default in (("keyframe", "1"), ("outside", "0")):
            value = attrs.get(key, default).strip()
            if value not in ("0", "1"):
                raise self.fail(f"{key}={value!r} is not 0 or 1", line)
            flags.append(value == "1")
        try:
            coords = [fr.to_float(attrs.get(k, ""), k) for k in ("xtl", "ytl", "xbr", "ybr")]
            if fr.to_float(attrs.get("rotation", "0"), "rotation") % 360 != 0:
                raise ValueError("rotated boxes cannot be imported")
            box = clip_box(coords, video.width, video.height)
        except (ValueError, BoxError) as exc:
            raise self.fail(str(exc), line) from exc
        return (frame, flags[0], flags[1], box, fr.check_source(attributes.get("source")), line)


def _keyframes(path: Path, video: _Video, track: _Track) -> list[Keyframe]:
    shapes = track.shapes
    seen: set[int] = set()
    for frame, *_, line in shapes:
        if frame in seen:
            raise FormatError(path, f"line {line}: track {track.id} has two boxes on frame "
                                    f"{frame}")
        seen.add(frame)
    shapes = sorted(shapes, key=lambda s: s[0])
    if shapes and track.id in video.closing and shapes[-1][2]:
        shapes = shapes[:-1]  # the closing box halgui added on export
    keep = [s for i, s in enumerate(shapes)
            if s[1] or (i == len(shapes) - 1 and not s[2])]  # a visible last box ends the span
    return [Keyframe(frame, box, outside, source)
            for frame, _, outside, box, source, _ in keep]


def parse(path: str | Path) -> tuple[list[tuple[str, str]], list[ParsedVideo]]:
    """Read CVAT for video 1.1 XML: a file, or a folder of them (``*.xml``, or
    ``*/annotations.xml`` as CVAT's export archives hold). Returns ``(classes, videos)``."""
    path = Path(path)
    files = input_files(path, ("*.xml", "*/annotations.xml"), "CVAT XML file (*.xml)")
    classes: dict[str, str] = {}
    videos: list[ParsedVideo] = []
    names: set[str] = set()
    for file in files:
        video, tracks = _Reader(file).read()
        if video.name in names:
            raise FormatError(file, f"video (task) {video.name!r} is also in another file")
        names.add(video.name)
        for name, color in video.labels.items():
            classes.setdefault(name, color)
        parsed, boxed = [], set()
        spare = max((t.actor for t in tracks), default=0)  # ungrouped tracks: actors after it
        for track in tracks:
            label = track.label
            if video.labels and label not in video.labels:
                raise FormatError(file, f"line {track.line}: label {label!r} is not declared "
                                        "in <meta><labels>")
            if not track.boxes_only:
                continue  # polygons, points and the like are not boxes
            classes.setdefault(label, "")
            boxed.update(s[0] for s in track.shapes if not s[2])
            keyframes = _keyframes(file, video, track)
            if keyframes:
                if track.actor == 0:
                    spare += 1
                parsed.append(ParsedTrack(track.actor or spare, label, tuple(keyframes)))
        fps = video.fps
        if fps is None:
            fps = _DEFAULT_FPS
            if video.path is not None and video.path.is_file():
                from halgui.core.video import probe

                fps = probe(video.path).fps
        labeled = video.labeled if video.labeled is not None else sorted(boxed)
        videos.append(ParsedVideo(video.name, video.path, video.width, video.height, fps,
                                  video.n_frames, video.split, tuple(labeled), tuple(parsed)))
    return list(classes.items()), videos


# ---------------------------------------------------------------------- import
def import_labels(
    project: Project, path: str | Path, cancel: CancelFlag | None = None
) -> Generator[Progress, None, ImportSummary]:
    """Import CVAT for video 1.1 XML (a file or a folder of them), all or nothing."""
    return (yield from import_parsed(parse, project, path, cancel))


__all__ = ["export_labels", "import_labels", "parse"]
