"""Every strategy through one interface: budgets, quotas, no repeated or labeled frames."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from halgui.core.al.strategies import (
    STRATEGIES,
    PoolVideo,
    SelectionConfig,
    cold_start,
    select,
    uniform_frames,
)


def test_uniform_frames_by_hand():
    assert uniform_frames(np.zeros(100, bool), 4) == [12, 37, 62, 87]
    labeled = np.zeros(21, bool)
    labeled[[0, 20]] = True
    assert uniform_frames(labeled, 3) == [10, 5, 15]
    assert uniform_frames(np.ones(5, bool), 2) == []


def pool_of(n_videos=12, n_frames=40, labeled_videos=3, seed=0, clusters=3):
    rng = np.random.default_rng(seed)
    pool = []
    for i in range(n_videos):
        labeled = np.zeros(n_frames, bool)
        if i < labeled_videos:
            labeled[rng.choice(n_frames, 4, replace=False)] = True
        pool.append(PoolVideo(id=100 + i, labeled=labeled,
                              uncertainty=rng.random(n_frames), entropy=rng.random(n_frames),
                              cluster=i % clusters))
    return pool


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_spends_the_budget_on_new_frames(name):
    pool = pool_of()
    config = SelectionConfig(budget=30, rho=0.05)
    sel = select(STRATEGIES[name], pool, config, np.random.default_rng(0))
    pairs = [(v, f) for v, f, _ in sel.proposals]
    assert len(set(pairs)) == len(pairs)
    by_id = {v.id: v for v in pool}
    assert not any(by_id[v].labeled[f] for v, f in pairs)
    if name == "inter":  # whole videos while they fit; the first is taken even if larger
        assert len({v for v, _ in pairs}) == 1 and len(pairs) == 40
    else:
        assert len(pairs) == 30


def test_claus_new_videos_follow_cluster_quota_and_rank():
    pool = pool_of(n_videos=12, labeled_videos=0, clusters=3)
    config = SelectionConfig(budget=12, alpha=1.0, rho=0.05)  # 2 frames per video: 6 videos
    sel = select(STRATEGIES["claus"], pool, config, np.random.default_rng(0))
    chosen = {v for v, _, _ in sel.proposals}
    assert len(chosen) == 6
    clusters = [next(p.cluster for p in pool if p.id == v) for v in chosen]
    assert sorted(np.bincount(clusters).tolist()) == [2, 2, 2]
    # inside a cluster the highest V goes first
    for c in range(3):
        members = [p for p in pool if p.cluster == c]
        best = sorted(members, key=lambda p: -sel.video_scores[p.id])[:2]
        assert {p.id for p in best} <= chosen


def test_hybrid_round_tops_up_labeled_videos():
    pool = pool_of(labeled_videos=3)
    config = SelectionConfig(budget=20, alpha=0.5, rho=0.05)
    sel = select(STRATEGIES["claus-no-cluster"], pool, config, np.random.default_rng(0))
    old = {p.id for p in pool if p.is_labeled}
    topup = [v for v, _, _ in sel.proposals if v in old]
    assert len(topup) == 10
    only_new = select(STRATEGIES["claus-no-cluster"], pool,
                      SelectionConfig(budget=16, alpha=1.0), np.random.default_rng(0))
    assert not any(v in old for v, _, _ in only_new.proposals)
    # more budget than the 9 new videos can take: the rest is not wasted, it tops up
    spill = select(STRATEGIES["claus-no-cluster"], pool,
                   SelectionConfig(budget=24, alpha=1.0), np.random.default_rng(0))
    assert sum(v in old for v, _, _ in spill.proposals) == 24 - 18


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 30), st.integers(0, 10), st.integers(1, 80),
       st.sampled_from(sorted(STRATEGIES)))
def test_selection_properties(n_videos, n_labeled, budget, name):
    pool = pool_of(n_videos=n_videos, labeled_videos=min(n_labeled, n_videos), n_frames=25)
    sel = select(STRATEGIES[name], pool, SelectionConfig(budget=budget), np.random.default_rng(1))
    pairs = [(v, f) for v, f, _ in sel.proposals]
    assert len(set(pairs)) == len(pairs)
    free = sum(int((~p.labeled).sum()) for p in pool)
    if name == "inter":  # whole videos only: never more than fits, unless one video is all
        assert len(pairs) <= max(budget, 25)
    else:  # the budget is always spent while unlabeled frames remain
        assert len(pairs) == min(budget, free)


def test_cold_start_samples_every_appearance_cluster():
    pool = [PoolVideo(id=i, labeled=np.zeros(100, bool)) for i in range(30)]
    features = {i: np.array([float(i // 10) * 10, 0.0]) + 0.01 * i for i in range(30)}
    sel = cold_start(pool, features, SelectionConfig(cold_fraction=0.03, cold_clusters=3))
    assert len(sel.proposals) == 90  # 3% of 3000 frames, 5 per video: 18 videos
    videos = {v for v, _, _ in sel.proposals}
    assert sorted(np.bincount([v // 10 for v in videos]).tolist()) == [6, 6, 6]
    per_video = {}
    for v, f, _ in sel.proposals:
        per_video.setdefault(v, []).append(f)
    assert all(fs == [10, 30, 50, 70, 90] for fs in per_video.values())
