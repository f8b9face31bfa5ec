"""Tests of halgui.core.metrics against metrics.md section 7 fixtures, hand cases and properties."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score

from halgui.core.metrics import (
    DELTAS_050_095,
    Detection,
    EvalInputError,
    LinkingConfig,
    PixelVideo,
    Tube,
    VideoGT,
    box_iou,
    box_mask,
    evaluate,
    frame_ap_errors,
    frame_map,
    gt_from_json,
    link_detections,
    link_tubelets,
    nms_tubelets,
    pixel_iou_protocol,
    st_iou,
    trapezoid_ap,
    tube_nms,
    tubes_to_detections,
    video_map,
    voc_ap,
    voc_ap_11point,
)

# metrics.md 7: Padilla's illustrated example (7 images, 15 GT, 24 detections), README order.
PADILLA = ("R95 TP, Y95 FP, J91 TP, A88 FP, U84 FP, C80 FP, M78 FP, F74 FP, D71 FP, B70 TP, "
           "H67 FP, P62 TP, E54 TP, X48 TP, N45 FP, T45 FP, K44 FP, Q44 FP, V43 FP, I38 FP, "
           "L35 FP, S23 FP, G18 TP, O14 FP")
PADILLA_ROWS = [(name[0], int(name[1:]) / 100, flag == "TP")
                for name, flag in (item.split() for item in PADILLA.split(", "))]
SETTINGS = settings(max_examples=60, deadline=None)


def pr(flags, n_gt):
    """Recall and precision after each detection of a ranked list of TP flags."""
    tp = np.cumsum(np.asarray(flags, dtype=float))
    return tp / n_gt, tp / np.arange(1, len(flags) + 1)


# --- AP integration: the section-7 fixture ------------------------------------------------------

def test_padilla_fixture_all_three_ap_conventions():
    recall, precision = pr([tp for *_, tp in PADILLA_ROWS], 15)
    assert voc_ap(recall, precision) == pytest.approx(0.245687, abs=1e-6)
    assert voc_ap_11point(recall, precision) == pytest.approx(0.268398, abs=1e-6)
    assert trapezoid_ap(recall, precision) == pytest.approx(0.213439, abs=1e-6)


def padilla_as_frames(rows=PADILLA_ROWS):
    """The fixture as frame-mAP input: 7 one-frame videos, each TP is exactly one GT box."""
    tubes: dict[str, list[Tube]] = {f"img{i}": [] for i in range(7)}
    dets, n = [], 0
    for i, (_name, score, tp) in enumerate(rows):
        video = f"img{i % 7}"
        if tp:
            box = (10.0 * n, 0.0, 10.0 * n + 5, 5.0)
            n += 1
            tubes[video].append(Tube("a", {0: box}))
            dets.append(Detection(video, 0, "a", score, *box))
        else:
            dets.append(Detection(video, 0, "a", score, 500, 500, 600, 600))
    while n < 15:  # the 8 GT boxes nobody finds
        tubes[f"img{n % 7}"].append(Tube("a", {0: (10.0 * n, 0.0, 10.0 * n + 5, 5.0)}))
        n += 1
    return {v: VideoGT(1, t) for v, t in tubes.items()}, dets


@pytest.mark.parametrize(("matching", "ap", "expected"), [
    ("voc", "voc", 0.245687), ("voc", "11point", 0.268398), ("act", "trapezoid", 0.213439)])
def test_padilla_fixture_end_to_end_through_frame_map(matching, ap, expected):
    gt, dets = padilla_as_frames()
    result = frame_map(gt, dets, 0.5, matching, ap)
    assert result.n_gt == {"a": 15} and result.n_det == {"a": 24}
    assert result.mean == pytest.approx(expected, abs=1e-6)
    assert matching in result.convention and ap in result.convention


def test_equal_scores_keep_input_order():
    """The R/Y tie at 0.95: the README puts the TP first; swapping the rows changes the AP."""
    rows = list(PADILLA_ROWS)
    rows[0], rows[1] = rows[1], rows[0]
    gt, dets = padilla_as_frames(rows)
    assert frame_map(gt, dets, ap="voc", matching="voc").mean < 0.245687 - 1e-3


def test_ap_of_empty_and_degenerate_lists():
    for f in (voc_ap, voc_ap_11point, trapezoid_ap):
        assert f([], []) == 0.0
        assert f([1.0], [1.0]) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        voc_ap([0.1, 0.2], [1.0])


# --- AP integration: independent checks ----------------------------------------------------------

flag_lists = st.lists(st.booleans(), min_size=1, max_size=40)


def brute_voc(flags, n_gt):
    """All-point AP: each found GT counts 1/n_gt times the best precision at its rank or later."""
    _, precision = pr(flags, n_gt)
    return sum(max(precision[k:]) / n_gt for k in range(len(flags)) if flags[k])


def brute_trapezoid(flags, n_gt):
    recall, precision = pr(flags, n_gt)
    points = [(0.0, 1.0), *zip(recall, precision, strict=True)]
    return sum((r1 - r0) * (p1 + p0) / 2 for (r0, p0), (r1, p1) in itertools.pairwise(points))


@SETTINGS
@given(flags=flag_lists, missed=st.integers(0, 5))
def test_ap_functions_match_brute_force_and_lie_in_0_1(flags, missed):
    n_gt = sum(flags) + missed
    if n_gt == 0:
        return
    recall, precision = pr(flags, n_gt)
    assert voc_ap(recall, precision) == pytest.approx(brute_voc(flags, n_gt))
    assert trapezoid_ap(recall, precision) == pytest.approx(brute_trapezoid(flags, n_gt))
    levels = [max([p for r, p in zip(recall, precision, strict=True) if r >= t / 10], default=0)
              for t in range(11)]
    assert voc_ap_11point(recall, precision) == pytest.approx(sum(levels) / 11)
    for f in (voc_ap, voc_ap_11point, trapezoid_ap):
        assert 0.0 <= f(recall, precision) <= 1.0


@SETTINGS
@given(flags=flag_lists)
def test_voc_ap_against_sklearn_where_definitions_coincide(flags):
    """With every GT in the ranked list and distinct scores, sklearn's AP is sum dR * P without
    the envelope: VOC all-point is >= it, and equal when precision never rises at a TP."""
    if not any(flags):
        return
    scores = np.linspace(1, 0.01, len(flags))
    sk = average_precision_score(np.array(flags, dtype=int), scores)
    recall, precision = pr(flags, sum(flags))
    ours = voc_ap(recall, precision)
    if all(max(precision[k:]) == precision[k] for k in range(len(flags)) if flags[k]):
        assert ours == pytest.approx(sk)  # the envelope changes nothing at any TP
    assert ours >= sk - 1e-12


def test_voc_ap_equals_sklearn_on_a_monotone_case():
    flags = [1, 1, 0, 1, 0, 0]
    recall, precision = pr(flags, 3)
    sk = average_precision_score(flags, np.linspace(1, 0.1, 6))
    assert voc_ap(recall, precision) == pytest.approx(sk) == pytest.approx((1 + 1 + 0.75) / 3)


@SETTINGS
@given(flags=flag_lists, missed=st.integers(0, 3), where=st.integers(0, 40))
def test_adding_a_false_positive_never_raises_ap(flags, missed, where):
    n_gt = sum(flags) + missed
    if n_gt == 0:
        return
    for extra in ([*flags, False], [*flags[:where], False, *flags[where:]]):
        for f in (voc_ap, voc_ap_11point, trapezoid_ap):
            assert f(*pr(extra, n_gt)) <= f(*pr(flags, n_gt)) + 1e-12


# --- box IoU -------------------------------------------------------------------------------------

def test_box_iou_conventions_by_hand():
    a, b = (0, 0, 10, 10), (5, 0, 15, 10)
    assert box_iou(a, b) == pytest.approx(50 / 150)
    assert box_iou(a, b, plus_one=True) == pytest.approx(66 / 176)  # 11 x 11 boxes, 6 x 11 overlap
    assert box_iou(a, (20, 20, 30, 30)) == 0.0
    assert box_iou(a, (10, 0, 20, 10), plus_one=True) == pytest.approx(11 / 231)  # shared column
    assert box_iou(a, (10, 0, 20, 10)) == 0.0
    m = box_iou(np.array([a, b]), np.array([a, b, (20, 20, 30, 30)]))
    assert m.shape == (2, 3) and m[0, 0] == 1.0 and m[1, 1] == 1.0
    assert box_iou(a, np.array([a, b])).shape == (2,)
    assert box_iou(np.array([a, b]), a).shape == (2,)
    assert box_iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0


# --- frame-mAP: hand cases -----------------------------------------------------------------------

def test_two_actors_one_detection_overlapping_both_separates_act_from_voc():
    """Det 2 overlaps the already-taken A best and B enough: ACT takes B, VOC counts a FP."""
    gt = {"v": VideoGT(1, [Tube("a", {0: (0, 0, 10, 10)}), Tube("a", {0: (4, 0, 14, 10)})])}
    dets = [("v", 0, "a", 0.9, 0, 0, 10, 10), ("v", 0, "a", 0.8, 1, 0, 11, 10)]
    for plus_one in (True, False):
        assert frame_map(gt, dets, matching="act", ap="voc", plus_one=plus_one).mean == 1.0
        assert frame_map(gt, dets, matching="voc", ap="voc", plus_one=plus_one).mean == 0.5
    assert frame_map(gt, dets).mean == 1.0  # ACT defaults
    assert frame_map(gt, dets, matching="voc", ap="trapezoid").mean == pytest.approx(0.5)


def background_case():
    gt = {"v": VideoGT(10, [Tube("a", {f: (0, 0, 10, 10) for f in range(5)})])}
    dets = [("v", f, "a", 0.5, 0, 0, 10, 10) for f in range(5)]
    dets.append(("v", 7, "a", 0.9, 0, 0, 10, 10))  # a confident box on a background frame
    return gt, dets


def test_detections_on_background_frames_count_in_act_not_in_yowo():
    gt, dets = background_case()
    counted = frame_map(gt, dets, matching="voc", ap="voc")
    assert counted.mean == pytest.approx(5 / 6)  # FP first, then 5 TP: envelope 5/6
    assert frame_map(gt, dets, matching="voc", ap="voc", count_background=False).mean == 1.0
    assert frame_map(gt, dets).mean < 1.0
    assert "YOWO" in frame_map(gt, dets, count_background=False).convention


def test_only_labeled_frames_are_evaluated():
    gt, dets = background_case()
    labeled = VideoGT(10, gt["v"].tubes, labeled_frames=range(7))
    assert frame_map({"v": labeled}, dets).mean == 1.0  # frame 7 is not labeled: ignored
    fewer = VideoGT(10, gt["v"].tubes, labeled_frames=[0, 1, 7])
    r = frame_map({"v": fewer}, dets)  # GT on unlabeled frames 2..4 is not ground truth
    assert r.n_gt == {"a": 2} and r.n_det == {"a": 3}
    assert not fewer.fully_labeled and gt["v"].fully_labeled


def test_classes_without_gt_are_undefined_and_left_out_of_the_mean():
    gt = {"v": VideoGT(2, [Tube("a", {0: (0, 0, 10, 10)}), Tube("b", {1: (0, 0, 10, 10)})])}
    dets = [("v", 0, "a", 0.9, 0, 0, 10, 10), ("v", 0, "c", 0.9, 0, 0, 10, 10),
            ("other video", 0, "a", 0.99, 0, 0, 10, 10)]
    r = frame_map(gt, dets, classes=["a", "b", "c"])
    assert r.ap["a"] == 1.0 and r.ap["b"] == 0.0 and math.isnan(r.ap["c"])
    assert r.mean == 0.5
    out = r.to_json()
    assert out["per_class"]["c"] is None and out["map"] == 0.5
    json.dumps(out, allow_nan=False)


def test_detection_beyond_the_video_is_an_error():
    gt = {"v": VideoGT(3, [])}
    with pytest.raises(EvalInputError, match="frame 3"):
        frame_map(gt, [("v", 3, "a", 0.5, 0, 0, 1, 1)])
    with pytest.raises(ValueError, match="matching"):
        frame_map(gt, [], matching="coco")


boxes_st = st.tuples(st.integers(0, 50), st.integers(0, 50), st.integers(1, 30),
                     st.integers(1, 30)).map(lambda b: (b[0], b[1], b[0] + b[2], b[1] + b[3]))


@st.composite
def frame_ground_truth(draw):
    """Random GT: videos of a few frames, tubes of classes a/b with distinct boxes per frame."""
    gt, n = {}, 0
    for v in range(draw(st.integers(1, 3))):
        n_frames = draw(st.integers(1, 5))
        tubes, seen = [], set()
        for _ in range(draw(st.integers(0, 4))):
            frames = draw(st.sets(st.integers(0, n_frames - 1), min_size=1))
            boxes = {f: draw(boxes_st) for f in frames}
            boxes = {f: b for f, b in boxes.items() if (f, b) not in seen}
            seen |= set(boxes.items())
            if boxes:
                tubes.append(Tube(draw(st.sampled_from("ab")), boxes))
                n += len(boxes)
        gt[f"v{v}"] = VideoGT(n_frames, tubes)
    return gt


def perfect_detections(gt, scores):
    return [Detection(v, f, t.label, next(scores), *box) for v, g in gt.items() for t in g.tubes
            for f, box in zip(t.frames.tolist(), t.coords, strict=True)]


@SETTINGS
@given(gt=frame_ground_truth(), seed=st.integers(0, 2**16))
def test_perfect_detections_give_ap_1_and_a_low_false_positive_never_raises_it(gt, seed):
    rng = np.random.default_rng(seed)
    dets = perfect_detections(gt, iter(rng.uniform(0.1, 1, 1000)))
    extra = Detection("v0", 0, "a", 0.01, 200, 200, 230, 230)
    for matching, ap in (("act", "trapezoid"), ("voc", "voc"), ("voc", "11point")):
        r = frame_map(gt, dets, 0.5, matching, ap)
        assert all(v == pytest.approx(1.0) for c, v in r.ap.items() if r.n_gt[c])
        worse = frame_map(gt, [*dets, extra], 0.5, matching, ap)
        for c, v in worse.ap.items():
            if worse.n_gt[c]:
                assert 0.0 <= v <= r.ap.get(c, 1.0) + 1e-12


@SETTINGS
@given(gt=frame_ground_truth(), seed=st.integers(0, 2**16))
def test_frame_ap_of_jittered_detections_lies_in_0_1(gt, seed):
    rng = np.random.default_rng(seed)
    dets = [d._replace(x1=d.x1 + rng.normal(0, 3), x2=d.x2 + 5 * rng.random())
            for d in perfect_detections(gt, iter(rng.random(1000)))]
    for matching in ("act", "voc"):
        r = frame_map(gt, dets, 0.5, matching)
        assert all(0.0 <= v <= 1.0 for c, v in r.ap.items() if r.n_gt[c])


# --- frame-AP error breakdown --------------------------------------------------------------------

def test_error_breakdown_by_hand_and_sums_to_one():
    gt = {"v": VideoGT(4, [Tube("a", {0: (0, 0, 10, 10), 1: (0, 0, 10, 10)}),
                           Tube("b", {2: (50, 50, 60, 60)})]),
          "w": VideoGT(2, [Tube("b", {0: (0, 0, 10, 10)})])}
    dets = [("v", 0, "a", 0.9, 0, 0, 10, 10),      # TP
            ("v", 0, "a", 0.8, 0, 0, 10, 10),      # duplicate on a GT frame: localization
            ("v", 2, "a", 0.7, 50, 50, 60, 60),    # on b's box: classification
            ("v", 3, "a", 0.6, 0, 0, 10, 10),      # a is in v, not on frame 3: timing
            ("w", 1, "a", 0.5, 0, 0, 10, 10)]      # a is not in w: other
    errors = frame_ap_errors(gt, dets).per_class["a"]
    assert errors["missed"] == 0.5
    assert errors["ap"] == pytest.approx(0.5)  # (1 + 1) / 2 * 0.5, recall never rises again
    assert errors["localization"] == errors["classification"] == errors["timing"] == 0.0
    assert sum(errors.values()) == pytest.approx(1.0)
    dets.insert(0, ("v", 3, "a", 0.95, 0, 0, 10, 10))  # a timing error ranked first
    errors = frame_ap_errors(gt, dets).per_class["a"]
    assert errors["timing"] == pytest.approx(0.5 * (1 + 0.5) / 2)
    assert sum(errors.values()) == pytest.approx(1.0)
    assert errors["ap"] == pytest.approx(frame_map(gt, dets).ap["a"])


@SETTINGS
@given(gt=frame_ground_truth(), seed=st.integers(0, 2**16))
def test_error_breakdown_always_sums_to_one(gt, seed):
    rng = np.random.default_rng(seed)
    dets = []
    for d in perfect_detections(gt, iter(rng.random(1000))):  # wrong class, frame, place
        frame = int(rng.integers(0, gt[d.video].n_frames))
        dets.append(d._replace(label=rng.choice(["a", "b"]), frame=frame,
                               x1=d.x1 + rng.normal(0, 4)))
    for c, errors in frame_ap_errors(gt, dets).per_class.items():
        assert sum(errors.values()) == pytest.approx(1.0), c
        assert errors["ap"] == pytest.approx(frame_map(gt, dets).ap[c])


# --- spatio-temporal IoU -------------------------------------------------------------------------

def tube(first, last, box=(0, 0, 10, 10), label="a", score=1.0):
    return Tube(label, {f: box for f in range(first, last + 1)}, score)


def test_st_iou_by_hand():
    assert st_iou(tube(0, 9), tube(5, 14)) == pytest.approx(5 / 15)
    assert st_iou(tube(0, 9), tube(0, 9, (5, 0, 15, 10)), plus_one=False) == pytest.approx(1 / 3)
    assert st_iou(tube(0, 9), tube(0, 9, (5, 0, 15, 10)), plus_one=True) == pytest.approx(66 / 176)
    assert st_iou(tube(0, 4), tube(5, 9)) == 0.0
    with pytest.raises(ValueError, match="variant"):
        st_iou(tube(0, 4), tube(5, 9), variant="gurkirt")


def test_a_tube_sharing_exactly_one_frame_counts_in_act_not_in_yowo():
    a, b = tube(0, 4), tube(4, 8)
    assert st_iou(a, b) == pytest.approx(1 / 9)
    assert st_iou(a, b, variant="yowo") == 0.0
    assert st_iou(tube(0, 4), tube(3, 8), variant="yowo") == pytest.approx(2 / 9)
    gt = {"v": [a]}
    assert video_map(gt, {"v": [b]}, (0.1,)).by_threshold[0.1].mean == 1.0
    assert video_map(gt, {"v": [b]}, (0.1,), variant="yowo").by_threshold[0.1].mean == 0.0


def test_st_iou_needs_every_shared_frame():
    gappy = Tube("a", {0: (0, 0, 10, 10), 2: (0, 0, 10, 10)})
    with pytest.raises(EvalInputError, match="every frame"):
        st_iou(gappy, tube(0, 5))
    assert st_iou(gappy, tube(5, 9)) == 0.0  # no shared frame: nothing to slice


@st.composite
def tubes_st(draw):
    first = draw(st.integers(0, 20))
    n = draw(st.integers(1, 12))
    return Tube("a", {f: draw(boxes_st) for f in range(first, first + n)})


@SETTINGS
@given(a=tubes_st(), b=tubes_st(), plus_one=st.booleans())
def test_st_iou_properties(a, b, plus_one):
    ab = st_iou(a, b, plus_one=plus_one)
    assert ab == pytest.approx(st_iou(b, a, plus_one=plus_one))
    assert 0.0 <= ab <= 1.0
    assert st_iou(a, a, plus_one=plus_one) == pytest.approx(1.0)
    # gurkirt's reading: mean over the temporal union of per-frame IoU, 0 where one tube is absent
    union = range(min(a.start, b.start), max(a.end, b.end) + 1)
    per_frame = [box_iou(a.boxes[f], b.boxes[f], plus_one=plus_one)
                 if f in a.boxes and f in b.boxes else 0.0 for f in union]
    assert ab == pytest.approx(np.mean(per_frame))
    if a.end < b.start:
        assert ab == 0.0


# --- video-mAP -----------------------------------------------------------------------------------

def test_video_map_perfect_tubes_and_the_050_095_mean():
    gt = {"v": [tube(0, 9), tube(20, 29, (50, 50, 70, 70), "b")], "w": [tube(3, 8)]}
    det = {v: [Tube(t.label, t.boxes, 0.9) for t in ts] for v, ts in gt.items()}
    r = video_map(gt, det)
    assert set(r.by_threshold) == {0.2, 0.5, 0.75}
    assert all(x.mean == 1.0 for x in r.by_threshold.values()) and r.mean_050_095.mean == 1.0
    partial = video_map({"v": [tube(0, 9)]}, {"v": [tube(0, 6, score=0.5)]})  # ST-IoU 0.7
    assert partial.by_threshold[0.5].mean == 1.0 and partial.by_threshold[0.75].mean == 0.0
    assert partial.mean_050_095.mean == pytest.approx(0.5)  # TP at 0.50 .. 0.70: 5 of 10
    assert DELTAS_050_095 == (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def test_video_map_tube_nms_and_matching():
    gt = {"v": [tube(0, 9)], "w": []}
    dets = {"v": [tube(0, 9, score=0.9), tube(0, 8, score=0.8)],
            "w": [tube(0, 9, score=0.1)], "not evaluated": [tube(0, 9, score=1.0)]}
    r = video_map(gt, dets, (0.5,))
    assert r.by_threshold[0.5].mean == 1.0 and r.by_threshold[0.5].n_det == {"a": 2}
    r = video_map(gt, dets, (0.5,), nms=None)
    assert r.by_threshold[0.5].n_det == {"a": 3}
    assert r.by_threshold[0.5].mean == 1.0  # the duplicate ranks after the only TP
    low = video_map(gt, {"v": [tube(0, 9, score=0.1)], "w": [tube(0, 9, score=0.9)]}, (0.5,))
    assert low.by_threshold[0.5].mean == pytest.approx(1.0 * (0 + 0.5) / 2)  # FP, then TP
    assert "trapezoid" in low.by_threshold[0.5].convention


def test_tube_nms_keeps_the_best_and_distant_tubes():
    a, b, c = tube(0, 9, score=0.5), tube(0, 9, score=0.9), tube(0, 9, (50, 50, 60, 60), score=0.7)
    assert tube_nms([a, b, c]) == [b, c]


# --- tube building (ACT online linking) ----------------------------------------------------------

def moving_actors(n_frames=20, missing=()):
    """Two actors moving right 2 px per frame, plus a weak duplicate of actor 1."""
    dets = []
    for f in range(n_frames):
        dets.append(Detection("v", f, "a", 0.6, 100 + 2 * f, 0, 120 + 2 * f, 40))
        if f not in missing:
            dets.append(Detection("v", f, "a", 0.9, 2 * f, 0, 2 * f + 20, 40))
            dets.append(Detection("v", f, "a", 0.05, 2 * f + 1, 0, 2 * f + 21, 40))
    return dets


def test_nms_tubelets_rescoring_by_hand():
    rows = np.array([[0, 0, 10, 10, 0.9], [1, 0, 11, 10, 0.8], [50, 50, 60, 60, 0.5]])
    out = nms_tubelets(rows, plus_one=False)
    iou = 90 / 110
    assert out[:, -1] == pytest.approx([0.9, 0.5, 0.8 * (1 - iou)])
    assert len(nms_tubelets(rows, top_k=2)) == 2
    k2 = np.array([[0, 0, 10, 10, 0, 0, 10, 10, 0.9], [0, 0, 10, 10, 0, 0, 10, 10, 0.8]])
    assert nms_tubelets(k2)[1, -1] < 0  # K = 2: 1 - sum of IoU is negative


def test_linking_two_moving_actors():
    tubes = link_detections(moving_actors(), {"v": 20})["v"]
    # the duplicate (IoU 0.905 with actor 1) is rescored to 0.05 * 0.095 by the tubelet NMS: it
    # forms a tube of its own, dropped for its mean score < 0.005
    assert len(tubes) == 2
    by_start = sorted(tubes, key=lambda t: t.coords[0, 0])
    assert [t.start for t in by_start] == [0, 0] and [t.end for t in by_start] == [19, 19]
    assert by_start[0].coords[5] == pytest.approx([10, 0, 30, 40])
    assert by_start[0].score == pytest.approx(0.9) and by_start[1].score == pytest.approx(0.6)


def test_linking_a_missed_frame_ends_a_tube_when_k_is_1():
    cfg = LinkingConfig(min_length=5)
    tubes = link_detections(moving_actors(missing={10}), {"v": 20}, cfg)["v"]
    spans = sorted((t.start, t.end) for t in tubes if t.score > 0.7)
    assert spans == [(0, 9), (11, 19)]
    assert not [t for t in link_detections(moving_actors(missing={10}), {"v": 20})["v"]
                if t.score > 0.7]  # both halves shorter than 15 frames
    assert link_detections([], {"v": 20}) == {"v": []}
    with pytest.raises(EvalInputError):
        link_detections(moving_actors(), {"v": 10})


def test_linking_takes_the_best_scored_candidate_not_the_best_overlap():
    dets = [Detection("v", 0, "a", 0.9, 0, 0, 20, 40),
            Detection("v", 1, "a", 0.3, 0, 0, 20, 40),   # IoU 1 with frame 0, weak
            Detection("v", 1, "a", 0.8, 3, 0, 23, 40)]   # IoU 0.74 with frame 0, strong
    tubes = link_detections(dets, {"v": 2}, LinkingConfig(min_length=1))["v"]
    first = next(t for t in tubes if t.start == 0)
    assert first.end == 1 and first.coords[1] == pytest.approx([3, 0, 23, 40])
    assert first.score == pytest.approx(0.85)


def test_linking_serves_live_tubes_in_order_of_mean_score():
    """P starts strong then fades below Q; at frame 3 one box fits both, and Q gets it."""
    p, q, c = (0, 0, 20, 40), (8, 0, 28, 40), (4, 0, 24, 40)  # IoU(p, q) 0.43, with c 0.67
    dets = [Detection("v", 0, "a", 0.9, *p), Detection("v", 0, "a", 0.5, *q)]
    dets += [Detection("v", f, "a", s, *box) for f in (1, 2) for s, box in ((0.1, p), (0.5, q))]
    dets.append(Detection("v", 3, "a", 0.7, *c))
    tubes = link_detections(dets, {"v": 4}, LinkingConfig(min_length=1))["v"]
    spans = sorted((t.start, t.end, t.coords[0, 0], round(t.score, 3)) for t in tubes)
    assert spans == [(0, 2, 0, 0.367), (0, 3, 8, 0.55)]


def test_linking_k_frame_tubelets_averages_overlaps():
    """K=2 tubelets starting at every frame; each frame's box is the mean of 2 tubelets."""
    tubelets = {f: np.array([[f, 0, f + 10, 10, f + 1 + 2, 0, f + 1 + 12, 10, 0.8]])
                for f in range(9)}
    (t,) = link_tubelets(tubelets, 10, "a", LinkingConfig(min_length=1))
    assert (t.start, t.end) == (0, 9) and t.score == pytest.approx(0.8)
    assert t.coords[0] == pytest.approx([0, 0, 10, 10])  # only the tubelet starting at 0
    assert t.coords[4] == pytest.approx([(4 + 6) / 2, 0, (14 + 16) / 2, 10])
    assert link_tubelets(tubelets, 10, "a", LinkingConfig(min_length=1, min_score=0.9)) == []


