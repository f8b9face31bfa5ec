"""Label rules: which track a new box continues, the boxes a track shows on a frame, the frame a
paste copies from, which model boxes an accept takes, the number keys of the classes.

These are the rules the labeling views and their undo commands share; they live here, over core
objects only (:class:`Project`, :class:`Track`, records), so they can be read and tested without
a window, and the GUI commands stay thin wrappers that remember what an undo needs.
:func:`add_box` is the one continue-or-create edit: a drawn box, a pasted box and an accepted
model box all go through it.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from halgui.core.annotations import (
    Box,
    BoxTuple,
    Keyframe,
    Source,
    Track,
    box_iou,
    clip_box,
    track_boxes,
)
from halgui.core.errors import BoxError
from halgui.core.project import ClassRecord, Project

__all__ = [
    "ACCEPT_OVERLAP_IOU",
    "AddedBox",
    "FrameBox",
    "ModelBox",
    "VideoTracks",
    "add_box",
    "box_on_frame",
    "boxes_to_accept",
    "class_keys",
    "continuing_track",
    "ending_boxes",
    "paste_source_frame",
    "pasteable",
]

#: A model detection that overlaps a box already on the frame by this IoU or more is not taken.
ACCEPT_OVERLAP_IOU = 0.5

#: A model detection as the model view holds it: ``(x1, y1, x2, y2, class name, score)``.
ModelBox = tuple[float, float, float, float, str, float]


# ---------------------------------------------------------------------- boxes on a frame
@dataclass(frozen=True)
class FrameBox:
    """A track's box on one frame, as the views show it."""

    track: Track
    box: BoxTuple
    keyframe: bool  # a keyframe on this frame (else interpolated, or held before an end)


class VideoTracks:
    """The tracks of one video, read once, and their boxes on any frame; views make a new one
    when the labels of the video change. A frame's boxes cost a look at two keyframes per
    track, whatever the length of the video."""

    def __init__(self, project: Project, video_id: int | None) -> None:
        self.tracks = project.tracks(video_id) if video_id is not None else []
        self.n_frames = project.video(video_id).n_frames if video_id is not None else 0
        self._keyframes = {t.id: sorted(t.keyframes, key=lambda k: k.frame) for t in self.tracks}

    def on_frame(self, frame: int) -> list[FrameBox]:
        shown = []
        for t in self.tracks:
            kfs = self._keyframes[t.id]
            box = box_on_frame(kfs, frame, self.n_frames)
            if box is not None:
                keyed = any(k.frame == frame and not k.outside for k in kfs)
                shown.append(FrameBox(t, box, keyed))
        return shown

    def track(self, track_id: int | None) -> Track | None:
        return next((t for t in self.tracks if t.id == track_id), None)


def box_on_frame(keyframes: Sequence[Keyframe], frame: int, n_frames: int) -> BoxTuple | None:
    """A track's box on one frame (keyframes sorted by frame), as :func:`track_boxes` gives it:
    only the keyframes on either side of ``frame`` decide it, so only they are looked at."""
    i = bisect.bisect_right(keyframes, frame, key=lambda k: k.frame)
    return track_boxes(keyframes[max(i - 1, 0):i + 1], n_frames).get(frame)


# ---------------------------------------------------------------------- a new box
def continuing_track(tracks: Iterable[Track], class_id: int, frame: int, box: Box,
                     n_frames: int) -> int | None:
    """The track a new box of ``class_id`` on ``frame`` continues, or None for a new track.

    Candidates are the tracks of that class that show no box on ``frame`` (no keyframe, no
    interpolated box: a track visible there is another actor) and were not ended before it (an
    ``outside`` keyframe with nothing visible after it). The nearest in time wins (distance to
    its closest visible keyframe); ties go to the one whose box there is nearest to ``box``.
    Continuing keeps actor ids stable across frames.
    """
    cx, cy = (box.x1 + box.x2) / 2, (box.y1 + box.y2) / 2
    best: tuple[int, float] | None = None
    chosen: int | None = None
    for track in tracks:
        kfs = sorted(track.keyframes, key=lambda k: k.frame)
        visible = [k for k in kfs if not k.outside]
        if track.class_id != class_id or track.id is None or not visible:
            continue
        if any(k.frame == frame for k in kfs) or box_on_frame(kfs, frame, n_frames) is not None:
            continue
        if kfs[-1].outside and frame >= kfs[-1].frame:
            continue
        near = min(visible, key=lambda k: (abs(k.frame - frame), k.frame))
        b = near.box
        space = math.hypot((b.x1 + b.x2) / 2 - cx, (b.y1 + b.y2) / 2 - cy)
        key = (abs(near.frame - frame), space)
        if best is None or key < best:
            best, chosen = key, track.id
    return chosen


