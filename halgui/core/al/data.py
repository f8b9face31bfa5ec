"""Training clips: frames from the clip cache, pseudo-label masks, STeW weights, augmentation.

Per video, the labels of a snapshot become arrays at model resolution once (masks of the
union of all track boxes, which frames are labeled, which classes are present); a clip is then
T frames at stride s around a centre frame, and its weights are computed from the masks around
it. Batches are assembled on a background thread so the model never waits on NumPy.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import cv2
import numpy as np

from halgui.core.al.boxes import BoxConfig, box_targets
from halgui.core.al.stew import StewConfig, frame_weights, temporal_weights
from halgui.core.annotations import Track, box_mask

T = TypeVar("T")


@dataclass(frozen=True)
class ClipConfig:
    """How clips are cut and augmented (algorithm.md 2 and 3.3)."""

    clip_len: int = 8
    stride: int = 2
    size: int = 112
    crop: float = 0.10            # random crop: up to this fraction of each side
    flip: bool = True             # random horizontal flip
    pseudo_per_labeled: float = 1.0  # pseudo-span clips per labeled-frame clip in an epoch
    #: cap on clips per epoch (a sample of the centres, labeled first): with densely labeled
    #: videos, clips centred on neighbouring frames are near duplicates
    max_clips_per_epoch: int | None = None


@dataclass
class VideoLabels:
    """One video's labels at model resolution."""

    video_id: int
    frames: np.ndarray        # (N, S, S, 3) uint8, usually a memmap of the clip cache
    masks: np.ndarray         # (N, S, S) uint8 pseudo-label masks (true masks on labeled frames)
    labeled: np.ndarray       # (N,) bool
    covered: np.ndarray       # (N,) bool: inside a track span or between labeled frames
    classes: np.ndarray       # (N, C) bool: classes of the tracks present on each frame
    temporal: np.ndarray      # (N,) T_f
    #: per frame, its (pseudo-)label boxes at model resolution: ``(k, 5)`` rows x1, y1, x2,
    #: y2 (clip pixels) and class index; what the box head learns from
    boxes: list[np.ndarray] | None = None

    @property
    def n_frames(self) -> int:
        return len(self.labeled)


def video_labels(
    video_id: int,
    frames: np.ndarray,
    frame_size: tuple[int, int],
    tracks: Sequence[Track],
    labeled_frames: frozenset[int] | set[int],
    class_index: dict[int, int],
    stew: StewConfig,
) -> VideoLabels:
    """Rasterise a video's tracks at the clip cache's resolution."""
    n, size = frames.shape[0], frames.shape[1]
    masks = np.zeros((n, size, size), dtype=np.uint8)
    classes = np.zeros((n, len(class_index)), dtype=bool)
    covered = np.zeros(n, dtype=bool)
    per_frame: dict[int, list[tuple[float, float, float, float]]] = {}
    rows: list[list[list[float]]] = [[] for _ in range(n)]
    sx, sy = size / frame_size[0], size / frame_size[1]
    for track in tracks:
        k = class_index[track.class_id]
        for f, box in track.boxes(n).items():
            per_frame.setdefault(f, []).append(box)
            classes[f, k] = True
            covered[f] = True
            x1, y1, x2, y2 = (float(v) for v in box)
            rows[f].append([x1 * sx, y1 * sy, x2 * sx, y2 * sy, float(k)])
    for f, boxes in per_frame.items():
        masks[f] = box_mask(boxes, frame_size, (size, size))
    labeled = np.zeros(n, dtype=bool)
    labeled[[f for f in labeled_frames if f < n]] = True
    if labeled.any():
        idx = np.flatnonzero(labeled)
        covered[idx[0]: idx[-1] + 1] = True
    return VideoLabels(video_id, frames, masks, labeled, covered, classes,
                       temporal_weights(n, labeled, stew.sigma),
                       [np.asarray(r, np.float32).reshape(-1, 5) for r in rows])


