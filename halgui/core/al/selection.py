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


def video_scores_batch(uncertainty: Sequence[np.ndarray], labeled: Sequence[np.ndarray],
                       k: Sequence[int], sigma: float = SIGMA) -> np.ndarray:
    """:func:`video_score` of many videos at once, equal to it video by video.

    Videos of different lengths are padded into one ``(V, N)`` matrix and the greedy picks
    run for all of them together, so 10,000 videos of 1,000 frames take well under a second
    instead of a Python loop per video.
    """
    n_videos = len(uncertainty)
    if n_videos == 0:
        return np.zeros(0)
    width = max(len(u) for u in uncertainty)
    u = np.zeros((n_videos, width))
    lab = np.zeros((n_videos, width), dtype=bool)
    pad = np.ones((n_videos, width), dtype=bool)
    for i, (ui, li) in enumerate(zip(uncertainty, labeled, strict=True)):
        u[i, :len(ui)], lab[i, :len(li)], pad[i, :len(ui)] = ui, li, False
    reach = int(np.floor(3 * sigma + 1e-9))
    offsets = np.arange(-reach, reach + 1)
    kernel = gaussian(offsets, sigma)
    # the APU penalty: g of the distance to the nearest labeled frame, which is the max of g
    # over labeled frames within 3 sigma; labeled frames are sparse, so spread each of them
    r, c = np.nonzero(lab)
    penalty = np.zeros_like(u)
    for o, g in zip(offsets, kernel, strict=True):
        cc = c + o
        ok = (cc >= 0) & (cc < width)
        rr, cc = r[ok], cc[ok]
        penalty[rr, cc] = np.maximum(penalty[rr, cc], g)  # one value per pass: repeats agree
    s = u
    s -= penalty  # in place: these matrices are large
    del penalty
    s[r, c] = -np.inf
    if pad.any():
        s[pad] = -np.inf
    kernel[reach] = 0.0
    k = np.asarray(k)
    totals, counts = np.zeros(n_videos), np.zeros(n_videos)
    rows = np.arange(n_videos)
    flat = s.reshape(-1)
    for step in range(int(k.max(initial=0))):
        f = np.argmax(s, axis=1)  # first maximum: ties go to the lowest frame
        value = s[rows, f]
        ok = (k > step) & np.isfinite(value)
        if not ok.any():
            break
        totals[ok] += value[ok]
        counts[ok] += 1
        r, fr = rows[ok], f[ok]
        s[r, fr] = -np.inf
        c = fr[:, None] + offsets[None, :]
        inside = (c >= 0) & (c < width)
        at = (r[:, None] * width + c)[inside]  # distinct: one pick per row, distinct offsets
        flat[at] -= np.broadcast_to(kernel, c.shape)[inside]
    return np.where(counts > 0, totals / np.maximum(counts, 1), -np.inf)


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
