"""STeW: spatio-temporal weights for pseudo-labels, and the weighted loss (algorithm.md 3).

A pseudo-labeled pixel is trusted according to how near its frame is to a frame a person
labeled (temporal weight ``T_f``) and how stable the pseudo-label is around it in time (spatial
weight ``S_f(p)``): pixels at the edges of moving boxes flicker and get their fraction.

The weight functions are NumPy in, NumPy out; the loss is torch (imported lazily by callers
that train).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

#: sigma of the temporal Gaussian, in raw frames (algorithm.md 3.2).
SIGMA = 8 / 3
#: half-width W of the spatial window, in raw frames.
WINDOW = 4


@dataclass(frozen=True)
class StewConfig:
    """The choices of the STeW loss; defaults from algorithm.md 3.2 and 3.3."""

    sigma: float = SIGMA
    window: int = WINDOW
    lambda_dice: float = 1.0
    lambda_cls: float = 1.0
    beta_cluster: float = 1e-3
    #: "stew" (phi = T*S), "mgw" (S = 1, the ASL loss), "pseudo" (phi = 1 on every
    #: pseudo-labeled frame), "labeled" (phi = 1 on labeled frames only: plain BCE).
    weighting: str = "stew"
    eps: float = 1e-6


def gaussian(distance: np.ndarray, sigma: float = SIGMA) -> np.ndarray:
    """g(d) = exp(-d^2 / (2 sigma^2)) for |d| <= 3 sigma, else 0 (inclusive at 3 sigma)."""
    d = np.abs(np.asarray(distance, dtype=np.float64))
    g = np.exp(-(d**2) / (2 * sigma**2))
    return np.where(d <= 3 * sigma + 1e-9, g, 0.0)


def _as_frames(labeled_frames: Iterable[int] | np.ndarray, n_frames: int) -> np.ndarray:
    arr = np.asarray(list(labeled_frames) if not isinstance(labeled_frames, np.ndarray)
                     else labeled_frames)
    if arr.dtype == bool:
        if arr.shape != (n_frames,):
            raise ValueError(f"labeled mask has shape {arr.shape}, expected ({n_frames},)")
        return np.flatnonzero(arr)
    return arr.astype(np.int64).reshape(-1)


def temporal_weights(
    n_frames: int, labeled_frames: Iterable[int] | np.ndarray, sigma: float = SIGMA
) -> np.ndarray:
    """T_f of algorithm.md 3.2: ``(n_frames,)``, the max of g over labeled frames.

    ``labeled_frames`` is a list of frame indices or a ``(n_frames,)`` bool mask. Labeled frames
    get 1; frames further than 3 sigma from every labeled frame get 0.
    """
    frames = _as_frames(labeled_frames, n_frames)
    out = np.zeros(n_frames, dtype=np.float64)
    if frames.size == 0:
        return out
    f = np.arange(n_frames)
    # nearest labeled frame decides the max, since g decreases with distance
    sorted_frames = np.sort(frames)
    idx = np.searchsorted(sorted_frames, f)
    left = sorted_frames[np.clip(idx - 1, 0, len(sorted_frames) - 1)]
    right = sorted_frames[np.clip(idx, 0, len(sorted_frames) - 1)]
    distance = np.minimum(np.abs(f - left), np.abs(f - right))
    return gaussian(distance, sigma)


def spatial_weights(masks: np.ndarray, labeled: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """S_f(p) of algorithm.md 3.2: the mean of the mask over ``[f - W, f + W]`` (clipped to
    the video), set to 1 where that mean is 0 or 1, and 1 on labeled frames."""
    masks = np.asarray(masks, dtype=np.float64)
    n = masks.shape[0]
    cumsum = np.concatenate([np.zeros((1, *masks.shape[1:])), np.cumsum(masks, axis=0)])
    f = np.arange(n)
    lo = np.clip(f - window, 0, n - 1)
    hi = np.clip(f + window, 0, n - 1)
    counts = (hi - lo + 1).reshape(-1, *([1] * (masks.ndim - 1)))
    mean = (cumsum[hi + 1] - cumsum[lo]) / counts
    stable = (mean <= 0.0) | (mean >= 1.0)
    s = np.where(stable, 1.0, mean)
    s[np.asarray(labeled, dtype=bool)] = 1.0
    return s


def stew_weights(
    masks: np.ndarray, labeled: np.ndarray, sigma: float = SIGMA, window: int = WINDOW
) -> np.ndarray:
    """phi_f(p) = T_f * S_f(p) of algorithm.md 3.2: ``(T, H, W)``.

    ``masks`` are pseudo-label masks in {0, 1} (labeled frames hold their true mask, which may
    be empty: a negative frame), ``labeled`` a ``(T,)`` bool mask; ``window`` in raw frames.
    """
    masks = np.asarray(masks)
    labeled = np.asarray(labeled, dtype=bool)
    if masks.ndim != 3 or labeled.shape != (masks.shape[0],):
        raise ValueError(f"masks {masks.shape} and labeled {labeled.shape} do not match")
    t = temporal_weights(masks.shape[0], labeled, sigma)
    return t[:, None, None] * spatial_weights(masks, labeled, window)


def frame_weights(
    masks: np.ndarray,
    labeled: np.ndarray,
    covered: np.ndarray,
    config: StewConfig,
    temporal: np.ndarray | None = None,
) -> np.ndarray:
    """The per-pixel weights of the chosen weighting scheme (see :class:`StewConfig`).

    ``covered`` marks frames whose pseudo-label is known: inside a track's span, or between a
    video's first and last labeled frame (background there by interpolation). ``temporal``
    passes T_f when ``masks`` is a slice of a longer video, whose labeled frames outside the
    slice still count; by default it is computed from ``labeled``.
    """
    labeled = np.asarray(labeled, dtype=bool)
    if temporal is None:
        temporal = temporal_weights(masks.shape[0], labeled, config.sigma)
    ones = np.ones(masks.shape, dtype=np.float64)
    if config.weighting == "stew":
        return temporal[:, None, None] * spatial_weights(masks, labeled, config.window)
    if config.weighting == "mgw":
        return temporal[:, None, None] * ones
    if config.weighting == "pseudo":
        keep = np.asarray(covered, dtype=bool) | labeled
        return keep[:, None, None] * ones
    if config.weighting == "labeled":
        return labeled[:, None, None] * ones
    raise ValueError(f"unknown weighting {config.weighting!r}")


def stew_loss(
    map_logits: torch.Tensor,
    map_targets: torch.Tensor,
    weights: torch.Tensor,
    class_logits: torch.Tensor,
    class_targets: torch.Tensor,
    config: StewConfig,
) -> dict[str, torch.Tensor]:
    """The loss of algorithm.md 3.3, without the cluster term (added by the trainer).

    ``map_*`` and ``weights`` are ``(B, T, H, W)``; the BCE is a true weighted mean over pixels
    (the ``weight=`` of BCE, not logits scaled by phi); Dice counts only pixels with phi > 0; the
    class term is multi-label BCE over ``(B, C)``.
    """
    import torch
    import torch.nn.functional as F

    logits = map_logits.float()
    weights = weights.float()
    bce = F.binary_cross_entropy_with_logits(logits, map_targets.float(), weight=weights,
                                             reduction="sum")
    bce = bce / torch.clamp(weights.sum(), min=config.eps)
    active = (weights > 0).float()
    prob = torch.sigmoid(logits) * active
    target = map_targets.float() * active
    inter = (prob * target).sum()
    dice = 1 - (2 * inter + config.eps) / (prob.sum() + target.sum() + config.eps)
    cls = F.binary_cross_entropy_with_logits(class_logits.float(), class_targets.float())
    total = bce + config.lambda_dice * dice + config.lambda_cls * cls
    return {"loss": total, "bce": bce.detach(), "dice": dice.detach(), "cls": cls.detach()}
