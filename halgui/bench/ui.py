"""GUI benchmark: what the labeler feels on the canvas, and how fast the window comes up.

Measures, against DESIGN.md section 6, on the 1080p long-GOP H.264 file of
:mod:`halgui.bench.video` opened in a real project:

- next frame from the cache, p95 of ``Canvas.set_frame`` plus the repaint of its viewport and
  the events it posts, for frames already in the frame cache: the GUI's own cost (<= 16 ms);
- next frame while stepping at 30 steps/s (a held arrow key), the frame cache prefetching as
  in the app: the same, plus any decode the prefetcher did not finish in time (<= 16 ms);
- random seek, the same for frames not in the cache, with a pause between clicks (<= 150 ms);
- the same stepping and seeking with the video's proxy (:mod:`halgui.core.proxy`), built in
  the project as the app builds it, with its build time and size per minute of source;
- time to a visible window: a fresh ``python`` process that imports the app, opens the project
  and shows the main window, timed from launch until the window is exposed (< 1.5 s); the
  median of ``window_runs`` runs. The context says whether torch was imported on the way;
- event-loop stall while a round trains: the main window on a fresh demo project starts a
  round (default model, S=112, on ``round_device``) from its Retrain controller, and a 10 ms
  ``QTimer`` probe records the gaps between its ticks for ``round_seconds`` (or until the
  round ends); the row is the longest gap seen while the round was in its training phase
  (<= 50 ms), the context has the longest over the whole run and the phase it fell in, and
  the longest in a few seconds of the same probe before the round starts (the machine's own
  noise: other programs, the window itself).

Qt runs offscreen when there is no display (``QT_QPA_PLATFORM`` is left alone otherwise).
Run: ``halgui bench ui [--json]`` or ``python -m halgui.bench.ui``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from halgui.bench.video import (
    CLICK_PAUSE_S,
    NEXT_FRAME_LIMIT_MS,
    PROXY_BUILD_LIMIT_S_PER_MIN,
    RANDOM_SEEK_LIMIT_MS,
    STEP_PAUSE_S,
    _default_workdir,
    _p95,
    _row,
    format_table,
    make_test_video,
)

__all__ = ["STALL_LIMIT_MS", "WINDOW_LIMIT_S", "format_table", "round_stall", "run"]

WINDOW_LIMIT_S = 1.5
STALL_LIMIT_MS = 50.0
PROBE_MS = 10

_CHILD = """
import sys
from pathlib import Path
from PySide6.QtCore import QSettings
from PySide6.QtTest import QTest
import halgui.cli
from halgui.gui.app import make_app, make_window
app = make_app()
window = make_window(Path(sys.argv[1]), QSettings(sys.argv[2], QSettings.Format.IniFormat),
                     show=True)