def test_linked_perfect_detections_give_video_map_1():
    gt = {"v": [tube(0, 19, (10, 10, 50, 50)), tube(5, 24, (100, 10, 140, 60), "b")]}
    dets = tubes_to_detections({"v": [Tube(t.label, t.boxes, 0.8) for t in gt["v"]]})
    linked = link_detections(dets, {"v": 30})
    assert video_map(gt, linked).mean_050_095.mean == 1.0


# --- the pixel-IoU protocol ----------------------------------------------------------------------

def test_box_mask_and_pixel_iou_protocol_by_hand():
    gt = box_mask([(0, 0, 10, 10)], 20, 20)
    assert gt.sum() == 100 and box_mask([(0.6, 0, 1.6, 1)], 2, 3).sum() == 1
    half = np.zeros((20, 20))
    half[:10, :5] = 0.9
    videos = [PixelVideo("a", "a", {0: gt, 1: gt, 2: np.zeros((20, 20), bool)},
                         {0: gt.astype(float), 1: half}),
              PixelVideo("b", "a", {0: gt}, {})]
    r = pixel_iou_protocol(videos)
    assert r.accuracy == 0.5 and len(r.thresholds) == 20 and r.thresholds[1] == 0.05
    # class a: frame IoUs 1 and 0.5 (frame 2 has no GT), voxel IoU 150 / 200; class b: 0
    assert r.per_class_f["a"][10] == 1.0 and r.per_class_f["a"][11] == 0.5
    assert r.per_class_v["a"][15] == 1.0 and r.per_class_v["a"][16] == 0.0
    assert r.per_class_f["b"][0] == 1.0 and r.per_class_f["b"][1] == 0.0
    assert r.f_map[10] == 0.5 and r.v_map[0] == 1.0


