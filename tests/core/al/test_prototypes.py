"""Class prototypes: a box's classes from the starting point's frozen features of the labeled
boxes, blended with the box head's. Checked against values computed by hand, on a real model
trained on real (toy) labels, and on the path from a model's output to a box's classes."""

import math

import numpy as np
import pytest
import torch

from halgui.core.al import checkpoint
from halgui.core.al.boxes import BoxConfig, decode
from halgui.core.al.model import ActorLocalizer, ModelConfig
from halgui.core.al.predict import PredictConfig, frame_boxes, run_windows
from halgui.core.al.pretrained import build_from
from halgui.core.al.prototypes import PrototypeConfig, PrototypeSet, box_feature, fit
from halgui.core.al.train import TrainConfig, train
from halgui.core.progress import run_to_end
from tests.core.al.toy import CLIP, toy_video


def _set(vectors, present, mean=(0.0, 0.0), std=(1.0, 1.0), **config):
    v = np.asarray(vectors, np.float64)
    return PrototypeSet(np.asarray(mean), np.asarray(std),
                        v / np.linalg.norm(v, axis=1, keepdims=True),
                        np.asarray(present, bool), PrototypeConfig(**config))


def test_prototype_probabilities_are_a_softmax_of_cosines_by_hand():
    protos = _set([[1, 0], [0, 1], [1, 1]], [True, True, False], temperature=5.0)
    p = protos.probs(np.array([2.0, 0.0]))  # cosines 1, 0 (and the absent class's unused)
    e5 = math.exp(5.0)
    assert p == pytest.approx([e5 / (e5 + 1), 1 / (e5 + 1), 0.0])
    # standardising first: mean (1, 1), std (1, 2) turns (1, 3) into (0, 1): the second class
    shifted = _set([[1, 0], [0, 1]], [True, True], mean=(1.0, 1.0), std=(1.0, 2.0))
    assert shifted.probs(np.array([1.0, 3.0])) == pytest.approx([1 / (e5 + 1), e5 / (e5 + 1)])


def test_a_box_blends_the_prototypes_and_the_box_head_by_the_weight():
    protos = _set([[1, 0], [0, 1]], [True, True], weight=0.25, temperature=5.0)
    head = np.array([0.6, 0.2])  # sigmoids: scaled to 0.75 / 0.25 first
    e5 = math.exp(5.0)
    proto = np.array([1 / (e5 + 1), e5 / (e5 + 1)])  # feature (0, 1): the second class
    expected = 0.25 * proto + 0.75 * np.array([0.75, 0.25])
    assert protos.blend(head, np.array([0.0, 3.0])) == pytest.approx(expected, rel=1e-5)


def test_a_box_feature_is_the_mean_inside_the_box_at_the_head_stride():
    features = np.arange(2 * 4 * 4, dtype=np.float32).reshape(2, 4, 4)
    # clip pixels (4, 0)-(12, 8) are map cells x 1..2, y 0..1
    inside = features[:, 0:2, 1:3]
    assert box_feature(features, (4, 0, 12, 8)) == pytest.approx(inside.mean(axis=(1, 2)))
    # a box smaller than a cell still takes the cell it starts in; one past the edge is cut
    assert box_feature(features, (13, 13, 14, 14)) == pytest.approx(features[:, 3, 3])
    assert box_feature(features, (8, 8, 40, 40)) == pytest.approx(
        features[:, 2:, 2:].mean(axis=(1, 2)))


@pytest.fixture
def start(tmp_path):
    """A starting point with a box head (3 other classes), width 4, on the toy's clips."""
    torch.manual_seed(5)
    model = ActorLocalizer(ModelConfig(n_classes=3, clip_len=4, stride=2, size=32, width=4,
                                       head_channels=4, box_channels=8))
    return checkpoint.save(tmp_path / "start.pt", model, ["kick", "clap", "bow"])


def test_a_model_from_a_starting_point_keeps_its_features_frozen_for_prototypes(start):
    model, _ = build_from(start, ModelConfig(n_classes=2, clip_len=4, size=32))
    first = checkpoint.load(start).model
    assert model.prototypes is not None and model.config.class_prototypes == "start"
    for key, value in first.trunk.state_dict().items():
        assert torch.equal(model.prototypes.trunk.state_dict()[key], value), key
    for key, value in first.box_head.state_dict().items():
        if key.startswith(("reduce.", "skip.", "mix.")):
            assert torch.equal(model.prototypes.box_head.state_dict()[key], value), key
    assert not any(p.requires_grad for p in model.prototypes.parameters())
    model.train()
    assert not model.prototypes.training  # BatchNorm keeps the starting point's statistics
    plain, _ = build_from(start, ModelConfig(n_classes=2, clip_len=4, size=32),
                          prototypes=False)
    assert plain.prototypes is None


