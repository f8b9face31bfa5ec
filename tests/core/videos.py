"""Small real video files for tests, written with OpenCV."""

from pathlib import Path

import cv2
import numpy as np


def write_mp4(path: Path, n_frames: int = 12, size: tuple[int, int] = (64, 48),
              seed: int = 0) -> Path:
    """An mp4v file whose frames differ (noise plus a moving square)."""
    rng = np.random.default_rng(seed)
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (w, h))
    assert writer.isOpened(), f"OpenCV could not open {path} for writing"
    for i in range(n_frames):
        frame = rng.integers(0, 40, (h, w, 3), dtype=np.uint8)
        x = (i * 3) % max(w - 10, 1)
        frame[10:20, x:x + 10] = 255
        writer.write(frame)
    writer.release()
    return path
