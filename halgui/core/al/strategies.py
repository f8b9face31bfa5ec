"""Every selection strategy of algorithm.md 5.4 behind one interface, plus the round-0 start.

A strategy turns the scored pool into proposals: ``(video id, frame)`` pairs in rank order,
spending a budget of B frames. The hybrid round (5.3) gives a share alpha of B to new videos
and the rest to frames of videos already labeled ("top-up").
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from halgui.core.al.clustering import kmeans
from halgui.core.al.selection import (
    allocate_quota,
    frames_for,
    penalised_scores,
    pick_frames,
    top_frames,
    video_score,
    video_scores_batch,
)
from halgui.core.al.stew import SIGMA, gaussian


@dataclass(frozen=True)
class SelectionConfig:
    """Budget and selection choices; defaults from algorithm.md 5."""

    budget: int | None = None          # B frames per round; None: budget_fraction of the pool
    budget_fraction: float = 0.0025
    min_budget: int = 20
    alpha: float = 0.5                 # share of B for new videos
    rho: float = 0.05                  # frames per new video: A = max(1, round(rho * N_v))
    sigma: float = SIGMA
    cold_fraction: float = 0.01        # round 0: share of the pool's frames
    cold_clusters: int = 5             # round 0: k-means clusters of appearance features
    seed: int = 0

    def budget_for(self, pool_frames: int) -> int:
        if self.budget is not None:
            return self.budget
        return max(self.min_budget, round(self.budget_fraction * pool_frames))


@dataclass
class PoolVideo:
    """One pool video as selection sees it."""

    id: int
    labeled: np.ndarray                      # (N,) bool
    uncertainty: np.ndarray | None = None    # (N,) U_f of the current model
    entropy: np.ndarray | None = None        # (N,) mean pixel entropy
    cluster: int | None = None

    @property
    def n_frames(self) -> int:
        return len(self.labeled)

    @property
    def is_labeled(self) -> bool:
        return bool(self.labeled.any())


@dataclass
class Selection:
    proposals: list[tuple[int, int, float]]            # (video id, frame, score) in rank order
    video_scores: dict[int, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Strategy:
    """How a strategy chooses videos and frames, and which loss it trains with."""

    name: str
    videos: str        # random | entropy | apu | apu-quota | all | whole
    frames: str        # random | uniform | entropy | apu
    weighting: str     # StewConfig.weighting
    cluster_loss: bool = False


STRATEGIES: dict[str, Strategy] = {s.name: s for s in (
    Strategy("random", "random", "random", "stew"),
    Strategy("uniform", "random", "uniform", "stew"),
    Strategy("entropy", "entropy", "entropy", "stew"),
    Strategy("asl", "all", "apu", "mgw"),
    Strategy("inter", "whole", "apu", "labeled"),
    Strategy("claus-no-cluster", "apu", "apu", "stew"),
    Strategy("claus", "apu-quota", "apu", "stew", cluster_loss=True),
    Strategy("claus-no-stew", "apu-quota", "apu", "labeled", cluster_loss=True),
)}


def select(strategy: Strategy, pool: list[PoolVideo], config: SelectionConfig,
           rng: np.random.Generator) -> Selection:
    """One round's proposals for a scored pool."""
    budget = config.budget_for(sum(v.n_frames for v in pool))
    if strategy.videos == "all":
        return _global_frames(pool, budget, strategy, config, rng)
    if strategy.videos == "whole":
        return _whole_videos(pool, budget, config)
    # new videos for the whole budget, in rank order: the alpha share is spent first, the
    # top-up of labeled videos next, and what the top-up cannot use goes to further new videos
    chosen, values = _new_videos(strategy, pool, budget, config, rng)
    new_share = round(config.alpha * budget)
    proposals: list[tuple[int, int, float]] = []
    queue = list(chosen)

    def take_new(limit: int) -> None:
        while queue and len(proposals) < limit:
            video, score = queue.pop(0)
            k = min(frames_for(video.n_frames, config.rho), budget - len(proposals))
            proposals.extend((video.id, f, score)
                             for f in _frames(strategy.frames, video, k, config, rng))

    take_new(new_share)
    labeled = [v for v in pool if v.is_labeled]
    proposals += _global_frames(labeled, budget - len(proposals), strategy, config, rng).proposals
    take_new(budget)
    if len(proposals) < budget:  # every video was taken: more frames wherever they are free
        proposals += _global_frames(_with_proposed(pool, proposals), budget - len(proposals),
                                    strategy, config, rng).proposals
    return Selection(proposals, values)


