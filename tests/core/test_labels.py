"""The label rules without a window: continue-or-create, paste, end, accept, class keys, and the
one box IoU, against cases worked out by hand and a real project (an SQLite file, and a
PostgreSQL database)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from halgui.core.annotations import Box, Keyframe, Track, box_iou
from halgui.core.labels import (
    ACCEPT_OVERLAP_IOU,
    VideoTracks,
    add_box,
    boxes_to_accept,
    class_keys,
    continuing_track,
    ending_boxes,
    paste_source_frame,
    pasteable,
)
from halgui.core.project import ClassRecord

WALK, RUN = 1, 2
LEFT = Box(0, 0, 20, 20)
RIGHT = Box(100, 0, 120, 20)


def track(id_: int, class_id: int, *keyframes: tuple[int, Box] | tuple[int, Box, bool]) -> Track:
    kfs = tuple(Keyframe(k[0], k[1], outside=bool(k[2:] and k[2])) for k in keyframes)
    return Track(class_id=class_id, actor=id_, keyframes=kfs, id=id_)


# ---------------------------------------------------------------------- continuing a track
def test_the_nearest_track_in_time_of_the_same_class_is_continued():
    tracks = [track(1, WALK, (0, LEFT)), track(2, WALK, (8, RIGHT)), track(3, RUN, (9, LEFT))]
    assert continuing_track(tracks, WALK, 10, LEFT, 100) == 2  # 2 frames away beats 10
    assert continuing_track(tracks, RUN, 10, RIGHT, 100) == 3  # the only run track
    assert continuing_track(tracks, WALK, 1, RIGHT, 100) == 1  # now track 1 is nearer


def test_a_tie_in_time_goes_to_the_nearest_box_in_space():
    tracks = [track(1, WALK, (5, LEFT)), track(2, WALK, (15, RIGHT))]
    assert continuing_track(tracks, WALK, 10, Box(95, 0, 115, 20), 100) == 2
    assert continuing_track(tracks, WALK, 10, Box(5, 0, 25, 20), 100) == 1


def test_no_track_fits_when_each_shows_a_box_there_or_was_ended():
    keyed = track(1, WALK, (10, LEFT))
    interpolated = track(2, WALK, (0, LEFT), (20, LEFT))
    ended = track(3, WALK, (0, RIGHT), (4, RIGHT, True))
    gone_for_good = track(4, WALK, (30, RIGHT, True))  # an outside keyframe only
    other_class = track(5, RUN, (2, LEFT))
    tracks = [keyed, interpolated, ended, gone_for_good, other_class]
    assert continuing_track(tracks, WALK, 10, LEFT, 100) is None
    # before its end the ended track holds its box up to frame 3: a box there is another actor
    assert continuing_track([ended], WALK, 3, LEFT, 100) is None
    back = track(6, WALK, (0, RIGHT), (4, RIGHT, True), (9, LEFT))  # ended, then came back
    assert continuing_track([back], WALK, 12, LEFT, 100) == 6


@pytest.fixture
def project(store):  # on both engines (tests/core/conftest.py)
    with store.create() as p:
        yield p


def test_add_box_continues_or_starts_a_track_with_the_next_actor_id(project):
    video = project.add_video("v", path=None, width=160, height=120, n_frames=50)
    walk, run = project.add_class("walk"), project.add_class("run")
    first = add_box(project, video, 5, walk, LEFT)
    assert first.new_track is not None and first.new_track.actor == 1
    again = add_box(project, video, 5, walk, RIGHT)  # track 1 is keyed on 5: another actor
    assert again.new_track is not None and again.new_track.actor == 2
    other = add_box(project, video, 9, run, LEFT)  # no run track yet
    assert other.new_track is not None and other.new_track.actor == 3
    later = add_box(project, video, 9, walk, Box(98, 0, 118, 20), source="model-accepted")
    assert later == type(later)(again.track_id, None, None)  # continues the right-hand actor
    assert project.track(again.track_id).keyframes[-1] == Keyframe(
        9, Box(98, 0, 118, 20), source="model-accepted")
    replaced = add_box(project, video, 9, walk, RIGHT, track_id=again.track_id)
    assert replaced.replaced == Keyframe(9, Box(98, 0, 118, 20), source="model-accepted")
    assert sorted(t.actor for t in project.tracks(video)) == [1, 2, 3]


def test_video_tracks_show_keyed_and_interpolated_boxes(project):
    video = project.add_video("v", path=None, width=160, height=120, n_frames=50)
    walk = project.add_class("walk")
    t = project.add_track(video, walk)
    project.set_keyframe(t, 0, Box(0, 0, 10, 10))
    project.set_keyframe(t, 10, Box(10, 0, 20, 10))
    shown = VideoTracks(project, video)
    (on_5,) = shown.on_frame(5)
    assert on_5.box == pytest.approx((5, 0, 15, 10)) and not on_5.keyframe
    assert shown.on_frame(10)[0].keyframe and shown.on_frame(11) == []
    assert shown.track(t).id == t and shown.track(None) is None
    assert VideoTracks(project, None).on_frame(0) == []


# ---------------------------------------------------------------------- paste and end
def test_paste_copies_from_the_last_labeled_frame_before_else_the_last_keyframe():
    tracks = [track(1, WALK, (3, LEFT), (14, LEFT)), track(2, RUN, (7, RIGHT), (8, RIGHT, True))]
    assert paste_source_frame(tracks, {2, 6, 12}, 9) == 6
    assert paste_source_frame(tracks, {12}, 9) == 7  # no labeled frame before 9
    assert paste_source_frame(tracks, set(), 8) == 7
    assert paste_source_frame(tracks, set(), 3) is None


def test_what_a_paste_copies_for_each_track():
    moving = track(1, WALK, (0, Box(0, 0, 10, 10)), (10, Box(10, 0, 20, 10)))
    assert pasteable(moving, 4, 20, 100) == pytest.approx((4, 0, 14, 10))  # the box shown on 4
    assert pasteable(moving, 4, 10, 100) is None  # keyed on the target already
    ended = track(2, WALK, (0, LEFT), (6, LEFT, True))
    assert pasteable(ended, 0, 9, 100) is None  # ended in between
    assert pasteable(track(3, WALK, (5, LEFT)), 2, 9, 100) is None  # no box on the source


def test_ending_a_track_pins_an_interpolated_box_before_the_end():
    moving = track(1, WALK, (0, Box(0, 0, 10, 10)), (10, Box(10, 0, 20, 10)))
    assert ending_boxes(moving, 6, 100) == (Box(5, 0, 15, 10), Box(5, 0, 15, 10))
    assert ending_boxes(moving, 1, 100) == (None, Box(0, 0, 10, 10))  # frame 0 is keyed
    assert ending_boxes(moving, 15, 100) == (None, Box(10, 0, 20, 10))  # nothing on 14
    assert ending_boxes(moving, 0, 100) == (None, Box(0, 0, 10, 10))


# ---------------------------------------------------------------------- accepting
def test_accepting_takes_known_classes_inside_the_frame_best_score_first():
    classes = [ClassRecord(WALK, "walk", "#000", None), ClassRecord(RUN, "run", "#000", None)]
    on_frame = [(0.0, 0.0, 20.0, 20.0)]
    detections = [
        (0, 0, 10, 20, "walk", 0.9),  # IoU 0.5 with the box on the frame: left out
        (0, 0, 10.5, 20, "walk", 0.8),  # IoU 0.525: left out
        (60, 0, 80, 20, "run", 0.3),  # taken, after the better one below
        (61, 0, 81, 20, "walk", 0.2),  # overlaps the run box taken before it
        (100, 0, 130, 20, "walk", 0.7),  # taken, clipped to the 120-wide frame
        (200, 0, 220, 20, "walk", 0.95),  # nothing inside the frame
        (30, 0, 40, 10, "jump", 0.99),  # no such class
        (0, 30, 20, 50, "walk", 0.1),  # alone: taken
    ]
    assert boxes_to_accept(detections, classes, on_frame, 120, 100) == [
        (WALK, Box(100, 0, 120, 20)), (RUN, Box(60, 0, 80, 20)), (WALK, Box(0, 30, 20, 50))]
    below = [(0, 0, 9.9, 20, "walk", 0.9)]  # IoU 0.495
    assert boxes_to_accept(below, classes, on_frame, 120, 100) == [(WALK, Box(0, 0, 9.9, 20))]
    assert ACCEPT_OVERLAP_IOU == 0.5


# ---------------------------------------------------------------------- class keys
def test_class_keys_shortcuts_first_then_free_digits_in_order():
    classes = [ClassRecord(1, "a", "#000", None), ClassRecord(2, "b", "#000", "1"),
               ClassRecord(3, "c", "#000", "x"), ClassRecord(4, "d", "#000", "1"),
               ClassRecord(5, "e", "#000", "0"), ClassRecord(6, "f", "#000", "3")]
    assert {k: c.name for k, c in class_keys(classes).items()} == {
        1: "b", 2: "a", 3: "f", 4: "c", 5: "d", 6: "e"}
    many = [ClassRecord(i, f"c{i}", "#000", None) for i in range(1, 13)]
    assert [c.name for c in class_keys(many).values()] == [f"c{i}" for i in range(1, 10)]
    assert class_keys([]) == {}


# ---------------------------------------------------------------------- the one IoU
def test_box_iou_by_hand():
    a = (0, 0, 10, 10)
    assert box_iou(a, (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert box_iou(a, (2, 2, 4, 4)) == pytest.approx(4 / 100)  # one inside the other
    assert box_iou(a, (10, 0, 20, 10)) == 0.0  # touching edges share no area
    assert box_iou(a, (5, 0, 15, 10), plus_one=True) == pytest.approx(66 / 176)
    rows = box_iou(np.array([a, a]), np.array([a, (5, 0, 15, 10)]), pairwise=False)
    assert rows == pytest.approx([1.0, 1 / 3])
    assert box_iou(a, np.array([a, (20, 20, 30, 30)])) == pytest.approx([1.0, 0.0])


def _pixels(b: tuple[int, int, int, int]) -> set[tuple[int, int]]:
    return {(x, y) for x in range(b[0], b[2]) for y in range(b[1], b[3])}


corner = st.tuples(st.integers(0, 12), st.integers(0, 12))
boxes = st.tuples(corner, st.integers(1, 8), st.integers(1, 8)).map(
    lambda t: (t[0][0], t[0][1], t[0][0] + t[1], t[0][1] + t[2]))


@settings(max_examples=200, deadline=None)
@given(boxes, boxes)
def test_box_iou_is_symmetric_in_0_1_and_counts_shared_pixels(a, b):
    ab = box_iou(a, b)
    assert ab == pytest.approx(box_iou(b, a))
    assert 0.0 <= ab <= 1.0
    assert box_iou(a, a) == pytest.approx(1.0)
    pa, pb = _pixels(a), _pixels(b)  # an independent count: unit pixels inside both / either
    assert ab == pytest.approx(len(pa & pb) / len(pa | pb))
    assert box_iou(np.array([a]), np.array([b]), pairwise=False)[0] == pytest.approx(ab)
