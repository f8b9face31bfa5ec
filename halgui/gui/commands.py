"""Undo commands for label edits: each one a small delta over :class:`Project` methods.

Every command stores the project, the notifier and the least it needs to undo (a replaced
keyframe, a deleted track, a previous class), and does its work in one project transaction, so
``redo`` and ``undo`` reach the database at once: there is no Save. After each redo and undo it
emits :attr:`LabelEvents.labelsChanged` so every view re-reads the project.

Each window's undo covers its own edits only. Before an undo or redo, a command checks that its
rows still hold what it left (:meth:`_LabelCommand._state`); if another window, team member or
program edited them since, undoing would overwrite that edit, so it is refused (:data:`CONFLICT`).
An edit or undo that cannot be applied (that conflict; rows deleted elsewhere; the project
read-only or busy) changes nothing: its transaction is rolled back, the command
leaves the stack (obsolete) so the rest of the history stays usable, and
:attr:`LabelEvents.editFailed` says why in one line.

The label rules themselves (which track a new box continues, what a paste copies, what ending
a track writes) live in :mod:`halgui.core.labels`; the commands here call them and keep what an
undo needs. Several boxes in one step (a paste, accepting the model's boxes) are one
:class:`AddBoxes` made of :class:`AddBox` parts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from PySide6.QtGui import QUndoCommand

from halgui.core.annotations import Box, Keyframe, Source, Track
from halgui.core.errors import HalguiError
from halgui.core.labels import (
    add_box,
    ending_boxes,
    paste_source_frame,
    pasteable,
)
from halgui.core.project import Project
from halgui.gui.label_events import LabelEvents

__all__ = [
    "CONFLICT",
    "AddBox",
    "AddBoxes",
    "DeleteBox",
    "EditBox",
    "EndTrack",
    "PasteBoxes",
    "SetBoxClass",
    "SetFrameLabeled",
    "apply_or_drop",
    "failure_message",
]

#: Why an undo or redo was refused: its rows were edited elsewhere after it.
CONFLICT = "another window or team member changed or deleted it since"


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
        self._left_by_redo: object = None  # _state() after the last redo, and after an undo
        self._left_by_undo: object = None

    def redo(self) -> None:
        self._apply(self._redo, "redo" if self._done else "")
        self._done = True

    def undo(self) -> None:
        self._apply(self._undo, "undo")

    def _apply(self, step: Callable[[], None], verb: str) -> None:
        def checked() -> None:  # in the step's transaction: a conflict changes nothing
            why = self.events.edit_guard(self.video_id)
            if why is not None:
                raise HalguiError(f"this video is read-only here: {why}")
            expected = self._left_by_undo if verb == "redo" else self._left_by_redo
            if verb and self._state() != expected:
                raise HalguiError(CONFLICT)
            step()
            if verb == "undo":
                self._left_by_undo = self._state()
            else:
                self._left_by_redo = self._state()

        apply_or_drop(self, self.project, self.events, checked, verb)
        self._notify()

    def _state(self) -> object:
        """What the rows this command writes hold now. An undo (or redo) first checks that they
        hold what the command left: otherwise another window or team member edited them since,
        and the step would silently overwrite that edit."""
        return None

    def _rows(self, track_id: int | None, *frames: int) -> tuple[object, ...]:
        """A track's class and its keyframes on ``frames`` as stored now (None: absent)."""
        found = None if track_id is None else self.project.query(
            "SELECT class_id FROM tracks WHERE id = ?", (track_id,))
        if not found:
            return (None,)
        assert track_id is not None
        keyframes = {k.frame: k for k in self.project.keyframes(track_id)}
        return (found[0][0], *(keyframes.get(f) for f in frames))

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
    new track with the next actor id (:func:`halgui.core.labels.add_box`). After the first redo
    :attr:`track_id` is the track used."""

    def __init__(self, project: Project, events: LabelEvents, video_id: int, frame: int,
                 class_id: int, box: Box, *, track_id: int | None = None,
                 source: Source = "human", announce: bool = True) -> None:
        super().__init__(project, events, video_id, frame, "Add box", announce=announce)
        self.class_id = class_id
        self.box = box
        self.track_id = track_id
        self.source: Source = source
        self._new_track: Track | None = None  # set when this command created the track
        self._replaced: Keyframe | None = None

    def _redo(self) -> None:
        if self._new_track is not None:  # a redo after an undo that deleted the new track
            self.project.restore_track(self.video_id, self._new_track)
            return
        added = add_box(self.project, self.video_id, self.frame, self.class_id, self.box,
                        track_id=self.track_id, source=self.source)
        self.track_id, self._replaced, self._new_track = (added.track_id, added.replaced,
                                                          added.new_track)

    def _undo(self) -> None:
        assert self.track_id is not None
        if self._new_track is not None:
            self.project.delete_track(self.track_id)
        else:
            self._put_back(self.track_id, self.frame, self._replaced)

    def _state(self) -> object:
        return self._rows(self.track_id, self.frame)


class AddBoxes(_LabelCommand):
    """Several :class:`AddBox` parts (made with ``announce=False``) as one undo step, in one
    transaction: all of them or none. :attr:`count` is how many; with none the command is
    obsolete (the stack drops it).

    The parts are plain Python-owned commands run by this one, not Qt children and not a
    ``QUndoStack`` macro: a Qt child of a Python command would be deleted twice, and a macro
    would commit each part on its own, so a part that fails would leave the others saved.
    """

    def __init__(self, project: Project, events: LabelEvents, video_id: int, frame: int,
                 text: str, parts: list[AddBox]) -> None:
        super().__init__(project, events, video_id, frame, text)
        self._children = parts
        self.count = len(parts)
        if not parts:
            self.setObsolete(True)

    def _redo(self) -> None:  # the parts join this transaction: all of them or none
        for child in self._children:
            child._redo()

    def _undo(self) -> None:
        for child in reversed(self._children):
            child._undo()

    def _state(self) -> object:
        return tuple(child._state() for child in self._children)


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

    def _state(self) -> object:
        return self._rows(self.track_id, self.frame)


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

    def _state(self) -> object:
        return self._rows(self.track_id, self.frame)


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

    def _state(self) -> object:
        return self._rows(self.track_id)


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
        pin, box = ending_boxes(p.track(self.track_id), self.frame, p.video(self.video_id).n_frames)
        self._pinned = pin is not None
        if pin is not None:
            p.set_keyframe(self.track_id, self.frame - 1, pin)
        self._old = p.set_keyframe(self.track_id, self.frame, box, outside=True)

    def _undo(self) -> None:
        self._put_back(self.track_id, self.frame, self._old)
        if self._pinned:
            self.project.delete_keyframe(self.track_id, self.frame - 1)

    def _state(self) -> object:
        return self._rows(self.track_id, self.frame - 1, self.frame)


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

    def _state(self) -> object:
        return self.frame in self.project.labeled_frames(self.video_id)


class PasteBoxes(AddBoxes):
    """Copy the boxes of the previous labeled frame to ``frame``, as keyframes of the same
    tracks, in one undo step (:func:`halgui.core.labels.paste_source_frame`,
    :func:`~halgui.core.labels.pasteable`). Tracks already keyed on ``frame``, or ended in
    between, are left alone. With nothing to paste the command is obsolete."""

    def __init__(self, project: Project, events: LabelEvents, video_id: int, frame: int) -> None:
        tracks = project.tracks(video_id)
        n_frames = project.video(video_id).n_frames
        source = paste_source_frame(tracks, project.labeled_frames(video_id), frame)
        parts: list[AddBox] = []
        if source is not None:
            for track in tracks:
                box = pasteable(track, source, frame, n_frames)
                if box is not None:
                    assert track.id is not None
                    parts.append(AddBox(project, events, video_id, frame, track.class_id,
                                        Box.of(box), track_id=track.id, announce=False))
        super().__init__(project, events, video_id, frame,
                         f"Paste {len(parts)} boxes from frame {source}", parts)
        self.source_frame = source


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