@dataclass(frozen=True)
class AddedBox:
    """What :func:`add_box` did, as much as an undo needs: the track the box went on, the
    keyframe it replaced there (None: none), and the track when the box started it."""

    track_id: int
    replaced: Keyframe | None
    new_track: Track | None


def add_box(project: Project, video_id: int, frame: int, class_id: int, box: Box, *,
            track_id: int | None = None, source: Source = "human") -> AddedBox:
    """Put a new keyframe box on ``frame``, in one transaction: on ``track_id`` if given, else
    on the track it continues (:func:`continuing_track`), else on a new track with the next
    actor id of the video."""
    with project.transaction():
        if track_id is None:
            n_frames = project.video(video_id).n_frames
            track_id = continuing_track(project.tracks(video_id), class_id, frame, box, n_frames)
            if track_id is None:
                new = project.add_track(video_id, class_id)
                project.set_keyframe(new, frame, box, source=source)
                return AddedBox(new, None, project.track(new))
        return AddedBox(track_id, project.set_keyframe(track_id, frame, box, source=source),
                        None)


def boxes_to_accept(detections: Iterable[ModelBox], classes: Iterable[ClassRecord],
                    taken: Iterable[BoxTuple], width: int, height: int, *,
                    overlap: float = ACCEPT_OVERLAP_IOU) -> list[tuple[int, Box]]:
    """The model's detections on a frame that an accept makes boxes of, best score first, as
    ``(class id, box clipped to the frame)``.

    Left out: a class the project does not have, a box with nothing inside the frame, and a box
    that overlaps (IoU >= ``overlap``) one in ``taken`` (the boxes already on the frame) or one
    taken before it.
    """
    ids = {c.name: c.id for c in classes}
    kept = list(taken)
    chosen: list[tuple[int, Box]] = []
    for x1, y1, x2, y2, label, _ in sorted(detections, key=lambda d: -d[5]):
        try:
            box = clip_box((x1, y1, x2, y2), width, height)
        except BoxError:
            continue
        if label in ids and not any(box_iou(box.as_tuple(), k) >= overlap for k in kept):
            chosen.append((ids[label], box))
            kept.append(box.as_tuple())
    return chosen


# ---------------------------------------------------------------------- paste and end
def paste_source_frame(tracks: Iterable[Track], labeled: Iterable[int], frame: int) -> int | None:
    """The frame whose boxes a paste on ``frame`` copies: the last labeled frame before it, or,
    when none is marked, the last frame before it with a visible keyframe."""
    before = [f for f in labeled if f < frame]
    if before:
        return max(before)
    keyed = [k.frame for t in tracks for k in t.keyframes if not k.outside and k.frame < frame]
    return max(keyed) if keyed else None


def pasteable(track: Track, source: int, frame: int, n_frames: int) -> BoxTuple | None:
    """The box a paste from ``source`` to ``frame`` copies for one track, or None to leave the
    track alone: it is keyed on ``frame`` already, or was ended in between."""
    if any(k.frame == frame for k in track.keyframes):
        return None
    if any(k.outside and source < k.frame <= frame for k in track.keyframes):
        return None
    return track_boxes(track.keyframes, n_frames).get(source)


def ending_boxes(track: Track, frame: int, n_frames: int) -> tuple[Box | None, Box]:
    """What ending ``track`` on ``frame`` writes: the box to pin as a keyframe on ``frame - 1``
    (None when there is nothing to pin) and the box of the ``outside`` keyframe on ``frame``.

    Nothing shown before ``frame`` may change: a box interpolated on ``frame - 1`` is pinned
    there, since the outside rule would otherwise hold an older box up to the end.
    """
    before = track_boxes(track.keyframes, n_frames).get(frame - 1)
    keyed = {k.frame for k in track.keyframes}
    if before is None:
        visible = [k for k in track.keyframes if not k.outside] or list(track.keyframes)
        return None, min(visible, key=lambda k: abs(k.frame - frame)).box
    pin = Box.of(before) if (frame - 1) not in keyed else None
    return pin, Box.of(before)


# ---------------------------------------------------------------------- class keys
def class_keys(classes: Sequence[ClassRecord]) -> dict[int, ClassRecord]:
    """Number key (1..9) -> class: a class's own digit shortcut first, then free digits in
    class order for classes without one."""
    keys: dict[int, ClassRecord] = {}
    for c in classes:
        if c.shortcut and c.shortcut.isdigit() and 1 <= int(c.shortcut) <= 9:
            keys.setdefault(int(c.shortcut), c)
    free = (d for d in range(1, 10) if d not in keys)
    for c in classes:
        if c not in keys.values():
            digit = next(free, None)
            if digit is None:
                break
            keys[digit] = c
    return dict(sorted(keys.items()))
