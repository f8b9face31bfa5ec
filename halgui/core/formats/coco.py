"""CocoVid JSON (the video variant of COCO that mmtracking reads), with halgui's extras.

``OUT`` is a folder: ``annotations/instances_<split>.json`` per split and an ``images/`` folder
(frame images only when asked for). One category per action class; one annotation per box with
``instance_id`` (one per track) and ``attributes`` ``{track_id, actor, keyframe, source}``;
interpolated boxes have ``keyframe: false`` and ``source: "interpolated"``. ``images`` lists
the labeled frames (``labeled: true``) and every other frame that carries a box
(``labeled: false``). A top-level ``tracks`` list (halgui's extension) keeps each track's actor
and its ``outside`` keyframes, which are not boxes. See ``docs/formats/coco.md``.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from datetime import datetime, timezone
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
    input_files,
    parse_json,
)
from halgui.core.progress import CancelFlag, Progress
from halgui.core.project import LabelSnapshot, Project

IMAGE_NAME = "frame_%06d.jpg"
TARGET: Kind = "folder"


# ---------------------------------------------------------------------- export
def export_labels(
    snapshot: LabelSnapshot, out: str | Path, options: ExportOptions | None = None,
    cancel: CancelFlag | None = None,
) -> Generator[Progress, None, ExportSummary]:
    """Write ``OUT/annotations/instances_<split>.json`` for each split of the chosen videos."""
    job = ExportJob.start(snapshot, out, options)
    category = {c.id: i + 1 for i, c in enumerate(snapshot.classes)}
    categories = [{"id": i + 1, "name": c.name, "supercategory": "action", "color": c.color}
                  for i, c in enumerate(snapshot.classes)]
    docs: dict[str, dict[str, Any]] = {}
    ids = {"video": 0, "image": 0, "annotation": 0, "instance": 0}
    images_of: list[tuple[Any, list[int]]] = []
    with job.target(TARGET) as tmp:
        (tmp / "annotations").mkdir(parents=True)
        (tmp / "images").mkdir()
        for progress, video in each_video(job.videos, cancel):
            yield progress
            doc = docs.setdefault(video.split, _document(categories))
            frames = _add_video(doc, snapshot, video, job.names[video.name], category, ids,
                                job.options, job.out / "annotations")
            images_of.append((video, frames))
        if not docs:
            docs[job.options.split or "train"] = _document(categories)
        for split, doc in docs.items():
            text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
            (tmp / "annotations" / f"instances_{split}.json").write_text(text, encoding="utf-8")
        if job.options.write_images:
            for video, frames in images_of:
                yield from fr.write_frames(video, frames,
                                           tmp / "images" / video.split / job.names[video.name],
                                           IMAGE_NAME, cancel)
    return (yield from job.done())


def _document(categories: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "info": {"description": "exported by halgui", "version": "1.0",
                 "date_created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                 "halgui_format": 1},
        "licenses": [],
        "categories": categories,
        "videos": [], "images": [], "annotations": [], "tracks": [],
    }


def _bbox(box: tuple[float, float, float, float]) -> list[float]:
    x1, y1, x2, y2 = (round(v, 3) for v in box)
    return [x1, y1, round(x2 - x1, 3), round(y2 - y1, 3)]


def _add_video(doc: dict[str, Any], snapshot: LabelSnapshot, video: Any, folder: str,
               category: dict[int, int], ids: dict[str, int], options: ExportOptions,
               json_dir: Path) -> list[int]:
    """Add one video's entries; returns the frames listed as images."""
    ids["video"] += 1
    video_id = ids["video"]
    doc["videos"].append({
        "id": video_id, "name": video.name, "width": video.width, "height": video.height,
        "fps": video.fps, "n_frames": video.n_frames,
        "path": fr.relative_path(video, json_dir),
    })
    tracks = []
    for track in snapshot.tracks.get(video.id, ()):
        kfs = fr.export_keyframes(track, options, video.n_frames)
        shapes = fr.track_shapes(kfs, video.n_frames, options.pseudo_labels)
        if shapes:
            tracks.append((track, shapes))
    labeled = set(fr.labeled_frames(snapshot, video))
    frames = sorted(labeled | {s.frame for _, shapes in tracks for s in shapes if s.visible})
    image_id = {}
    for f in frames:
        ids["image"] += 1
        image_id[f] = ids["image"]
        doc["images"].append({
            "id": ids["image"], "video_id": video_id, "frame_id": f,
            "file_name": f"{folder}/{IMAGE_NAME % f}", "width": video.width,
            "height": video.height, "labeled": f in labeled,
        })
    annotations = doc["annotations"]
    for track, shapes in tracks:
        ids["instance"] += 1
        instance = ids["instance"]
        outside = []
        for s in shapes:
            bbox = _bbox(s.box)
            if not s.visible:
                outside.append({"frame_id": s.frame, "bbox": bbox, "source": s.source})
                continue
            ids["annotation"] += 1
            keyframe = s.kind == "keyframe"
            annotations.append({
                "id": ids["annotation"], "image_id": image_id[s.frame], "video_id": video_id,
                "category_id": category[track.class_id], "instance_id": instance,
                "bbox": bbox, "area": round(bbox[2] * bbox[3], 3), "iscrowd": 0,
                "segmentation": [],
                "attributes": {"track_id": instance, "actor": track.actor, "keyframe": keyframe,
                               "source": s.source if keyframe else "interpolated"},
            })
        doc["tracks"].append({"id": instance, "video_id": video_id,
                              "category_id": category[track.class_id], "actor": track.actor,
                              "outside": outside})
    return frames


