"""MC-dropout uncertainty of frames (APU, algorithm.md 4), and scoring a pool of videos.

The maths are NumPy functions on the probabilities of R Monte Carlo passes; :func:`score_pool`
runs the model over every pool video from the clip cache (trunk once per clip, R dropout+head
passes on the cached features) as a generator with progress and cancel.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass

import numpy as np

from halgui.core.progress import CancelFlag, Progress

EPS = 1e-6


@dataclass(frozen=True)
class UncertaintyConfig:
    """Choices of MC-dropout scoring; defaults from algorithm.md 4."""

    passes: int = 10              # R
    fg_threshold: float = 0.4     # foreground: mean map probability above this
    batch_size: int = 8           # clips per trunk pass
    chunk: int = 64               # replicated samples per head pass (memory bound)


def frame_uncertainty(probs: np.ndarray, fg_threshold: float = 0.4) -> np.ndarray:
    """U_f of algorithm.md 4: ``(T,)`` from ``probs`` ``(R, T, H, W)``.

    M_k = probs clamped to [1e-6, 1 - 1e-6]; foreground F_f = {p: mean_k M_k(p) > fg_threshold};
    U(p) = (1/R) sum_k -log M_k(p); U_f = mean of U over F_f, or 0 when F_f is empty.
    """
    m = np.clip(np.asarray(probs, dtype=np.float64), EPS, 1 - EPS)
    fg = m.mean(axis=0) > fg_threshold                    # (T, H, W)
    u = (-np.log(m)).mean(axis=0)                         # (T, H, W)
    count = fg.sum(axis=(1, 2))
    total = np.where(fg, u, 0.0).sum(axis=(1, 2))
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def frame_entropy(probs: np.ndarray) -> np.ndarray:
    """Mean binary entropy of the MC-mean map over each frame's pixels: ``(T,)`` (the
    ``entropy`` baseline of algorithm.md 5.4)."""
    p = np.clip(np.asarray(probs, dtype=np.float64).mean(axis=0), EPS, 1 - EPS)
    h = -(p * np.log(p) + (1 - p) * np.log(1 - p))
    return h.mean(axis=(1, 2))


@dataclass
class VideoScores:
    """What scoring learns about one pool video."""

    uncertainty: np.ndarray   # (N,) U_f per raw frame
    entropy: np.ndarray       # (N,) mean pixel entropy per raw frame
    embedding: np.ndarray     # (D,) mean clip embedding, L2-normalised


def score_video(model, frames: np.ndarray, clip, config: UncertaintyConfig) -> VideoScores:
    """Score one video's clip-cache frames: per-frame U_f and entropy, and its embedding."""
    from halgui.core.al.predict import nearest_sampled, run_windows

    n = frames.shape[0]
    u_sampled, h_sampled, embeddings = [], [], []
    for out in run_windows(model, frames, clip, passes=config.passes,
                           batch_size=config.batch_size):
        u_sampled.append(frame_uncertainty(out.maps, config.fg_threshold))
        h_sampled.append(frame_entropy(out.maps))
        embeddings.append(out.embedding)
    nearest = nearest_sampled(n, clip)
    u = np.concatenate(u_sampled)[nearest]
    h = np.concatenate(h_sampled)[nearest]
    e = np.mean(embeddings, axis=0)
    e = e / max(float(np.linalg.norm(e)), EPS)
    return VideoScores(u.astype(np.float32), h.astype(np.float32), e.astype(np.float32))


def score_pool(
    model, video_ids: Sequence[int], load: Callable[[int], np.ndarray], clip,
    config: UncertaintyConfig, cancel: CancelFlag | None = None,
) -> Generator[Progress, None, dict[int, VideoScores]]:
    """Score every video, with progress per video.

    ``load(video_id)`` returns a video's clip-cache frames (building the cache if needed); it
    runs one video ahead on a background thread, so decoding the next video overlaps with the
    model scoring this one and the slower of the two sets the pace, not their sum.
    """
    import torch

    from halgui.core.al.data import prefetch

    ids = list(video_ids)
    out: dict[int, VideoScores] = {}
    yield Progress("scoring", 0, len(ids))
    with torch.no_grad(), contextlib.closing(prefetch(lambda i: load(ids[i]), len(ids),
                                                      depth=1)) as stream:
        for i, frames in enumerate(stream):
            if cancel is not None:
                cancel.check()
            out[ids[i]] = score_video(model, frames, clip, config)
            yield Progress("scoring", i + 1, len(ids))
    return out
