"""``halgui eval`` reads ground truth as the rest of halgui does: boxes interpolated between
keyframes, the ``outside`` rule applied (docs/formats/halgui.md). Checked by hand and against
the independent reading in :mod:`tests.core.metrics_reference`."""

from __future__ import annotations

import copy
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from halgui.core.metrics import evaluate, gt_from_json
from tests.core import metrics_reference as ref

ALL_ONE = {"frame_map@0.5_act": 1.0, "frame_map@0.5_voc": 1.0, "video_map@0.2": 1.0,
           "video_map@0.5": 1.0, "video_map@0.75": 1.0, "video_map@0.5:0.95": 1.0}


def walk_box(f: int) -> list[float]:
    """A box moving 2 px a frame: linear, so the interpolated box of frame f is exactly this."""
    return [10.0 + 2 * f, 20.0, 50.0 + 2 * f, 80.0]


def document(keyframes, n_frames=11, labeled=((0, 10),), classes=("walk",)):
    """A ground-truth file holding a copy of ``keyframes`` (callers may edit the document)."""
    keyframes = copy.deepcopy(keyframes)
    return {"format": "halgui", "version": 1, "classes": [{"name": c} for c in classes],
            "videos": [{"name": "v", "n_frames": n_frames, "width": 160, "height": 120,
                        "labeled_frames": [list(r) for r in labeled],
                        "tracks": [{"actor": 1, "class": "walk", "keyframes": keyframes}]}]}


def predictions(per_frame: dict[int, list[float]], tubes=None, score=0.9, extra=()):
    """Detections on the given frames (class walk) and, by default, one tube over their runs."""
    runs: list[dict[str, list[float]]] = []
    for f in sorted(per_frame):
        if not runs or str(f - 1) not in runs[-1]:
            runs.append({})
        runs[-1][str(f)] = per_frame[f]
    tubes = [{"class": "walk", "score": score, "boxes": r} for r in runs] if tubes is None \
        else tubes
    dets = [{"frame": f, "box": b, "class": "walk", "score": score} for f, b in per_frame.items()]
    return {"format": "halgui-predictions", "version": 1, "classes": ["walk"],
            "videos": [{"name": "v", "n_frames": 11, "detections": [*extra, *dets],
                        "tubes": tubes}]}


SPARSE = [{"frame": 0, "box": walk_box(0)}, {"frame": 10, "box": walk_box(10)}]
DENSE = [{"frame": f, "box": walk_box(f)} for f in range(11)]


def test_a_track_keyed_at_0_and_10_is_one_tube_with_interpolated_boxes():
    _, videos = gt_from_json(document(SPARSE))
    (tube,) = videos["v"].tubes
    assert (tube.start, tube.end) == (0, 10)
    assert tube.is_contiguous
    assert list(tube.boxes[5]) == [20.0, 20.0, 60.0, 80.0]  # halfway between the keyframes
    assert list(tube.boxes[3]) == pytest.approx([16.0, 20.0, 56.0, 80.0])


def test_sparse_keyframes_with_perfect_predictions_score_1_like_dense_ones():
    """The issue's case: keyed at 0 and 10, frames 0-10 labeled, a perfect box on every frame.
    Before: frame-mAP 0.5705 (ACT) / 0.5909 (VOC) and video-mAP 0.0."""
    pred = predictions({f: walk_box(f) for f in range(11)})
    sparse = evaluate(document(SPARSE), pred)
    assert sparse["summary"] == ALL_ONE
    assert ref.summary(document(SPARSE), pred) == pytest.approx(ALL_ONE)
    dense = evaluate(document(DENSE), pred)
    for key in ("summary", "frame_map", "video_map"):
        assert sparse[key] == dense[key]
    assert sparse["frame_map"]["act"]["n_gt"] == {"walk": 11}


