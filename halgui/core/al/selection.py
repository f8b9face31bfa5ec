"""Choosing what to label next: frames inside a video and videos across clusters.

Pure NumPy functions (algorithm.md 4, 5.1, 5.2 and 6). Frames are 0-based; ``labeled`` is a
``(T,)`` bool mask; ties go to the lowest index.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from halgui.core.al.stew import SIGMA, gaussian


def penalised_scores(uncertainty: np.ndarray, labeled: np.ndarray,
                     sigma: float = SIGMA) -> np.ndarray:
    """APU scores s_f = U_f - g(d_f), d_f the distance to the nearest labeled frame of the
    video (no penalty when none is labeled); labeled frames get -inf (algorithm.md 4)."""
    u = np.asarray(uncertainty, dtype=np.float64)
    labeled = np.asarray(labeled, dtype=bool)
    if labeled.shape != u.shape:
        raise ValueError(f"uncertainty {u.shape} and labeled {labeled.shape} differ")
    s = u.copy()
    if labeled.any():
        idx = np.flatnonzero(labeled)
        f = np.arange(len(u))
        pos = np.searchsorted(idx, f)
        left = idx[np.clip(pos - 1, 0, len(idx) - 1)]
        right = idx[np.clip(pos, 0, len(idx) - 1)]
        s -= gaussian(np.minimum(np.abs(f - left), np.abs(f - right)), sigma)
        s[labeled] = -np.inf
    return s


def _greedy(scores: np.ndarray, k: int, sigma: float, suppress: bool
            ) -> tuple[list[int], list[float]]:
    s = scores.copy()
    picks: list[int] = []
    values: list[float] = []
    reach = int(np.floor(3 * sigma + 1e-9))
    for _ in range(max(k, 0)):
        f = int(np.argmax(s))  # first maximum: ties go to the lowest frame
        if not np.isfinite(s[f]):
            break
        picks.append(f)
        values.append(float(s[f]))
        s[f] = -np.inf
        if suppress:
            lo, hi = max(f - reach, 0), min(f + reach, len(s) - 1)
            window = np.arange(lo, hi + 1)
            s[lo:hi + 1] -= np.where(window == f, 0.0, gaussian(window - f, sigma))
    return picks, values


def pick_frames(uncertainty: np.ndarray, labeled: np.ndarray, k: int,
                sigma: float = SIGMA) -> list[int]:
    """At most ``k`` frames to label, in pick order (algorithm.md 5.1): the APU penalty, then
    greedy picks each followed by subtracting g(|f - f*|) from frames within 3 sigma."""
    return _greedy(penalised_scores(uncertainty, labeled, sigma), k, sigma, True)[0]


def video_score(uncertainty: np.ndarray, labeled: np.ndarray, k: int,
                sigma: float = SIGMA) -> float:
    """Informativeness V of a video: the mean of the penalised scores of the frames that
    :func:`pick_frames` picks, each taken when picked; -inf when nothing can be picked."""
    values = _greedy(penalised_scores(uncertainty, labeled, sigma), k, sigma, True)[1]
    return float(np.mean(values)) if values else float("-inf")


def top_frames(scores: np.ndarray, labeled: np.ndarray, k: int) -> list[int]:
    """The ``k`` highest-scored unlabeled frames, no suppression (the ``entropy`` baseline)."""
    s = np.where(np.asarray(labeled, dtype=bool), -np.inf, np.asarray(scores, dtype=float))
    return _greedy(s, k, SIGMA, False)[0]


def frames_for(n_frames: int, rho: float) -> int:
    """A = max(1, round(rho * N_v)): frames asked per video (algorithm.md 5.1)."""
    return max(1, int(np.floor(rho * n_frames + 0.5)))


def allocate_quota(cluster_sizes: Sequence[int], already_labeled: Sequence[int],
                   n_new: int) -> list[int]:
    """Split ``n_new`` new videos across clusters (algorithm.md 5.2).

    The aim is a labeled set proportional to cluster size: cluster k's target is
    ``size_k / N * (labeled + n)`` with ``n = min(n_new, unlabeled videos)``, and videos are given
    one at a time to the cluster furthest below its target that still has unlabeled videos
    (ties: lowest index). Hence quotas are never negative, never exceed a cluster's unlabeled
    videos, a cluster that runs out passes its share on, they sum to ``n``, and without labeled
    videos or exhausted clusters they equal largest-remainder rounding of the proportional split.
    """
    sizes = np.asarray(cluster_sizes, dtype=np.int64)
    labeled = np.asarray(already_labeled, dtype=np.int64)
    if sizes.shape != labeled.shape or (labeled > sizes).any() or (labeled < 0).any():
        raise ValueError("already_labeled must be between 0 and the cluster sizes")
    room = sizes - labeled
    n = int(min(max(n_new, 0), room.sum()))
    quota = np.zeros(len(sizes), dtype=np.int64)
    if n == 0:
        return quota.tolist()
    target = sizes / sizes.sum() * (labeled.sum() + n)
    for _ in range(n):
        deficit = np.where(room - quota > 0, target - labeled - quota, -np.inf)
        quota[int(np.argmax(np.round(deficit, 9)))] += 1  # round: float ties stay ties
    return quota.tolist()


def largest_remainder(weights: Sequence[float], total: int) -> list[int]:
    """Round ``total * w / sum(w)`` to integers summing to ``total`` (Hamilton's method; ties:
    lowest index)."""
    w = np.asarray(weights, dtype=np.float64)
    exact = w / w.sum() * total
    base = np.floor(exact).astype(np.int64)
    rest = total - int(base.sum())
    order = np.lexsort((np.arange(len(w)), -np.round(exact - base, 9)))
    base[order[:rest]] += 1
    return base.tolist()
