"""Spatio-temporal action detection metrics: frame-mAP, video-mAP, the pixel-IoU protocol.

Implements ``/reference/metrics.md``. Every function names the convention it uses, because
published numbers differ by convention, not only by model:

- AP integration: :func:`voc_ap` (VOC2010+ all-point), :func:`voc_ap_11point` (VOC2007),
  :func:`trapezoid_ap` (ACT/MOC ``pr_to_ap``: trapezoids from (R=0, P=1), no envelope).
- Matching of a scored detection to ground truth: ``"act"`` takes the best IoU over the GT not yet
  matched; ``"voc"`` takes the best IoU over all GT and counts a hit on an already matched GT as
  a false positive. A match needs IoU >= the threshold in both.
- Box IoU (:func:`box_iou`): continuous by default, because halgui boxes are continuous (a box
  over pixel columns 0..9 has x1 = 0, x2 = 10; docs/formats/halgui.md). ``plus_one=True`` is
  ACT's ``+1`` for boxes in inclusive pixel indices (UCF101v2-GT.pkl, JHMDB-GT.pkl): ACT's +1 IoU
  of inclusive boxes equals the continuous IoU of the same boxes written continuously.

Input types (plain Python): :class:`Detection` rows, :class:`Tube` (frame -> box, label, score),
:class:`VideoGT` (frame count, GT tubes, labeled frames). Frames are 0-based; boxes are pixel
``(x1, y1, x2, y2)``. Equal scores are ranked in input order (stable), where ACT's
``np.argsort(-score)`` leaves the order implementation-defined.

:func:`evaluate` is ``halgui eval GT.json PRED.json`` (docs/evaluation.md): halgui's GT JSON,
its tracks expanded by the same interpolation and ``outside`` rule as everywhere in halgui,
against a ``halgui-predictions`` JSON, under a named :data:`CONVENTIONS` entry (box IoU, NMS of
detections); there, equal scores keep the order of the predictions file. Tube building and the
JSON readers live in :mod:`halgui.core.metrics_tubes`.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from halgui.core.annotations import box_iou
from halgui.core.metrics_tubes import (
    Box,
    Detection,
    EvalInputError,
    LinkingConfig,
    Predictions,
    Tube,
    VideoGT,
    gt_from_json,
    link_detections,
    link_tubelets,
    nms_detections,
    nms_tubelets,
    predictions_from_json,
    st_iou,
    tube_nms,
    tubes_to_detections,
)

__all__ = [
    "CONVENTIONS", "DELTAS_050_095", "APResult", "Box", "Convention", "Detection",
    "EvalInputError", "FrameErrors", "LinkingConfig", "PixelIoUResult", "PixelVideo",
    "Predictions", "Tube", "VideoGT", "VideoMAP", "box_iou", "box_mask", "evaluate",
    "frame_ap_errors", "frame_map", "gt_from_json", "link_detections", "link_tubelets",
    "nms_detections", "nms_tubelets", "pixel_iou_protocol", "predictions_from_json", "st_iou",
    "trapezoid_ap", "tube_nms", "tubes_to_detections", "video_map", "voc_ap", "voc_ap_11point",
]

Matching = Literal["act", "voc"]
APKind = Literal["voc", "trapezoid", "11point"]
#: The thresholds averaged into video-mAP "0.5:0.95" (ACT ``videoAP_050_095``).
DELTAS_050_095 = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))


# --- AP integration ------------------------------------------------------------------------------

def _pr(recall: Sequence[float] | np.ndarray,
        precision: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(recall, dtype=float)
    p = np.asarray(precision, dtype=float)
    if r.ndim != 1 or r.shape != p.shape:
        raise ValueError(f"recall and precision must be 1-D, one length: {r.shape}, {p.shape}")
    return r, p


def voc_ap(recall: Sequence[float] | np.ndarray, precision: Sequence[float] | np.ndarray) -> float:
    """AP by VOC2010+ all-point interpolation (YOWO/Padilla, MultiSports "_voc", AVA).

    ``recall``/``precision`` hold one point per ranked detection. Adds (R=0, P=0) and (R=1, P=0),
    makes precision non-increasing from the right, sums dR * P where recall changes. 0 if empty.
    """
    r, p = _pr(recall, precision)
    mrec = np.concatenate(([0.0], r, [1.0]))
    mpre = np.maximum.accumulate(np.concatenate(([0.0], p, [0.0]))[::-1])[::-1]
    i = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def voc_ap_11point(recall: Sequence[float] | np.ndarray,
                   precision: Sequence[float] | np.ndarray) -> float:
    """AP by VOC2007 11-point interpolation: mean over t = 0, 0.1, ..., 1 of max P at R >= t.

    Levels are ``k / 10`` (so a recall of exactly 3/10 reaches level 0.3); no point -> 0 there.
    """
    r, p = _pr(recall, precision)
    return float(np.mean([p[r >= t].max() if np.any(r >= t) else 0.0 for t in np.arange(11) / 10]))


def trapezoid_ap(recall: Sequence[float] | np.ndarray,
                 precision: Sequence[float] | np.ndarray) -> float:
    """AP as ACT/MOC ``pr_to_ap``: trapezoid rule from the start point (R=0, P=1), no envelope.

    ``recall``/``precision`` hold one point per ranked detection; the start point is added here.
    """
    return _trapezoid(*_pr(recall, precision), start=1.0)


def _trapezoid(recall: np.ndarray, values: np.ndarray, start: float) -> float:
    """Trapezoid area under ``values`` over ``recall``, from the point (R=0, ``start``)."""
    rr = np.concatenate(([0.0], recall))
    vv = np.concatenate(([start], values))
    return float(np.sum(np.diff(rr) * (vv[1:] + vv[:-1]) * 0.5))


AP_FUNCTIONS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "voc": voc_ap, "11point": voc_ap_11point, "trapezoid": trapezoid_ap}


def _ap_from_flags(tp: np.ndarray, n_gt: int, ap: str) -> float:
    """AP of a ranked list of TP flags against ``n_gt`` positives; nan when there are none."""
    if n_gt == 0:
        return math.nan
    tps = np.cumsum(tp, dtype=float)
    return AP_FUNCTIONS[ap](tps / n_gt, tps / np.arange(1, tp.size + 1))


def _check(matching: str, ap: str) -> None:
    if matching not in ("act", "voc"):
        raise ValueError(f"unknown matching {matching!r}; use 'act' or 'voc'")
    if ap not in AP_FUNCTIONS:
        raise ValueError(f"unknown AP {ap!r}; use one of {sorted(AP_FUNCTIONS)}")


def _greedy(order: np.ndarray, keys: Sequence[Any], ious_of: Callable[[int], np.ndarray],
            n_gt: Mapping[Any, int], threshold: float, matching: str) -> np.ndarray:
    """TP flags of detections taken in ``order``; each matches GT of its key (frame or video).

    ``ious_of(i)`` gives detection i's IoU with every GT of its key. "act": best over the GT not
    yet matched; "voc": best over all GT, a hit on a matched GT is a FP. TP needs IoU >= threshold.
    """
    used = {k: np.zeros(n, dtype=bool) for k, n in n_gt.items()}
    tp = np.zeros(len(order), dtype=bool)
    for rank, i in enumerate(order):
        taken = used.get(keys[i])
        if taken is None or taken.all():
            continue
        ious = ious_of(i)
        if matching == "act":
            ious = np.where(taken, -np.inf, ious)
        j = int(np.argmax(ious))
        if ious[j] >= threshold and not taken[j]:
            taken[j] = tp[rank] = True
    return tp


@dataclass(frozen=True)
class APResult:
    """Per-class AP under one convention (named in ``convention``).

    ``ap[c]`` is nan when class c has no ground truth (AP undefined); ``mean`` averages the
    classes that have ground truth (nan if none does).
    """

    convention: str
    ap: dict[str, float]
    n_gt: dict[str, int]
    n_det: dict[str, int]

    @property
    def mean(self) -> float:
        values = [v for c, v in self.ap.items() if self.n_gt[c] > 0]
        return float(np.mean(values)) if values else math.nan

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict: undefined numbers become None."""
        return {"convention": self.convention, "map": _num(self.mean),
                "per_class": {c: _num(v) for c, v in self.ap.items()},
                "n_gt": dict(self.n_gt), "n_det": dict(self.n_det)}


