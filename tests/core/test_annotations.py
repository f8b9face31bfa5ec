"""Boxes, interpolation, the outside rule and masks, against values worked out by hand."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from halgui.core.annotations import (
    Box,
    Keyframe,
    Track,
    box_mask,
    clip_box,
    frame_boxes,
    interpolate,
    track_boxes,
)
from halgui.core.errors import BoxError


def test_interpolate_midpoint_by_hand():
    boxes = interpolate({0: (0, 0, 10, 10), 4: (4, 8, 14, 18)}, n_frames=10)
    assert sorted(boxes) == [0, 1, 2, 3, 4]
    assert boxes[2] == pytest.approx((2, 4, 12, 14))
    assert boxes[1] == pytest.approx((1, 2, 11, 12))
    assert boxes[4] == (4, 8, 14, 18)


def test_interpolate_three_keyframes_piecewise():
    boxes = interpolate({2: (0, 0, 10, 10), 4: (10, 0, 20, 10), 8: (10, 40, 20, 50)}, 20)
    assert boxes[3] == pytest.approx((5, 0, 15, 10))
    assert boxes[6] == pytest.approx((10, 20, 20, 30))
    assert 1 not in boxes and 9 not in boxes


def test_interpolate_single_keyframe_and_clipping_to_video():
    assert interpolate({5: (1, 2, 3, 4)}, 10) == {5: (1, 2, 3, 4)}
    assert sorted(interpolate({5: (1, 1, 3, 3), 15: (1, 1, 3, 3)}, 10)) == list(range(5, 10))
    assert interpolate({}, 10) == {}


box_coords = st.tuples(
    st.floats(0, 500), st.floats(0, 500), st.floats(1, 300), st.floats(1, 300)
).map(lambda b: (b[0], b[1], b[0] + b[2], b[1] + b[3]))


@given(st.dictionaries(st.integers(0, 200), box_coords, min_size=1, max_size=8))
def test_interpolate_properties(keyframes):
    boxes = interpolate(keyframes, n_frames=1000)
    frames = sorted(keyframes)
    assert sorted(boxes) == list(range(frames[0], frames[-1] + 1))
    for f in frames:
        assert boxes[f] == tuple(float(v) for v in keyframes[f])
    for a, b in itertools.pairwise(frames):
        for f in range(a, b + 1):
            for j in range(4):
                lo, hi = sorted((keyframes[a][j], keyframes[b][j]))
                assert lo - 1e-9 <= boxes[f][j] <= hi + 1e-9


def kf(frame, box, outside=False):
    return Keyframe(frame, Box(*box), outside)


def test_track_ends_at_last_keyframe_without_outside():
    boxes = track_boxes([kf(0, (0, 0, 10, 10)), kf(4, (4, 0, 14, 10))], 50)
    assert sorted(boxes) == [0, 1, 2, 3, 4]


def test_outside_keyframe_holds_last_box_until_actor_leaves():
    keyframes = [kf(0, (0, 0, 10, 10)), kf(5, (5, 0, 15, 10)), kf(8, (9, 9, 19, 19), True)]
    boxes = track_boxes(keyframes, 50)
    assert sorted(boxes) == list(range(0, 8))
    assert boxes[6] == boxes[7] == (5, 0, 15, 10)
    assert boxes[3] == pytest.approx((3, 0, 13, 10))


def test_actor_returns_after_outside_without_bridging_the_gap():
    keyframes = [kf(0, (0, 0, 10, 10)), kf(3, (0, 0, 10, 10), True),
                 kf(10, (50, 0, 60, 10)), kf(12, (52, 0, 62, 10))]
    boxes = track_boxes(keyframes, 50)
    assert sorted(boxes) == [0, 1, 2, 10, 11, 12]
    assert boxes[11] == pytest.approx((51, 0, 61, 10))


def test_frame_boxes_unions_tracks_with_classes():
    t1 = Track(class_id=1, actor=1, keyframes=(kf(0, (0, 0, 2, 2)), kf(2, (2, 0, 4, 2))))
    t2 = Track(class_id=2, actor=2, keyframes=(kf(1, (5, 5, 9, 9)),))
    per_frame = frame_boxes([t1, t2], 10)
    assert per_frame[1] == [(1, (1.0, 0.0, 3.0, 2.0)), (2, (5.0, 5.0, 9.0, 9.0))]
    assert sorted(per_frame) == [0, 1, 2]


def test_clip_box_clips_sorts_and_rejects():
    assert clip_box((-5, -5, 20, 30), 16, 12) == Box(0, 0, 16, 12)
    assert clip_box((10, 8, 2, 1), 16, 12) == Box(2, 1, 10, 8)
    with pytest.raises(BoxError, match="no area"):
        clip_box((20, 20, 30, 30), 16, 12)
    with pytest.raises(BoxError, match="no area"):
        clip_box((3, 3, 3, 9), 16, 12)
    with pytest.raises(BoxError, match="finite"):
        clip_box((0, 0, math.nan, 4), 16, 12)


def test_box_rejects_empty_and_negative_frames():
    with pytest.raises(BoxError):
        Box(5, 5, 5, 10)
    with pytest.raises(BoxError):
        Keyframe(-1, Box(0, 0, 1, 1))
    with pytest.raises(BoxError):
        Keyframe(0, Box(0, 0, 1, 1), source="robot")  # type: ignore[arg-type]


def test_box_mask_by_hand():
    mask = box_mask([(0, 0, 80, 60)], frame_size=(160, 120), mask_size=(16, 12))
    expected = np.zeros((12, 16), bool)
    expected[:6, :8] = True
    np.testing.assert_array_equal(mask, expected)
    full = box_mask([(0, 0, 160, 120)], (160, 120), (7, 5))
    assert full.all()
    union = box_mask([(0, 0, 4, 4), (2, 2, 6, 6)], (8, 8), (8, 8))
    assert union.sum() == 16 + 16 - 4


@given(box_coords, st.integers(8, 64), st.integers(8, 64))
def test_box_mask_area_matches_scaled_box(box, mw, mh):
    fw, fh = 800, 800
    mask = box_mask([box], (fw, fh), (mw, mh))
    sx, sy = mw / fw, mh / fh
    x1, y1 = min(box[0], fw) * sx, min(box[1], fh) * sy
    x2, y2 = min(box[2], fw) * sx, min(box[3], fh) * sy
    # each side rounds to the nearest pixel centre: at most one pixel row/column off per side
    w, h = x2 - x1, y2 - y1
    assert (max(w - 1, 0) * max(h - 1, 0)) - 1e-9 <= mask.sum() <= (w + 1) * (h + 1) + 1e-9
