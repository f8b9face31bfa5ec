"""The diagnosis of a model: class-agnostic AP, top-1 and frame-mAP on ground-truth boxes,
checked against values worked out by hand (VOC all-point AP)."""

import numpy as np
import pytest
import torch

from halgui.core.al.data import ClipConfig
from halgui.core.al.diagnose import SplitDiagnosis, score_split, verdict
from halgui.core.al.model import ActorLocalizer, ModelConfig
from halgui.core.al.predict import FrameClasses, detect_video_and_classes
from halgui.core.metrics_tubes import Detection, Tube, VideoGT
from halgui.core.progress import run_to_end

BOX = (10.0, 10.0, 50.0, 50.0)
CLASSES = ["walk", "run"]


def ground_truth():
    """Frames 0-3 labeled: walk on frames 0 and 1, run on frames 2 and 3, same place."""
    return {"v": VideoGT(4, [Tube("walk", {0: BOX, 1: BOX}), Tube("run", {2: BOX, 3: BOX})],
                         labeled_frames=range(4))}


PROBS = {"v": np.array([[0.9, 0.1], [0.3, 0.7], [0.2, 0.8], [0.6, 0.4]])}


def test_classifying_ground_truth_boxes_by_hand():
    d = score_split("test", ground_truth(), [], PROBS, CLASSES)
    assert (d.videos, d.labeled_frames, d.gt_boxes) == (1, 4, 4)
    assert d.top1_gt == 0.5  # frames 0 and 2 right, 1 and 3 wrong
    # walk: scores 0.9 TP, 0.6 FP (frame 3 is run), 0.3 TP, 0.2 FP -> AP = .5*1 + .5*2/3;
    # run is the mirror image: the same AP
    assert d.gt_box_map == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert d.frame_map == 0.0 and d.agnostic_ap == 0.0  # no detections at all


def test_class_agnostic_ap_and_frame_map_by_hand():
    far = (100.0, 100.0, 120.0, 120.0)
    dets = [Detection("v", 0, "walk", 0.5, *BOX), Detection("v", 0, "run", 0.3, *BOX),
            Detection("v", 2, "run", 0.9, *far)]
    d = score_split("test", ground_truth(), dets, PROBS, CLASSES)
    # agnostic: frame 0's box once at its best score 0.5 (TP), the far box 0.9 (FP), 4 GT:
    # ranked FP, TP -> recall 1/4 at precision 1/2 -> AP 1/8
    assert d.agnostic_ap == pytest.approx(0.125)
    # walk: one TP of 2 GT at precision 1 -> 0.5; run: only false positives -> 0
    assert d.frame_map == pytest.approx(0.25)


def test_a_split_without_boxes_has_no_numbers():
    empty = {"v": VideoGT(4, [], labeled_frames=range(4))}
    d = score_split("test", empty, [], {"v": np.zeros((4, 2))}, CLASSES)
    assert (d.gt_boxes, d.frame_map, d.top1_gt) == (0, None, None)


def test_each_frame_gets_the_class_probabilities_of_its_clip():
    torch.manual_seed(0)
    clip = ClipConfig(clip_len=4, stride=2, size=32)
    model = ActorLocalizer(ModelConfig(n_classes=3, clip_len=4, stride=2, size=32, width=4,
                                       boxes="components"))
    frames = np.random.default_rng(0).integers(0, 255, (20, 32, 32, 3), dtype=np.uint8)
    _, classes = run_to_end(detect_video_and_classes(model, "v", frames, (32, 32),
                                                     ["a", "b", "c"], clip))
    probs = classes.clip
    assert classes.actor is None  # no box head: every box is scored by its clip's classes
    np.testing.assert_array_equal(classes.of_box(3, (0, 0, 8, 8)), probs[3])
    assert probs.shape == (20, 3) and np.all((probs >= 0) & (probs <= 1))
    # windows of 8 raw frames: 0-7, 8-15, 16-19; frames in one window share one row
    assert np.array_equal(probs[0], probs[6]) and np.array_equal(probs[8], probs[14])
    assert not np.array_equal(probs[0], probs[8])


def split(name, frame_map, agnostic, gt_map):
    return SplitDiagnosis(name, 1, 4, 4, frame_map, agnostic, 0.5, gt_map)


def test_verdict_names_the_weaker_half_and_the_memorisation_gap():
    lines = verdict({"test": split("test", 0.1, 0.2, 0.6), "train": split("train", 0.5, .8, .9)})
    assert lines[0].startswith("finding the acting actors is the weaker half on test")
    assert lines[1].startswith("it memorises its training videos") and "gap 0.400" in lines[1]
    lines = verdict({"test": split("test", 0.3, 0.7, 0.4), "train": split("train", 0.35, .8, .5)})
    assert lines[0].startswith("telling the classes apart is the weaker half")
    assert lines[1].startswith("no large memorisation gap")


def test_with_a_box_head_a_ground_truth_box_takes_the_actor_classes_at_its_centre():
    """Two actors doing different things in one clip: the clip says "a" for both, the box
    head says "a" at one and "b" at the other, and that is what scores boxes there."""
    actor = np.zeros((1, 2, 4, 4), np.float32)
    actor[0, :, 1, 0] = (0.9, 0.1)   # map cell (row 1, col 0): original x 0-8, y 8-16
    actor[0, :, 1, 3] = (0.2, 0.8)   # map cell (row 1, col 3): original x 24-32
    frames = FrameClasses(np.array([[0.9, 0.1]]), actor, np.array([0]), (8.0, 8.0))
    assert frames.of_box(0, (0, 8, 8, 16)).tolist() == pytest.approx([0.9, 0.1])
    assert frames.of_box(0, (24, 8, 32, 16)).tolist() == pytest.approx([0.2, 0.8])
    gt = {"v": VideoGT(1, [Tube("a", {0: (0, 8, 8, 16)}), Tube("b", {0: (24, 8, 32, 16)})],
                       frozenset({0}))}
    d = score_split("test", gt, [], {"v": frames}, ["a", "b"])
    assert d.top1_gt == 1.0 and d.gt_box_map == pytest.approx(1.0)
    clip_only = score_split("test", gt, [], {"v": frames.clip}, ["a", "b"])
    assert clip_only.top1_gt == 0.5