def _num(x: float) -> float | None:
    return None if math.isnan(x) else round(float(x), 6)


# --- frame-mAP -----------------------------------------------------------------------------------

def _frame_gt(gt: Mapping[str, VideoGT], count_background: bool
              ) -> tuple[dict[str, Collection[int]], dict[str, dict[tuple[str, int], np.ndarray]]]:
    """Evaluated frames per video and GT boxes per class -> (video, frame) -> ``(n, 4)``."""
    frames: dict[str, Collection[int]] = {}
    boxes: dict[str, dict[tuple[str, int], list]] = defaultdict(lambda: defaultdict(list))
    for video, vgt in gt.items():
        evaluated = vgt.evaluated_frames()
        annotated = set()
        for tube in vgt.tubes:
            for f, box in zip(tube.frames.tolist(), tube.coords, strict=True):
                if f in evaluated:
                    boxes[tube.label][(video, f)].append(box)
                    annotated.add(f)
        frames[video] = evaluated if count_background else annotated
    return frames, {c: {k: np.array(v) for k, v in d.items()} for c, d in boxes.items()}


def _frame_detections(detections: Iterable[Detection | Sequence], gt: Mapping[str, VideoGT],
                      frames: Mapping[str, Collection[int]]
                      ) -> dict[str, tuple[list[tuple[str, int]], np.ndarray, np.ndarray]]:
    """Detections on evaluated frames, per class: keys (video, frame), scores, boxes ``(n, 4)``."""
    grouped: dict[str, list] = defaultdict(list)
    for det in detections:
        video, frame, label, score, *box = det
        if video not in gt:
            continue
        if not 0 <= int(frame) < gt[video].n_frames:
            raise EvalInputError(f"detection on frame {frame} of video {video!r}, which has "
                                 f"{gt[video].n_frames} frames")
        if int(frame) in frames[video]:
            grouped[label].append(((video, int(frame)), float(score), box))
    return {c: ([r[0] for r in rows], np.array([r[1] for r in rows]),
                np.array([r[2] for r in rows], dtype=float).reshape(-1, 4))
            for c, rows in grouped.items()}


