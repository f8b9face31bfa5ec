"""STeW weights and loss against values computed by hand (algorithm.md 3.2, 3.3)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from halgui.core.al.stew import (
    StewConfig,
    frame_weights,
    spatial_weights,
    stew_loss,
    stew_weights,
    temporal_weights,
)

SIGMA = 8 / 3


def g(d):
    return math.exp(-(d**2) / (2 * SIGMA**2)) if abs(d) <= 3 * SIGMA else 0.0


def test_temporal_weights_by_hand():
    t = temporal_weights(20, [5])
    assert t[5] == 1.0
    assert t[6] == pytest.approx(math.exp(-9 / 128))         # d = 1
    assert t[13] == pytest.approx(math.exp(-4.5))            # d = 8 = 3 sigma: still inside
    assert t[14] == 0.0 and t[19] == 0.0                     # beyond 3 sigma
    assert t[4] == t[6] and t[0] == pytest.approx(g(5))
    assert temporal_weights(5, []).tolist() == [0.0] * 5


def test_temporal_weights_take_the_nearest_labeled_frame():
    t = temporal_weights(12, [0, 10])
    assert t[4] == pytest.approx(g(4)) and t[7] == pytest.approx(g(3))
    mask = np.zeros(12, bool)
    mask[[0, 10]] = True
    np.testing.assert_array_equal(temporal_weights(12, mask), t)


@given(st.integers(1, 60), st.lists(st.integers(0, 59), max_size=6))
def test_temporal_weights_equal_the_max_over_labeled_frames(n, frames):
    frames = [f for f in frames if f < n]
    expected = [max((g(f - a) for a in frames), default=0.0) for f in range(n)]
    np.testing.assert_allclose(temporal_weights(n, frames), expected, atol=1e-12)


def test_stew_weights_by_hand():
    masks = np.array([1, 1, 0, 0, 0], dtype=np.uint8).reshape(5, 1, 1)
    labeled = np.array([True, False, False, False, False])
    phi = stew_weights(masks, labeled, window=1)[:, 0, 0]
    expected = [1.0, g(1) * 2 / 3, g(2) * 1 / 3, g(3) * 1.0, g(4) * 1.0]
    np.testing.assert_allclose(phi, expected, rtol=1e-12)


def test_window_is_the_stated_one_not_the_whole_clip():
    """The released code averages the whole clip; the spec's window is [f - W, f + W]."""
    masks = np.zeros((30, 1, 1))
    masks[:3] = 1
    s = spatial_weights(masks, np.zeros(30, bool), window=4)[:, 0, 0]
    assert s[0] == pytest.approx(3 / 5)    # frames 0..4
    assert s[6] == pytest.approx(1 / 9)    # frames 2..10
    assert s[7] == 1.0                     # frames 3..11: all background, stable


@given(arrays(np.uint8, st.tuples(st.integers(1, 25), st.just(3), st.just(2)),
              elements=st.integers(0, 1)), st.data())
def test_stew_weight_properties(masks, data):
    n = masks.shape[0]
    labeled = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    phi = stew_weights(masks, labeled)
    assert phi.shape == masks.shape
    assert (phi >= 0).all() and (phi <= 1).all()
    np.testing.assert_array_equal(phi[labeled], 1.0)
    t = temporal_weights(n, labeled)
    assert (phi[t == 0] == 0).all()


def test_weighting_schemes():
    masks = np.zeros((10, 2, 2))
    masks[2:6] = 1
    labeled = np.zeros(10, bool)
    labeled[[2, 9]] = True
    covered = np.zeros(10, bool)
    covered[2:6] = True
    cfg = StewConfig()
    only_labeled = frame_weights(masks, labeled, covered, StewConfig(weighting="labeled"))
    assert only_labeled[:, 0, 0].tolist() == labeled.astype(float).tolist()
    pseudo = frame_weights(masks, labeled, covered, StewConfig(weighting="pseudo"))
    assert pseudo[:, 0, 0].tolist() == (covered | labeled).astype(float).tolist()
    mgw = frame_weights(masks, labeled, covered, StewConfig(weighting="mgw"))
    np.testing.assert_allclose(mgw[:, 0, 0], temporal_weights(10, labeled))
    np.testing.assert_allclose(frame_weights(masks, labeled, covered, cfg),
                               stew_weights(masks, labeled))


def _loss_inputs(seed=0):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, 3, 4, 4, generator=gen)
    targets = (torch.rand(2, 3, 4, 4, generator=gen) > 0.5).float()
    weights = torch.rand(2, 3, 4, 4, generator=gen)
    weights[0, 0] = 0.0
    cls_logits = torch.randn(2, 5, generator=gen)
    cls_targets = torch.zeros(2, 5)
    cls_targets[0, 1] = 1
    return logits, targets, weights, cls_logits, cls_targets


def test_loss_is_a_weighted_mean_of_pixel_bce():
    logits, targets, weights, cl, ct = _loss_inputs()
    out = stew_loss(logits, targets, weights, cl, ct, StewConfig())
    p = torch.sigmoid(logits)
    per_pixel = -(targets * torch.log(p) + (1 - targets) * torch.log(1 - p))
    expected = (weights * per_pixel).sum() / weights.sum()
    assert out["bce"].item() == pytest.approx(expected.item(), rel=1e-5)
    active = weights > 0
    inter = (p * targets)[active].sum()
    dice = 1 - (2 * inter + 1e-6) / (p[active].sum() + targets[active].sum() + 1e-6)
    assert out["dice"].item() == pytest.approx(dice.item(), rel=1e-5)
    total = out["bce"] + out["dice"] + out["cls"]
    assert out["loss"].item() == pytest.approx(total.item(), rel=1e-6)


def test_pixels_with_zero_weight_do_not_matter():
    logits, targets, weights, cl, ct = _loss_inputs()
    logits.requires_grad_(True)
    out = stew_loss(logits, targets, weights, cl, ct, StewConfig())
    out["loss"].backward()
    assert torch.all(logits.grad[0, 0] == 0)
    assert torch.any(logits.grad[0, 1] != 0)
