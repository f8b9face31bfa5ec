"""Stand-in media for UCF101-24 labels: one frame folder per video of a ``pyannot.pkl``.

The annotations of UCF101-24 are public and small; its frames are not shipped with halgui. To
measure and show ``halgui link`` / ``halgui import --media`` on the whole dataset without them,
this writes the dataset's own layout, ``OUT/<Class>/<video>/00001.jpg ... <numf>.jpg``, at the
size the labels say (320x240 unless a sidecar says otherwise). Each video gets one grey JPEG
with its name written on it; its other frames are hard links to that file (copies where the
file system has no hard links), so 3,194 videos take a few MB instead of gigabytes. The frames
are placeholders: they carry the right count and size, not the dataset's pictures.

Run: ``python -m halgui.bench.media_tree pyannot.pkl OUT``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from halgui.core.formats import ucf24

__all__ = ["StandInConfig", "write_tree"]


@dataclass(frozen=True)
class StandInConfig:
    """How the stand-in frames look and are named."""

    grey: int = 96
    """Background level of every frame."""
    digits: int = 5
    """Zero padding of the frame numbers (UCF101-24's ``00001.jpg``)."""
    first: int = 1
    """Number of the first frame."""
    jpeg_quality: int = 80


def write_tree(pickle_path: Path, out: Path, config: StandInConfig | None = None) -> dict[str, int]:
    """Write the stand-in frame folders of every video in ``pickle_path`` under ``out``;
    returns the counts written."""
    config = config or StandInConfig()
    _, videos = ucf24.parse(pickle_path)
    frames = 0
    for video in videos:
        folder = out.joinpath(*video.name.split("/"))
        folder.mkdir(parents=True, exist_ok=True)
        image = np.full((video.height, video.width, 3), config.grey, np.uint8)
        cv2.putText(image, video.name.split("/")[-1], (8, video.height // 2),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
        cv2.putText(image, "stand-in frame", (8, video.height // 2 + 20),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, (200, 200, 200), 1, cv2.LINE_AA)
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, config.jpeg_quality])
        assert ok
        names = [folder / f"{config.first + i:0{config.digits}d}.jpg"
                 for i in range(video.n_frames)]
        names[0].write_bytes(data.tobytes())
        for name in names[1:]:
            try:
                os.link(names[0], name)
            except OSError:
                shutil.copyfile(names[0], name)
        frames += video.n_frames
    return {"videos": len(videos), "frames": frames}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pickle", type=Path, help="UCF101-24 pyannot.pkl")
    parser.add_argument("out", type=Path, help="folder to write (the media root)")
    args = parser.parse_args()
    start = time.perf_counter()
    counts = write_tree(args.pickle, args.out)
    print(f"wrote {counts['videos']} frame folders, {counts['frames']} frames, in "
          f"{time.perf_counter() - start:.1f} s under {args.out}")


if __name__ == "__main__":
    main()
