"""Boxes, keyframes and tracks, and the pseudo-labels made from them.

A *keyframe box* is the source of truth: a box a person drew or confirmed on one frame of one
track. Everything else here (interpolated pseudo-labels, masks at model resolution) is derived
from keyframes when needed and never stored (algorithm.md 1 and 3.1).

Boxes are ``(x1, y1, x2, y2)`` in pixels of the original frame, continuous coordinates: a box
covering pixel columns 0..9 is ``x1=0, x2=10``. :func:`box_iou` is the one IoU of the project
(labels, metrics, the synthetic data's checks).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from halgui.core.errors import BoxError

BoxTuple = tuple[float, float, float, float]
Source = Literal["human", "imported", "model-accepted"]
SOURCES: tuple[Source, ...] = ("human", "imported", "model-accepted")


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in original-frame pixels."""

    x1: float
    y1: float
    x2: float
    y2: float

    def __post_init__(self) -> None:
        values = (self.x1, self.y1, self.x2, self.y2)
        if not all(math.isfinite(v) for v in values):
            raise BoxError(f"box {values} has a coordinate that is not a finite number")
        if self.x2 <= self.x1 or self.y2 <= self.y1:
            raise BoxError(f"box {values} is empty: x2 must exceed x1 and y2 exceed y1")

    @classmethod
    def of(cls, values: Iterable[float]) -> Box:
        x1, y1, x2, y2 = (float(v) for v in values)
        return cls(x1, y1, x2, y2)

    def as_tuple(self) -> BoxTuple:
        return (self.x1, self.y1, self.x2, self.y2)

    @property
    def area(self) -> float:
        return (self.x2 - self.x1) * (self.y2 - self.y1)


def clip_box(values: Iterable[float], width: int, height: int) -> Box:
    """Clip a drawn or imported box to the frame; reject it if nothing of it is left.

    Boxes dragged past the frame edge are normal in a labeling tool and are clipped; a box that
    lies wholly outside the frame, or has zero area, cannot be a label and raises
    :class:`BoxError`.
    """
    x1, y1, x2, y2 = (float(v) for v in values)
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        raise BoxError(f"box {(x1, y1, x2, y2)} has a coordinate that is not a finite number")
    x1, x2 = sorted((x1, x2))
    y1, y2 = sorted((y1, y2))
    cx1, cy1 = min(max(x1, 0.0), width), min(max(y1, 0.0), height)
    cx2, cy2 = min(max(x2, 0.0), width), min(max(y2, 0.0), height)
    if cx2 <= cx1 or cy2 <= cy1:
        raise BoxError(
            f"box {(x1, y1, x2, y2)} has no area inside the {width}x{height} frame"
        )
    return Box(cx1, cy1, cx2, cy2)


def box_iou(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, *,
            plus_one: bool = False, pairwise: bool = True) -> np.ndarray | float:
    """IoU of boxes ``(x1, y1, x2, y2)``; a zero union gives 0.

    Conventions (metrics.md 2.6):

    - ``plus_one=False`` (continuous, as halgui's boxes; VOC/AVA/MultiSports "_voc"): width =
      x2 - x1.
    - ``plus_one=True`` (ACT/MOC ``iou2d``): width = x2 - x1 + 1, intersection width =
      min(x2) + 1 - max(x1); pixel indices are inclusive.

    Shapes: with ``pairwise`` (the default) ``a`` is ``(N, 4)`` or one box ``(4,)``, ``b`` is
    ``(M, 4)`` or ``(4,)``, and the result is ``(N, M)`` with the axis of a single box dropped
    (a float for two single boxes). With ``pairwise=False`` the boxes in the last axis of ``a``
    and ``b`` are broadcast against each other as numpy does (row-wise IoU of two ``(N, 4)``
    arrays, one box against ``(N, 4)``, ...) and the result has their shape without that axis.
    """
    a_arr = np.asarray(a, dtype=float)
    b_arr = np.asarray(b, dtype=float)
    if not pairwise:
        return _iou(a_arr, b_arr, plus_one)
    iou = _iou(a_arr.reshape(-1, 4)[:, None, :], b_arr.reshape(-1, 4)[None, :, :], plus_one)
    if a_arr.ndim == 1 and b_arr.ndim == 1:
        return float(iou[0, 0])
    if a_arr.ndim == 1:
        return iou[0]
    if b_arr.ndim == 1:
        return iou[:, 0]
    return iou


def _area(b: np.ndarray, e: float) -> np.ndarray:
    return np.clip(b[..., 2] - b[..., 0] + e, 0, None) * np.clip(b[..., 3] - b[..., 1] + e, 0, None)


