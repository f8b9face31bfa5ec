"""Prediction plumbing: windows, nearest sampled frames, boxes from maps, whole videos."""

import numpy as np
import pytest
import torch

from halgui.core.al.data import ClipConfig
from halgui.core.al.model import ActorLocalizer, ModelConfig
from halgui.core.al.predict import (
    PredictConfig,
    boxes_from_map,
    detect_video,
    nearest_sampled,
    predictions_json,
    windows,
)
from halgui.core.metrics import evaluate
from halgui.core.progress import run_to_end

CLIP = ClipConfig(clip_len=4, stride=2, size=32)


def test_windows_cover_every_frame_back_to_back():
    got = [w.tolist() for w in windows(20, CLIP)]
    assert got == [[0, 2, 4, 6], [8, 10, 12, 14], [16, 18, 19, 19]]


def test_nearest_sampled_frame_prefers_the_earlier_on_ties():
    flat = np.concatenate(windows(20, CLIP))
    nearest = nearest_sampled(20, CLIP)
    assert flat[nearest].tolist() == [0, 0, 2, 2, 4, 4, 6, 6, 8, 8, 10, 10, 12, 12, 14, 14,
                                      16, 16, 18, 19]


def test_boxes_from_map_by_hand():
    prob = np.zeros((10, 12))
    prob[1:4, 2:6] = 0.9     # a 3 x 4 blob
    prob[6:9, 8:11] = 0.7    # a 3 x 3 blob
    prob[6, 8] = 0.4         # below threshold: the box shrinks... but stays tight
    prob[0, 11] = 0.8        # one pixel: under min_area
    found = boxes_from_map(prob, threshold=0.5, min_area=4)
    assert sorted(found) == sorted([((2, 1, 6, 4), pytest.approx(0.9)),
                                    ((8, 6, 11, 9), pytest.approx((0.7 * 8 + 0.4) / 9))])


def constant_model(foreground: bool) -> ActorLocalizer:
    """A model whose maps are all actor (or none) and whose class 0 is certain."""
    torch.manual_seed(0)
    m = ActorLocalizer(ModelConfig(n_classes=2, clip_len=4, size=32, width=4, embed_dim=8,
                                   boxes="components"))
    with torch.no_grad():
        m.map_head.weight.zero_()
        m.map_head.bias.fill_(12.0 if foreground else -12.0)
        m.class_head.weight.zero_()
        m.class_head.bias.copy_(torch.tensor([12.0, -12.0]))
    return m.eval()


def test_detect_video_scales_boxes_to_the_original_frame():
    frames = np.zeros((10, 32, 32, 3), np.uint8)
    dets = run_to_end(detect_video(constant_model(True), "v", frames, (160, 120),
                                   ["run", "jump"], CLIP))
    assert sorted({d.frame for d in dets}) == list(range(10))
    assert {d.label for d in dets} == {"run"}  # "jump" scores ~6e-6 < min_score
    for d in dets:
        assert (d.x1, d.y1, d.x2, d.y2) == pytest.approx((0, 0, 160, 120))
        assert d.score == pytest.approx(1.0, abs=1e-4)
    none = run_to_end(detect_video(constant_model(False), "v", frames, (160, 120),
                                   ["run", "jump"], CLIP, PredictConfig()))
    assert none == []


def test_predictions_document_evaluates_against_matching_ground_truth():
    frames = np.zeros((20, 32, 32, 3), np.uint8)  # linking keeps tubes of 15 frames or more
    dets = run_to_end(detect_video(constant_model(True), "v", frames, (64, 48),
                                   ["run", "jump"], CLIP))
    doc = predictions_json(["run", "jump"], [("v", 20, dets)])
    assert len(doc["videos"][0]["tubes"]) == 1
    gt = {"format": "halgui", "version": 1, "classes": [{"name": "run"}, {"name": "jump"}],
          "videos": [{"name": "v", "width": 64, "height": 48, "n_frames": 20,
                      "labeled_frames": [[0, 19]],
                      "tracks": [{"actor": 1, "class": "run", "keyframes": [
                          {"frame": f, "box": [0, 0, 64, 48]} for f in range(20)]}]}]}
    result = evaluate(gt, doc)
    assert result["summary"]["frame_map@0.5_voc"] == pytest.approx(1.0)
    assert result["summary"]["video_map@0.5"] == pytest.approx(1.0)
