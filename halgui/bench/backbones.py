"""Backbone benchmark: clips/s of each trunk, forward only and one training step with its
trunk frozen in each way, on the model alone (random clips and targets, no data pipeline).

What the Round settings dialog's cost estimates and docs/backbones.md are based on. Each figure
is the best of three windows sharing ``seconds``, after one warm-up step, so the whole run
stays short on a CPU and a busy machine disturbs it less. Run
``halgui bench backbones [--json]`` (the Kinetics trunks need the kinetics extra; their weights
are random here: the speed does not depend on them).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from halgui.bench.learning import _row
from halgui.bench.video import format_table

__all__ = ["format_table", "run"]


def _batch(n: int, clip_len: int, size: int, n_classes: int, rng: np.random.Generator):
    from halgui.core.al.data import Batch

    shape = (n, clip_len, size, size)
    return Batch(clips=rng.integers(0, 256, (*shape, 3), dtype=np.uint8),
                 masks=(rng.random(shape) < 0.1).astype(np.float32),
                 weights=np.ones(shape, np.float32),
                 classes=(rng.random((n, n_classes)) < 0.5).astype(np.float32),
                 videos=np.zeros(n, np.int64))


def _rate(step, clips: int, seconds: float, windows: int = 3) -> float:
    """Clips per second of ``step``: one warm-up call, then the best of ``windows`` windows
    sharing ``seconds`` (the best is the least disturbed by other work on the machine)."""
    step()
    best = 0.0
    for _ in range(windows):
        done, start = 0, time.perf_counter()
        while done == 0 or time.perf_counter() - start < seconds / windows:
            step()
            done += clips
        best = max(best, done / (time.perf_counter() - start))
    return best


def run(backbones: list[str] | None = None, batch_size: int = 2, clip_len: int = 8,
        size: int = 112, seconds: float = 8.0,
        freezes: tuple[str, ...] = ("none", "lower", "all")) -> dict[str, Any]:
    import torch

    from halgui.core.al.backbones import KINETICS
    from halgui.core.al.kinetics import freeze_trunk
    from halgui.core.al.model import ActorLocalizer, ModelConfig
    from halgui.core.al.stew import StewConfig
    from halgui.core.al.train import TrainConfig, make_optimiser, train_step

    names = backbones or ["r2plus1d-tiny", *KINETICS]
    rng = np.random.default_rng(0)
    batch = _batch(batch_size, clip_len, size, 4, rng)
    device = torch.device("cpu")
    rows = []
    for name in names:
        torch.manual_seed(0)
        config = ModelConfig(n_classes=4, clip_len=clip_len, size=size, backbone=name)
        model = ActorLocalizer(config).eval()
        x = model.normalise(torch.from_numpy(batch.clips))

        def forward(model=model, x=x) -> None:
            with torch.no_grad():
                model(x)

        rows.append(_row(f"{name}: forward", _rate(forward, batch_size, seconds), "clips/s"))
        for freeze in freezes:
            model = ActorLocalizer(config)
            freeze_trunk(model, freeze)
            model.train()
            optimiser = make_optimiser(model, TrainConfig(lr=1e-4))

            def step(model=model, optimiser=optimiser) -> None:
                train_step(model, optimiser, batch, device, StewConfig(), False, None)

            rows.append(_row(f"{name}: train step, frozen {freeze}",
                             _rate(step, batch_size, seconds), "clips/s"))
    return {"rows": rows, "context": {"device": "cpu", "batch": batch_size,
                                      "clip": f"{clip_len}x{size}x{size}",
                                      "threads": torch.get_num_threads(),
                                      "seconds per figure": seconds}}
