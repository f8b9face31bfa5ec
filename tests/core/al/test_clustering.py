"""The deep-clustering term (algorithm.md 5.2) against values worked out by hand."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from halgui.core.al.clustering import (
    ClusterConfig,
    DeepClusters,
    assign,
    centred,
    reseed_empty,
)

DATA = Path(__file__).parent / "data"
AXES = np.array([[1.0, 0.0], [0.0, 1.0]])  # two unit centres: mu_0 = x axis, mu_1 = y axis


def clusters(mean=(0.0, 0.0), counts=(3.0, 2.0), momentum=0.5):
    return DeepClusters(AXES, np.array(counts), np.array(mean), momentum)


def test_loss_and_gradient_by_hand():
    # running mean (2, 2), batch mean (0, 0): this batch is centred on 0.5 (2, 2) = (1, 1)
    z = torch.tensor([[3.0, 4.0], [-3.0, -4.0]], requires_grad=True)
    loss = clusters(mean=(2.0, 2.0)).loss(z)
    # h1 = (2, 3)/sqrt(13) is nearest mu_1 (cosine 3/sqrt(13) > 2/sqrt(13));
    # h2 = (-4, -5)/sqrt(41) is nearest mu_0 (cosine -4/sqrt(41) > -5/sqrt(41));
    # for unit vectors 1/2 ||h - mu||^2 = 1 - h.mu, and the loss is the batch mean
    r13, r41 = math.sqrt(13), math.sqrt(41)
    assert loss.item() == pytest.approx(((1 - 3 / r13) + (1 + 4 / r41)) / 2, rel=1e-6)
    loss.backward()
    # d/dz (1 - h.mu)/2 = -(mu - (h.mu) h) / (2 |z - m|):
    #   z1: mu_1 - (3/sqrt13)(2, 3)/sqrt13 = (-6, 4)/13, over 2 sqrt13
    #   z2: mu_0 + (4/sqrt41)(-4, -5)/sqrt41 = (25, -20)/41, over 2 sqrt41
    expected = torch.tensor([[6 / 13 / (2 * r13), -4 / 13 / (2 * r13)],
                             [-25 / 41 / (2 * r41), 20 / 41 / (2 * r41)]])
    assert torch.allclose(z.grad, expected, atol=1e-6)


def test_loss_is_zero_on_the_centres_and_the_centres_get_no_gradient():
    dc = clusters()
    z = torch.tensor([[0.0, 5.0], [0.0, -5.0]], requires_grad=True)  # mean 0: h = +-y
    # h1 = mu_1 exactly; h2 = -y is sqrt 2 from mu_0 and 2 from mu_1
    loss = dc.loss(z)
    assert loss.item() == pytest.approx((0 + 1) / 2)  # h2 to mu_0: 1 - 0 = 1
    before = dc.centres.clone()
    loss.backward()
    assert torch.equal(dc.centres, before) and not dc.centres.requires_grad


def test_centre_update_with_counts_by_hand():
    dc = clusters(counts=(3.0, 2.0))
    dc.update(torch.tensor([[3.0, 4.0], [-3.0, -4.0]]))  # centred on 0: h = +-(0.6, 0.8)
    # (0.6, 0.8) goes to mu_1, count 2 -> 3: normalise(2/3 (0, 1) + 1/3 (0.6, 0.8))
    # (-0.6, -0.8) goes to mu_0, count 3 -> 4: normalise(3/4 (1, 0) + 1/4 (-0.6, -0.8))
    mu1 = np.array([0.2, 2 / 3 + 0.8 / 3])
    mu0 = np.array([0.6, -0.2])
    expected = np.stack([mu0 / np.linalg.norm(mu0), mu1 / np.linalg.norm(mu1)])
    assert np.allclose(dc.centres.numpy(), expected, atol=1e-6)
    assert dc.counts.tolist() == [4.0, 3.0]
    assert np.allclose(dc.mean.numpy(), [0.0, 0.0])
    # two embeddings of one batch to one centre: counts 4 -> 5 -> 6, one step after the other,
    # both assigned before the batch moves anything; the mean moves halfway to the batch mean
    dc.update(torch.tensor([[5.0, 1.0], [4.0, 0.0]]))
    m = np.array([2.25, 0.25])  # 0.5 (0, 0) + 0.5 (4.5, 0.5)
    h1, h2 = (np.array(p) - m for p in ([5.0, 1.0], [4.0, 0.0]))
    c = expected[0]
    for n, h in ((5, h1), (6, h2)):
        c = (1 - 1 / n) * c + h / np.linalg.norm(h) / n
        c = c / np.linalg.norm(c)
    assert np.allclose(dc.centres[0].numpy(), c, atol=1e-6)
    assert np.allclose(dc.centres[1].numpy(), expected[1], atol=1e-6)
    assert dc.counts.tolist() == [6.0, 3.0]
    assert np.allclose(dc.mean.numpy(), m)


def test_counts_start_at_the_configured_initial_count():
    # two groups that share one direction (cosine 0.99): around their mean they are opposite
    x = np.array([[1.0, 0.10], [1.0, 0.11], [0.10, 1.0], [0.11, 1.0]])
    dc = DeepClusters.from_embeddings(x, ClusterConfig(k=2, initial_count=7))
    assert dc.counts.tolist() == [7.0, 7.0]
    diagonal = np.array([1.0, -1.0]) / math.sqrt(2)
    got = sorted(dc.centres.numpy().tolist())
    assert np.allclose(got, [-diagonal, diagonal], atol=1e-3)
    n = x / np.linalg.norm(x, axis=1, keepdims=True)
    assert np.allclose(dc.mean.numpy(), n.mean(0), atol=1e-6)
    state = DeepClusters.from_state(dc.state())
    assert torch.equal(state.centres, dc.centres) and torch.equal(state.mean, dc.mean)
    assert state.counts.tolist() == [7.0, 7.0] and state.momentum == dc.momentum


def test_nearest_centre_assignment_by_hand():
    centres = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 3.0]])
    points = np.array([[1.0, 1.0], [3.0, 0.5], [0.5, 2.0], [2.0, 0.0], [-1.0, -1.0]])
    # (2, 0) is 2 from both (0, 0) and (4, 0): the lower index wins
    assert assign(points, centres).tolist() == [0, 1, 2, 0, 0]


def test_pool_is_assigned_around_its_own_mean():
    # every video points almost the same way (cosine > 0.99): nearest centre in the raw space
    # would put all of them with whichever centre lies closest to the shared direction
    pool = np.array([[10.0, 1.0], [10.0, -1.0], [10.0, 1.2], [10.0, -1.1]])
    dc = DeepClusters(np.array([[0.0, 1.0], [0.0, -1.0]]), np.array([100.0, 100.0]))
    assert dc.assign(pool).tolist() == [0, 1, 0, 1]
    assert np.allclose(np.abs(centred(pool)[:, 1]), 1.0, atol=1e-2)


def test_empty_centres_are_reseeded_by_hand():
    points = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    centres = np.array([[1.0, 0.0], [-1.0, 0.0]])
    assert assign(points, centres).tolist() == [0, 0, 0]  # (0, 1) ties: the lower index
    # centre 1 is empty: it moves onto (0, 1), the point furthest from its centre (d^2 = 2);
    # (0.8, 0.6) stays with centre 0 (d^2 0.4 against 0.8)
    assert reseed_empty(points, centres).tolist() == [0, 0, 1]
    # fewer points than centres: each gets its own cluster, the rest stay empty
    assert sorted(reseed_empty(points[:2], np.array([[5.0, 5.0]] * 3)).tolist()) == [0, 1]


def test_demo_round_does_not_collapse_into_one_cluster():
    """Embeddings saved from one round on the demo (4 labeled videos plus round 0's proposals,
    1 epoch): the labeled videos' embeddings before training, the clip embeddings of every
    training batch in order, and the pool's embeddings after training. Nearest-centre
    assignment in the raw space put all 17 pool videos in one cluster."""
    data = np.load(DATA / "demo_round1_embeddings.npz")
    dc = DeepClusters.from_embeddings(data["labeled"], ClusterConfig())
    start = 0
    for size in data["batches"]:
        dc.update(torch.from_numpy(data["clips"][start:start + size]))
        start += size
    assert dc.counts.sum().item() == 5 * 100 + len(data["clips"])
    sizes = np.bincount(dc.assign(data["pool"]), minlength=5)
    assert (sizes > 0).all() and sizes.max() <= 8, sizes
