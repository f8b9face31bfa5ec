"""A toy labeled dataset at model resolution: a bright square moving over dark noise."""

import numpy as np

from halgui.core.al.data import ClipConfig, VideoLabels, video_labels
from halgui.core.al.stew import StewConfig
from halgui.core.annotations import Box, Keyframe, Track

SIZE = 32
CLIP = ClipConfig(clip_len=4, stride=2, size=SIZE)


def toy_video(video_id=0, n_frames=24, seed=0, label_every=4, stew=None) -> VideoLabels:
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 60, (n_frames, SIZE, SIZE, 3), dtype=np.uint8)
    keyframes = []
    for f in range(4, n_frames - 4):
        x = 2 + (f * 3 + seed * 5) % 18
        frames[f, 8:20, x:x + 10] = 230
        keyframes.append(Keyframe(f, Box(x, 8, x + 10, 20)))
    every = tuple(k for k in keyframes if (k.frame - 4) % label_every == 0)
    track = Track(class_id=7 + seed % 2, actor=1, keyframes=every)
    labeled = {f for f in range(0, n_frames, label_every)}
    return video_labels(video_id, frames, (SIZE, SIZE), [track], labeled, {7: 0, 8: 1},
                        stew or StewConfig())
