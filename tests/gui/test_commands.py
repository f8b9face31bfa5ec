"""Undo commands: each redo and undo is committed at once (seen by a fresh connection)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from halgui.core.annotations import Box, Keyframe, track_boxes
from halgui.core.labels import box_on_frame, class_keys
from halgui.core.project import ClassRecord
from halgui.gui.commands import (
    AddBox,
    DeleteBox,
    EditBox,
    EndTrack,
    PasteBoxes,
    SetBoxClass,
    SetFrameLabeled,
)

B1 = Box(10, 10, 40, 60)
B2 = Box(20, 20, 50, 70)


@pytest.fixture
def push(project, events, undo_stack, video):
    """Push a command made from (project, events, video_id, ...) and return it."""

    def push(cls, *args, **kwargs):
        cmd = cls(project, events, video.id, *args, **kwargs)
        undo_stack.push(cmd)
        return cmd

    return push


def committed_tracks(reopened, video_id):
    fresh = reopened()
    return fresh.tracks(video_id)


def test_add_box_is_committed_and_undo_redo_reach_the_database(
        push, undo_stack, reopened, video, class_ids):
    cmd = push(AddBox, 3, class_ids["walk"], B1)
    (track,) = committed_tracks(reopened, video.id)
    assert track.id == cmd.track_id and track.actor == 1 and track.class_id == class_ids["walk"]
    assert [(k.frame, k.box, k.outside, k.source) for k in track.keyframes] == [
        (3, B1, False, "human")]

    undo_stack.undo()
    assert committed_tracks(reopened, video.id) == []

    undo_stack.redo()
    (again,) = committed_tracks(reopened, video.id)
    assert again == track


def test_every_redo_and_undo_announces_the_edit(push, undo_stack, events, qtbot, class_ids):
    seen = []
    events.labelsChanged.connect(lambda v, f: seen.append((v, f)))
    cmd = push(AddBox, 5, class_ids["walk"], B1)
    undo_stack.undo()
    undo_stack.redo()
    assert seen == [(cmd.video_id, 5)] * 3


def test_a_new_box_continues_the_track_of_its_class(push, project, video, class_ids):
    first = push(AddBox, 0, class_ids["walk"], B1)
    later = push(AddBox, 10, class_ids["walk"], B2)
    other = push(AddBox, 10, class_ids["run"], B1)
    assert later.track_id == first.track_id
    assert other.track_id != first.track_id
    actors = {t.id: t.actor for t in project.tracks(video.id)}
    assert actors == {first.track_id: 1, other.track_id: 2}


def test_continuation_prefers_the_nearest_in_time_then_in_space(push, class_ids):
    walk = class_ids["walk"]
    left = push(AddBox, 0, walk, Box(0, 0, 20, 20))
    right = push(AddBox, 0, walk, Box(120, 0, 150, 30))
    # On frame 6 the right-hand actor is drawn first: it continues the right-hand track.
    assert push(AddBox, 6, walk, Box(118, 2, 148, 32)).track_id == right.track_id
    assert push(AddBox, 6, walk, Box(2, 2, 22, 22)).track_id == left.track_id
    # A third actor on frame 6: both tracks are keyed there, so it starts a new one.
    third = push(AddBox, 6, walk, Box(60, 60, 80, 80))
    assert third.track_id not in (left.track_id, right.track_id)


def test_a_box_where_a_track_is_interpolated_is_another_actor(push, project, class_ids):
    walk = class_ids["walk"]
    a = push(AddBox, 0, walk, B1)
    push(AddBox, 10, walk, B1)
    b = push(AddBox, 5, walk, B2)
    assert b.track_id != a.track_id


def test_an_ended_track_is_not_continued(push, class_ids):
    walk = class_ids["walk"]
    a = push(AddBox, 0, walk, B1)
    push(EndTrack, 4, a.track_id)
    assert push(AddBox, 8, walk, B1).track_id != a.track_id


def test_edit_box_on_a_keyframe_and_on_an_interpolated_frame(
        push, undo_stack, reopened, video, class_ids):
    a = push(AddBox, 0, class_ids["walk"], B1)
    push(AddBox, 10, class_ids["walk"], B2)
    push(EditBox, 0, a.track_id, Box(11, 11, 41, 61))
    push(EditBox, 5, a.track_id, Box(30, 30, 60, 90))  # was interpolated: becomes a keyframe
    (track,) = committed_tracks(reopened, video.id)
    assert {k.frame: k.box for k in track.keyframes} == {
        0: Box(11, 11, 41, 61), 5: Box(30, 30, 60, 90), 10: B2}

    undo_stack.undo()
    undo_stack.undo()
    (track,) = committed_tracks(reopened, video.id)
    assert {k.frame: k.box for k in track.keyframes} == {0: B1, 10: B2}


def test_delete_box_removes_one_keyframe_or_the_whole_track(
        push, undo_stack, reopened, video, class_ids):
    a = push(AddBox, 0, class_ids["walk"], B1)
    push(AddBox, 10, class_ids["walk"], B2)
    push(DeleteBox, 10, a.track_id)
    (track,) = committed_tracks(reopened, video.id)
    assert [k.frame for k in track.keyframes] == [0]

    push(DeleteBox, 0, a.track_id)  # the last keyframe: the track goes
    assert committed_tracks(reopened, video.id) == []

    undo_stack.undo()
    (restored,) = committed_tracks(reopened, video.id)
    assert restored == track  # same id, actor, class and keyframes
    undo_stack.undo()
    (track,) = committed_tracks(reopened, video.id)
    assert {k.frame: k.box for k in track.keyframes} == {0: B1, 10: B2}


def test_deleting_where_there_is_no_keyframe_leaves_no_undo_step(push, undo_stack, class_ids):
    a = push(AddBox, 0, class_ids["walk"], B1)
    push(AddBox, 10, class_ids["walk"], B2)
    push(DeleteBox, 5, a.track_id)
    assert undo_stack.count() == 2


def test_set_box_class_changes_the_track_and_undoes(push, undo_stack, reopened, video, class_ids):
    a = push(AddBox, 0, class_ids["walk"], B1)
    push(SetBoxClass, 0, a.track_id, class_ids["run"])
    assert committed_tracks(reopened, video.id)[0].class_id == class_ids["run"]
    undo_stack.undo()
    assert committed_tracks(reopened, video.id)[0].class_id == class_ids["walk"]


def test_end_track_puts_an_outside_keyframe_and_keeps_earlier_boxes(
        push, undo_stack, reopened, video, class_ids):
    a = push(AddBox, 0, class_ids["walk"], B1)
    push(AddBox, 10, class_ids["walk"], B2)
    shown_before = track_boxes(committed_tracks(reopened, video.id)[0].keyframes, video.n_frames)
    push(EndTrack, 6, a.track_id)  # last seen on 5, which is interpolated
    (track,) = committed_tracks(reopened, video.id)
    outside = [k.frame for k in track.keyframes if k.outside]
    assert outside == [6]
    boxes = track_boxes(track.keyframes, video.n_frames)
    assert all(boxes[f] == shown_before[f] for f in range(6))
    assert all(f not in boxes for f in range(6, 10))

    undo_stack.undo()
    (track,) = committed_tracks(reopened, video.id)
    assert {k.frame: (k.box, k.outside) for k in track.keyframes} == {
        0: (B1, False), 10: (B2, False)}


def test_mark_a_frame_with_no_actor_labeled(push, undo_stack, reopened, video):
    push(SetFrameLabeled, 7)
    fresh = reopened()
    assert fresh.labeled_frames(video.id) == {7}
    assert fresh.tracks(video.id) == []

    push(SetFrameLabeled, 7)  # already labeled: no extra undo step
    assert undo_stack.count() == 1
    push(SetFrameLabeled, 7, False)
    assert reopened().labeled_frames(video.id) == set()
    undo_stack.undo()
    undo_stack.undo()
    assert reopened().labeled_frames(video.id) == set()


def test_paste_copies_the_previous_labeled_frame_in_one_step(
        push, undo_stack, reopened, video, class_ids):
    a = push(AddBox, 2, class_ids["walk"], B1)
    b = push(AddBox, 2, class_ids["run"], B2)
    push(SetFrameLabeled, 2)
    push(AddBox, 4, class_ids["walk"], Box(0, 0, 5, 5))  # keyed later, but frame 4 not labeled
    steps = undo_stack.count()

    paste = push(PasteBoxes, 9)
    assert paste.source_frame == 2 and paste.count == 2
    assert undo_stack.count() == steps + 1
    tracks = {t.id: t for t in committed_tracks(reopened, video.id)}
    assert {k.frame: k.box for k in tracks[a.track_id].keyframes}[9] == B1
    assert {k.frame: k.box for k in tracks[b.track_id].keyframes}[9] == B2

    undo_stack.undo()
    tracks = {t.id: t for t in committed_tracks(reopened, video.id)}
    assert all(9 not in {k.frame for k in t.keyframes} for t in tracks.values())


def test_paste_with_nothing_before_leaves_no_undo_step(push, undo_stack):
    paste = push(PasteBoxes, 3)
    assert paste.count == 0
    assert undo_stack.count() == 0


def test_class_keys_use_digit_shortcuts_then_fill_free_digits():
    classes = [ClassRecord(1, "a", "#000", None), ClassRecord(2, "b", "#000", "1"),
               ClassRecord(3, "c", "#000", "x")]
    assert {k: c.name for k, c in class_keys(classes).items()} == {1: "b", 2: "a", 3: "c"}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.booleans(), st.integers(0, 50)),
                min_size=1, max_size=8, unique_by=lambda t: t[0]))
def test_box_on_frame_agrees_with_track_boxes(kfs):
    keyframes = sorted((Keyframe(f, Box(x, x, x + 10, x + 20), outside=out)
                        for f, out, x in kfs), key=lambda k: k.frame)
    every = track_boxes(keyframes, 36)
    assert {f: box_on_frame(keyframes, f, 36) for f in range(36)} == {
        f: every.get(f) for f in range(36)}


# ---------------------------------------------------------------------- accepting model boxes
def keyframes_by_track(project, video_id):
    return {t.id: [(k.frame, k.box, k.source) for k in t.keyframes]
            for t in project.tracks(video_id)}


def test_accepted_model_boxes_are_one_undo_step_of_add_box_parts(
        push, project, events, undo_stack, reopened, video, class_ids):
    from halgui.gui.model_view import AcceptBoxes

    drawn = push(AddBox, 2, class_ids["walk"], B1)
    before = keyframes_by_track(reopened(), video.id)
    seen = []
    events.labelsChanged.connect(lambda v, f: seen.append((v, f)))
    found = [(12, 12, 42, 62, "walk", 0.9),  # continues the drawn walk track
             (100, 10, 140, 50, "walk", 0.8),  # a second walker: a new track
             (100, 60, 130, 110, "run", 0.7)]  # a runner: a new track
    accept = AcceptBoxes(project, events, video, 6, found)
    assert accept.count == 3 and accept.text() == "Accept 3 model boxes"
    undo_stack.push(accept)
    assert undo_stack.count() == 2 and seen == [(video.id, 6)]
    after = keyframes_by_track(reopened(), video.id)
    assert after[drawn.track_id] == [(2, B1, "human"), (6, Box(12, 12, 42, 62), "model-accepted")]
    new = {i: kfs for i, kfs in after.items() if i != drawn.track_id}
    assert sorted(new.values(), key=lambda kfs: kfs[0][1].y1) == [
        [(6, Box(100, 10, 140, 50), "model-accepted")],
        [(6, Box(100, 60, 130, 110), "model-accepted")]]
    actors = {t.id: (t.actor, t.class_id) for t in project.tracks(video.id)}
    assert sorted(actors[i] for i in new) == [(2, class_ids["walk"]), (3, class_ids["run"])]

    undo_stack.undo()  # once: all three go
    assert keyframes_by_track(reopened(), video.id) == before
    undo_stack.redo()  # and come back: same tracks, ids and actors
    assert keyframes_by_track(reopened(), video.id) == after
    assert {t.id: (t.actor, t.class_id) for t in project.tracks(video.id)} == actors
    assert seen == [(video.id, 6)] * 3


def test_a_redo_of_accepted_boxes_that_no_longer_applies_changes_nothing(
        push, project, events, undo_stack, reopened, video, class_ids):
    from halgui.gui.model_view import AcceptBoxes

    failures = []
    events.editFailed.connect(failures.append)
    drawn = push(AddBox, 2, class_ids["walk"], B1)
    undo_stack.push(AcceptBoxes(project, events, video, 6, [
        (100, 10, 140, 50, "run", 0.9), (12, 12, 42, 62, "walk", 0.8)]))
    undo_stack.undo()
    reopened().delete_track(drawn.track_id)  # the continued track goes, elsewhere
    before = keyframes_by_track(reopened(), video.id)
    undo_stack.redo()
    assert failures == ["Cannot redo Accept 2 model boxes: another window or team member "
                        "changed or deleted it since. Nothing was changed; it was removed from "
                        "the undo history."]
    assert keyframes_by_track(reopened(), video.id) == before == {}  # the new run track too
    assert undo_stack.count() == 1