def frame_map(gt: Mapping[str, VideoGT], detections: Iterable[Detection | Sequence],
              iou: float = 0.5, matching: Matching = "act", ap: APKind = "trapezoid", *,
              plus_one: bool = False, count_background: bool = True,
              classes: Sequence[str] | None = None) -> APResult:
    """Frame-mAP: per class AP of per-frame detections at box IoU >= ``iou``, mean over classes.

    Defaults are ACT's ``frameAP`` (metrics.md 2): ACT matching, trapezoid AP; box IoU is
    continuous unless ``plus_one`` (ACT's +1, for inclusive pixel boxes). ``gt`` maps video ->
    VideoGT; detections of other videos are ignored. With ``count_background=True`` every
    labeled frame counts, so detections on background frames are false positives (ACT,
    MultiSports); with False only frames holding a GT box count (YOWO's UCF101-24 protocol).
    ``classes`` defaults to every class seen in GT or detections; others' detections are ignored.
    """
    _check(matching, ap)
    frames, gt_boxes = _frame_gt(gt, count_background)
    dets = _frame_detections(detections, gt, frames)
    labels = list(classes) if classes is not None else sorted(set(gt_boxes) | set(dets))
    result = APResult(
        f"frame-AP@{iou}: {matching} matching, {ap} AP, "
        f"{'+1 pixel' if plus_one else 'continuous'} box IoU, "
        f"{'all labeled frames' if count_background else 'only frames with GT (YOWO)'}",
        {}, {}, {})
    for c in labels:
        keys, scores, boxes = dets.get(c, ([], np.zeros(0), np.zeros((0, 4))))
        g = gt_boxes.get(c, {})
        n_gt = sum(len(b) for b in g.values())
        tp = _greedy(np.argsort(-scores, kind="stable"), keys,
                     lambda i, g=g, keys=keys, boxes=boxes: box_iou(g[keys[i]], boxes[i],
                                                                      plus_one=plus_one),
                     {k: len(b) for k, b in g.items()}, iou, matching)
        result.ap[c] = _ap_from_flags(tp, n_gt, ap)
        result.n_gt[c], result.n_det[c] = n_gt, len(keys)
    return result


