"""Undo commands for label edits: each one a small delta over :class:`Project` methods.

Every command stores the project, the notifier and the least it needs to undo (a replaced
keyframe, a deleted track, a previous class), and does its work in one project transaction, so
``redo`` and ``undo`` reach the database at once: there is no Save. After each redo and undo it
emits :attr:`LabelEvents.labelsChanged` so every view re-reads the project.

An edit or undo that cannot be applied (another window or program changed or deleted its rows,
the project is read-only or busy) changes nothing: its transaction is rolled back, the command
leaves the stack (obsolete) so the rest of the history stays usable, and
:attr:`LabelEvents.editFailed` says why in one line.

A new box continues a track when it can (:func:`continuing_track`), so actor ids stay stable
across frames. The functions at the bottom are the label rules the views share; they take core
objects only.
"""

from __future__ import annotations

import bisect
import math
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from PySide6.QtGui import QUndoCommand

from halgui.core.annotations import Box, BoxTuple, Keyframe, Track, track_boxes
from halgui.core.errors import HalguiError
from halgui.core.project import ClassRecord, Project
from halgui.gui.label_events import LabelEvents

__all__ = [
    "AddBox",
    "DeleteBox",
    "EditBox",
    "EndTrack",
    "FrameBox",
    "PasteBoxes",
    "SetBoxClass",
    "SetFrameLabeled",
    "VideoLabels",
    "apply_or_drop",
    "box_on_frame",
    "class_keys",
    "continuing_track",
    "failure_message",
    "paste_source_frame",
]


class _LabelCommand(QUndoCommand):
    """Base: remembers where the edit happened and announces it after redo and undo.

    A command run as part of another (``announce=False``) stays quiet; the outer one announces
    once. (Parts are plain Python-owned commands, not Qt children: a Qt child of a Python
    command would be deleted twice.)
    """

    def __init__(self, project: Project, events: LabelEvents, video_id: int, frame: int,
                 text: str, *, announce: bool = True) -> None:
        super().__init__(text)
        self.project = project
        self.events = events
        self.video_id = video_id
        self.frame = frame
        self._announce = announce
        self._done = False  # redone at least once (the first redo is the edit itself)

    def redo(self) -> None:
        self._apply(self._redo, "redo" if self._done else "")
        self._done = True

    def undo(self) -> None:
        self._apply(self._undo, "undo")

    def _apply(self, step: Callable[[], None], verb: str) -> None:
        apply_or_drop(self, self.project, self.events, step, verb)
        self._notify()

    def _redo(self) -> None:
        raise NotImplementedError

    def _undo(self) -> None:
        raise NotImplementedError

    def _notify(self) -> None:
        if self._announce:
            self.events.labelsChanged.emit(self.video_id, self.frame)

    def _put_back(self, track_id: int, frame: int, previous: Keyframe | None) -> None:
        """Return one frame of a track to what it was: a keyframe, or none."""
        if previous is None:
            self.project.delete_keyframe(track_id, frame)
        else:
            self.project.set_keyframe(track_id, frame, previous.box, outside=previous.outside,
                                      source=previous.source)


class AddBox(_LabelCommand):
    """A new keyframe box: on ``track_id`` if given, else on the track it continues, else on a
    new track with the next actor id. After the first redo :attr:`track_id` is the track used."""

    def __init__(self, project: Project, events: LabelEvents, video_id: int, frame: int,
                 class_id: int, box: Box, *, track_id: int | None = None,
                 announce: bool = True) -> None:
        super().__init__(project, events, video_id, frame, "Add box", announce=announce)
        self.class_id = class_id
        self.box = box
        self.track_id = track_id
        self._new_track: Track | None = None  # set when this command created the track
        self._replaced: Keyframe | None = None

    def _redo(self) -> None:
        p = self.project
        if self._new_track is not None:  # a redo after an undo that deleted the new track
            p.restore_track(self.video_id, self._new_track)
            return
        if self.track_id is None:  # first redo: continue a track, or start one
            n_frames = p.video(self.video_id).n_frames
            self.track_id = continuing_track(p.tracks(self.video_id), self.class_id, self.frame,
                                             self.box, n_frames)
            if self.track_id is None:
                self.track_id = p.add_track(self.video_id, self.class_id)
                p.set_keyframe(self.track_id, self.frame, self.box)
                self._new_track = p.track(self.track_id)
                return
        self._replaced = p.set_keyframe(self.track_id, self.frame, self.box)

    def _undo(self) -> None:
        assert self.track_id is not None
        if self._new_track is not None:
            self.project.delete_track(self.track_id)
        else:
            self._put_back(self.track_id, self.frame, self._replaced)