# --- halgui eval: JSON in, JSON out --------------------------------------------------------------

def gt_json(labeled=((0, 29),)):
    track = {"actor": 1, "class": "walk",
             "keyframes": [{"frame": f, "box": [10 + f, 10, 50 + f, 80]} for f in range(2, 22)]}
    jump = {"actor": 2, "class": "jump",
            "keyframes": [{"frame": f, "box": [100, 10, 140, 60]} for f in range(0, 16)]
            + [{"frame": 16, "box": [100, 10, 140, 60], "outside": True}]}
    return {"format": "halgui", "version": 1,
            "classes": [{"name": "walk", "color": "#f00"}, {"name": "jump", "color": "#0f0"},
                        {"name": "sit", "color": "#00f"}],
            "videos": [{"name": "a.mp4", "n_frames": 30, "width": 320, "height": 240,
                        "split": "test", "labeled_frames": [list(r) for r in labeled],
                        "tracks": [track, jump]},
                       {"name": "b.mp4", "n_frames": 10, "width": 320, "height": 240,
                        "split": "test", "labeled_frames": [[0, 9]], "tracks": []}]}


def perfect_predictions(gt, with_tubes):
    videos = []
    for v in gt["videos"]:
        dets, tubes = [], []
        for track in v["tracks"]:
            boxes = {str(k["frame"]): k["box"] for k in track["keyframes"] if not k.get("outside")}
            tubes.append({"class": track["class"], "score": 0.8, "boxes": boxes})
            dets += [{"frame": int(f), "box": b, "class": track["class"], "score": 0.8}
                     for f, b in boxes.items()]
        videos.append({"name": v["name"], "n_frames": v["n_frames"], "detections": dets,
                       **({"tubes": tubes} if with_tubes else {})})
    return {"format": "halgui-predictions", "version": 1, "classes": ["walk", "jump", "sit"],
            "videos": videos}


