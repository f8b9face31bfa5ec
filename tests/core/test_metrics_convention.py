"""``halgui eval --convention act`` (ACT's and UCF101-24's +1 pixel box IoU, per-frame NMS at
0.3 before frame-AP) against the default, and the documented order of equal scores.
Every expected number is worked out by hand in the test's docstring."""

from __future__ import annotations

import pytest

from halgui.core.metrics import CONVENTIONS, Detection, evaluate, nms_detections
from tests.core import metrics_reference as ref


def one_track(boxes: dict[int, list[float]], n_frames: int):
    """Ground truth: one track of class a with these keyframes, every frame labeled."""
    return {"format": "halgui", "version": 1, "classes": [{"name": "a"}],
            "videos": [{"name": "v", "n_frames": n_frames, "width": 100, "height": 100,
                        "labeled_frames": [[0, n_frames - 1]],
                        "tracks": [{"actor": 1, "class": "a", "keyframes": [
                            {"frame": f, "box": b} for f, b in boxes.items()]}]}]}


def preds(dets, tubes=(), n_frames=2):
    """``dets``: (frame, box, score) of class a, in file order."""
    return {"format": "halgui-predictions", "version": 1, "classes": ["a"],
            "videos": [{"name": "v", "n_frames": n_frames, "tubes": list(tubes),
                        "detections": [{"frame": f, "box": b, "class": "a", "score": s}
                                       for f, b, s in dets]}]}


GT_BOX = [0, 0, 10, 10]


def test_plus_one_area_lifts_a_borderline_iou_over_0_5():
    """GT [0,0,10,10], detection [0,0,10,4.6]. Continuous: 46 / 100 = 0.46, a miss.
    +1 pixel: (11 * 5.6) / (11 * 11) = 61.6 / 121 = 0.509, a hit. The predicted one-frame tube
    has the same ST-IoU, so video-mAP@0.5 moves too; @0.2 is a hit and @0.75 a miss in both."""
    det = [0, 0, 10, 4.6]
    gt = one_track({0: GT_BOX}, 1)
    pred = preds([(0, det, 0.9)], [{"class": "a", "score": 0.9, "boxes": {"0": det}}], 1)
    default = evaluate(gt, pred)["summary"]
    act = evaluate(gt, pred, convention="act")["summary"]
    assert (default["frame_map@0.5_act"], act["frame_map@0.5_act"]) == (0.0, 1.0)
    assert (default["frame_map@0.5_voc"], act["frame_map@0.5_voc"]) == (0.0, 1.0)
    assert (default["video_map@0.5"], act["video_map@0.5"]) == (0.0, 1.0)
    assert default["video_map@0.2"] == act["video_map@0.2"] == 1.0
    assert default["video_map@0.75"] == act["video_map@0.75"] == 0.0
    assert ref.iou(GT_BOX, det) == pytest.approx(0.46)
    assert ref.iou(GT_BOX, det, plus_one=True) == pytest.approx(61.6 / 121)


def test_nms_removes_a_duplicate_that_is_otherwise_a_false_positive():
    """Frame 0: A = GT box (0.9) and B = [2,0,12,10] (0.8, IoU with A 0.67 continuous, 0.69 +1);
    frame 1: C = GT box (0.7). Default: A TP, B FP (the GT is taken), C TP: ACT trapezoid
    0.5 * (1 + 1) / 2 + 0 + 0.5 * (1/2 + 2/3) / 2 = 0.791667; VOC 0.5 * 1 + 0.5 * 2/3 = 0.833333.
    ACT convention: NMS at 0.3 drops B, so both are 1."""
    gt = one_track({0: GT_BOX, 1: GT_BOX}, 2)
    pred = preds([(0, GT_BOX, 0.9), (0, [2, 0, 12, 10], 0.8), (1, GT_BOX, 0.7)])
    default = evaluate(gt, pred)
    act = evaluate(gt, pred, convention="act")
    assert default["summary"]["frame_map@0.5_act"] == pytest.approx(0.5 + 0.5 * (7 / 6) / 2)
    assert default["summary"]["frame_map@0.5_voc"] == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert act["summary"]["frame_map@0.5_act"] == act["summary"]["frame_map@0.5_voc"] == 1.0
    assert default["frame_map"]["act"]["n_det"] == {"a": 3}
    assert act["frame_map"]["act"]["n_det"] == {"a": 2}


