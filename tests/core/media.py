"""Frame folders for linking tests: real JPEGs in a dataset's own layout."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import cv2
import numpy as np

from halgui.core.formats import ucf24
from halgui.core.progress import run_to_end
from halgui.core.project import Project

EXCERPT = Path(__file__).resolve().parents[1] / "data" / "ucf24_excerpt.pkl"


def excerpt_frames() -> dict[str, int]:
    """Frame count of each video of the committed UCF101-24 excerpt, by name."""
    with open(EXCERPT, "rb") as f:
        data = pickle.load(f, encoding="latin1")  # our own test file
    return {str(k): int(v["numf"]) for k, v in data.items()}


def write_frames(folder: Path, n: int, size: tuple[int, int] = (320, 240), *, first: int = 1,
                 skip: int | None = None, digits: int = 5) -> Path:
    """``n`` JPEG frames ``00001.jpg ...`` of ``size`` (leaving out number ``skip``); one
    encoded image, its bytes written to every file, to keep tests fast."""
    folder.mkdir(parents=True, exist_ok=True)
    w, h = size
    image = np.full((h, w, 3), 90, np.uint8)
    image[h // 4: h // 2, w // 4: w // 2] = 250
    data = cv2.imencode(".jpg", image)[1].tobytes()
    for number in range(first, first + n):
        if number != skip:
            (folder / f"{number:0{digits}d}.jpg").write_bytes(data)
    return folder


def import_excerpt(folder: Path) -> Project:
    """A new project in ``folder / "p"`` holding the excerpt's labels, annotation-only."""
    shutil.copy(EXCERPT, folder / "pyannot.pkl")
    project = Project.create(folder / "p")
    run_to_end(ucf24.import_labels(project, folder / "pyannot.pkl"))
    return project
