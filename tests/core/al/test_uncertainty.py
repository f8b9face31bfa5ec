"""Frame uncertainty (APU) against values computed by hand (algorithm.md 4)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from halgui.core.al.uncertainty import frame_entropy, frame_uncertainty


def test_frame_uncertainty_by_hand():
    # R = 2 passes, T = 2 frames, 1 x 2 pixels
    probs = np.array([
        [[[0.9, 0.1]], [[0.2, 0.3]]],
        [[[0.5, 0.2]], [[0.3, 0.3]]],
    ])
    u = frame_uncertainty(probs, fg_threshold=0.4)
    # frame 0: pixel 0 mean 0.7 is foreground, pixel 1 mean 0.15 is not
    assert u[0] == pytest.approx((-math.log(0.9) - math.log(0.5)) / 2)
    # frame 1: no pixel above 0.4: empty foreground -> 0
    assert u[1] == 0.0


def test_probabilities_are_clamped():
    probs = np.zeros((3, 1, 2, 2))
    probs[:, 0, 0, 0] = 1.0  # certain foreground: -log(1 - 1e-6)
    assert frame_uncertainty(probs)[0] == pytest.approx(-math.log(1 - 1e-6))
    assert np.isfinite(frame_uncertainty(np.ones((2, 1, 3, 3)))).all()


def test_entropy_of_the_mean_map():
    probs = np.full((4, 1, 2, 2), 0.5)
    assert frame_entropy(probs)[0] == pytest.approx(math.log(2))


@given(arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 5), st.just(3),
                                    st.just(3)), elements=st.floats(0, 1)))
def test_uncertainty_properties(probs):
    u = frame_uncertainty(probs)
    assert u.shape == (probs.shape[1],)
    assert (u >= 0).all() and np.isfinite(u).all()
    # an independent loop over frames and pixels
    m = np.clip(probs, 1e-6, 1 - 1e-6)
    for t in range(probs.shape[1]):
        values = [(-np.log(m[:, t, i, j])).mean() for i in range(3) for j in range(3)
                  if m[:, t, i, j].mean() > 0.4]
        assert u[t] == pytest.approx(np.mean(values) if values else 0.0)