def test_nms_by_hand_is_per_frame_and_per_class_and_keeps_distant_boxes():
    dets = [Detection("v", 0, "a", 0.8, 2, 0, 12, 10),  # IoU 0.67 with the next: suppressed
            Detection("v", 0, "a", 0.9, 0, 0, 10, 10),
            Detection("v", 0, "b", 0.5, 0, 0, 10, 10),  # another class: kept
            Detection("v", 1, "a", 0.7, 1, 0, 11, 10),  # another frame: kept
            Detection("v", 0, "a", 0.6, 6, 0, 16, 10),  # IoU 4/16 = 0.25 with the best: kept
            Detection("w", 0, "a", 0.4, 0, 0, 10, 10)]  # another video: kept
    assert nms_detections(dets, 0.3) == [dets[i] for i in (1, 2, 3, 4, 5)]
    # +1 pixel: [0,0,10,10] vs [6,0,16,10] is 5 * 11 / (2 * 121 - 55) = 0.294, still kept
    assert nms_detections(dets, 0.3, plus_one=True) == [dets[i] for i in (1, 2, 3, 4, 5)]
    assert nms_detections(dets, 0.2) == [dets[i] for i in (1, 2, 3, 5)]


def test_both_conventions_are_named_and_the_default_is_unchanged():
    gt = one_track({0: GT_BOX, 1: GT_BOX}, 2)
    pred = preds([(0, GT_BOX, 0.9), (1, [2, 0, 12, 10], 0.8)])
    default, named = evaluate(gt, pred), evaluate(gt, pred, convention="halgui")
    assert default == named
    assert default["convention"] == {"name": "halgui",
                                     "description": CONVENTIONS["halgui"].description}
    assert "continuous box IoU" in default["frame_map"]["act"]["convention"]
    assert "NMS" not in default["frame_map"]["act"]["convention"]
    act = evaluate(gt, pred, convention="act")
    assert act["convention"]["name"] == "act"
    assert "+1 pixel" in act["convention"]["description"]
    for result in (act["frame_map"]["act"], act["frame_map"]["voc"]):
        assert "+1 pixel box IoU" in result["convention"]
        assert "per-frame NMS 0.3" in result["convention"]
    for result in act["video_map"].values():
        assert "+1 pixel box IoU" in result["convention"]
    with pytest.raises(ValueError, match="convention"):
        evaluate(gt, pred, convention="voc2007")


@pytest.mark.parametrize(("first_is_hit", "act_ap", "voc_ap"), [
    (True, 1.0, 1.0),     # TP at (R=1, P=1), then the FP adds no recall
    (False, 0.25, 0.5),   # FP: (0, 1) -> (0, 0); TP: -> (1, 1/2): trapezoid 1/4, VOC 1/2
])
def test_equal_scores_are_ranked_in_file_order(first_is_hit, act_ap, voc_ap):
    """Two detections scored 0.5 on the two frames of a video whose GT is on frame 0 only:
    the one listed first in the predictions file is ranked first (a stable sort)."""
    gt = one_track({0: GT_BOX}, 2)
    hit, miss = (0, GT_BOX, 0.5), (1, GT_BOX, 0.5)
    pred = preds([hit, miss] if first_is_hit else [miss, hit])
    out = evaluate(gt, pred)["summary"]
    assert (out["frame_map@0.5_act"], out["frame_map@0.5_voc"]) == (act_ap, voc_ap)


@pytest.mark.parametrize(("good_first", "default_ap", "act_ap"), [
    (True, 1.0, 1.0),    # NMS keeps the good box; without NMS the other is a trailing FP
    (False, 0.25, 0.0),  # NMS keeps the poor box (a FP); without it, FP then TP
])
def test_equal_scores_in_nms_keep_the_first_listed(good_first, default_ap, act_ap):
    """Frame 0, both scored 0.5: the GT box and [0,0,10,4] (IoU with the GT 0.40, or 0.45 with
    +1: a miss either way, and over 0.3, so NMS keeps only one of the two)."""
    gt = one_track({0: GT_BOX}, 1)
    good, poor = (0, GT_BOX, 0.5), (0, [0, 0, 10, 4], 0.5)
    pred = preds([good, poor] if good_first else [poor, good], n_frames=1)
    assert evaluate(gt, pred)["summary"]["frame_map@0.5_act"] == default_ap
    assert evaluate(gt, pred, convention="act")["summary"]["frame_map@0.5_act"] == act_ap