def clip_indices(centre: int, n_frames: int, clip: ClipConfig) -> np.ndarray:
    """The T frame indices of the clip centred on ``centre``, clamped to the video."""
    start = centre - (clip.clip_len // 2) * clip.stride
    return np.clip(start + clip.stride * np.arange(clip.clip_len), 0, n_frames - 1)


def epoch_centres(
    videos: Sequence[VideoLabels], clip: ClipConfig, stew: StewConfig, rng: np.random.Generator
) -> list[tuple[int, int]]:
    """One epoch's clips as (video index, centre frame): every labeled frame first, then a
    sample of pseudo-labeled frames (those with weight), shuffled together."""
    labeled: list[tuple[int, int]] = []
    pseudo: list[tuple[int, int]] = []
    for i, v in enumerate(videos):
        labeled.extend((i, int(f)) for f in np.flatnonzero(v.labeled))
        if stew.weighting == "labeled":
            continue
        trusted = v.covered & ~v.labeled
        if stew.weighting in ("stew", "mgw"):
            trusted &= v.temporal > 0
        pseudo.extend((i, int(f)) for f in np.flatnonzero(trusted))
    cap = clip.max_clips_per_epoch
    if cap is not None and len(labeled) > cap:
        labeled = [labeled[j] for j in sorted(rng.choice(len(labeled), size=cap, replace=False))]
    n_pseudo = min(len(pseudo), round(clip.pseudo_per_labeled * max(len(labeled), 1)))
    if cap is not None:
        n_pseudo = min(n_pseudo, max(cap - len(labeled), 0))
    if n_pseudo:
        chosen = rng.choice(len(pseudo), size=n_pseudo, replace=False)
        labeled.extend(pseudo[j] for j in chosen)
    order = rng.permutation(len(labeled))
    return [labeled[j] for j in order]


@dataclass
class Batch:
    clips: np.ndarray          # (B, T, S, S, 3) uint8
    masks: np.ndarray          # (B, T, S, S) float32 targets
    weights: np.ndarray        # (B, T, S, S) float32 phi
    classes: np.ndarray        # (B, C) float32 multi-hot
    videos: np.ndarray         # (B,) index into the training videos (for the cluster loss)
    #: the box head's targets (fields of boxes.BoxTargets, batched on a new first axis), or
    #: None when the videos carry no boxes
    boxes: dict[str, np.ndarray] | None = None


def make_clip(
    video: VideoLabels, centre: int, clip: ClipConfig, stew: StewConfig,
    rng: np.random.Generator | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One training clip: frames, targets, weights, class targets (augmented if ``rng``)."""
    return make_clip_and_boxes(video, centre, clip, stew, rng)[:4]


def make_clip_and_boxes(
    video: VideoLabels, centre: int, clip: ClipConfig, stew: StewConfig,
    rng: np.random.Generator | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[np.ndarray] | None]:
    """:func:`make_clip` and each clip frame's boxes, augmented as the frames are (None when
    the video carries no boxes)."""
    n = video.n_frames
    idx = clip_indices(centre, n, clip)
    lo, hi = max(int(idx.min()) - stew.window, 0), min(int(idx.max()) + stew.window, n - 1)
    span = slice(lo, hi + 1)
    # the window of S_f is exact inside the span: it reaches W frames past the clip's ends
    phi = frame_weights(video.masks[span], video.labeled[span], video.covered[span], stew,
                        temporal=video.temporal[span])
    weights = phi[idx - lo].astype(np.float32)
    frames = np.asarray(video.frames[idx])
    masks = video.masks[idx].astype(np.float32)
    classes = video.classes[idx].any(axis=0).astype(np.float32)
    boxes = None if video.boxes is None else [video.boxes[i].copy() for i in idx]
    if rng is not None:
        frames, masks, weights, boxes = augment(frames, masks, weights, clip, rng, boxes)
    return frames, masks, weights, classes, boxes


def augment(
    frames: np.ndarray, masks: np.ndarray, weights: np.ndarray, clip: ClipConfig,
    rng: np.random.Generator, boxes: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray] | None]:
    """Random crop (up to ``clip.crop`` of each side, resized back) and horizontal flip,
    applied identically to frames, targets, weights and boxes (rows x1, y1, x2, y2, ...)."""
    size = frames.shape[1]
    if clip.crop > 0:
        m = int(size * clip.crop)
        x0, y0, x1, y1 = rng.integers(0, m + 1, size=4)
        if x0 or y0 or x1 or y1:
            if boxes is not None:
                boxes = [_crop_boxes(b, x0, y0, size - x1, size - y1, size) for b in boxes]
            box = (slice(y0, size - y1), slice(x0, size - x1))
            frames = np.stack([cv2.resize(f[box], (size, size), interpolation=cv2.INTER_LINEAR)
                               for f in frames])
            masks = np.stack([cv2.resize(f[box], (size, size), interpolation=cv2.INTER_NEAREST)
                              for f in masks])
            weights = np.stack([cv2.resize(f[box], (size, size),
                                           interpolation=cv2.INTER_NEAREST) for f in weights])
    if clip.flip and rng.random() < 0.5:
        frames, masks, weights = frames[:, :, ::-1], masks[:, :, ::-1], weights[:, :, ::-1]
        if boxes is not None:
            boxes = [np.column_stack((size - b[:, 2], b[:, 1], size - b[:, 0], b[:, 3:]))
                     for b in boxes]
    return (np.ascontiguousarray(frames), np.ascontiguousarray(masks),
            np.ascontiguousarray(weights), boxes)


def _crop_boxes(boxes: np.ndarray, left: int, top: int, right: int, bottom: int,
                size: int) -> np.ndarray:
    """Boxes after cropping ``[left, right) x [top, bottom)`` and resizing it to ``size``;
    boxes left with no area are dropped."""
    out = boxes.astype(np.float32).copy()
    fx, fy = size / (right - left), size / (bottom - top)
    out[:, [0, 2]] = np.clip((out[:, [0, 2]] - left) * fx, 0, size)
    out[:, [1, 3]] = np.clip((out[:, [1, 3]] - top) * fy, 0, size)
    return out[(out[:, 2] > out[:, 0]) & (out[:, 3] > out[:, 1])]


def make_batch(
    videos: Sequence[VideoLabels], items: Sequence[tuple[int, int]], clip: ClipConfig,
    stew: StewConfig, rng: np.random.Generator | None, box_config: BoxConfig | None = None,
) -> Batch:
    box_config = box_config or BoxConfig()
    parts = [make_clip_and_boxes(videos[v], c, clip, stew, rng) for v, c in items]
    boxes = None
    if all(p[4] is not None for p in parts):
        n_classes = parts[0][3].shape[0]
        targets = [vars(box_targets(p[4], clip.size, n_classes, box_config)) for p in parts]
        boxes = {k: np.stack([t[k] for t in targets]) for k in targets[0]}
    return Batch(
        clips=np.stack([p[0] for p in parts]),
        masks=np.stack([p[1] for p in parts]),
        weights=np.stack([p[2] for p in parts]),
        classes=np.stack([p[3] for p in parts]),
        videos=np.array([v for v, _ in items]),
        boxes=boxes,
    )


def prefetch(make: Callable[[int], T], count: int, depth: int = 2) -> Iterator[T]:
    """Yield ``make(0) .. make(count - 1)``, built ``depth`` ahead on a background thread.

    OpenCV, PyAV and NumPy release the GIL for the heavy parts, so building the next batch (or
    decoding the next video) overlaps with the model's work. Stops the thread when the consumer
    stops early.
    """
    out: queue.Queue[T | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for i in range(count):
                if stop.is_set():
                    return
                out.put(make(i))
        except BaseException as exc:  # handed to the consumer, raised there
            out.put(exc)
            return
        out.put(None)

    thread = threading.Thread(target=work, name="halgui-batches", daemon=True)
    thread.start()
    try:
        while True:
            item = out.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                out.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)