def _new_videos(strategy: Strategy, pool: list[PoolVideo], frame_budget: int,
                config: SelectionConfig, rng: np.random.Generator
                ) -> tuple[list[tuple[PoolVideo, float]], dict[int, float]]:
    """Unlabeled videos for the new-video share, in rank order, with their scores; and the
    informativeness of every candidate (what the video list shows)."""
    candidates = [v for v in pool if not v.is_labeled]
    if not candidates or frame_budget <= 0:
        return [], {}
    per_video = frames_for(int(np.median([v.n_frames for v in candidates])), config.rho)
    n_new = max(1, frame_budget // per_video)
    if strategy.videos == "random":
        order = rng.permutation(len(candidates))[:n_new]
        return [(candidates[i], 0.0) for i in order], {}
    scores = _video_values(strategy, candidates, config)
    ranked = sorted(candidates, key=lambda v: (-scores[v.id], v.id))
    if strategy.videos != "apu-quota":
        return [(v, scores[v.id]) for v in ranked[:n_new]], scores
    clusters = sorted({v.cluster or 0 for v in pool})
    index = {c: i for i, c in enumerate(clusters)}
    sizes = [0] * len(clusters)
    done = [0] * len(clusters)
    for v in pool:
        sizes[index[v.cluster or 0]] += 1
        done[index[v.cluster or 0]] += v.is_labeled
    quota = allocate_quota(sizes, done, n_new)
    chosen = []
    for v in ranked:  # highest V first inside each cluster
        c = index[v.cluster or 0]
        if quota[c] > 0:
            chosen.append((v, scores[v.id]))
            quota[c] -= 1
    return chosen, scores


def _with_proposed(pool: list[PoolVideo], proposals: list[tuple[int, int, float]]
                   ) -> list[PoolVideo]:
    """The pool as it will be once the proposals are labeled (for a last top-up)."""
    taken: dict[int, list[int]] = {}
    for v, f, _ in proposals:
        taken.setdefault(v, []).append(f)
    out = []
    for v in pool:
        labeled = v.labeled.copy()
        labeled[taken.get(v.id, [])] = True
        out.append(PoolVideo(v.id, labeled, v.uncertainty, v.entropy, v.cluster))
    return out


def _video_values(strategy: Strategy, videos: list[PoolVideo], config: SelectionConfig
                  ) -> dict[int, float]:
    """Each video's informativeness: mean pixel entropy, or V of algorithm.md 5.1."""
    if strategy.videos == "entropy":
        assert all(v.entropy is not None for v in videos), "entropy needs scored videos"
        return {v.id: float(np.mean(v.entropy)) for v in videos}  # type: ignore[arg-type]
    assert all(v.uncertainty is not None for v in videos), "APU strategies need scored videos"
    values = video_scores_batch([v.uncertainty for v in videos],  # type: ignore[misc]
                                [v.labeled for v in videos],
                                [frames_for(v.n_frames, config.rho) for v in videos],
                                config.sigma)
    return {v.id: float(x) for v, x in zip(videos, values, strict=True)}


def _frames(kind: str, video: PoolVideo, k: int, config: SelectionConfig,
            rng: np.random.Generator) -> list[int]:
    free = np.flatnonzero(~video.labeled)
    if k <= 0 or free.size == 0:
        return []
    if kind == "random":
        return sorted(rng.choice(free, size=min(k, free.size), replace=False).tolist())
    if kind == "uniform":
        return uniform_frames(video.labeled, k)
    if kind == "entropy":
        assert video.entropy is not None
        return top_frames(video.entropy, video.labeled, k)
    assert video.uncertainty is not None
    return pick_frames(video.uncertainty, video.labeled, k, config.sigma)


def uniform_frames(labeled: np.ndarray, k: int) -> list[int]:
    """What annotators do by hand: evenly spaced keyframes. In a video without labels, the
    centres of k equal segments; otherwise the middle of the longest run of unlabeled frames,
    again and again (ties: the earliest run)."""
    n = len(labeled)
    if not labeled.any():
        return sorted({(2 * i + 1) * n // (2 * k) for i in range(min(k, n))})
    marked = np.asarray(labeled, dtype=bool).copy()
    picks: list[int] = []
    for _ in range(k):
        free = np.flatnonzero(~marked)
        if free.size == 0:
            break
        starts = free[np.r_[True, np.diff(free) > 1]]
        ends = free[np.r_[np.diff(free) > 1, True]]
        longest = int(np.argmax(ends - starts))  # first of the longest runs
        f = int((starts[longest] + ends[longest]) // 2)
        marked[f] = True
        picks.append(f)
    return picks


def _global_frames(pool: list[PoolVideo], budget: int, strategy: Strategy,
                   config: SelectionConfig, rng: np.random.Generator) -> Selection:
    """Frames across several videos: the top-up of labeled videos, or ``asl``'s whole pool."""
    if budget <= 0 or not pool:
        return Selection([])
    kind = strategy.frames
    if kind in ("random", "uniform"):
        return _spread(pool, budget, kind, config, rng)
    scores: dict[int, np.ndarray] = {}
    for v in pool:
        if kind == "entropy":
            assert v.entropy is not None
            scores[v.id] = np.where(v.labeled, -np.inf, v.entropy.astype(float))
        else:
            assert v.uncertainty is not None
            scores[v.id] = penalised_scores(v.uncertainty, v.labeled, config.sigma)
    # a heap of each video's best frame: picking B frames costs B small updates, not B scans
    # of the pool; ties go to the lower video id, then the lower frame
    heap = [(-float(s.max()), vid) for vid, s in scores.items() if np.isfinite(s.max())]
    heapq.heapify(heap)
    proposals = []
    reach = int(np.floor(3 * config.sigma + 1e-9))
    while heap and len(proposals) < budget:
        neg, vid = heapq.heappop(heap)
        s = scores[vid]
        f = int(np.argmax(s))
        if s[f] != -neg:  # stale entry: this video's best changed since it was pushed
            if np.isfinite(s[f]):
                heapq.heappush(heap, (-float(s[f]), vid))
            continue
        proposals.append((vid, f, float(s[f])))
        s[f] = -np.inf
        if kind != "entropy":  # APU suppression inside that video
            lo, hi = max(f - reach, 0), min(f + reach, len(s) - 1)
            window = np.arange(lo, hi + 1)
            s[lo:hi + 1] -= np.where(window == f, 0.0, gaussian(window - f, config.sigma))
        best = float(s.max())
        if np.isfinite(best):
            heapq.heappush(heap, (-best, vid))
    return Selection(proposals)


def _spread(pool: list[PoolVideo], budget: int, kind: str, config: SelectionConfig,
            rng: np.random.Generator) -> Selection:
    """Random or uniform frames spread over videos in proportion to their unlabeled frames."""
    free = np.array([int((~v.labeled).sum()) for v in pool])
    if free.sum() == 0:
        return Selection([])
    from halgui.core.al.selection import largest_remainder

    shares = largest_remainder(free, min(budget, int(free.sum())))
    proposals = []
    for v, k in zip(pool, shares, strict=True):
        proposals += [(v.id, f, 0.0) for f in _frames(kind, v, min(k, int((~v.labeled).sum())),
                                                      config, rng)]
    return Selection(proposals)


def _whole_videos(pool: list[PoolVideo], budget: int, config: SelectionConfig) -> Selection:
    """``inter``: the highest-V unlabeled videos, every frame of each, while the budget lasts."""
    candidates = [v for v in pool if not v.is_labeled]
    values = {v.id: video_score(v.uncertainty, v.labeled, frames_for(v.n_frames, config.rho),
                                config.sigma) if v.uncertainty is not None else 0.0
              for v in candidates}
    proposals: list[tuple[int, int, float]] = []
    for v in sorted(candidates, key=lambda v: (-values[v.id], v.id)):
        if proposals and len(proposals) + v.n_frames > budget:
            break
        proposals += [(v.id, f, values[v.id]) for f in range(v.n_frames)]
    return Selection(proposals, values)


def cold_start(pool: list[PoolVideo], features: dict[int, np.ndarray],
               config: SelectionConfig) -> Selection:
    """Round 0, before any model: videos by k-means on appearance features, in proportion to
    cluster size (nearest to their centre first), frames evenly spaced (algorithm.md 5.3)."""
    total = sum(v.n_frames for v in pool)
    budget = max(1, round(config.cold_fraction * total))
    per_video = frames_for(int(np.median([v.n_frames for v in pool])), config.rho)
    n_videos = max(1, min(len(pool), budget // per_video))
    x = np.stack([features[v.id] for v in pool])
    centres, labels = kmeans(x, config.cold_clusters, 10, config.seed)
    sizes = np.bincount(labels, minlength=len(centres)).tolist()
    quota = allocate_quota(sizes, [0] * len(sizes), n_videos)
    distance = np.linalg.norm(x - centres[labels], axis=1)
    proposals: list[tuple[int, int, float]] = []
    for c, q in enumerate(quota):
        members = sorted(np.flatnonzero(labels == c), key=lambda i: (distance[i], pool[i].id))
        for i in members[:q]:
            v = pool[i]
            k = min(frames_for(v.n_frames, config.rho), budget - len(proposals))
            proposals += [(v.id, f, 0.0) for f in uniform_frames(v.labeled, k)]
    return Selection(proposals)


def appearance_features(frames: np.ndarray, samples: int = 8, side: int = 8) -> np.ndarray:
    """Cheap appearance of a video for round 0: a few evenly spaced frames, downsampled to
    ``side x side`` and averaged, plus their colour means and spreads."""
    import cv2

    idx = np.linspace(0, len(frames) - 1, num=min(samples, len(frames))).round().astype(int)
    small = np.stack([cv2.resize(np.asarray(frames[i]), (side, side),
                                 interpolation=cv2.INTER_AREA) for i in idx]).astype(np.float32)
    pix = small.reshape(len(idx), -1, 3) / 255.0
    return np.concatenate([small.mean(0).ravel() / 255.0, pix.mean((0, 1)), pix.std((0, 1))])


Selector = Callable[[Strategy, list[PoolVideo], SelectionConfig, np.random.Generator], Selection]