# ---------------------------------------------------------------------- parsing
def parse(path: str | Path) -> tuple[list[tuple[str, str]], list[ParsedVideo]]:
    """Read CocoVid JSON files: a file, or a folder with ``annotations/*.json`` (or
    ``*.json``). Returns ``(classes as (name, colour), videos)``."""
    path = Path(path)
    files = input_files(path, ("annotations/*.json", "*.json"),
                        "COCO JSON file (annotations/*.json)")
    classes: dict[str, str] = {}
    videos: list[ParsedVideo] = []
    names: set[str] = set()
    for file in files:
        file_classes, file_videos = _parse_file(file)
        for name, color in file_classes:
            classes.setdefault(name, color)
        for video in file_videos:
            if video.name in names:
                raise FormatError(file, f"video {video.name!r} is also in another file")
            names.add(video.name)
            videos.append(video)
    return list(classes.items()), videos


def _split_of_file(file: Path) -> str:
    stem = file.stem
    suffix = stem.split("_", 1)[1] if "_" in stem else stem
    return fr.split_of(suffix) or "train"


def _load(file: Path) -> Field:
    text = fr.read_text(file)
    data = parse_json(file, text)
    root = Field(file, "", data)
    if not isinstance(data, dict):
        raise root.fail("expected a JSON object (a COCO file)")
    if "videos" not in data:
        raise root.fail("has no 'videos': this is image COCO, not CocoVid (video COCO)")
    return root


def _box(f: Field, width: int, height: int) -> Any:
    values = [c.number() for c in f.items()]
    if len(values) != 4:
        raise f.fail("expected [x, y, width, height]")
    x, y, w, h = values
    if w <= 0 or h <= 0:
        raise f.fail(f"width and height must be positive, got {w} and {h}")
    try:
        return clip_box((x, y, x + w, y + h), width, height)
    except BoxError as exc:
        raise f.fail(str(exc)) from exc


def _opt_int(f: Field, minimum: int = 0) -> int | None:
    return None if f.value is None else _int(f, minimum)


def _int(f: Field, minimum: int = 0) -> int:
    value = f.int(minimum)
    if value > fr.MAX_INT:
        raise f.fail(f"{value} is too large")
    return value