def test_sparse_ground_truth_with_linked_detections_scores_1():
    """Without predicted tubes, detections are linked (tubes of 15 frames or more are kept)."""
    gt = document([{"frame": 0, "box": walk_box(0)}, {"frame": 19, "box": walk_box(19)}],
                  n_frames=20, labeled=((0, 19),))
    pred = predictions({f: walk_box(f) for f in range(20)})
    del pred["videos"][0]["tubes"]
    pred["videos"][0]["n_frames"] = 20
    out = evaluate(gt, pred)
    assert out["summary"] == ALL_ONE
    assert out["videos"]["tubes_linked"] == ["v"]


# A track that goes outside and comes back: visible 0..4 (interpolated), held 5..6, outside from
# 7, back at 10..12 (interpolated); the video has 14 frames, all labeled.
AWAY = [{"frame": 0, "box": [0, 0, 10, 10]}, {"frame": 4, "box": [8, 0, 18, 10]},
        {"frame": 7, "box": [8, 0, 18, 10], "outside": True},
        {"frame": 10, "box": [40, 40, 60, 60]}, {"frame": 12, "box": [44, 40, 64, 60]}]
AWAY_BOXES = {0: [0, 0, 10, 10], 1: [2, 0, 12, 10], 2: [4, 0, 14, 10], 3: [6, 0, 16, 10],
              4: [8, 0, 18, 10], 5: [8, 0, 18, 10], 6: [8, 0, 18, 10],
              10: [40, 40, 60, 60], 11: [42, 40, 62, 60], 12: [44, 40, 64, 60]}


def away_document():
    return document(AWAY, n_frames=14, labeled=((0, 13),))


def test_outside_rule_holds_the_last_box_and_a_return_starts_a_new_tube():
    _, videos = gt_from_json(away_document())
    tubes = sorted(videos["v"].tubes, key=lambda t: t.start)
    assert [(t.start, t.end) for t in tubes] == [(0, 6), (10, 12)]
    got = {f: b for t in tubes for f, b in t.boxes.items()}
    by_reference = ref.expand_track(AWAY, 14)
    assert got.keys() == by_reference.keys() == AWAY_BOXES.keys()
    for f, box in AWAY_BOXES.items():
        assert list(got[f]) == pytest.approx(box) and list(by_reference[f]) == pytest.approx(box)


def test_outside_rule_case_by_hand():
    """Perfect boxes on the 10 covered frames (score 0.9) and one on frame 8, where the actor is
    gone, scored 0.95: a false positive ranked first. VOC AP = the best later precision, 10/11;
    ACT's trapezoid runs from (R=0, P=1) to (0, 0), then through (k/10, k/(k+1)), k = 1..10."""
    pred = predictions({f: list(map(float, b)) for f, b in AWAY_BOXES.items()},
                       extra=[{"frame": 8, "box": [8, 0, 18, 10], "class": "walk", "score": 0.95}])
    pred["videos"][0]["n_frames"] = 14
    p = [Fraction(0)] + [Fraction(k, k + 1) for k in range(1, 11)]
    trapezoid = float(sum(Fraction(1, 10) * (p[k - 1] + p[k]) / 2 for k in range(1, 11)))
    out = evaluate(away_document(), pred)
    assert out["frame_map"]["act"]["n_gt"] == {"walk": 10}
    assert out["summary"]["frame_map@0.5_act"] == pytest.approx(trapezoid, abs=1e-6)
    assert out["summary"]["frame_map@0.5_voc"] == pytest.approx(10 / 11, abs=1e-6)
    assert out["summary"]["video_map@0.5:0.95"] == 1.0  # the two predicted runs are the GT tubes
    assert ref.summary(away_document(), pred)["frame_map@0.5_act"] == pytest.approx(trapezoid)


def test_a_short_predicted_tube_is_scored_against_the_whole_interpolated_span():
    """A tube over frames 0..4 only, against the GT tube 0..6 (5 and 6 held): ST-IoU 5/7."""
    tube = {"class": "walk", "score": 0.9,
            "boxes": {str(f): AWAY_BOXES[f] for f in range(5)}}
    pred = predictions({}, tubes=[tube])
    gt = away_document()
    gt["videos"][0]["tracks"][0]["keyframes"] = AWAY[:3]
    out = evaluate(gt, pred)
    assert out["summary"]["video_map@0.5"] == 1.0  # 5/7 = 0.714 >= 0.5
    assert out["summary"]["video_map@0.75"] == 0.0
    assert out["summary"]["video_map@0.5:0.95"] == pytest.approx(0.5)  # δ = 0.5 .. 0.7 of 10