QTest.qWaitForWindowExposed(window, 10000)
app.processEvents()
print("shown", int("torch" in sys.modules), window.video is not None, flush=True)
window.close()
"""


def run(workdir: Path | None = None, frames: int = 300, *, gop: int = 120, steps: int = 90,
        seeks: int = 40, window_runs: int = 3, seed: int = 0, round_seconds: float = 45.0,
        round_device: str = "cpu") -> dict[str, Any]:  # fmt: skip
    """Measure; return ``{"rows": [...], "context": {...}}`` like :mod:`halgui.bench.video`.
    ``round_seconds=0`` leaves out the stall while a round trains."""
    _offscreen_without_display()
    workdir = Path(workdir) if workdir is not None else _default_workdir()
    path = make_test_video(workdir, frames, gop)
    load_before = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
    with tempfile.TemporaryDirectory(prefix="halgui-bench-ui-") as tmp:
        folder = _project(Path(tmp) / "project", path)
        canvas_rows, context = _canvas(folder, steps, seeks, seed)
        window_s, torch_loaded = _window(folder, Path(tmp) / "settings.ini", window_runs)
    rows = [
        *canvas_rows,
        _row("time to visible window (subprocess, median)", float(np.median(window_s)), "s",
             WINDOW_LIMIT_S),
    ]
    if round_seconds > 0:
        stall = round_stall(round_seconds, round_device)
        rows += stall["rows"]
        context["round"] = stall["context"]
    context.update({
        "file": str(path), "frames": frames, "gop": gop, "cpus": os.cpu_count(),
        "load_avg_1min_before": load_before,
        "load_avg_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "qt_platform": os.environ.get("QT_QPA_PLATFORM", "(default)"),
        "window_runs_s": [round(s, 3) for s in window_s],
        "torch_imported_at_start": torch_loaded,
    })
    return {"rows": rows, "context": context}


def _offscreen_without_display() -> None:
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def round_stall(seconds: float = 45.0, device: str = "cpu") -> dict[str, Any]:
    """The longest event-loop stall of the main window while a round of the default model
    runs on the demo project (see the module docstring); ``{"rows", "context"}``."""
    from PySide6.QtCore import QEventLoop, QSettings, Qt, QTimer

    from halgui.core.al.settings import RoundSettings
    from halgui.core.demo import make_demo
    from halgui.core.progress import run_to_end
    from halgui.core.project import Project
    from halgui.gui.app import make_app
    from halgui.gui.main_window import MainWindow

    _offscreen_without_display()
    app = make_app()
    gaps: list[tuple[float, str]] = []  # (ms since the previous tick, phase then)
    phase = ["(not started)"]
    device_name = ["?"]
    with tempfile.TemporaryDirectory(prefix="halgui-bench-round-") as tmp:
        folder = run_to_end(make_demo(Path(tmp) / "demo"))
        assert folder is not None
        with Project.open(folder) as project:
            RoundSettings(device=device).save(project)
        window = MainWindow(QSettings(str(Path(tmp) / "settings.ini"),
                                      QSettings.Format.IniFormat))
        window.resize(1280, 800)
        window.show()
        window.open_project(folder)
        app.processEvents()

        def progress(event: Any) -> None:
            phase[0] = event.phase
            device_name[0] = event.extra.get("device_name", device_name[0])

        last = [time.perf_counter()]

        def tick() -> None:
            now = time.perf_counter()
            gaps.append(((now - last[0]) * 1000, phase[0]))
            last[0] = now

        window.rounds.worker.progress.connect(progress)
        probe = QTimer()
        probe.setTimerType(Qt.TimerType.PreciseTimer)
        probe.setInterval(PROBE_MS)
        probe.timeout.connect(tick)
        idle_s = min(10.0, seconds / 4)  # the same probe with no round: the machine's own
        last[0] = time.perf_counter()   # noise (other programs, the window itself)
        probe.start()
        loop = QEventLoop()
        QTimer.singleShot(round(idle_s * 1000), loop.quit)
        loop.exec()
        idle = [g for g, _ in gaps]
        gaps.clear()
        window.rounds.ended.connect(loop.quit)
        QTimer.singleShot(round(seconds * 1000), loop.quit)
        start = time.perf_counter()
        window.rounds.start(window.project)
        loop.exec()
        probe.stop()
        elapsed = time.perf_counter() - start
        finished = not window.rounds.is_running()
        last_phase = phase[0]
        window.close()  # cancels a round still running, and waits for it
        app.processEvents()
    training = [g for g, p in gaps if p == "training"]
    worst, worst_phase = max(gaps) if gaps else (float("nan"), "")
    rows = [_row(f"event-loop stall while a round trains ({device_name[0]}, S=112, max)",
                 max(training) if training else float("nan"), "ms", STALL_LIMIT_MS)]
    values = [g for g, _ in gaps]
    context = {
        "device": device_name[0], "seconds_probed": round(elapsed, 1),
        "round_finished": finished, "phase_at_end": last_phase, "probe_interval_ms": PROBE_MS,
        "ticks": len(gaps), "training_ticks": len(training),
        "idle_seconds": round(idle_s, 1),
        "idle_max_gap_ms": round(max(idle), 1) if idle else None,
        "max_gap_any_phase_ms": round(worst, 1), "max_gap_phase": worst_phase,
        "p99_gap_ms": round(float(np.percentile(values, 99)), 1) if values else None,
        "gaps_over_limit": sum(g > STALL_LIMIT_MS for g in values),
        "load_avg_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }
    return {"rows": rows, "context": context}


def _project(folder: Path, video: Path) -> Path:
    from halgui.core.ingest import add_videos
    from halgui.core.progress import run_to_end
    from halgui.core.project import Project

    with Project.create(folder) as project:
        project.add_class("action")
        run_to_end(add_videos(project, [video]))
    return folder


def _canvas(folder: Path, steps: int, seeks: int, seed: int
            ) -> tuple[list[dict[str, Any]], dict[str, Any]]:  # fmt: skip
    """The canvas on the video itself, then on its proxy (built here, timed, as the app does
    after adding the video)."""
    from PySide6.QtGui import QUndoStack

    from halgui.core.frame_cache import FrameCache
    from halgui.core.progress import run_to_end
    from halgui.core.project import Project
    from halgui.core.proxy import ProxyStore, build_proxies, proxy_size, wanted_proxies
    from halgui.core.video import DEFAULT_CONFIG
    from halgui.gui.app import make_app
    from halgui.gui.canvas import Canvas
    from halgui.gui.full_frame import source_frames
    from halgui.gui.label_events import LabelEvents

    app = make_app()
    with Project.open(folder) as project:
        video = project.videos()[0]
        assert video.path is not None
        events, stack = LabelEvents(), QUndoStack()
        canvas = Canvas(project, stack, events)
        canvas.resize(1280, 720)
        canvas.show()
        app.processEvents()
        with FrameCache(video.path) as cache:
            canvas.set_video(video, cache)
            source = _measure(app, canvas, cache, steps, seeks, np.random.default_rng(seed))
        store = ProxyStore.for_project(project)
        start = time.perf_counter()
        report = run_to_end(build_proxies(store, wanted_proxies(project, store)))
        build_s = time.perf_counter() - start
        if report is None or report.failed or not report.built:
            raise RuntimeError(f"the proxy was not built: {report}")
        # As many proxy frames in the cache as source frames above: the test file is short
        # enough that the whole proxy would fit, and then no click would be a seek.
        width, height = proxy_size(video.width, video.height, store.config)
        budget = DEFAULT_CONFIG.frame_cache_bytes * width * height // (video.width * video.height)
        with FrameCache.for_record(video, budget, proxies=store) as cache:
            canvas.set_video(video, cache, source_frames(video))
            proxy = _measure(app, canvas, cache, steps, seeks, np.random.default_rng(seed))
            proxy_size = f"{cache.info.width}x{cache.info.height}"
        canvas.set_video(None, None)
        canvas.close()
        canvas.deleteLater()
        app.processEvents()
    minutes = video.n_frames / video.fps / 60
    rows = [
        _row("next frame on the canvas, from cache (p95)", _p95(source["cached"]), "ms",
             NEXT_FRAME_LIMIT_MS),
        _row("next frame on the canvas, stepping (p95)", _p95(source["forward"]), "ms",
             NEXT_FRAME_LIMIT_MS),
        _row("random seek on the canvas (p95)", _p95(source["seek"]), "ms",
             RANDOM_SEEK_LIMIT_MS),
        _row("proxy: next frame on the canvas, stepping (p95)", _p95(proxy["forward"]), "ms",
             NEXT_FRAME_LIMIT_MS),
        _row("proxy: random seek on the canvas (p95)", _p95(proxy["seek"]), "ms",
             RANDOM_SEEK_LIMIT_MS),
        _row("proxy: build time per minute of source", build_s / minutes, "s",
             PROXY_BUILD_LIMIT_S_PER_MIN),
        _row("proxy: disk per minute of source", store.total_bytes() / 2**20 / minutes, "MiB"),
    ]
    context = {
        "size": f"{video.width}x{video.height}", "view": "1280x720, fit to window",
        "steps": steps, "seeks": seeks, "cache_hits": source["hits"],
        "cache_misses": source["misses"], "cached_frames_timed": len(source["cached"]),
        "from_cache_median_ms": round(float(np.median(source["cached"])), 2),
        "stepping_median_ms": round(float(np.median(source["forward"])), 2),
        "random_seek_median_ms": round(float(np.median(source["seek"])), 1),
        "proxy_size": proxy_size, "proxy_build_s": round(build_s, 2),
        "proxy_from_cache_p95_ms": round(_p95(proxy["cached"]), 2),
        "proxy_stepping_median_ms": round(float(np.median(proxy["forward"])), 2),
        "proxy_random_seek_median_ms": round(float(np.median(proxy["seek"])), 1),
    }
    return rows, context


def _measure(app: Any, canvas: Any, cache: Any, steps: int, seeks: int,
             rng: np.random.Generator) -> dict[str, Any]:
    """Frames from the cache, stepping at 30 steps/s, then clicks to uncached frames: ms each,
    ``Canvas.set_frame`` plus the repaint and the events it posts."""
    n = len(cache)

    def show(index: int) -> float:
        t = time.perf_counter()
        canvas.set_frame(index)
        canvas.viewport().repaint()
        app.processEvents()
        return (time.perf_counter() - t) * 1000

    first = int(rng.integers(0, max(1, n - steps - 1)))
    frame_bytes = cache.info.width * cache.info.height * 3
    warm = range(first, min(n, first + min(steps, cache.max_bytes // frame_bytes // 2)))
    for index in warm:
        cache.get(index)
    cached = []
    for index in warm:
        app.processEvents()
        cached.append(show(index))
    show(first)
    forward = []
    for index in range(first + 1, min(n, first + steps + 1)):
        time.sleep(STEP_PAUSE_S)
        app.processEvents()
        forward.append(show(index))
    seek_ms = []
    for _ in range(seeks):
        held = set(cache.cached())
        index = int(rng.choice([i for i in range(n) if i not in held]))
        time.sleep(CLICK_PAUSE_S)
        app.processEvents()
        seek_ms.append(show(index))
    return {"cached": cached, "forward": forward, "seek": seek_ms, "hits": cache.hits,
            "misses": cache.misses}


def _window(folder: Path, settings: Path, runs: int) -> tuple[list[float], bool]:
    """Seconds from launching a fresh interpreter to the main window exposed, per run."""
    times, torch_loaded = [], False
    for _ in range(runs):
        start = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-c", _CHILD, str(folder), str(settings)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert child.stdout is not None
        line = child.stdout.readline()
        elapsed = time.perf_counter() - start
        _, err = child.communicate(timeout=60)
        if not line.startswith("shown"):
            raise RuntimeError(f"the window did not show: {err.strip()[-2000:]}")
        times.append(elapsed)
        torch_loaded = torch_loaded or line.split()[1] == "1"
    return times, torch_loaded


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--round-seconds", type=float, default=45.0,
                        help="how long to probe the event loop while a round trains (0: skip)")
    parser.add_argument("--round-device", default="cpu", help="auto, cpu or cuda")
    parser.add_argument("--round-only", action="store_true",
                        help="only the stall while a round trains")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.round_only:
        result = round_stall(args.round_seconds or 45.0, args.round_device)
    else:
        result = run(args.workdir, args.frames, round_seconds=args.round_seconds,
                     round_device=args.round_device)
    print(json.dumps(result, indent=2) if args.json else format_table(result))


if __name__ == "__main__":
    main()