class EditBox(_LabelCommand):
    """Move or resize a box: a keyframe with the new box (on an interpolated frame, a new one)."""

    def __init__(self, project: Project, events: LabelEvents, video_id: int, frame: int,
                 track_id: int, box: Box) -> None:
        super().__init__(project, events, video_id, frame, "Edit box")
        self.track_id = track_id
        self.box = box
        self._old: Keyframe | None = None

    def _redo(self) -> None:
        self._old = self.project.set_keyframe(self.track_id, self.frame, self.box)

    def _undo(self) -> None:
        self._put_back(self.track_id, self.frame, self._old)


class DeleteBox(_LabelCommand):
    """Delete the keyframe of a track on a frame; the track goes too when no visible keyframe
    would be left (undo restores it whole, same id and actor)."""

    def __init__(self, project: Project, events: LabelEvents, video_id: int, frame: int,
                 track_id: int) -> None:
        super().__init__(project, events, video_id, frame, "Delete box")
        self.track_id = track_id
        self._deleted_track: Track | None = None
        self._deleted: Keyframe | None = None

    def _redo(self) -> None:
        p = self.project
        track = p.track(self.track_id)
        others = [k for k in track.keyframes if not k.outside and k.frame != self.frame]
        if not others:
            self._deleted_track = p.delete_track(self.track_id)
        else:
            self._deleted = p.delete_keyframe(self.track_id, self.frame)
            if self._deleted is None:
                self.setObsolete(True)  # nothing was there: the stack drops this command

    def _undo(self) -> None:
        if self._deleted_track is not None:
            self.project.restore_track(self.video_id, self._deleted_track)
        else:
            self._put_back(self.track_id, self.frame, self._deleted)


class SetBoxClass(_LabelCommand):
    """Give a track (all its frames) another action class."""

    def __init__(self, project: Project, events: LabelEvents, video_id: int, frame: int,
                 track_id: int, class_id: int) -> None:
        super().__init__(project, events, video_id, frame, "Change class")
        self.track_id = track_id
        self.class_id = class_id
        self._old: int | None = None

    def _redo(self) -> None:
        if self._old is None:
            self._old = self.project.track(self.track_id).class_id
            if self._old == self.class_id:
                self.setObsolete(True)
        self.project.set_track_class(self.track_id, self.class_id)

    def _undo(self) -> None:
        assert self._old is not None
        self.project.set_track_class(self.track_id, self._old)


class EndTrack(_LabelCommand):
    """The actor is gone from ``frame`` on: an ``outside`` keyframe there.

    Nothing shown before ``frame`` changes: if the track's box on ``frame - 1`` was interpolated,
    it is pinned there as a keyframe first (the outside rule would otherwise hold an older box).
    """

    def __init__(self, project: Project, events: LabelEvents, video_id: int, frame: int,
                 track_id: int) -> None:
        super().__init__(project, events, video_id, frame, "End track")
        self.track_id = track_id
        self._old: Keyframe | None = None
        self._pinned = False

    def _redo(self) -> None:
        p = self.project
        track = p.track(self.track_id)
        boxes = track_boxes(track.keyframes, p.video(self.video_id).n_frames)
        keyed = {k.frame for k in track.keyframes}
        before = boxes.get(self.frame - 1)
        self._pinned = before is not None and (self.frame - 1) not in keyed
        if self._pinned:
            p.set_keyframe(self.track_id, self.frame - 1, Box.of(before))
        box = Box.of(before) if before is not None else _nearest_box(track, self.frame)
        self._old = p.set_keyframe(self.track_id, self.frame, box, outside=True)

    def _undo(self) -> None:
        self._put_back(self.track_id, self.frame, self._old)
        if self._pinned:
            self.project.delete_keyframe(self.track_id, self.frame - 1)


class SetFrameLabeled(_LabelCommand):
    """Mark a frame as finished by a person (with or without actors), or take the mark back."""

    def __init__(self, project: Project, events: LabelEvents, video_id: int, frame: int,
                 labeled: bool = True) -> None:
        text = "Mark frame labeled" if labeled else "Unmark frame labeled"
        super().__init__(project, events, video_id, frame, text)
        self.labeled = labeled
        self._was: bool | None = None

    def _redo(self) -> None:
        if self._was is None:
            self._was = self.frame in self.project.labeled_frames(self.video_id)
            if self._was == self.labeled:
                self.setObsolete(True)
        self.project.set_labeled(self.video_id, [self.frame], self.labeled)

    def _undo(self) -> None:
        self.project.set_labeled(self.video_id, [self.frame], bool(self._was))