@pytest.mark.parametrize("with_tubes", [True, False])
def test_evaluate_perfect_predictions(with_tubes):
    gt = gt_json()
    out = evaluate(gt, perfect_predictions(gt, with_tubes))
    json.dumps(out, allow_nan=False)
    assert out["summary"] == {"frame_map@0.5_act": 1.0, "frame_map@0.5_voc": 1.0,
                              "video_map@0.2": 1.0, "video_map@0.5": 1.0, "video_map@0.75": 1.0,
                              "video_map@0.5:0.95": 1.0}
    assert out["frame_map"]["act"]["per_class"] == {"walk": 1.0, "jump": 1.0, "sit": None}
    assert out["frame_map"]["act"]["n_gt"] == {"walk": 20, "jump": 16, "sit": 0}
    assert "act matching" in out["frame_map"]["act"]["convention"]
    assert "continuous box IoU" in out["frame_map"]["act"]["convention"]  # halgui boxes
    assert "voc matching" in out["frame_map"]["voc"]["convention"]
    assert out["videos"]["tubes_linked"] == ([] if with_tubes else ["a.mp4", "b.mp4"])
    assert out["videos"]["missing_from_predictions"] == []


def test_evaluate_counts_background_false_positives_and_partial_labels():
    gt = gt_json(labeled=((0, 9), (25, 29)))
    pred = perfect_predictions(gt, with_tubes=True)
    pred["videos"][1]["detections"].append(
        {"frame": 3, "box": [0, 0, 9, 9], "class": "walk", "score": 0.99})
    pred["videos"].append({"name": "c.mp4", "n_frames": 5, "detections": []})
    out = evaluate(gt, pred)
    assert evaluate(gt, {**pred, "videos": pred["videos"][:1]})["videos"][
        "missing_from_predictions"] == ["b.mp4"]
    assert out["frame_map"]["act"]["n_gt"] == {"walk": 8, "jump": 10, "sit": 0}
    assert out["frame_map"]["voc"]["per_class"]["walk"] == pytest.approx(8 / 9)
    assert out["videos"]["not_fully_labeled"] == ["a.mp4"]
    assert out["videos"]["unknown_in_predictions"] == ["c.mp4"]
    assert out["video_map"]["0.5"]["n_gt"] == {"walk": 0, "jump": 0, "sit": 0}