@dataclass(frozen=True)
class FrameErrors:
    """ACT ``frameAP_error``: AP and the areas of each false-positive kind, per class.

    Each entry of ``per_class[c]``: ``ap``; ``localization`` (a frame with GT of c, IoU < θ or
    GT already taken); ``classification`` (IoU >= θ with another class's GT); ``timing`` (c is in
    the video, not on this frame); ``other``; ``missed`` (1 - final recall). They sum to 1.
    """

    per_class: dict[str, dict[str, float]]

    @property
    def mean(self) -> dict[str, float]:
        kinds = ("ap", "localization", "classification", "timing", "other", "missed")
        rows = list(self.per_class.values())
        return {k: float(np.mean([r[k] for r in rows])) if rows else math.nan for k in kinds}


def frame_ap_errors(gt: Mapping[str, VideoGT], detections: Iterable[Detection | Sequence],
                    iou: float = 0.5, *, plus_one: bool = False) -> FrameErrors:
    """Error breakdown of frame-AP (ACT ``frameAP_error``: ACT matching, trapezoid areas).

    Each error kind's area is the trapezoid AP of (its count / detections so far) over recall.
    Only classes with ground truth are reported.
    """
    frames, gt_boxes = _frame_gt(gt, count_background=True)
    dets = _frame_detections(detections, gt, frames)
    in_video = {(v, t.label) for v, vgt in gt.items() for t in vgt.tubes}
    out: dict[str, dict[str, float]] = {}
    for c, g in gt_boxes.items():
        n_gt = sum(len(b) for b in g.values())
        others: dict[tuple[str, int], list] = defaultdict(list)
        for c2, g2 in gt_boxes.items():
            for k, b in g2.items():
                if c2 != c:
                    others[k].extend(b)
        keys, scores, boxes = dets.get(c, ([], np.zeros(0), np.zeros((0, 4))))
        remaining = {k: np.ones(len(b), dtype=bool) for k, b in g.items()}
        kinds = np.zeros((len(keys), 5))  # tp, localization, classification, timing, other
        for rank, i in enumerate(np.argsort(-scores, kind="stable")):
            k = keys[i]
            if k in g:
                ious = np.where(remaining[k], box_iou(g[k], boxes[i], plus_one=plus_one), -np.inf)
                j = int(np.argmax(ious))
                hit = bool(ious[j] >= iou)
                if hit:
                    remaining[k][j] = False
                kinds[rank, 0 if hit else 1] = 1
            elif k in others:
                best = np.max(box_iou(np.array(others[k]), boxes[i], plus_one=plus_one))
                kinds[rank, 2 if best >= iou else 4] = 1
            else:
                kinds[rank, 3 if (k[0], c) in in_video else 4] = 1
        seen = np.arange(1, len(keys) + 1)
        recall = np.cumsum(kinds[:, 0]) / n_gt
        areas = [_trapezoid(recall, np.cumsum(kinds[:, j]) / seen, start=float(j == 0))
                 for j in range(5)]
        final = float(recall[-1]) if len(keys) else 0.0
        names = ("ap", "localization", "classification", "timing", "other")
        out[c] = {**dict(zip(names, areas, strict=True)), "missed": 1.0 - final}
    return FrameErrors(out)


# --- video-mAP -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class VideoMAP:
    """Video-mAP at each requested δ, plus ``mean_050_095``: per class mean AP over δ=0.5:0.95."""

    by_threshold: dict[float, APResult]
    mean_050_095: APResult


