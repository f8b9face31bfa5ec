"""Inputs, boxes, tubes and tube building for the metrics (metrics.md sections 2.6, 3, 4A).

Everything here is re-exported by :mod:`halgui.core.metrics`; import it from there. This module
holds what the metrics stand on:

- :class:`Detection`, :class:`Tube`, :class:`VideoGT`: the plain input types of the metrics, and
  their readers from JSON (:func:`gt_from_json`, :func:`predictions_from_json`),
- :func:`~halgui.core.annotations.box_iou` (the project's one box IoU) in both pixel
  conventions (ACT's "+1" and the continuous one), used by all of the below,
- :func:`st_iou` (ACT ``iou3dt``), :func:`tube_nms` (ACT ``nms3dt``) and
  :func:`nms_detections` (ACT's per-frame ``nms2d``),
- ACT's online linking of per-frame detections (or K-frame tubelets) into tubes
  (:func:`nms_tubelets`, :func:`link_tubelets`, :func:`link_detections`).

Frames are 0-based ints; boxes are ``(x1, y1, x2, y2)`` in pixels of the original frame.
Ties between equal scores are always broken by input order (a stable sort), where ACT's
``np.argsort`` leaves them implementation-defined.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import numpy as np

from halgui.core.annotations import Box as KeyBox
from halgui.core.annotations import Keyframe, box_iou, track_boxes
from halgui.core.errors import BoxError, HalguiError

Box = tuple[float, float, float, float]


class EvalInputError(HalguiError, ValueError):
    """Ground truth or predictions handed to the metrics are malformed; the message says where."""


class Detection(NamedTuple):
    """One scored box on one frame: a row ``(video, frame, label, score, x1, y1, x2, y2)``.

    A plain 8-tuple in that order is accepted wherever a ``Detection`` is.
    """

    video: str
    frame: int
    label: str
    score: float
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True, eq=False)
class Tube:
    """One actor doing one class: a box on each of some frames, plus a score.

    ``boxes`` maps frame -> ``(x1, y1, x2, y2)``. Ground-truth tubes keep the default score 1.
    ``frames`` (sorted, shape ``(N,)``) and ``coords`` (shape ``(N, 4)``) are derived arrays.
    """

    label: str
    boxes: Mapping[int, Sequence[float]]
    score: float = 1.0
    frames: np.ndarray = field(init=False, repr=False)
    coords: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        frames = np.array(sorted(int(f) for f in self.boxes), dtype=np.int64)
        if frames.size == 0:
            raise EvalInputError(f"a tube of class {self.label!r} has no box")
        coords = np.array([self.boxes[f] for f in frames.tolist()], dtype=float)
        if coords.shape != (frames.size, 4) or not np.all(np.isfinite(coords)):
            raise EvalInputError(f"a tube of class {self.label!r} has a box that is not 4 numbers")
        object.__setattr__(self, "frames", frames)
        object.__setattr__(self, "coords", coords)

    @classmethod
    def from_arrays(cls, label: str, frames: Sequence[int], coords: np.ndarray,
                    score: float = 1.0) -> Tube:
        """Build a tube from frames ``(N,)`` and boxes ``(N, 4)``."""
        pairs = zip(frames, np.asarray(coords), strict=True)
        return cls(label, {int(f): tuple(c) for f, c in pairs}, score)

    @property
    def start(self) -> int:
        return int(self.frames[0])

    @property
    def end(self) -> int:
        """Last frame, inclusive."""
        return int(self.frames[-1])

    @property
    def is_contiguous(self) -> bool:
        return self.end - self.start + 1 == self.frames.size

    def span(self, first: int, last: int) -> np.ndarray:
        """Boxes ``(last - first + 1, 4)`` of frames first..last; each must have a box."""
        i, j = np.searchsorted(self.frames, [first, last])
        if j >= self.frames.size or self.frames[j] != last or j - i != last - first:
            raise EvalInputError(
                f"a tube of class {self.label!r} lacks a box on some frame of {first}..{last}: "
                "the spatio-temporal IoU needs a box on every frame where two tubes overlap")
        return self.coords[i:j + 1]


@dataclass(frozen=True)
class VideoGT:
    """Ground truth of one video: its frame count, GT tubes and labeled frames.

    ``labeled_frames=None`` means every frame 0..n_frames-1 is labeled. Frame-mAP evaluates only
    labeled frames: a labeled frame without GT box is a background (negative) frame, GT boxes on
    unlabeled frames are ignored. GT tubes may have gaps for frame-mAP, not for video-mAP.
    """

    n_frames: int
    tubes: Sequence[Tube] = ()
    labeled_frames: Collection[int] | None = None

    def evaluated_frames(self) -> Collection[int]:
        if self.labeled_frames is None:
            return range(self.n_frames)
        return frozenset(int(f) for f in self.labeled_frames)

    @property
    def fully_labeled(self) -> bool:
        return self.labeled_frames is None or set(range(self.n_frames)) <= set(self.labeled_frames)


def st_iou(tube_a: Tube, tube_b: Tube, *, plus_one: bool = False,
           variant: Literal["act", "yowo"] = "act") -> float:
    """Spatio-temporal IoU of two tubes (ACT ``iou3dt``, metrics.md section 3).

    t_inter = min(end) - max(start) + 1, t_union = max(end) - min(start) + 1 (frames inclusive);
    spatial = mean over the shared frames of the box IoU (``plus_one`` as in :func:`box_iou`;
    ACT's +1 only for inclusive pixel boxes); result = spatial * t_inter / t_union, 0 when the
    spans are disjoint. Both tubes need a box on every shared frame (ACT slices them by index), else
    :class:`EvalInputError`. ``variant="yowo"`` is YOWO's rule: 0 unless the tubes share at least
    two frames. Symmetric in its arguments.
    """
    if variant not in ("act", "yowo"):
        raise ValueError(f"unknown st_iou variant {variant!r}; use 'act' or 'yowo'")
    first = max(tube_a.start, tube_b.start)
    last = min(tube_a.end, tube_b.end)
    if last < first or (variant == "yowo" and last == first):
        return 0.0
    spatial = float(np.mean(box_iou(tube_a.span(first, last), tube_b.span(first, last),
                                    plus_one=plus_one, pairwise=False)))
    t_union = max(tube_a.end, tube_b.end) - min(tube_a.start, tube_b.start) + 1
    return spatial * (last - first + 1) / t_union


def tube_nms(tubes: Sequence[Tube], threshold: float = 0.3, *,
             plus_one: bool = False) -> list[Tube]:
    """Hard tube NMS (ACT ``nms3dt``): keep the best-scored, drop those with ST-IoU > threshold.

    Meant per video and class. Returns the kept tubes, best score first (ties: input order).
    """
    order = sorted(range(len(tubes)), key=lambda i: -tubes[i].score)
    kept: list[Tube] = []
    while order:
        best = tubes[order[0]]
        kept.append(best)
        order = [i for i in order[1:] if st_iou(best, tubes[i], plus_one=plus_one) <= threshold]
    return kept


def nms_detections(detections: Iterable[Detection | Sequence], threshold: float = 0.3, *,
                   plus_one: bool = False) -> list[Detection]:
    """Hard NMS per video, frame and class (ACT ``load_frame_detections`` with ``nms2d``).

    In score order, a detection is dropped when its box IoU with one already kept exceeds
    ``threshold``; equal scores: the one listed first is kept. Returns the kept detections in
    their input order, so the order of equal scores downstream is unchanged.
    """
    rows = [Detection(*d) for d in detections]
    groups: dict[tuple[str, int, str], list[int]] = defaultdict(list)
    for i, d in enumerate(rows):
        groups[(d.video, int(d.frame), d.label)].append(i)
    keep: set[int] = set()
    for members in groups.values():
        members.sort(key=lambda i: -rows[i].score)  # stable: equal scores keep input order
        boxes = np.array([rows[i][4:] for i in members], dtype=float)
        alive = np.ones(len(members), dtype=bool)
        for a in range(len(members)):
            if alive[a]:
                keep.add(members[a])
                ious = box_iou(boxes[a + 1:], boxes[a], plus_one=plus_one, pairwise=False)
                alive[a + 1:] &= ious <= threshold
    return [d for i, d in enumerate(rows) if i in keep]


@dataclass(frozen=True)
class LinkingConfig:
    """Defaults of ACT's online linking (metrics.md 4A, ACT_build.py ``BuildTubes``)."""

    nms_iou: float = 0.6  # tubelet NMS: rescore when mean IoU over the K frames exceeds this
    top_k: int = 10  # tubelets kept per start frame after NMS
    link_iou: float = 0.5  # a tube takes a candidate whose IoU with its last tubelet is >= this
    min_score: float = 0.005  # drop finished tubes with a lower mean tubelet score
    min_length: int = 15  # drop finished tubes shorter than this many frames
    plus_one: bool = False  # box IoU: continuous (halgui boxes); True = ACT's +1 pixel


def nms_tubelets(tubelets: np.ndarray, threshold: float = 0.6, top_k: int | None = 10, *,
                 plus_one: bool = False) -> np.ndarray:
    """ACT's tubelet NMS (``nms_tubelets``): soft rescoring, re-sort, keep ``top_k``.

    ``tubelets`` is ``(N, 4K + 1)``: K boxes then the score. Walking boxes in score order, each
    tubelet whose summed IoU over the K frames with the current one exceeds ``threshold * K`` gets
    its score multiplied by ``1 - sum IoU`` (negative for K > 1, i.e. effectively removed) and
    stops being a suppressor. Returns a rescored copy sorted by new score, at most ``top_k`` rows.
    """
    dets = np.array(tubelets, dtype=float)
    if dets.size == 0:
        return dets.reshape(0, dets.shape[-1] if dets.ndim == 2 else 5)
    dets = dets.reshape(len(dets), -1)
    k = (dets.shape[1] - 1) // 4
    if dets.shape[1] != 4 * k + 1 or k < 1:
        raise EvalInputError(f"tubelets need 4K + 1 columns, got {dets.shape[1]}")
    boxes = dets[:, :4 * k].reshape(-1, k, 4)
    weight = np.ones(dets.shape[0])
    order = np.argsort(-dets[:, -1], kind="stable")
    while order.size:
        i, rest = order[0], order[1:]
        ious = box_iou(boxes[rest], boxes[i][None], plus_one=plus_one,
                       pairwise=False).sum(axis=1)
        over = ious > threshold * k
        weight[rest[over]] = 1.0 - ious[over]
        order = rest[~over]
    dets[:, -1] *= weight
    dets = dets[np.argsort(-dets[:, -1], kind="stable")]
    return dets if top_k is None else dets[:top_k]


def link_tubelets(tubelets: Mapping[int, np.ndarray], n_frames: int, label: str,
                  config: LinkingConfig = LinkingConfig()) -> list[Tube]:
    """ACT's online linking of one class's tubelets in one video into scored tubes (4A).

    ``tubelets[f]`` is ``(N, 4K + 1)`` for tubelets starting at frame f (boxes of frames
    f..f+K-1, then the score); K = 1 for per-frame detections; missing frames have none.
    Per start frame: :func:`nms_tubelets`. Live tubes, sorted by mean tubelet score, each take
    the highest-scored remaining candidate whose IoU with the tube's last tubelet (mean over the
    overlapping frames while the gap is < K, else last box vs first box) is >= ``link_iou``; a
    tube unmatched with a gap >= K is finished; leftover candidates start tubes. A tube's box on
    a frame is the mean of its tubelets covering it; its score is the mean tubelet score; tubes
    scored below ``min_score`` or shorter than ``min_length`` frames are dropped.
    """
    widths = {np.asarray(t).reshape(len(t), -1).shape[1] for t in tubelets.values() if len(t)}
    if len(widths) > 1:
        raise EvalInputError("all tubelets of a class must have the same length K")
    k = (widths.pop() - 1) // 4 if widths else 1
    current: list[list[tuple[int, np.ndarray]]] = []
    finished: list[list[tuple[int, np.ndarray]]] = []

    def mean_score(t: list[tuple[int, np.ndarray]]) -> float:
        return float(np.mean([row[-1] for _, row in t]))

    for f in range(n_frames - k + 1):
        cand = nms_tubelets(np.asarray(tubelets.get(f, np.zeros((0, 4 * k + 1)))),
                            config.nms_iou, config.top_k, plus_one=config.plus_one)
        current.sort(key=lambda t: -mean_score(t))
        ended = []
        for ti, tube in enumerate(current):
            last_frame, last = tube[-1]
            offset = f - last_frame
            valid = np.zeros(0, dtype=int)
            if len(cand):
                if offset < k:
                    nov = k - offset
                    ious = sum(box_iou(cand[:, 4 * j:4 * j + 4],
                                       last[4 * (j + offset):4 * (j + offset) + 4],
                                       plus_one=config.plus_one, pairwise=False)
                               for j in range(nov)) / nov
                else:
                    ious = box_iou(cand[:, :4], last[4 * k - 4:4 * k],
                                   plus_one=config.plus_one, pairwise=False)
                valid = np.flatnonzero(ious >= config.link_iou)
            if valid.size:
                idx = valid[np.argmax(cand[valid, -1])]
                tube.append((f, cand[idx]))
                cand = np.delete(cand, idx, axis=0)
            elif offset >= k:
                ended.append(ti)
        for ti in reversed(ended):
            finished.append(current.pop(ti))
        current.extend([(f, row)] for row in cand)
    return [t for t in (_build_tube(c, k, label, config) for c in finished + current) if t]


def _build_tube(chain: list[tuple[int, np.ndarray]], k: int, label: str,
                config: LinkingConfig) -> Tube | None:
    """Average a chain of tubelets into one tube, or None when it fails ACT's filters."""
    score = float(np.mean([row[-1] for _, row in chain]))
    first, last = chain[0][0], chain[-1][0] + k - 1
    if score < config.min_score or last - first + 1 < config.min_length:
        return None
    total = np.zeros((last - first + 1, 4))
    count = np.zeros(last - first + 1)
    for f, row in chain:
        total[f - first:f - first + k] += row[:4 * k].reshape(k, 4)
        count[f - first:f - first + k] += 1
    return Tube.from_arrays(label, range(first, last + 1), total / count[:, None], score)


def link_detections(detections: Iterable[Detection | Sequence], n_frames: Mapping[str, int],
                    config: LinkingConfig = LinkingConfig()) -> dict[str, list[Tube]]:
    """Link per-frame detections into tubes, per video and class, by :func:`link_tubelets` (K=1).

    ``n_frames`` gives each video's frame count; detections of other videos are an error.
    Returns video -> tubes (every video of ``n_frames``, possibly with none).
    """
    rows: dict[tuple[str, str], dict[int, list]] = defaultdict(lambda: defaultdict(list))
    for det in detections:
        video, frame, label, score, *box = det
        if video not in n_frames:
            raise EvalInputError(f"detection on video {video!r}, whose frame count is unknown")
        if not 0 <= int(frame) < n_frames[video]:
            raise EvalInputError(f"detection on frame {frame} of video {video!r}, which has "
                                 f"{n_frames[video]} frames")
        rows[(video, label)][int(frame)].append([*box, score])
    out: dict[str, list[Tube]] = {video: [] for video in n_frames}
    for (video, label), per_frame in rows.items():
        arrays = {f: np.asarray(r, dtype=float) for f, r in per_frame.items()}
        out[video].extend(link_tubelets(arrays, n_frames[video], label, config))
    return out


def tubes_to_detections(tubes: Mapping[str, Sequence[Tube]]) -> list[Detection]:
    """Spread tubes (video -> tubes) into per-frame detections scored with the tube score."""
    return [Detection(video, int(f), t.label, t.score, *map(float, box))
            for video, ts in tubes.items() for t in ts
            for f, box in zip(t.frames, t.coords, strict=True)]


# --- JSON readers (``halgui eval GT.json PRED.json``) ---------------------------------------------

def _get(obj: Any, key: str, where: str) -> Any:
    if not isinstance(obj, Mapping) or key not in obj:
        raise EvalInputError(f"{where}: missing field {key!r}")
    return obj[key]


def _box(value: Any, where: str) -> tuple[float, float, float, float]:
    try:
        box = tuple(float(x) for x in value)
    except (TypeError, ValueError):
        box = ()
    if len(box) != 4 or not all(np.isfinite(box)) or box[2] < box[0] or box[3] < box[1]:
        raise EvalInputError(f"{where}: box must be 4 finite numbers x1 <= x2, y1 <= y2, "
                             f"got {value!r}")
    return box  # type: ignore[return-value]


def _frame(value: Any, n_frames: int, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < n_frames:
        raise EvalInputError(f"{where}: frame must be an int in 0..{n_frames - 1}, got {value!r}")
    return value


def _check_header(data: Any, fmt: str, what: str) -> None:
    if not isinstance(data, Mapping) or data.get("format") != fmt or data.get("version") != 1:
        raise EvalInputError(f"{what}: expected {{\"format\": \"{fmt}\", \"version\": 1, ...}}")


def gt_from_json(data: Mapping[str, Any]) -> tuple[list[str], dict[str, VideoGT]]:
    """Read halgui's ground-truth JSON (``"format": "halgui", "version": 1``).

    Schema: docs/formats/halgui.md. Returns the class names and video name -> :class:`VideoGT`.
    ``labeled_frames`` holds inclusive ``[first, last]`` ranges; absent means none is labeled.
    A track's boxes are those the rest of halgui sees (:func:`~halgui.core.annotations.
    track_boxes`): interpolated between keyframes, with the ``outside`` rule, so a track keyed
    on a few frames is ground truth on every frame it covers. Each visible span of a track (an
    actor that goes outside and comes back has two) becomes one GT tube, so GT tubes never
    have gaps.
    """
    _check_header(data, "halgui", "ground truth")
    classes = [_get(c, "name", "ground truth classes") if isinstance(c, Mapping) else c
               for c in _get(data, "classes", "ground truth")]
    videos: dict[str, VideoGT] = {}
    for i, video in enumerate(_get(data, "videos", "ground truth")):
        where = f"ground truth videos[{i}]"
        name = str(_get(video, "name", where))
        n = _get(video, "n_frames", where)
        if isinstance(n, bool) or not isinstance(n, int) or n < 0 or name in videos:
            raise EvalInputError(f"{where}: bad n_frames {n!r} or repeated name {name!r}")
        labeled: set[int] = set()
        for r in video.get("labeled_frames", []):
            if not isinstance(r, Sequence) or len(r) != 2:
                raise EvalInputError(f"{where}: labeled_frames holds [first, last] ranges, "
                                     f"got {r!r}")
            labeled.update(range(_frame(r[0], n, where), _frame(r[1], n, where) + 1))
        tubes = []
        for j, track in enumerate(video.get("tracks", [])):
            label = _get(track, "class", f"{where} tracks[{j}]")
            if label not in classes:
                raise EvalInputError(f"{where} tracks[{j}]: class {label!r} is not in classes")
            tubes += [Tube(label, run) for run in _gapless_runs(
                track_boxes(_keyframes(track, n, f"{where} tracks[{j}]"), n))]
        videos[name] = VideoGT(n, tubes, labeled)
    return classes, videos


def _keyframes(track: Any, n_frames: int, where: str) -> list[Keyframe]:
    """A GT track's keyframes, checked; an ``outside`` keyframe's box is optional (unused)."""
    keyframes: list[Keyframe] = []
    seen: set[int] = set()
    raw = _get(track, "keyframes", where)
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise EvalInputError(f"{where}: keyframes must be a list")
    for k, kf in enumerate(raw):
        kwhere = f"{where} keyframes[{k}]"
        f = _frame(_get(kf, "frame", kwhere), n_frames, kwhere)
        if f in seen:
            raise EvalInputError(f"{kwhere}: frame {f} appears twice")
        seen.add(f)
        outside = kf.get("outside", False)
        if not isinstance(outside, bool):
            raise EvalInputError(f"{kwhere}: outside must be true or false, got {outside!r}")
        box = _box(kf["box"], kwhere) if "box" in kf or not outside else (0.0, 0.0, 1.0, 1.0)
        try:
            keyframes.append(Keyframe(f, KeyBox(*box), outside))
        except BoxError as exc:
            raise EvalInputError(f"{kwhere}: {exc}") from exc
    return keyframes


def _gapless_runs(boxes: Mapping[int, Box]) -> list[dict[int, Box]]:
    """Boxes (frame -> box) cut into runs of consecutive frames."""
    runs: list[dict[int, Box]] = []
    for f in sorted(boxes):
        if not runs or f - 1 not in runs[-1]:
            runs.append({})
        runs[-1][f] = boxes[f]
    return runs


@dataclass(frozen=True)
class Predictions:
    """A ``halgui-predictions`` file read against its ground truth.

    ``detections``: every per-frame detection (a video without a ``"detections"`` field gets
    its tubes spread to frames with the tube score); ``tubes``: video -> tubes for the videos
    that give ``"tubes"`` (others are linked by the caller); ``videos``: the ground-truth videos
    the file lists; ``unknown_videos``: videos absent from the ground truth, ignored.
    """

    detections: list[Detection]
    tubes: dict[str, list[Tube]]
    videos: list[str]
    unknown_videos: list[str]


def predictions_from_json(data: Mapping[str, Any], classes: Collection[str],
                          gt: Mapping[str, VideoGT]) -> Predictions:
    """Read a ``{"format": "halgui-predictions", "version": 1}`` file (see :func:`evaluate`).

    Class names must be among ``classes``; frames must exist in the GT video; a predicted tube
    needs a box on every frame of its span.
    """
    _check_header(data, "halgui-predictions", "predictions")
    detections: list[Detection] = []
    tubes: dict[str, list[Tube]] = {}
    unknown: list[str] = []
    listed: list[str] = []
    for i, video in enumerate(_get(data, "videos", "predictions")):
        where = f"predictions videos[{i}]"
        name = str(_get(video, "name", where))
        if name not in gt:
            unknown.append(name)
            continue
        listed.append(name)
        n = gt[name].n_frames

        def label_of(obj: Any, where: str) -> str:
            label = _get(obj, "class", where)
            if label not in classes:
                raise EvalInputError(f"{where}: class {label!r} is not a ground-truth class")
            return label

        def score_of(obj: Any, where: str) -> float:
            score = _get(obj, "score", where)
            if isinstance(score, bool) or not isinstance(score, (int, float)) or score != score:
                raise EvalInputError(f"{where}: score must be a number, got {score!r}")
            return float(score)

        for j, det in enumerate(video.get("detections", [])):
            dwhere = f"{where} detections[{j}]"
            detections.append(Detection(name, _frame(_get(det, "frame", dwhere), n, dwhere),
                                        label_of(det, dwhere), score_of(det, dwhere),
                                        *_box(_get(det, "box", dwhere), dwhere)))
        if "tubes" in video:
            tubes[name] = []
            for j, tube in enumerate(video["tubes"]):
                twhere = f"{where} tubes[{j}]"
                boxes = {_frame(int(f) if str(f).isdigit() else f, n, twhere): _box(b, twhere)
                         for f, b in _get(tube, "boxes", twhere).items()}
                t = Tube(label_of(tube, twhere), boxes, score_of(tube, twhere))
                if not t.is_contiguous:
                    raise EvalInputError(f"{twhere}: a tube needs a box on every frame of its "
                                         f"span {t.start}..{t.end}")
                tubes[name].append(t)
            if "detections" not in video:
                detections += tubes_to_detections({name: tubes[name]})
    return Predictions(detections, tubes, listed, unknown)
