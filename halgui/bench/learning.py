"""Learning benchmarks: the training input pipeline, MC-dropout scoring, pool-scale selection.

- ``train``: clips/s through the real pipeline (clip cache -> labels -> STeW weights ->
  augmentation -> batches on a background thread -> model step) against the same model's
  steps on ready-made tensors. Limit: ratio >= 0.85.
- ``score``: R=10 MC-dropout passes over the time of one pass (limit <= 1.6); end-to-end
  scoring frames/s from video files (decode + resize + MC scoring) against the slower of
  decode-only and model-only frames/s (limit >= 0.8).
- ``select``: hybrid selection with cluster assignment for 10,000 videos x 1,000 frames of
  scores (limit < 2 s).

Limits are DESIGN.md section 6. Data is a small SynthActions set generated once into the
benchmark folder. Run ``halgui bench train|score|select [--json]``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from halgui.bench.video import _default_workdir, format_table

__all__ = ["format_table", "run_score", "run_select", "run_train"]


def _row(name: str, value: float, unit: str, limit: float | None = None,
         higher: bool = False) -> dict[str, Any]:
    row: dict[str, Any] = {"name": name, "value": float(value), "unit": unit, "limit": None,
                           "ratio": None, "ok": None}
    if limit is not None:
        row.update(limit=float(limit), ratio=float(value) / limit,
                   ok=bool(value >= limit if higher else value <= limit))
    return row


def _dataset(workdir: Path, n_videos: int = 12):
    """A fully labeled SynthActions project (made once) and its ground truth path."""
    from halgui.core.formats import halgui_json
    from halgui.core.progress import run_to_end
    from halgui.core.project import DB_NAME, Project
    from halgui.core.synthetic import SynthConfig, generate

    data = workdir / f"synth{n_videos}"
    gt = data / "ground_truth.json"
    if not gt.exists():
        run_to_end(generate(data, SynthConfig(n_videos=n_videos, seed=11)))
    folder = workdir / f"project{n_videos}"
    if not (folder / DB_NAME).exists():
        with Project.create(folder) as p:
            run_to_end(halgui_json.import_labels(p, gt))
    return folder, gt


def run_train(workdir: Path | None = None, steps: int = 40, batch_size: int = 8,
              device: str = "auto") -> dict[str, Any]:
    import dataclasses

    import torch

    from halgui.core.al.data import ClipConfig
    from halgui.core.al.dataset import class_names, training_set
    from halgui.core.al.model import pick_device
    from halgui.core.al.train import TrainConfig, build_model, train, train_step
    from halgui.core.progress import run_to_end
    from halgui.core.project import Project

    workdir = Path(workdir) if workdir else _default_workdir()
    folder, _ = _dataset(workdir)
    config = TrainConfig(epochs=1, batch_size=batch_size, device=device,
                         clip=ClipConfig(max_clips_per_epoch=steps * batch_size))
    with Project.open(folder) as project:
        snapshot = project.snapshot()
        videos = run_to_end(training_set(project, snapshot, config.clip, config.stew))
    names = class_names(snapshot)
    dev = pick_device(device)

    # model only: the same steps on one ready-made batch already on the device
    from halgui.core.al.data import epoch_centres, make_batch

    rng = np.random.default_rng(0)
    batch = make_batch(videos, epoch_centres(videos, config.clip, config.stew, rng)[:batch_size],
                       config.clip, config.stew, rng)
    model = build_model(len(names), config).to(dev)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr)
    autocast = dev.type == "cuda" and config.amp
    for _ in range(3):
        train_step(model, optimiser, batch, dev, config.stew, autocast, None)
    _sync(dev)
    start = time.perf_counter()
    for _ in range(steps):
        train_step(model, optimiser, batch, dev, config.stew, autocast, None)
    _sync(dev)
    model_rate = steps * batch_size / (time.perf_counter() - start)

    # the real pipeline: train() as a round runs it, timed from its third step to its last
    stamps = []
    work = train(videos, names, dataclasses.replace(config), workdir / "bench-train.pt")
    for event in work:
        if event.phase == "training" and event.done:
            stamps.append(time.perf_counter())
    real_rate = (len(stamps) - 3) * batch_size / (stamps[-1] - stamps[2])
    return {"rows": [
        _row("training clips/s, real pipeline", real_rate, "clips/s"),
        _row("training clips/s, model on ready tensors", model_rate, "clips/s"),
        _row("pipeline / model", real_rate / model_rate, "x", 0.85, higher=True),
    ], "context": {"device": str(dev), "batch": batch_size, "clip": "8x112x112",
                   "threads": torch.get_num_threads()}}


def run_score(workdir: Path | None = None, passes: int = 10, device: str = "auto"
              ) -> dict[str, Any]:
    import shutil

    import torch

    from halgui.core.al.data import ClipConfig
    from halgui.core.al.dataset import load_frames
    from halgui.core.al.model import ActorLocalizer, ModelConfig, mc_forward, pick_device
    from halgui.core.al.predict import windows
    from halgui.core.al.uncertainty import UncertaintyConfig, score_pool, score_video
    from halgui.core.clip_cache import ClipCache
    from halgui.core.progress import run_to_end
    from halgui.core.project import Project

    workdir = Path(workdir) if workdir else _default_workdir()
    folder, _ = _dataset(workdir)
    dev = pick_device(device)
    clip = ClipConfig()
    with Project.open(folder) as project:
        videos = project.videos()
    model = ActorLocalizer(ModelConfig(n_classes=6)).to(dev).eval()
    config = UncertaintyConfig(passes=passes)
    frames_total = sum(v.n_frames for v in videos)

    # one pass vs R passes on the same batch of clips
    cache = ClipCache(workdir / "score-cache")
    first = load_frames(cache, videos[0], clip.size)
    x = torch.from_numpy(np.stack([np.asarray(first[w]) for w in windows(len(first), clip)]))
    x = model.normalise(x.to(dev))
    with torch.no_grad():
        single = _best_time(lambda: model.heads(*model.features(x)), dev)
        mc = _best_time(lambda: mc_forward(model, x, passes), dev)

    # decode only: build every clip cache from the files
    fresh = workdir / "score-fresh"
    shutil.rmtree(fresh, ignore_errors=True)
    start = time.perf_counter()
    cached = {v.id: load_frames(ClipCache(fresh), v, clip.size) for v in videos}
    decode_rate = frames_total / (time.perf_counter() - start)
    # model only: MC scoring of frames already in memory
    start = time.perf_counter()
    with torch.no_grad():
        for v in videos:
            score_video(model, np.asarray(cached[v.id]), clip, config)
    _sync(dev)
    model_rate = frames_total / (time.perf_counter() - start)
    # end to end: from files with no cache, decoding overlapped with scoring
    shutil.rmtree(fresh, ignore_errors=True)
    by_id = {v.id: v for v in videos}
    start = time.perf_counter()
    run_to_end(score_pool(model, list(by_id),
                          lambda vid: load_frames(ClipCache(fresh), by_id[vid], clip.size),
                          clip, config))
    _sync(dev)
    e2e_rate = frames_total / (time.perf_counter() - start)
    slower = min(decode_rate, model_rate)
    return {"rows": [
        _row(f"MC dropout R={passes} / one pass", mc / single, "x", 1.6),
        _row("decode-only frames/s", decode_rate, "frames/s"),
        _row(f"model-only frames/s (R={passes})", model_rate, "frames/s"),
        _row("end-to-end scoring frames/s", e2e_rate, "frames/s"),
        _row("end-to-end / slower of the two", e2e_rate / slower, "x", 0.8, higher=True),
    ], "context": {"device": str(dev), "videos": len(videos), "frames": frames_total,
                   "video": f"{videos[0].width}x{videos[0].height}",
                   "threads": torch.get_num_threads()}}


def run_select(n_videos: int = 10_000, n_frames: int = 1_000, seed: int = 0) -> dict[str, Any]:
    from halgui.core.al.clustering import assign, normalise
    from halgui.core.al.strategies import STRATEGIES, PoolVideo, SelectionConfig, select

    rng = np.random.default_rng(seed)
    uncertainty = rng.random((n_videos, n_frames))
    labeled = np.zeros((n_videos, n_frames), dtype=bool)
    done = rng.choice(n_videos, n_videos // 10, replace=False)
    for v in done:  # 10% of the videos partly labeled, a few frames each
        labeled[v, rng.choice(n_frames, 20, replace=False)] = True
    embeddings = normalise(rng.normal(size=(n_videos, 128)))
    centres = normalise(rng.normal(size=(5, 128)))
    start = time.perf_counter()
    clusters = assign(embeddings, centres)
    pool = [PoolVideo(i, labeled[i], uncertainty[i], None, int(clusters[i]))
            for i in range(n_videos)]
    selection = select(STRATEGIES["claus"], pool, SelectionConfig(), rng)
    seconds = time.perf_counter() - start
    return {"rows": [
        _row(f"claus selection + cluster assignment, {n_videos} x {n_frames}", seconds, "s",
             2.0),
    ], "context": {"proposals": len(selection.proposals), "budget": "0.25% of the pool"}}


def _best_time(fn, device, repeats: int = 5) -> float:
    fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return min(times)


def _sync(device) -> None:
    import torch

    if getattr(device, "type", "") == "cuda":
        torch.cuda.synchronize()
