"""Time exporting a 10,000-frame project with 20 boxes on every frame to coco, cvat, mot and
yolo (not a test: run ``python -m tests.core.formats.speed_export [FOLDER]``).

The project is one annotation-only 1920x1080 video with 20 tracks, each with a keyframe on
every frame (200,000 keyframe boxes), written with ``set_keyframes`` in one transaction. Each
format is timed twice: keyframes only, and with pseudo-labels. No images are written. The
keyframes-only export is then imported into a new project, also timed.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from halgui.core.annotations import Box, Keyframe
from halgui.core.formats import coco, cvat, mot, yolo
from halgui.core.formats.common import ExportOptions
from halgui.core.progress import run_to_end
from halgui.core.project import Project

N_FRAMES, N_TRACKS = 10_000, 20


def build(folder: Path) -> Project:
    p = Project.create(folder)
    classes = [p.add_class(name) for name in ("walk", "wave", "sit")]
    video = p.add_video("long", path=None, width=1920, height=1080, n_frames=N_FRAMES)
    with p.transaction():
        for t in range(N_TRACKS):
            track = p.add_track(video, classes[t % 3], t + 1)
            x = 80.0 * t
            p.set_keyframes(track, (
                Keyframe(f, Box(x + (f % 50) * 0.5, 100.0 + t, x + 60 + (f % 50) * 0.5, 400.0),
                         source="human")
                for f in range(N_FRAMES)))
        p.set_labeled(video, range(0, N_FRAMES, 10))
    return p


def main() -> None:
    base = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    start = time.perf_counter()
    with build(base / "project") as p:
        built = time.perf_counter() - start
        start = time.perf_counter()
        snapshot = p.snapshot()
        read = time.perf_counter() - start
    print(f"built {N_FRAMES} frames x {N_TRACKS} boxes in {built:.1f} s; snapshot {read:.2f} s")
    for module in (coco, cvat, mot, yolo):
        name = module.__name__.rsplit(".", 1)[1]
        for pseudo in (False, True):
            out = base / f"{name}-{pseudo}"
            start = time.perf_counter()
            run_to_end(module.export_labels(snapshot, out, ExportOptions(pseudo_labels=pseudo)))
            seconds = time.perf_counter() - start
            size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
            images = [f for f in out.rglob("*") if f.suffix in (".jpg", ".png")]
            print(f"{name:5} pseudo_labels={pseudo!s:5} {seconds:6.2f} s  "
                  f"{size / 1e6:6.1f} MB  images={len(images)}")
            if not pseudo:
                start = time.perf_counter()
                with Project.create(base / f"import-{name}") as q:
                    summary = run_to_end(module.import_labels(q, out))
                print(f"{name:5} import               {time.perf_counter() - start:6.2f} s  "
                      f"{summary.keyframes} keyframes")
            shutil.rmtree(out)


if __name__ == "__main__":
    main()