class PasteBoxes(_LabelCommand):
    """Copy the boxes of the previous labeled frame to ``frame``, as keyframes of the same
    tracks, in one undo step. Tracks already keyed on ``frame``, or ended in between, are left
    alone. With nothing to paste the command is obsolete (the stack drops it)."""

    def __init__(self, project: Project, events: LabelEvents, video_id: int, frame: int) -> None:
        super().__init__(project, events, video_id, frame, "Paste boxes")
        tracks = project.tracks(video_id)
        n_frames = project.video(video_id).n_frames
        self.source_frame = paste_source_frame(tracks, project.labeled_frames(video_id), frame)
        self._children: list[AddBox] = []
        if self.source_frame is not None:
            for track in tracks:
                box = _pasteable(track, self.source_frame, frame, n_frames)
                if box is not None:
                    assert track.id is not None
                    self._children.append(AddBox(project, events, video_id, frame,
                                                 track.class_id, Box.of(box),
                                                 track_id=track.id, announce=False))
        self.count = len(self._children)
        self.setText(f"Paste {self.count} boxes from frame {self.source_frame}")
        if not self._children:
            self.setObsolete(True)

    def _redo(self) -> None:  # the parts join this transaction: all of them or none
        for child in self._children:
            child._redo()

    def _undo(self) -> None:
        for child in reversed(self._children):
            child._undo()


def apply_or_drop(command: QUndoCommand, project: Project, events: LabelEvents,
                  step: Callable[[], None], verb: str) -> None:
    """One side of ``command`` (``verb``: "" for the edit itself, "undo", "redo") in one
    transaction. If it fails, nothing changed: the command is marked obsolete, so QUndoStack
    drops it after this redo or undo, and :attr:`LabelEvents.editFailed` says why."""
    try:
        with project.transaction():
            step()
    except (HalguiError, sqlite3.IntegrityError) as exc:
        command.setObsolete(True)
        events.editFailed.emit(failure_message(verb, command.text(), exc))


def failure_message(verb: str, text: str, exc: Exception) -> str:
    """One line for an edit (``verb`` "") or an undo / redo that could not be applied."""
    if isinstance(exc, sqlite3.IntegrityError):
        reason = "it no longer applies: its track was changed or deleted elsewhere"
    else:
        reason = str(exc)
    if not verb:
        return f"{text} was not saved: {reason}. Nothing was changed."
    return (f"Cannot {verb} {text}: {reason}. Nothing was changed; it was removed from the "
            "undo history.")


# ---------------------------------------------------------------------- shared label rules
@dataclass(frozen=True)
class FrameBox:
    """A track's box on one frame, as the views show it."""

    track: Track
    box: BoxTuple
    keyframe: bool  # a keyframe on this frame (else interpolated, or held before an end)


class VideoLabels:
    """The tracks of one video, read once, and their boxes on any frame; views make a new one
    when :attr:`LabelEvents.labelsChanged` names the video. A frame's boxes cost a look at two
    keyframes per track, whatever the length of the video."""

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


def continuing_track(tracks: Iterable[Track], class_id: int, frame: int, box: Box,
                     n_frames: int) -> int | None:
    """The track a new box of ``class_id`` on ``frame`` continues, or None for a new track.

    Candidates are the tracks of that class that show no box on ``frame`` (no keyframe, no
    interpolated box: a track visible there is another actor) and were not ended before it (an
    ``outside`` keyframe with nothing visible after it). The nearest in time wins (distance to
    its closest visible keyframe); ties go to the one whose box there is nearest to ``box``.
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


def paste_source_frame(tracks: Iterable[Track], labeled: Iterable[int], frame: int) -> int | None:
    """The frame whose boxes a paste on ``frame`` copies: the last labeled frame before it, or,
    when none is marked, the last frame before it with a visible keyframe."""
    before = [f for f in labeled if f < frame]
    if before:
        return max(before)
    keyed = [k.frame for t in tracks for k in t.keyframes if not k.outside and k.frame < frame]
    return max(keyed) if keyed else None


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


def _pasteable(track: Track, source: int, frame: int, n_frames: int) -> BoxTuple | None:
    """The box to copy from ``source`` for one track, or None to leave the track alone."""
    if any(k.frame == frame for k in track.keyframes):
        return None
    if any(k.outside and source < k.frame <= frame for k in track.keyframes):
        return None
    return track_boxes(track.keyframes, n_frames).get(source)


def _nearest_box(track: Track, frame: int) -> Box:
    visible = [k for k in track.keyframes if not k.outside] or list(track.keyframes)
    return min(visible, key=lambda k: abs(k.frame - frame)).box
