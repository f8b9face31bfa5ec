"""Training clips: indices, weights equal to the whole-video STeW weights, augmentation, and
the background builder that feeds training and scoring."""

import contextlib
import threading

import numpy as np
import pytest

from halgui.core.al.data import (
    ClipConfig,
    augment,
    clip_indices,
    epoch_centres,
    make_batch,
    make_clip,
    prefetch,
)
from halgui.core.al.stew import StewConfig, stew_weights
from tests.core.al.toy import CLIP, toy_video


def test_clip_indices_centre_stride_and_clamping():
    clip = ClipConfig(clip_len=8, stride=2)
    assert clip_indices(20, 100, clip).tolist() == [12, 14, 16, 18, 20, 22, 24, 26]
    assert clip_indices(1, 100, clip).tolist() == [0, 0, 0, 0, 1, 3, 5, 7]
    assert clip_indices(98, 100, clip).tolist() == [90, 92, 94, 96, 98, 99, 99, 99]


def test_clip_weights_equal_whole_video_stew_weights():
    video = toy_video(n_frames=40, label_every=6)
    whole = stew_weights(video.masks, video.labeled)
    for centre in (0, 5, 13, 22, 39):
        _, masks, weights, classes = make_clip(video, centre, CLIP, StewConfig(), rng=None)
        idx = clip_indices(centre, 40, CLIP)
        np.testing.assert_allclose(weights, whole[idx], rtol=1e-6)
        np.testing.assert_array_equal(masks, video.masks[idx])
        assert classes.tolist() == [float(video.classes[idx, 0].any()), 0.0]


def test_labeled_negative_frames_weigh_one_with_empty_target():
    video = toy_video(n_frames=24, label_every=4)
    assert video.labeled[0] and not video.masks[0].any()
    _, masks, weights, _ = make_clip(video, 0, CLIP, StewConfig(), rng=None)
    assert (weights[2] == 1).all() and not masks[2].any()  # clip frame 2 is video frame 0


def test_augment_moves_targets_and_weights_with_the_frames():
    rng = np.random.default_rng(3)
    frames = np.full((4, 32, 32, 3), 20, np.uint8)
    masks = np.zeros((4, 32, 32), np.float32)
    for t, x in enumerate((2, 6, 12, 18)):  # a square whose target mask is exact
        frames[t, 8:20, x:x + 10] = 230
        masks[t, 8:20, x:x + 10] = 1
    weights = masks * 0.5 + 0.25
    boxes = [np.array([[x, 8, x + 10, 20, 3]], np.float32) for x in (2, 6, 12, 18)]
    flipped = cropped = 0
    for _ in range(20):
        f, m, w, b = augment(frames, masks, weights, CLIP, rng, boxes)
        assert f.shape == frames.shape and m.shape == masks.shape and w.shape == weights.shape
        bright = f.mean(axis=-1) > 125
        assert (m == bright).mean() > 0.97  # only resampled edge pixels may disagree
        for t in range(4):  # each box is still the bright square's box, class kept
            rows, cols = np.nonzero(bright[t])
            np.testing.assert_allclose(b[t][0, :4], [cols.min(), rows.min(), cols.max() + 1,
                                                     rows.max() + 1], atol=1.5)
            assert b[t][0, 4] == 3
        np.testing.assert_array_equal(w, m * 0.5 + 0.25)
        flipped += bool(m[0, :, 16:].sum() > m[0, :, :16].sum())
        cropped += bool(m.sum() != masks.sum())
    assert flipped and cropped


def test_epoch_centres_labeled_first_then_pseudo():
    videos = [toy_video(0, seed=0), toy_video(1, seed=1)]
    rng = np.random.default_rng(0)
    centres = epoch_centres(videos, CLIP, StewConfig(), rng)
    labeled = {(i, int(f)) for i, v in enumerate(videos) for f in np.flatnonzero(v.labeled)}
    assert labeled <= set(centres)
    assert len(centres) == 2 * len(labeled)
    only = epoch_centres(videos, CLIP, StewConfig(weighting="labeled"), rng)
    assert set(only) == labeled


def _builders(before):
    """Batch-builder threads started since ``before`` that are still running."""
    return [t for t in threading.enumerate()
            if t.name == "halgui-batches" and t not in before and t.is_alive()]


def test_prefetch_yields_in_order():
    videos = [toy_video()]
    made = list(prefetch(lambda i: make_batch(videos, [(0, i)], CLIP, StewConfig(), None), 5))
    assert [b.clips.shape for b in made] == [(1, 4, 32, 32, 3)] * 5
    for i, b in enumerate(made):
        expected = make_batch(videos, [(0, i)], CLIP, StewConfig(), None)
        np.testing.assert_array_equal(b.clips, expected.clips)


@pytest.mark.parametrize("at", [0, 2, 4])
def test_prefetch_hands_a_producer_error_to_the_consumer(at):
    """A decode failure while building ahead must stop the consumer with that error: if it
    ended the stream quietly, training or scoring would go on with less data and no word."""
    before = set(threading.enumerate())
    error = ValueError("bad clip")

    def make(i):
        if i == at:
            raise error
        return i

    got = []
    with pytest.raises(ValueError, match="bad clip") as raised:
        for item in prefetch(make, 5):
            got.append(item)
    assert raised.value is error
    assert got == list(range(at))
    assert _builders(before) == []


def test_prefetch_stops_its_thread_when_the_consumer_stops_early():
    before = set(threading.enumerate())
    made = []

    def make(i):
        made.append(i)
        return i

    stream = prefetch(make, 1000, depth=2)
    assert [next(stream), next(stream)] == [0, 1]
    stream.close()
    assert _builders(before) == []
    assert len(made) < 10  # it stopped building, not just stopped being read

    class Stop(Exception):
        pass

    made.clear()
    with pytest.raises(Stop), contextlib.closing(prefetch(make, 1000)) as stream:
        for item in stream:  # as training and scoring use it: a cancel raises in the loop
            if item == 3:
                raise Stop
    assert _builders(before) == []
    assert len(made) < 10