def video_map(gt_tubes: Mapping[str, Sequence[Tube]], det_tubes: Mapping[str, Sequence[Tube]],
              thresholds: Sequence[float] = (0.2, 0.5, 0.75), *, matching: Matching = "act",
              ap: APKind = "trapezoid", plus_one: bool = False,
              variant: Literal["act", "yowo"] = "act", nms: float | None = 0.3,
              classes: Sequence[str] | None = None) -> VideoMAP:
    """Video-mAP: per class AP of scored tubes at ST-IoU >= δ (ACT ``videoAP``, metrics.md 3).

    ``gt_tubes``/``det_tubes`` map video -> tubes; the videos of ``gt_tubes`` are the evaluated
    ones, detection tubes of other videos are ignored. Per video and class, tube NMS at ST-IoU
    ``nms`` (None: none); all tubes of a class ranked by score; ACT matching by :func:`st_iou`
    (``variant``, ``plus_one``); trapezoid AP: ACT's conventions by default (with continuous box
    IoU unless ``plus_one``). Tubes
    that overlap in time need a box on every shared frame (:func:`st_iou`).
    """
    _check(matching, ap)
    labels = set() if classes is None else set(classes)
    if classes is None:
        labels |= {t.label for ts in gt_tubes.values() for t in ts}
        labels |= {t.label for v in gt_tubes for t in det_tubes.get(v, ())}
    deltas = sorted(set(map(float, thresholds)) | set(DELTAS_050_095))
    aps: dict[float, dict[str, float]] = {d: {} for d in deltas}
    n_gt: dict[str, int] = {}
    n_det: dict[str, int] = {}
    for c in sorted(labels):
        gts = {v: [t for t in ts if t.label == c] for v, ts in gt_tubes.items()}
        dets: list[tuple[str, Tube]] = []
        for v in gt_tubes:
            mine = [t for t in det_tubes.get(v, ()) if t.label == c]
            dets += [(v, t) for t in (mine if nms is None else tube_nms(mine, nms,
                                                                         plus_one=plus_one))]
        ious = [np.array([st_iou(g, t, plus_one=plus_one, variant=variant) for g in gts[v]])
                for v, t in dets]
        order = np.argsort(-np.array([t.score for _, t in dets]), kind="stable")
        n_gt[c], n_det[c] = sum(len(g) for g in gts.values()), len(dets)
        for d in deltas:
            tp = _greedy(order, [v for v, _ in dets], ious.__getitem__,
                         {v: len(g) for v, g in gts.items() if g}, d, matching)
            aps[d][c] = _ap_from_flags(tp, n_gt[c], ap)
    name = (f"{matching} matching, {ap} AP, st_iou {variant} with "
            f"{'+1 pixel' if plus_one else 'continuous'} box IoU, tube NMS {nms}")
    by = {float(d): APResult(f"video-AP@{d}: {name}", aps[float(d)], n_gt, n_det)
          for d in thresholds}
    mean = {c: float(np.mean([aps[d][c] for d in DELTAS_050_095])) for c in sorted(labels)}
    return VideoMAP(by, APResult(f"video-AP@0.5:0.05:0.95 (mean of 10): {name}", mean, n_gt, n_det))


# --- the pixel-IoU protocol of the CLAUS lineage -------------------------------------------------

def box_mask(boxes: Iterable[Sequence[float]], height: int, width: int) -> np.ndarray:
    """Union of boxes as a ``(height, width)`` bool mask: pixel (i, j) is in when its centre
    (j + 0.5, i + 0.5) lies inside a box (borders included)."""
    mask = np.zeros((height, width), dtype=bool)
    cols = np.arange(width) + 0.5
    rows = np.arange(height) + 0.5
    for x1, y1, x2, y2 in boxes:
        mask |= ((rows >= y1) & (rows <= y2))[:, None] & ((cols >= x1) & (cols <= x2))[None, :]
    return mask


@dataclass(frozen=True)
class PixelVideo:
    """One test video for :func:`pixel_iou_protocol`.

    ``label``: its GT class; ``predicted_label``: argmax of the clip class scores averaged over
    the video; ``gt_masks``: frame -> ``(H, W)`` bool GT mask (e.g. :func:`box_mask`), GT-annotated
    frames only; ``pred_masks``: frame -> ``(H, W)`` foreground probability (or bool); a GT frame
    without a prediction counts as an empty prediction.
    """

    label: str
    predicted_label: str
    gt_masks: Mapping[int, np.ndarray]
    pred_masks: Mapping[int, np.ndarray]