def test_gt_json_interpolates_a_missing_keyframe_and_unlabeled_videos_count_nothing():
    gt = gt_json()
    gt["videos"][0]["tracks"][0]["keyframes"].pop(5)  # no keyframe on 7: interpolated there
    del gt["videos"][1]["labeled_frames"]  # the halgui format: absent = no frame labeled
    classes, videos = gt_from_json(gt)
    assert classes == ["walk", "jump", "sit"]
    spans = sorted((t.label, t.start, t.end) for t in videos["a.mp4"].tubes)
    assert spans == [("jump", 0, 15), ("walk", 2, 21)]
    walk = next(t for t in videos["a.mp4"].tubes if t.label == "walk")
    assert list(walk.boxes[7]) == pytest.approx([17, 10, 57, 80])
    assert videos["b.mp4"].evaluated_frames() == frozenset()
    out = evaluate(gt, perfect_predictions(gt_json(), with_tubes=True))
    assert out["videos"]["not_fully_labeled"] == ["b.mp4"]
    assert out["videos"]["frames_evaluated"] == 30


@pytest.mark.parametrize(("edit", "message"), [
    (lambda g, p: p.update(format="other"), "predictions"),
    (lambda g, p: g.update(version=2), "ground truth"),
    (lambda g, p: p["videos"][0]["detections"][0].update({"class": "fly"}), "'fly'"),
    (lambda g, p: p["videos"][0]["detections"][0].update(frame=30), "frame"),
    (lambda g, p: p["videos"][0]["detections"][0].update(box=[5, 5, 1, 1]), "box"),
    (lambda g, p: p["videos"][0]["tubes"][0]["boxes"].pop("5"), "every frame"),
    (lambda g, p: g["videos"][0]["tracks"][0].pop("class"), "'class'"),
    (lambda g, p: g["videos"][0]["tracks"][0]["keyframes"][1].update(frame=2), "twice"),
])
def test_evaluate_rejects_malformed_input_with_a_message(edit, message):
    gt = gt_json()
    pred = perfect_predictions(gt, with_tubes=True)
    edit(gt, pred)
    with pytest.raises(EvalInputError, match=message):
        evaluate(gt, pred)