def _iou(a: np.ndarray, b: np.ndarray, plus_one: bool) -> np.ndarray:
    e = 1.0 if plus_one else 0.0
    iw = np.minimum(a[..., 2], b[..., 2]) + e - np.maximum(a[..., 0], b[..., 0])
    ih = np.minimum(a[..., 3], b[..., 3]) + e - np.maximum(a[..., 1], b[..., 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    union = _area(a, e) + _area(b, e) - inter
    return np.divide(inter, union, out=np.zeros_like(inter, dtype=float), where=union > 0)


@dataclass(frozen=True)
class Keyframe:
    """A box on one frame of one track; ``outside`` means the actor is gone from here on."""

    frame: int
    box: Box
    outside: bool = False
    source: Source = "human"

    def __post_init__(self) -> None:
        if self.frame < 0:
            raise BoxError(f"keyframe on frame {self.frame}: frames are 0-based, not negative")
        if self.source not in SOURCES:
            raise BoxError(f"keyframe source {self.source!r} is not one of {SOURCES}")


@dataclass(frozen=True)
class Track:
    """One actor performing one action class over a span of frames."""

    class_id: int
    actor: int
    keyframes: tuple[Keyframe, ...] = field(default_factory=tuple)
    id: int | None = None

    def boxes(self, n_frames: int) -> dict[int, BoxTuple]:
        """The track's box on every frame it covers: keyframes plus pseudo-labels."""
        return track_boxes(self.keyframes, n_frames)


def interpolate(keyframes: Mapping[int, Iterable[float]], n_frames: int) -> dict[int, BoxTuple]:
    """Linearly interpolate boxes between keyframes (algorithm.md 3.1 and 6).

    ``keyframes`` maps frame -> (x1, y1, x2, y2). Returns a box for every frame from the first to
    the last keyframe (inclusive), restricted to ``0 <= frame < n_frames``. Keyframe boxes are
    returned unchanged; between two keyframes each coordinate moves linearly in the frame index.
    """
    if not keyframes:
        return {}
    frames = sorted(keyframes)
    coords = np.array([tuple(float(v) for v in keyframes[f]) for f in frames], dtype=np.float64)
    first, last = max(frames[0], 0), min(frames[-1], n_frames - 1)
    if last < first:
        return {}
    out_frames = np.arange(first, last + 1)
    columns = [np.interp(out_frames, frames, coords[:, j]) for j in range(4)]
    result = {
        int(f): (float(a), float(b), float(c), float(d))
        for f, a, b, c, d in zip(out_frames, *columns, strict=True)
    }
    for f in frames:  # exact keyframe values, untouched by floating-point interpolation
        if first <= f <= last:
            result[f] = tuple(float(v) for v in keyframes[f])  # type: ignore[assignment]
    return result


def visible_segments(keyframes: Iterable[Keyframe]) -> list[tuple[dict[int, BoxTuple], int | None]]:
    """Split a track's keyframes at ``outside`` keyframes.

    Returns ``(visible keyframes, end)`` per segment, where ``end`` is the frame of the outside
    keyframe that closes the segment (the actor is gone from ``end`` on), or ``None`` when the
    segment ends at its last visible keyframe.
    """
    segments: list[tuple[dict[int, BoxTuple], int | None]] = []
    current: dict[int, BoxTuple] = {}
    for kf in sorted(keyframes, key=lambda k: k.frame):
        if kf.outside:
            if current:
                segments.append((current, kf.frame))
                current = {}
        else:
            current[kf.frame] = kf.box.as_tuple()
    if current:
        segments.append((current, None))
    return segments


def track_boxes(keyframes: Iterable[Keyframe], n_frames: int) -> dict[int, BoxTuple]:
    """A track's box on each frame it covers, with the ``outside`` rule (algorithm.md 3.1).

    Within a visible segment boxes are interpolated between keyframes. A segment ends at its last
    visible keyframe, unless an ``outside`` keyframe closes it explicitly: then the last visible
    box is held up to the frame before the outside keyframe. A visible keyframe after an outside
    one starts a new segment (the actor came back).
    """
    result: dict[int, BoxTuple] = {}
    for visible, end in visible_segments(keyframes):
        result.update(interpolate(visible, n_frames))
        last = max(visible)
        if end is not None:
            for f in range(last + 1, min(end, n_frames)):
                result[f] = visible[last]
    return result


def box_mask(
    boxes: Iterable[Iterable[float]],
    frame_size: tuple[int, int],
    mask_size: tuple[int, int],
) -> np.ndarray:
    """Rasterise the union of boxes at any resolution: a ``(H, W)`` bool mask.

    ``frame_size`` and ``mask_size`` are ``(width, height)``. A mask pixel is set when its centre
    lies inside a box scaled to the mask, so a box covering a whole frame covers the whole mask
    and masks at different resolutions agree up to rounding.
    """
    fw, fh = frame_size
    mw, mh = mask_size
    mask = np.zeros((mh, mw), dtype=bool)
    sx, sy = mw / fw, mh / fh
    for box in boxes:
        x1, y1, x2, y2 = (float(v) for v in box)
        c0 = max(math.ceil(x1 * sx - 0.5), 0)
        c1 = min(math.ceil(x2 * sx - 0.5), mw)
        r0 = max(math.ceil(y1 * sy - 0.5), 0)
        r1 = min(math.ceil(y2 * sy - 0.5), mh)
        if c1 > c0 and r1 > r0:
            mask[r0:r1, c0:c1] = True
    return mask


def frame_boxes(tracks: Iterable[Track], n_frames: int) -> dict[int, list[tuple[int, BoxTuple]]]:
    """Every track's box per frame: ``frame -> [(class_id, box), ...]`` (pseudo-labels included)."""
    per_frame: dict[int, list[tuple[int, BoxTuple]]] = {}
    for track in tracks:
        for f, box in track.boxes(n_frames).items():
            per_frame.setdefault(f, []).append((track.class_id, box))
    return per_frame
