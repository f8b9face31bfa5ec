"""Does STeW help? The same sparse labels, trained with each weighting of the loss.

Every training video gets evenly spaced labeled frames (what an annotator does by hand) up to
a share of its frames; the oracle reveals their ground truth; then one model per weighting
and seed is trained with the same recipe and evaluated on the test split:

- ``stew``: pseudo-labels weighted by T_f * S_f (algorithm.md 3.2),
- ``labeled``: plain BCE on the labeled frames only,
- ``pseudo``: every interpolated pseudo-label with weight 1.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Generator, Sequence
from pathlib import Path

import numpy as np

from halgui.core.al import owned
from halgui.core.al.dataset import class_names, training_set
from halgui.core.al.oracle import Oracle
from halgui.core.al.selection import frames_for
from halgui.core.al.simulate import (
    Row,
    copy_project,
    evaluate_checkpoint,
    held_out_truth,
    shared_base,
)
from halgui.core.al.strategies import uniform_frames
from halgui.core.al.train import TrainConfig, train
from halgui.core.progress import CancelFlag, Progress


def loss_ablation(
    workdir: str | Path, ground_truth: str | Path, *, fraction: float = 0.05,
    weightings: Sequence[str] = ("stew", "labeled", "pseudo"), seeds: Sequence[int] = (0,),
    config: TrainConfig | None = None, cancel: CancelFlag | None = None,
) -> Generator[Progress, None, list[Row]]:
    """Rows (strategy = weighting) of test metrics for each weighting and seed."""
    config = config or TrainConfig()
    workdir, ground_truth = Path(workdir), Path(ground_truth)
    document = json.loads(ground_truth.read_text(encoding="utf-8"))
    test_gt = held_out_truth(ground_truth, document)
    base, labeled_dir = workdir / "base", workdir / f"uniform-{fraction:g}"
    for folder in (base, labeled_dir):
        owned.check(folder)  # one the simulation did not make: refused before any work
    workdir.mkdir(parents=True, exist_ok=True)
    yield from shared_base(base, ground_truth)
    owned.fresh(labeled_dir)
    project = copy_project(base, labeled_dir / "project")
    oracle = Oracle.from_json(document)
    pool = [v for v in project.videos() if v.split == "train"]
    oracle.reveal(project, [(v.id, f) for v in pool for f in
                            uniform_frames(np.zeros(v.n_frames, bool),
                                           frames_for(v.n_frames, fraction))])
    frames_pct = 100 * project.stats()["labeled_frames"] / sum(v.n_frames for v in pool)
    boxes_pct = 100 * oracle.boxes_revealed / max(oracle.boxes_total, 1)
    snapshot = project.snapshot()
    rows = []
    runs = [(w, s) for s in seeds for w in weightings]
    for i, (weighting, seed) in enumerate(runs):
        yield Progress("ablation", i, len(runs), f"{weighting} seed {seed}")
        start = time.perf_counter()
        cfg = dataclasses.replace(config, seed=seed,
                                  stew=dataclasses.replace(config.stew, weighting=weighting))
        videos = yield from training_set(project, snapshot, cfg.clip, cfg.stew,
                                         cancel=cancel)
        result = yield from train(videos, class_names(snapshot), cfg,
                                  project.folder / "models" / f"{weighting}-{seed}.pt",
                                  cancel=cancel)
        metrics = yield from evaluate_checkpoint(project, result.checkpoint, test_gt, cancel)
        rows.append(Row(weighting, seed, 0, frames_pct, boxes_pct, metrics,
                        time.perf_counter() - start))
    project.close()
    yield Progress("ablation", len(runs), len(runs))
    return rows
