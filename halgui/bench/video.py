"""Video-access benchmark: decoding, frame-cache stepping and random seeks at 1080p.

Generates (once, cached in ``workdir``) a 1920x1080 long-GOP H.264 file with B-frames whose
content pans and moves, like camera footage, then measures what a labeler feels:

- sequential decode to RGB, frames/s (front to back, as the clip cache reads);
- next-frame and previous-frame latency, p95 of ``FrameCache.get`` while stepping at 30 steps/s
  (a held arrow key), with the prefetcher running as in the app;
- random seek, p95 of ``FrameCache.get`` for frames not in the cache (a click on the timeline),
  with a pause between clicks;
- peak bytes the frame cache held, against its budget;
- the same stepping and seeking on the video's proxy (:mod:`halgui.core.proxy`), and the proxy's
  build time and size per minute of source (built afresh in a temporary folder each run).

Limits are DESIGN.md section 6: next/previous frame <= 16 ms p95 from cache at 1080p, random seek
<= 150 ms p95; a proxy builds no slower than 2x real time (120 s per minute of source).
Random-seek cost grows with the distance to the previous keyframe, so it depends on the GOP
length (``gop``); the context records it.

Run: ``halgui bench video`` or ``python -m halgui.bench.video [--gop N]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

NEXT_FRAME_LIMIT_MS = 16.0
RANDOM_SEEK_LIMIT_MS = 150.0
STEP_PAUSE_S = 1 / 30
CLICK_PAUSE_S = 0.1
PROXY_BUILD_LIMIT_S_PER_MIN = 120.0  # no slower than 2x real time
WIDTH, HEIGHT, FPS = 1920, 1080, 30
SCENE_VERSION = "v2"  # part of the cached file's name: bump when _scene or the encoding change
NOISE = 6  # per-frame noise amplitude (grey levels, 2x2 grain): about 8 Mbit/s, like a camera


def run(
    workdir: Path | None = None,
    frames: int = 300,
    *,
    gop: int = 120,
    steps: int = 90,
    seeks: int = 40,
    seed: int = 0,
) -> dict[str, Any]:
    """Measure; return ``{"rows": [row, ...], "context": {...}}``, JSON-ready.

    A row is ``{"name", "value", "unit", "limit", "ratio", "ok"}``; ``ratio`` is value/limit
    (lower is better) and ``limit``, ``ratio``, ``ok`` are None for rows without a target.
    """
    from halgui.core.frame_cache import FrameCache
    from halgui.core.video import DEFAULT_CONFIG, open_video

    workdir = Path(workdir) if workdir is not None else _default_workdir()
    path = make_test_video(workdir, frames, gop)
    load_before = _load()

    with open_video(path) as reader:
        n = len(reader)
        start = time.perf_counter()
        for _ in reader.iter_frames():
            pass
        decode_fps = n / (time.perf_counter() - start)

    budget = DEFAULT_CONFIG.frame_cache_bytes
    with FrameCache(path, budget) as cache:
        source = _navigate(cache, n, steps, seeks, np.random.default_rng(seed))
    with tempfile.TemporaryDirectory(prefix="halgui-bench-proxy-") as tmp:
        build = build_proxy(path, Path(tmp))
        # The cache holds as many proxy frames as it held source frames: the test file is
        # short enough that the whole proxy would fit, and then no click would be a seek.
        info = build["reader"].info
        frames_budget = budget * info.width * info.height // (WIDTH * HEIGHT)
        with FrameCache(lambda: build["reader"], frames_budget, proxy=True) as cache:
            proxy = _navigate(cache, n, steps, seeks, np.random.default_rng(seed))
    minutes = n / FPS / 60

    rows = [
        _row("sequential decode 1080p to RGB", decode_fps, "frames/s"),
        _row("next frame (FrameCache, p95)", _p95(source["forward"]), "ms", NEXT_FRAME_LIMIT_MS),
        _row("previous frame (FrameCache, p95)", _p95(source["backward"]), "ms",
             NEXT_FRAME_LIMIT_MS),
        _row("random seek (uncached, p95)", _p95(source["seek"]), "ms", RANDOM_SEEK_LIMIT_MS),
        _row("frame cache peak bytes", source["peak"] / 2**20, "MiB", budget / 2**20),
        _row("proxy: next frame (p95)", _p95(proxy["forward"]), "ms", NEXT_FRAME_LIMIT_MS),
        _row("proxy: previous frame (p95)", _p95(proxy["backward"]), "ms", NEXT_FRAME_LIMIT_MS),
        _row("proxy: random seek (uncached, p95)", _p95(proxy["seek"]), "ms",
             RANDOM_SEEK_LIMIT_MS),
        _row("proxy: build time per minute of source", build["seconds"] / minutes, "s",
             PROXY_BUILD_LIMIT_S_PER_MIN),
        _row("proxy: disk per minute of source", build["bytes"] / 2**20 / minutes, "MiB"),
    ]
    context = {
        "file": str(path),
        "size": f"{WIDTH}x{HEIGHT}",
        "frames": n,
        "gop": gop,
        "bitrate_mbit_s": round(path.stat().st_size * 8 / (n / FPS) / 1e6, 2),
        "cpus": os.cpu_count(),
        # Other work on the machine slows decoding: read the figures with the load beside them.
        "load_avg_1min_before": load_before,
        "load_avg_1min": _load(),
        "steps": steps,
        "step_pause_ms": round(STEP_PAUSE_S * 1000, 1),
        "seeks": seeks,
        "cache_hits": source["hits"],
        "cache_misses": source["misses"],
        "next_frame_median_ms": round(float(np.median(source["forward"])), 3),
        "random_seek_median_ms": round(float(np.median(source["seek"])), 1),
        "proxy_size": build["size"],
        "proxy_build_s": round(build["seconds"], 2),
        "proxy_random_seek_median_ms": round(float(np.median(proxy["seek"])), 1),
        "proxy_cache_hits": proxy["hits"],
        "proxy_cache_misses": proxy["misses"],
    }
    return {"rows": rows, "context": context}


def build_proxy(path: Path, folder: Path) -> dict[str, Any]:
    """Build the proxy of ``path`` in ``folder`` (timed) and open it: ``{"reader", "seconds",
    "bytes", "size"}``."""
    from halgui.core.progress import run_to_end
    from halgui.core.proxy import ProxyStore
    from halgui.core.video_source import VideoSource

    store = ProxyStore(folder)
    source = VideoSource.from_path(path)
    start = time.perf_counter()
    run_to_end(store.build(source))
    seconds = time.perf_counter() - start
    reader = store.open(source)
    assert reader is not None
    return {"reader": reader, "seconds": seconds, "bytes": store.total_bytes(),
            "size": f"{reader.info.width}x{reader.info.height}"}


def _navigate(cache: Any, n: int, steps: int, seeks: int, rng: np.random.Generator
              ) -> dict[str, Any]:  # fmt: skip
    """Step forward, step back, then click around, as a labeler does: latencies in ms."""
    first = int(rng.integers(0, max(1, n - steps - 1)))
    forward = _step_latencies(cache, range(first, min(n, first + steps + 1)))
    last = int(rng.integers(min(n - 1, steps), n))
    backward = _step_latencies(cache, range(last, max(-1, last - steps - 1), -1))
    seek_ms = []
    for _ in range(seeks):
        held = set(cache.cached())
        index = int(rng.choice([i for i in range(n) if i not in held]))
        time.sleep(CLICK_PAUSE_S)
        t = time.perf_counter()
        cache.get(index)
        seek_ms.append((time.perf_counter() - t) * 1000)
    return {"forward": forward, "backward": backward, "seek": seek_ms,
            "peak": cache.peak_bytes, "hits": cache.hits, "misses": cache.misses}


def _load() -> float | None:
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def format_table(rows: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> str:
    """A plain-text table of rows (or of the dict :func:`run` returns, context below it)."""
    context: Mapping[str, Any] = {}
    if isinstance(rows, Mapping):
        context = rows.get("context", {})
        rows = rows["rows"]
    header = ("benchmark", "value", "limit", "ratio", "ok")
    lines = [header]
    for row in rows:
        unit = row["unit"]
        limit = "-" if row["limit"] is None else f"{_num(row['limit'])} {unit}"
        ratio = "-" if row["ratio"] is None else f"{row['ratio']:.2f}"
        ok = "-" if row["ok"] is None else ("yes" if row["ok"] else "NO")
        lines.append((row["name"], f"{_num(row['value'])} {unit}", limit, ratio, ok))
    widths = [max(len(line[c]) for line in lines) for c in range(len(header))]
    out = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
           for line in lines]
    out.insert(1, "  ".join("-" * w for w in widths))
    if context:
        out.append("")
        out.extend(f"{key}: {value}" for key, value in context.items())
    return "\n".join(out)


def make_test_video(workdir: Path, frames: int = 300, gop: int = 120) -> Path:
    """The 1080p long-GOP H.264 test file (made once per frames/gop, then reused)."""
    import av

    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"bench_1080p_{frames}f_gop{gop}_{SCENE_VERSION}.mp4"
    if path.is_file():
        return path
    temp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.mp4")
    try:
        with av.open(str(temp), "w") as out:
            stream = out.add_stream("libx264", rate=FPS)
            stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
            stream.gop_size, stream.max_b_frames = gop, 3
            stream.options = {"preset": "veryfast", "crf": "23", "scenecut": "0"}
            for image in _scene(frames):
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return path


def _scene(frames: int) -> Iterable[np.ndarray]:
    """A textured background panning 4 px a frame, with a few moving blocks ("actors")."""
    import cv2

    rng = np.random.default_rng(1)
    pan = 4
    coarse = rng.integers(0, 256, (HEIGHT // 8, (WIDTH + pan * frames) // 8 + 1, 3), np.uint8)
    background = cv2.resize(coarse, (coarse.shape[1] * 8, HEIGHT), interpolation=cv2.INTER_CUBIC)
    fine = rng.integers(-12, 13, background.shape, np.int16)
    background = np.clip(background.astype(np.int16) + fine, 0, 255).astype(np.uint8)
    actors = rng.uniform([0, 0, -9, -6], [WIDTH - 200, HEIGHT - 300, 9, 6], (5, 4))
    colors = rng.integers(0, 256, (5, 3))
    for i in range(frames):
        image = background[:, i * pan: i * pan + WIDTH].copy()
        # Sensor noise, new in every frame: what keeps real footage from compressing to nothing.
        noise = rng.integers(-NOISE, NOISE + 1, (HEIGHT // 2, WIDTH // 2, 1), np.int16)
        noise = np.repeat(np.repeat(noise, 2, axis=0), 2, axis=1)
        image = np.clip(image.astype(np.int16) + noise, 0, 255).astype(np.uint8)
        for (x, y, dx, dy), color in zip(actors, colors, strict=True):
            x0 = int(x + dx * i) % (WIDTH - 200)
            y0 = int(y + dy * i) % (HEIGHT - 300)
            image[y0:y0 + 300, x0:x0 + 120] = color
        yield image


def _step_latencies(cache: Any, indices: Iterable[int]) -> list[float]:
    """get() latency (ms) for each step after the first, pausing like a held arrow key."""
    it = iter(indices)
    cache.get(next(it))
    times = []
    for index in it:
        time.sleep(STEP_PAUSE_S)
        t = time.perf_counter()
        cache.get(index)
        times.append((time.perf_counter() - t) * 1000)
    return times


def _p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def _row(name: str, value: float, unit: str, limit: float | None = None) -> dict[str, Any]:
    value = float(value)
    if limit is None:
        return {"name": name, "value": value, "unit": unit, "limit": None, "ratio": None,
                "ok": None}
    return {"name": name, "value": value, "unit": unit, "limit": float(limit),
            "ratio": value / limit, "ok": value <= limit}


def _num(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 100 else f"{x:.0f}"


def _default_workdir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("halgui")) / "bench"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--gop", type=int, default=120)
    args = parser.parse_args(argv)
    print(format_table(run(args.workdir, args.frames, gop=args.gop)))


if __name__ == "__main__":
    main()