def _parse_file(file: Path) -> tuple[list[tuple[str, str]], list[ParsedVideo]]:
    root = _load(file)
    cats: dict[int, str] = {}
    classes: list[tuple[str, str]] = []
    for c in root.get("categories").items():
        cid, name = _int(c.get("id")), c.get("name").str()  # as written: "walk " is not "walk"
        if cid in cats:
            raise c.get("id").fail(f"category id {cid} appears twice")
        if name in cats.values():
            raise c.get("name").fail(f"category name {name!r} appears twice")
        cats[cid] = name
        color = c.get("color", "").value
        classes.append((name, color if isinstance(color, str) else ""))

    videos: dict[int, dict[str, Any]] = {}
    for v in root.get("videos").items():
        vid = _int(v.get("id"))
        if vid in videos:
            raise v.get("id").fail(f"video id {vid} appears twice")
        fps = v.get("fps", 25.0)
        if fps.number() <= 0:
            raise fps.fail("must be positive")
        raw_path = v.get("path", None)
        if raw_path.value is not None and not fr.check_path_text(raw_path.str()):
            raise raw_path.fail("is not a usable path")
        videos[vid] = {
            "field": v, "name": v.get("name").str(), "fps": fps.number(),
            "width": _opt_int(v.get("width", None), 1),
            "height": _opt_int(v.get("height", None), 1),
            "n_frames": _opt_int(v.get("n_frames", None), 1),
            "path": None if raw_path.value is None else (file.parent / raw_path.value).resolve(),
            "frames": set(), "labeled": set(), "keys": {},
        }

    images: dict[int, tuple[dict[str, Any], int, Field]] = {}
    flagged = False
    for im in root.get("images").items():
        iid = _int(im.get("id"))
        if iid in images:
            raise im.get("id").fail(f"image id {iid} appears twice")
        vid = _int(im.get("video_id"))
        if vid not in videos:
            raise im.get("video_id").fail(f"no video with id {vid}")
        video = videos[vid]
        frame = _int(im.get("frame_id"))
        for key in ("width", "height"):
            size = _opt_int(im.get(key, None), 1)
            if size is not None and video[key] is None:
                video[key] = size
            elif size is not None and size != video[key]:
                raise im.get(key).fail(f"is {size}, but the video's {key} is {video[key]}")
        labeled = im.get("labeled", None)
        if labeled.value is not None and not isinstance(labeled.value, bool):
            raise labeled.fail("expected true or false")
        flagged = flagged or labeled.value is not None
        video["frames"].add(frame)
        if labeled.value:
            video["labeled"].add(frame)
        images[iid] = (video, frame, im)

    for video in videos.values():
        for key in ("width", "height"):
            if video[key] is None:
                raise video["field"].fail(f"no {key} (neither on the video nor on its images)")
        last = max(video["frames"], default=-1)
        if video["n_frames"] is None:
            video["n_frames"] = last + 1
            if last < 0:
                raise video["field"].fail("no n_frames and no images: its length is unknown")
        elif last >= video["n_frames"]:
            raise video["field"].fail(f"has an image of frame {last}, past its "
                                      f"{video['n_frames']} frames")
        if not flagged:  # plain CocoVid: every listed frame was annotated
            video["labeled"] = set(video["frames"])

    for i, a in enumerate(root.get("annotations").items()):
        _add_annotation(a, i, images, cats)
    for t in root.get("tracks", []).items():
        _add_track_entry(t, videos, cats)

    split = _split_of_file(file)
    parsed = []
    for video in videos.values():
        tracks = _tracks(video)
        parsed.append(ParsedVideo(video["name"], video["path"], video["width"], video["height"],
                                  video["fps"], video["n_frames"], split,
                                  tuple(sorted(video["labeled"])), tuple(tracks)))
    return classes, parsed


def _key(video: dict[str, Any], key: Any, class_name: str) -> dict[str, Any]:
    return video["keys"].setdefault(key, {"class": class_name, "actor": None, "kfs": {}})


def _add_keyframe(entry: dict[str, Any], kf: Keyframe, f: Field) -> None:
    if kf.frame in entry["kfs"]:
        raise f.fail(f"its track has two boxes on frame {kf.frame}")
    entry["kfs"][kf.frame] = kf