# --- against the independent reading, on random sparse tracks ------------------------------------

@st.composite
def sparse_case(draw):
    """One or two videos, tracks with 1-4 keyframes (some outside), partial or full labels,
    detections jittered from the expanded GT plus strays, predicted tubes likewise."""
    classes = ["a", "b"]
    rnd = draw(st.randoms(use_true_random=False))
    videos, pred_videos = [], []
    for i in range(draw(st.integers(1, 2))):
        n = draw(st.integers(4, 14))
        tracks = []
        for _ in range(draw(st.integers(0, 3))):
            frames = sorted(draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=4)))
            kfs = []
            for f in frames:
                x, y = draw(st.integers(0, 80)), draw(st.integers(0, 80))
                w, h = draw(st.integers(6, 40)), draw(st.integers(6, 40))
                kf = {"frame": f, "box": [x, y, x + w, y + h]}
                if f != frames[0] and draw(st.booleans()) and draw(st.booleans()):
                    kf["outside"] = True
                kfs.append(kf)
            tracks.append({"actor": len(tracks) + 1, "class": draw(st.sampled_from(classes)),
                           "keyframes": kfs})
        full = draw(st.booleans())
        first = 0 if full else draw(st.integers(0, n - 1))
        last = n - 1 if full else draw(st.integers(first, n - 1))
        videos.append({"name": f"v{i}", "n_frames": n, "width": 160, "height": 160,
                       "labeled_frames": [[first, last]], "tracks": tracks})

        def jitter(box):
            d = [rnd.uniform(-4, 4) for _ in range(4)]
            x1, y1 = box[0] + d[0], box[1] + d[1]
            return [x1, y1, max(x1 + 1, box[2] + d[2]), max(y1 + 1, box[3] + d[3])]

        dets, tubes = [], []
        for t in tracks:
            for f, b in ref.expand_track(t["keyframes"], n).items():
                copies = (rnd.random() < 0.8) + (rnd.random() < 0.3)  # a second: FP or NMS'd
                dets += [{"frame": f, "box": jitter(b), "class": t["class"],
                          "score": round(rnd.random(), 2)} for _ in range(copies)]
            for g in ref.gt_tubes(t, n):
                if rnd.random() < 0.8:
                    tubes.append({"class": t["class"], "score": round(rnd.random(), 2),
                                  "boxes": {str(f): jitter(b) for f, b in g.items()}})
        for _ in range(draw(st.integers(0, 3))):
            x, y = rnd.uniform(0, 100), rnd.uniform(0, 100)
            dets.append({"frame": rnd.randrange(n), "box": [x, y, x + 20, y + 20],
                         "class": rnd.choice(classes), "score": round(rnd.random(), 2)})
        pred_videos.append({"name": f"v{i}", "n_frames": n, "detections": dets, "tubes": tubes})
    gt = {"format": "halgui", "version": 1, "classes": [{"name": c} for c in classes],
          "videos": videos}
    return gt, {"format": "halgui-predictions", "version": 1, "classes": classes,
                "videos": pred_videos}


@pytest.mark.parametrize("convention", ["halgui", "act"])
@settings(max_examples=60, deadline=None)
@given(case=sparse_case())
def test_evaluate_agrees_with_an_independent_reading(case, convention):
    gt, pred = case
    got = evaluate(copy.deepcopy(gt), copy.deepcopy(pred), convention=convention)["summary"]
    want = ref.summary(gt, pred, convention)
    assert got.keys() == want.keys()
    for key, value in want.items():
        if value is None:
            assert got[key] is None, key
        else:
            assert got[key] == pytest.approx(value, abs=2e-6), key