def test_training_fits_prototypes_of_the_labeled_boxes_and_leaves_their_features(start,
                                                                                tmp_path):
    videos = [toy_video(0), toy_video(1, seed=1)]  # one class each
    # the model's trunk trains here (by default a pretrained one is frozen, test_pretrained)
    config = TrainConfig(epochs=2, clip=CLIP, pretrained=str(start), seed=0, freeze="none")
    result = run_to_end(train(videos, ["slide", "hop"], config, tmp_path / "m.pt"))
    model = checkpoint.load(result.checkpoint).model
    first = checkpoint.load(start).model
    assert model.prototypes is not None and model.prototypes.fitted
    assert model.training and not model.prototypes.training  # frozen as soon as it is built
    moved = [k for k, v in first.trunk.state_dict().items()
             if not torch.equal(model.trunk.state_dict()[k], v)]
    assert moved  # the model's trunk trained ...
    for key, value in first.trunk.state_dict().items():  # ... the prototypes' did not
        assert torch.equal(model.prototypes.trunk.state_dict()[key], value), key
    # the prototypes are the standardised mean box features of each class, recomputed here
    # from the frozen features of every labeled box, one video (class) at a time
    feats: dict[int, list[np.ndarray]] = {0: [], 1: []}
    for video in videos:
        for f in np.flatnonzero(video.labeled):
            for row in video.boxes[f]:
                # labeled frames are even: each is sampled, window f // 8, frame (f % 8) // 2
                idx = np.minimum(8 * (f // 8) + 2 * np.arange(4), video.n_frames - 1)
                window = np.asarray(video.frames[idx])[None]
                with torch.no_grad():
                    maps = model.prototypes.features(model.normalise(torch.from_numpy(window)))
                t = (f % 8) // 2
                feats[int(row[4])].append(box_feature(maps[0, :, t].numpy(), row[:4]))
    every = np.concatenate([np.stack(v) for v in feats.values()])
    mean, std = every.mean(axis=0), every.std(axis=0) + 1e-6
    protos = PrototypeSet.of(model)
    assert protos is not None and protos.present.tolist() == [True, True]
    for c, rows in feats.items():
        v = ((np.stack(rows) - mean) / std).mean(axis=0)
        assert protos.vectors[c] == pytest.approx(v / np.linalg.norm(v), abs=1e-4)
    # a box with a class's mean feature is that class's, by the prototypes
    for c, rows in feats.items():
        assert int(np.argmax(protos.probs(np.stack(rows).mean(axis=0)))) == c


def test_the_boxes_a_model_draws_take_the_blended_classes(start, tmp_path):
    """The path from a model's output to the boxes on the canvas and in predictions."""
    videos = [toy_video(0), toy_video(1, seed=1)]
    config = TrainConfig(epochs=2, clip=CLIP, pretrained=str(start), seed=0)
    model = checkpoint.load(run_to_end(train(videos, ["slide", "hop"], config,
                                             tmp_path / "m.pt")).checkpoint).model
    protos = PrototypeSet.of(model)
    assert protos is not None
    low_peak = PredictConfig(boxes=BoxConfig(min_peak=0.0))
    out = next(run_windows(model, videos[0].frames, CLIP))
    assert out.features is not None and out.prototypes is not None
    found = frame_boxes(out, 1, low_peak)
    assert found
    centre, edges, classes = out.box_maps
    raw = decode(centre[1], edges[:, 1], classes[:, 1], low_peak.boxes)
    for (box, peak, probs), (raw_box, raw_peak, head) in zip(found, raw, strict=True):
        assert box == raw_box and peak == raw_peak
        expected = protos.blend(head, box_feature(out.features[:, 1], box))
        assert probs == pytest.approx(expected)
        assert float(np.sum(probs)) == pytest.approx(1.0, abs=1e-5)
    # without fitted prototypes (a model trained before them), the box head's alone
    model.prototypes.present.zero_()
    plain = next(run_windows(model, videos[0].frames, CLIP))
    assert plain.features is None
    for (_, _, probs), (_, _, head) in zip(frame_boxes(plain, 1, low_peak), raw, strict=True):
        assert probs == pytest.approx(head)


def test_fit_leaves_a_model_without_prototypes_alone():
    model = ActorLocalizer(ModelConfig(n_classes=2, clip_len=4, size=32, width=4))
    assert model.prototypes is None
    assert run_to_end(fit(model, [toy_video(0)], CLIP)) == 0
