"""Frame and video selection against values worked out by hand (algorithm.md 4, 5, 6)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from halgui.core.al.selection import (
    allocate_quota,
    frames_for,
    largest_remainder,
    penalised_scores,
    pick_frames,
    top_frames,
    video_score,
)


def g(d):
    return math.exp(-(d**2) / (2 * (8 / 3) ** 2)) if abs(d) <= 8 else 0.0


U = np.array([0.1, 0.9, 0.8, 0.2, 0.85, 0, 0, 0, 0, 0, 0, 0, 0.5])


def test_greedy_suppression_by_hand():
    none = np.zeros(13, bool)
    # pick 1 (0.9); frame 4 drops to 0.85 - g(3) = 0.319 < frame 12's 0.5 (11 frames away)
    assert pick_frames(U, none, 2) == [1, 12]
    assert pick_frames(U, none, 3) == [1, 12, 4]
    assert video_score(U, none, 2) == pytest.approx((0.9 + 0.5) / 2)
    assert video_score(U, none, 3) == pytest.approx((0.9 + 0.5 + 0.85 - g(3) - g(8)) / 3)


def test_proximity_penalty_to_labeled_frames_by_hand():
    labeled = np.zeros(13, bool)
    labeled[0] = True
    s = penalised_scores(U, labeled)
    assert s[0] == -np.inf
    assert s[1] == pytest.approx(0.9 - g(1))
    assert s[4] == pytest.approx(0.85 - g(4))
    assert s[12] == pytest.approx(0.5)  # 12 frames away: beyond 3 sigma
    assert pick_frames(U, labeled, 2) == [4, 12]
    assert video_score(U, labeled, 2) == pytest.approx((0.85 - g(4) + 0.5 - g(8)) / 2)


def test_ties_go_to_the_lowest_frame_and_labeled_frames_are_never_picked():
    assert pick_frames(np.ones(30), np.zeros(30, bool), 1) == [0]
    labeled = np.ones(5, bool)
    labeled[3] = False
    assert pick_frames(np.ones(5), labeled, 4) == [3]
    assert video_score(np.ones(5), np.ones(5, bool), 2) == -np.inf
    assert pick_frames(np.zeros(10), np.zeros(10, bool), 0) == []


def test_empty_foreground_frames_score_zero_and_are_picked_last():
    u = np.zeros(40)
    u[30] = 0.2
    assert pick_frames(u, np.zeros(40, bool), 1) == [30]


@given(st.lists(st.floats(0, 5), min_size=1, max_size=80), st.data())
def test_pick_frames_properties(values, data):
    u = np.array(values)
    labeled = np.array(data.draw(st.lists(st.booleans(), min_size=len(u), max_size=len(u))))
    k = data.draw(st.integers(0, 10))
    picks = pick_frames(u, labeled, k)
    assert len(picks) == min(k, int((~labeled).sum()))
    assert len(set(picks)) == len(picks)
    assert not labeled[picks].any() if picks else True
    if picks:  # the first pick is the best penalised score
        s = penalised_scores(u, labeled)
        assert s[picks[0]] == s.max()


def test_top_frames_has_no_suppression():
    u = np.array([0.1, 0.9, 0.8, 0.2])
    assert top_frames(u, np.zeros(4, bool), 2) == [1, 2]
    assert top_frames(u, np.array([0, 1, 0, 0], bool), 2) == [2, 3]


def test_frames_per_video():
    assert frames_for(96, 0.05) == 5
    assert frames_for(10, 0.05) == 1
    assert frames_for(30, 0.05) == 2  # 1.5 rounds half up


def test_allocate_quota_by_hand():
    assert allocate_quota([10, 5, 5], [0, 0, 0], 4) == [2, 1, 1]
    # targets 3.6, 1.8, 0.6 for 6 labeled in all: cluster 0 has 3 already
    assert allocate_quota([6, 3, 1], [3, 0, 0], 3) == [1, 2, 0]
    # cluster 0 is over its target: it gets nothing, the others share the 5
    assert allocate_quota([2, 8], [2, 0], 5) == [0, 5]
    assert allocate_quota([10, 2], [0, 0], 8) == [7, 1]   # 6.67, 1.33 rounded
    # cluster 1 has only one unlabeled video left: it takes it, cluster 0 takes the rest
    assert allocate_quota([5, 5], [0, 4], 6) == [5, 1]
    assert allocate_quota([1, 1], [1, 1], 3) == [0, 0]
    assert allocate_quota([3, 4], [0, 0], 100) == [3, 4]


@given(st.lists(st.integers(1, 40), min_size=1, max_size=8), st.data())
def test_allocate_quota_properties(sizes, data):
    labeled = [data.draw(st.integers(0, s)) for s in sizes]
    n_new = data.draw(st.integers(0, 60))
    quota = allocate_quota(sizes, labeled, n_new)
    room = [s - a for s, a in zip(sizes, labeled, strict=True)]
    assert sum(quota) == min(n_new, sum(room))
    assert all(0 <= q <= r for q, r in zip(quota, room, strict=True))


@given(st.lists(st.integers(1, 40), min_size=1, max_size=8), st.integers(0, 40))
def test_allocate_quota_is_largest_remainder_when_nothing_binds(sizes, n_new):
    n = min(n_new, sum(sizes))
    expected = largest_remainder(sizes, n)
    if all(q <= s for q, s in zip(expected, sizes, strict=True)):
        assert allocate_quota(sizes, [0] * len(sizes), n_new) == expected


def test_largest_remainder_by_hand():
    assert largest_remainder([6, 3, 1], 6) == [4, 2, 0]   # 3.6, 1.8, 0.6
    assert largest_remainder([1, 1, 1], 2) == [1, 1, 0]   # ties: lowest index


@given(st.lists(st.tuples(st.lists(st.floats(0, 3), min_size=1, max_size=40), st.data()),
                min_size=1, max_size=6))
def test_batch_video_scores_equal_one_by_one(videos):
    from halgui.core.al.selection import video_scores_batch

    us, labs, ks = [], [], []
    for values, data in videos:
        u = np.round(np.array(values), 3)
        lab = np.array(data.draw(st.lists(st.booleans(), min_size=len(u), max_size=len(u))))
        us.append(u)
        labs.append(lab)
        ks.append(data.draw(st.integers(0, 6)))
    batch = video_scores_batch(us, labs, ks)
    single = [video_score(u, lab, k) for u, lab, k in zip(us, labs, ks, strict=True)]
    np.testing.assert_allclose(batch, single, rtol=1e-12, atol=1e-12)