@dataclass(frozen=True)
class PixelIoUResult:
    """"f-mAP"/"v-mAP" of the VideoCapsuleNet/CLAUS papers (not ACT's AP; see pixel_iou_protocol).

    ``f_map[i]``/``v_map[i]`` belong to ``thresholds[i]``; ``per_class_*`` hold each class's
    fractions before the mean over classes; ``accuracy`` is video classification accuracy.
    """

    thresholds: np.ndarray
    f_map: np.ndarray
    v_map: np.ndarray
    accuracy: float
    per_class_f: dict[str, np.ndarray]
    per_class_v: dict[str, np.ndarray]


def pixel_iou_protocol(videos: Sequence[PixelVideo], thresholds: Sequence[float] | None = None,
                       mask_threshold: float = 0.5) -> PixelIoUResult:
    """The capsule-lineage localisation metric (VideoCapsuleNet ``get_iou.py``; metrics.md 6).

    Predicted masks are foreground where probability >= ``mask_threshold``. On each GT frame
    (frames whose GT mask is empty are skipped), IoU = |pred & gt| / |pred | gt|. "f-mAP"(θ) =
    per class the fraction of GT frames with IoU >= θ, averaged over classes; "v-mAP"(θ) = per
    class the fraction of videos whose voxel IoU (sum of intersections / sum of unions over its GT
    frames) is >= θ. θ defaults to 0, 0.05, ..., 0.95. No false-positive penalty off GT frames,
    and the class prediction does not enter the localisation numbers (only ``accuracy``).
    """
    theta = np.arange(20) / 20 if thresholds is None else np.asarray(thresholds, dtype=float)
    frame_ious: dict[str, list[float]] = defaultdict(list)
    video_ious: dict[str, list[float]] = defaultdict(list)
    for v in videos:
        inter_sum = union_sum = 0
        for f, gt_mask in v.gt_masks.items():
            g = np.asarray(gt_mask, dtype=bool)
            if not g.any():
                continue
            pred = v.pred_masks.get(f)
            p = np.zeros_like(g) if pred is None else np.asarray(pred) >= mask_threshold
            inter, union = int(np.sum(p & g)), int(np.sum(p | g))
            frame_ious[v.label].append(inter / union)
            inter_sum, union_sum = inter_sum + inter, union_sum + union
        if union_sum:
            video_ious[v.label].append(inter_sum / union_sum)
    per_f = {c: np.mean(np.array(x)[:, None] >= theta[None, :], axis=0)
             for c, x in sorted(frame_ious.items())}
    per_v = {c: np.mean(np.array(x)[:, None] >= theta[None, :], axis=0)
             for c, x in sorted(video_ious.items())}
    accuracy = float(np.mean([v.predicted_label == v.label for v in videos] or [math.nan]))
    nan = np.full(theta.shape, np.nan)
    return PixelIoUResult(
        theta, np.mean(list(per_f.values()), axis=0) if per_f else nan,
        np.mean(list(per_v.values()), axis=0) if per_v else nan, accuracy, per_f, per_v)


# --- halgui eval ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Convention:
    """How ``halgui eval`` compares boxes and prepares detections; named in its output.

    Published numbers depend on these as much as on the model, so each is a named whole.
    """

    name: str
    plus_one: bool  # box IoU with ACT's +1 pixel (area (x2 - x1 + 1)(y2 - y1 + 1)) everywhere
    frame_nms: float | None  # hard NMS per frame and class at this IoU before frame-AP
    description: str


CONVENTIONS: dict[str, Convention] = {c.name: c for c in (
    Convention("halgui", False, None,
               "continuous box IoU (halgui boxes: a box over pixel columns 0..9 has x1 = 0, "
               "x2 = 10), detections as given"),
    Convention("act", True, 0.3,
               "ACT / UCF101-24: +1 pixel box IoU (inclusive pixel boxes), and per frame and "
               "class a hard NMS at IoU 0.3 on the detections before frame-AP, as ACT's "
               "load_frame_detections does"),
)}