def _set_actor(entry: dict[str, Any], actor: int | None, f: Field) -> None:
    if actor is None:
        return
    if entry["actor"] is not None and entry["actor"] != actor:
        raise f.fail(f"actor {actor} differs from actor {entry['actor']} of the same track")
    entry["actor"] = actor


def _category(f: Field, cats: dict[int, str]) -> str:
    cid = _int(f)
    if cid not in cats:
        raise f.fail(f"no category with id {cid}")
    return cats[cid]


def _add_annotation(a: Field, i: int, images: dict[int, Any], cats: dict[int, str]) -> None:
    iid = _int(a.get("image_id"))
    if iid not in images:
        raise a.get("image_id").fail(f"no image with id {iid}")
    video, frame, _ = images[iid]
    class_name = _category(a.get("category_id"), cats)
    crowd = a.get("iscrowd", 0).value
    if crowd not in (0, 1) or isinstance(crowd, bool):
        raise a.get("iscrowd").fail("expected 0 or 1")
    box = _box(a.get("bbox"), video["width"], video["height"])
    attrs = a.get("attributes", {})
    if not isinstance(attrs.value, dict):
        raise attrs.fail("expected an object")
    if crowd:  # a crowd region is not one actor
        return
    keyframe = attrs.get("keyframe", True)
    if not isinstance(keyframe.value, bool):
        raise keyframe.fail("expected true or false")
    source = attrs.get("source", "imported").value
    instance = _opt_int(a.get("instance_id", None))
    entry = _key(video, ("single", i) if instance is None else (instance, class_name), class_name)
    _set_actor(entry, _opt_int(attrs.get("actor", None)), attrs.get("actor", None))
    if not keyframe.value or source == "interpolated":
        return  # a pseudo-label: recomputed from the keyframes
    _add_keyframe(entry, Keyframe(frame, box, False, fr.check_source(source)), a)


def _add_track_entry(t: Field, videos: dict[int, Any], cats: dict[int, str]) -> None:
    vid = _int(t.get("video_id"))
    if vid not in videos:
        raise t.get("video_id").fail(f"no video with id {vid}")
    video = videos[vid]
    class_name = _category(t.get("category_id"), cats)
    entry = _key(video, (_int(t.get("id")), class_name), class_name)
    _set_actor(entry, _opt_int(t.get("actor", None)), t.get("actor", None))
    for o in t.get("outside", []).items():
        frame = _int(o.get("frame_id"))
        if frame >= video["n_frames"]:
            raise o.get("frame_id").fail(f"frame {frame} is past the video's "
                                         f"{video['n_frames']} frames")
        box = _box(o.get("bbox"), video["width"], video["height"])
        source = fr.check_source(o.get("source", "imported").value)
        _add_keyframe(entry, Keyframe(frame, box, True, source), o)


def _tracks(video: dict[str, Any]) -> list[ParsedTrack]:
    keys = video["keys"]
    instances = sorted({k[0] for k in keys if k[0] != "single"})
    rank = {inst: i + 1 for i, inst in enumerate(instances)}
    order = sorted(keys, key=lambda k: (k[0] == "single", k[1] if k[0] == "single" else k[0]))
    tracks = []
    for key in order:
        entry = keys[key]
        if not entry["kfs"]:
            continue  # only pseudo-labels, or an empty track entry
        actor = entry["actor"]
        if actor is None:
            actor = rank.get(key[0], 0) if key[0] != "single" else 0
        kfs = tuple(entry["kfs"][f] for f in sorted(entry["kfs"]))
        tracks.append(ParsedTrack(actor, entry["class"], kfs))
    return tracks


# ---------------------------------------------------------------------- import
def import_labels(
    project: Project, path: str | Path, cancel: CancelFlag | None = None
) -> Generator[Progress, None, ImportSummary]:
    """Import CocoVid JSON (a file, or a folder of ``annotations/*.json``), all or nothing."""
    return (yield from import_parsed(parse, project, path, cancel))


__all__ = ["export_labels", "import_labels", "parse"]
