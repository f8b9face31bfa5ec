"""Team benchmark: labelers editing one shared project at once while the worker runs a round.

``halgui bench team --url postgresql://...`` (an empty database) builds the demo project,
copies it into the database (``halgui migrate``), gives each simulated labeler a video of its
own and starts them as separate processes, each editing as fast as it can for ``seconds``
(a box on a new track, a box moved, a frame marked labeled: one transaction each, as the app
makes them), while a ``halgui worker`` process runs the round a member queued. Then it checks
every labeler's video holds exactly the edits that labeler made (none lost, none twice) and
reports the edit latency (p50, p95, max) against DESIGN's goal (p95 <= 50 ms on loopback), the
errors, and how the round ended.

Run: ``halgui bench team --url URL [--labelers 8] [--seconds 60]``.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from halgui.core.synthetic import SynthConfig

#: DESIGN's goal for an edit's round trip on loopback (p95).
EDIT_P95_LIMIT_MS = 50.0


def run(url: str, *, labelers: int = 8, seconds: float = 60.0, worker: bool = True,
        workdir: str | Path | None = None, demo: SynthConfig | None = None) -> dict[str, Any]:
    """Run the benchmark on the empty database at ``url`` (see the module); ``demo``: the
    generated videos the round learns from (default: the demo's)."""
    from halgui.core import round_queue
    from halgui.core.demo import DEMO_CONFIG, make_demo
    from halgui.core.locations import open_project
    from halgui.core.migrate import migrate
    from halgui.core.progress import run_to_end

    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        folder = run_to_end(make_demo(Path(tmp) / "demo", demo or DEMO_CONFIG, round0=None))
        run_to_end(migrate(folder, url))
        with open_project(url) as project:
            walk = project.classes()[0].id
            videos = [project.add_video(f"team-{i}", path=None, width=320, height=240,
                                        n_frames=10_000) for i in range(labelers)]
            if worker:
                round_queue.request_round(project, "bench@team")
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        start = time.time() + 2.0  # every labeler starts together, after its imports
        procs = [context.Process(target=_labeler, args=(url, v, walk, start, seconds, results))
                 for v in videos]
        for p in procs:
            p.start()
        round_seconds, round_state = None, "not run"
        if worker:
            began = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "halgui", "worker", url, "--once",
                                   "--device", "cpu"], capture_output=True, text=True,
                                  timeout=seconds + 600, env=os.environ.copy())
            round_seconds = time.perf_counter() - began
            with open_project(url) as project:
                round_state = round_queue.recent(project, 1)[0].state
            if done.returncode != 0:
                round_state += f" (exit {done.returncode}: {done.stderr.strip()[-200:]})"
        reports = [results.get(timeout=seconds + 120) for _ in procs]
        for p in procs:
            p.join()
        with open_project(url) as project:
            lost = duplicated = 0
            for report in reports:
                stored = _stored(project, report["video"])
                lost += len(report["expected"] - stored)
                duplicated += len(stored - report["expected"])
    latencies = np.array([ms for r in reports for ms in r["latencies_ms"]])
    p95 = float(np.percentile(latencies, 95)) if latencies.size else float("nan")
    return {
        "labelers": labelers, "seconds": seconds,
        "edits": int(latencies.size), "edits_per_s": round(latencies.size / seconds, 1),
        "p50_ms": round(float(np.percentile(latencies, 50)), 2) if latencies.size else None,
        "p95_ms": round(p95, 2), "max_ms": round(float(latencies.max()), 2)
        if latencies.size else None,
        "p95_ratio": round(p95 / EDIT_P95_LIMIT_MS, 3),
        "errors": [e for r in reports for e in r["errors"]],
        "lost": lost, "duplicated": duplicated,
        "round": round_state,
        "round_seconds": None if round_seconds is None else round(round_seconds, 1),
        "machine": f"{os.cpu_count()} CPUs",
    }


def format_table(result: dict[str, Any]) -> str:
    """The benchmark as a few lines for people."""
    return "\n".join([
        f"{result['labelers']} labelers x {result['seconds']:.0f} s, one shared project "
        f"({result['machine']})",
        f"edits          {result['edits']} ({result['edits_per_s']}/s)",
        f"latency        p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms (limit "
        f"{EDIT_P95_LIMIT_MS:.0f} ms: ratio {result['p95_ratio']}), max {result['max_ms']} ms",
        f"lost / twice   {result['lost']} / {result['duplicated']}",
        f"errors         {len(result['errors'])}" + (f": {result['errors'][:3]}"
                                                    if result["errors"] else ""),
        f"round          {result['round']} ({result['round_seconds']} s)",
    ])


def _labeler(url: str, video: int, class_id: int, start: float, seconds: float,
             results: Any) -> None:
    """One labeler: edits its own video until the time is up; reports latencies, errors and
    the keyframes and labeled frames it expects the video to hold."""
    from halgui.core.annotations import Box
    from halgui.core.locations import open_project

    latencies: list[float] = []
    errors: list[str] = []
    expected: set[tuple[object, ...]] = set()
    first, moved = (10.0, 10.0, 60.0, 90.0), (12.0, 11.0, 62.0, 91.0)
    with open_project(url) as project:
        time.sleep(max(0.0, start - time.time()))
        end = time.time() + seconds
        frame, track, n = 0, 0, 0
        while time.time() < end:
            step, n = n % 3, n + 1
            try:
                began = time.perf_counter()
                if step == 0:  # a box on a new actor: two edits, as the app makes it
                    track = project.add_track(video, class_id)
                    latencies.append((time.perf_counter() - began) * 1000)
                    began = time.perf_counter()
                    project.set_keyframe(track, frame, Box(*first))
                    expected.add(("box", track, frame, first))
                elif step == 1:  # the box moved
                    project.set_keyframe(track, frame, Box(*moved))
                    expected.discard(("box", track, frame, first))
                    expected.add(("box", track, frame, moved))
                else:  # the frame is done
                    project.set_labeled(video, [frame])
                    expected.add(("labeled", video, frame))
                    frame += 1
                latencies.append((time.perf_counter() - began) * 1000)
            except Exception as exc:  # every failure is counted, none stops the labeler
                errors.append(f"{type(exc).__name__}: {exc}")
    results.put({"video": video, "latencies_ms": latencies, "errors": errors,
                 "expected": expected})


def _stored(project: Any, video: int) -> set[tuple[object, ...]]:
    boxes = {("box", t.id, k.frame, tuple(map(float, k.box.as_tuple())))
             for t in project.tracks(video) for k in t.keyframes}
    return boxes | {("labeled", video, f) for f in project.labeled_frames(video)}


def main() -> None:  # pragma: no cover - a command for people
    import argparse
    import json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--labelers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.url, labelers=args.labelers, seconds=args.seconds)
    print(json.dumps(result, indent=2) if args.json else format_table(result))


if __name__ == "__main__":  # pragma: no cover
    main()