def evaluate(gt_json: Mapping[str, Any], pred_json: Mapping[str, Any], *, iou: float = 0.5,
             linking: LinkingConfig | None = None, convention: str = "halgui"
             ) -> dict[str, Any]:
    """``halgui eval GT.json PRED.json``: both metrics in both matchings, as a JSON-safe dict.

    GT: halgui's JSON (:func:`gt_from_json`): a track's boxes are interpolated between its
    keyframes with the ``outside`` rule, as everywhere in halgui. Predictions::

        {"format": "halgui-predictions", "version": 1, "classes": [names],
         "videos": [{"name", "n_frames",
                     "detections": [{"frame", "box": [x1, y1, x2, y2], "class", "score"}],
                     "tubes": [{"class", "score", "boxes": {"frame": [x1, y1, x2, y2]}}]}]}

    ``tubes`` is optional: without it a video's detections are linked into tubes by ACT's online
    linking (``linking``). Frame-mAP@``iou`` over the labeled frames (background frames count):
    ``"act"`` (ACT ``frameAP``: ACT matching, trapezoid AP) and ``"voc"`` (VOC matching, VOC2010
    all-point AP). Video-mAP (ACT ``videoAP``: tube NMS 0.3, ACT matching, trapezoid AP, ACT
    ``iou3dt``) at δ = 0.2, 0.5, 0.75 and the mean over 0.5:0.05:0.95, on the fully labeled
    videos only (a tube's extent is unknown elsewhere). ``convention`` (:data:`CONVENTIONS`)
    sets the box IoU of every number (and of the linking) and the NMS of detections before both
    frame-mAPs; the default, ``"halgui"``, compares halgui's continuous boxes as they are (which
    is what ACT's +1 computes on inclusive pixel boxes). Equal scores are ranked in the order
    the predictions file lists them (detections, then tubes; videos in file order), where ACT's
    ``np.argsort`` leaves that order undefined. Classes without GT get ``None`` and stay out of
    the means.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r}; use one of {sorted(CONVENTIONS)}")
    conv = CONVENTIONS[convention]
    classes, gt = gt_from_json(gt_json)
    pred = predictions_from_json(pred_json, classes, gt)
    dets = pred.detections
    if conv.frame_nms is not None:
        dets = nms_detections(dets, conv.frame_nms, plus_one=conv.plus_one)
    frame = {m: frame_map(gt, dets, iou, m, a, plus_one=conv.plus_one, classes=classes)
             for m, a in (("act", "trapezoid"), ("voc", "voc"))}
    if conv.frame_nms is not None:
        frame = {m: dataclasses.replace(r, convention=f"{r.convention}, per-frame NMS "
                                        f"{conv.frame_nms:g} on detections")
                 for m, r in frame.items()}
    full = {v: g for v, g in gt.items() if g.fully_labeled}
    to_link = {v: full[v].n_frames for v in full if v not in pred.tubes}
    link = dataclasses.replace(linking or LinkingConfig(), plus_one=conv.plus_one)
    det_tubes = link_detections([d for d in pred.detections if d.video in to_link], to_link, link)
    det_tubes.update({v: t for v, t in pred.tubes.items() if v in full})
    vmap = video_map({v: g.tubes for v, g in full.items()}, det_tubes, (0.2, 0.5, 0.75),
                     plus_one=conv.plus_one, classes=classes)
    video = {f"{d:g}": r.to_json() for d, r in vmap.by_threshold.items()}
    video["0.5:0.95"] = vmap.mean_050_095.to_json()
    return {
        "format": "halgui-eval", "version": 1, "classes": list(classes),
        "convention": {"name": conv.name, "description": conv.description},
        "summary": {f"frame_map@{iou:g}_act": _num(frame["act"].mean),
                    f"frame_map@{iou:g}_voc": _num(frame["voc"].mean),
                    **{f"video_map@{k}": v["map"] for k, v in video.items()}},
        "frame_map": {"iou": iou, "act": frame["act"].to_json(), "voc": frame["voc"].to_json()},
        "video_map": video,
        "videos": {
            "evaluated": len(gt),
            "frames_evaluated": sum(len(g.evaluated_frames()) for g in gt.values()),
            "video_map_videos": len(full),
            "not_fully_labeled": sorted(set(gt) - set(full)),
            "missing_from_predictions": sorted(set(gt) - set(pred.videos)),
            "tubes_linked": sorted(to_link),
            "unknown_in_predictions": pred.unknown_videos,
        },
    }
