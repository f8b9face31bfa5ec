"""The benchmark that proves the method: simulated labeling with an oracle (algorithm.md 7).

For each seed, round 0 picks the same initial frames for every strategy; then each strategy
runs rounds through exactly the loop the app runs (:func:`run_round`), an oracle reveals the
ground truth of the proposed frames, and the model of every round is evaluated on the test
split, until the target share of frames is labeled. A reference model trained with every
frame labeled gives the ceiling. Projects are real project folders; clip caches are shared.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import shutil
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from halgui.core.al import owned
from halgui.core.al.oracle import Oracle
from halgui.core.al.rounds import RoundConfig, run_round
from halgui.core.al.strategies import STRATEGIES
from halgui.core.errors import HalguiError
from halgui.core.progress import CancelFlag, Progress
from halgui.core.project import DB_NAME, Project
from halgui.core.proposals import cluster_sizes

if TYPE_CHECKING:
    from halgui.core.formats.common import ParsedVideo

METRICS = ("frame_map@0.5_voc", "frame_map@0.5_act", "video_map@0.2", "video_map@0.5")


@dataclass(frozen=True)
class SimulateConfig:
    """The protocol of algorithm.md 7; sizes are choices, kept here."""

    strategies: tuple[str, ...] = tuple(STRATEGIES)
    seeds: tuple[int, ...] = (0, 1, 2)
    initial_fraction: float = 0.01        # round 0: share of the pool's frames
    budget_fraction: float = 0.01         # B per round, as a share of the pool's frames
    target_fraction: float = 0.10         # stop once this share is labeled
    reference: bool = True                # also train with 100% of the frames labeled
    round: RoundConfig = field(default_factory=RoundConfig)

    @property
    def rounds(self) -> int:
        """Learning rounds a strategy runs: from the initial share to the target."""
        return math.ceil((self.target_fraction - self.initial_fraction)
                         / self.budget_fraction - 1e-9) + 1


@dataclass
class Row:
    strategy: str
    seed: int
    round: int
    frames_pct: float
    boxes_pct: float
    metrics: dict[str, float | None]
    seconds: float
    clusters: tuple[int, ...] = ()   # pool videos per cluster after the round, cluster 0 first

    def flat(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "seed": self.seed, "round": self.round,
                "frames_pct": round(self.frames_pct, 3), "boxes_pct": round(self.boxes_pct, 3),
                **self.metrics, "seconds": round(self.seconds, 1),
                "clusters": " ".join(map(str, self.clusters))}


def base_project(folder: Path, ground_truth: Path) -> Generator[Progress, None, Project]:
    """A project with the dataset's videos and classes and no labels."""
    from halgui.core.ingest import add_videos

    classes, videos = read_ground_truth(ground_truth)
    project = Project.create(folder)
    for name, color in classes:
        project.add_class(name, color or None)
    result = yield from add_videos(project, [v.path for v in videos])
    for video_id, video in zip(result.added, videos, strict=True):
        project.set_split(video_id, video.split)
    return project


def shared_base(base: Path, ground_truth: Path) -> Generator[Progress, None, None]:
    """The base project in ``base``: reused if an earlier run finished it from this very
    ground truth (:mod:`owned`), built otherwise."""
    key = owned.key_of(ground_truth)
    if not owned.reuse(base, key):
        (yield from base_project(base, ground_truth)).close()
        owned.finished(base, key)


def read_ground_truth(path: Path) -> tuple[list[tuple[str, str]], list[ParsedVideo]]:
    """The classes and videos of a ground truth the simulation can use: a halgui file whose
    video files are all there and that has test videos; refused otherwise, naming the file
    (the command checks this before it writes anything)."""
    from halgui.core.formats import halgui_json

    classes, videos = halgui_json.parse(path)
    missing = [v.name for v in videos if v.path is None or not v.path.exists()]
    if missing:
        raise HalguiError(f"{path}: simulation needs the video files; missing: "
                          f"{', '.join(missing[:5])}")
    if not any(v.split == "test" for v in videos):
        raise _no_test_videos(path)
    return list(classes), list(videos)


def held_out_truth(path: Path, document: dict[str, Any]) -> dict[str, Any]:
    """The document with only its test videos (a video without a split is in train, as the
    halgui format says); none is refused, naming the file."""
    videos = [v for v in document["videos"] if v.get("split", "train") == "test"]
    if not videos:
        raise _no_test_videos(path)
    return {**document, "videos": videos}


def _no_test_videos(path: Path) -> HalguiError:
    return HalguiError(f"{path}: no test videos to evaluate on (a video's \"split\" must be "
                       "\"test\"; without one it is \"train\")")


def _fresh_copy(source: Path, target: Path, key: str) -> Project:
    """:func:`copy_project` into ``target`` made new: the folder of a run cut short is
    removed first (only if the simulation made it: :mod:`owned`), and the copy is marked as
    the simulation's, unfinished, with ``key``."""
    owned.check(target)
    if target.exists():
        shutil.rmtree(target)
    project = copy_project(source, target)
    owned.mark(target, key)
    return project


def copy_project(source: Path, target: Path) -> Project:
    """A consistent copy of a project's database (SQLite's backup API); the clip cache is
    shared through a link, so each video is decoded once for the whole simulation."""
    import sqlite3

    target.mkdir(parents=True)
    src = sqlite3.connect(source / DB_NAME)
    dst = sqlite3.connect(target / DB_NAME)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    (target / "cache").symlink_to((source / "cache").resolve(), target_is_directory=True)
    return Project.open(target)


def finished_runs(rows: list[Row], config: SimulateConfig) -> dict[tuple[int, str], list[Row]]:
    """The (seed, strategy) runs among ``rows`` that ended (a strategy's last round reached
    the target share; a reference row exists), with their rows: what a resumed run keeps."""
    by_run: dict[tuple[int, str], list[Row]] = {}
    for row in rows:
        by_run.setdefault((row.seed, row.strategy), []).append(row)
    target = 100 * config.target_fraction - 1e-9
    return {key: sorted(got, key=lambda r: r.round) for key, got in by_run.items()
            if key[1] == "reference" or max(r.frames_pct for r in got) >= target}


def simulate(
    workdir: str | Path, ground_truth: str | Path, config: SimulateConfig = SimulateConfig(),
    cancel: CancelFlag | None = None, done: Mapping[tuple[int, str], list[Row]] | None = None,
) -> Generator[Progress, None, list[Row]]:
    """Run the protocol; returns one row per (strategy, seed, round) plus reference rows.

    ``done`` (:func:`finished_runs` of an interrupted run of this config) resumes: those runs
    are not run again and their rows are returned as they were; a seed's round 0 is reused
    when it was finished, and a strategy that was cut short runs again from it."""
    workdir = Path(workdir)
    ground_truth = Path(ground_truth)
    document = json.loads(ground_truth.read_text(encoding="utf-8"))
    test_gt = held_out_truth(ground_truth, document)
    unknown = set(config.strategies) - set(STRATEGIES)
    if unknown:
        raise HalguiError(f"unknown strategies: {', '.join(sorted(unknown))}")
    base = workdir / "base"
    for folder in (base, *(workdir / f"seed{seed}" for seed in config.seeds)):
        owned.check(folder)  # one the simulation did not make: refused before any work
    workdir.mkdir(parents=True, exist_ok=True)
    yield from shared_base(base, ground_truth)
    done = dict(done or {})
    rows: list[Row] = []
    runs = [(seed, s) for seed in config.seeds for s in config.strategies]
    finished = 0
    for seed in config.seeds:
        seed_dir = workdir / f"seed{seed}"
        wanted = [*config.strategies, *(["reference"] if config.reference else [])]
        if all((seed, s) in done for s in wanted):  # nothing left of this seed
            rows += [r for s in wanted for r in done[(seed, s)]]
            finished += len(config.strategies)
            continue
        if not done:
            owned.fresh(seed_dir)  # the simulation's own folder of an earlier run, if any
        key = owned.key_of(str(ground_truth.resolve()), seed, dataclasses.asdict(config.round),
                           config.initial_fraction, config.budget_fraction)
        round_config, oracle = yield from _seed_start(seed_dir, base, seed, key, config,
                                                      document, cancel)
        for strategy in config.strategies:
            yield Progress("simulating", finished, len(runs), f"{strategy} seed {seed}")
            if (seed, strategy) in done:
                rows += done[(seed, strategy)]
            else:
                rows += yield from _run_strategy(seed_dir, strategy, seed, copy.deepcopy(oracle),
                                                 round_config, config, test_gt, cancel)
            finished += 1
        if config.reference:
            if (seed, "reference") in done:
                rows += done[(seed, "reference")]
            else:
                rows.append((yield from _reference(seed_dir, base, seed, round_config,
                                                   config.rounds, document, test_gt, cancel)))
    yield Progress("simulating", len(runs), len(runs))
    return rows


def _seed_start(seed_dir: Path, base: Path, seed: int, key: str, config: SimulateConfig,
                document: dict[str, Any], cancel: CancelFlag | None
                ) -> Generator[Progress, None, tuple[RoundConfig, Oracle]]:
    """A seed's round 0, shared by every strategy: the project ``seed_dir/start`` and the
    oracle that labeled it. One an earlier run finished for this very config is reused."""
    start_dir = seed_dir / "start"
    if not seed_dir.exists():
        owned.fresh(seed_dir)
    reused = owned.is_finished(start_dir, key)
    start = Project.open(start_dir) if reused else _fresh_copy(base, start_dir, key)
    try:
        pool_frames = sum(v.n_frames for v in start.videos() if v.split == "train")
        selection = dataclasses.replace(config.round.selection, seed=seed,
                                        cold_fraction=config.initial_fraction,
                                        budget=max(1, round(config.budget_fraction * pool_frames)))
        round_config = dataclasses.replace(config.round, seed=seed, selection=selection)
        oracle = Oracle.from_json(document)
        state = start_dir / "oracle.json"
        if reused:
            oracle.restore(json.loads(state.read_text(encoding="utf-8")))
        else:
            first = yield from run_round(start, round_config, cancel)
            oracle.reveal(start, _proposals(start, first.number))
            state.write_text(json.dumps(oracle.state()), encoding="utf-8")
    finally:
        start.close()
    if not reused:
        owned.finished(start_dir, key)
    return round_config, oracle


def _run_strategy(seed_dir: Path, strategy: str, seed: int, oracle: Oracle,
                  round_config: RoundConfig, config: SimulateConfig, test_gt: dict[str, Any],
                  cancel: CancelFlag | None) -> Generator[Progress, None, list[Row]]:
    project = _fresh_copy(seed_dir / "start", seed_dir / strategy, strategy)
    rows = []
    try:
        while True:
            start = time.perf_counter()
            stats = project.stats()
            pool = sum(v.n_frames for v in project.videos() if v.split == "train")
            frames_pct = 100 * stats["labeled_frames"] / pool
            result = yield from run_round(project, dataclasses.replace(round_config,
                                                                       strategy=strategy),
                                          cancel)
            assert result.checkpoint is not None
            metrics = yield from evaluate_checkpoint(project, result.checkpoint, test_gt, cancel)
            rows.append(Row(strategy, seed, result.number, frames_pct,
                            100 * oracle.boxes_revealed / max(oracle.boxes_total, 1), metrics,
                            time.perf_counter() - start,
                            tuple(cluster_sizes(project).get(result.number, ()))))
            yield Progress("evaluated", len(rows), len(rows), strategy, {"row": rows[-1]})
            if frames_pct >= 100 * config.target_fraction - 1e-9:
                return rows
            oracle.reveal(project, _proposals(project, result.number))
    finally:
        project.close()


def _reference(seed_dir: Path, base: Path, seed: int, round_config: RoundConfig, rounds: int,
               document: dict[str, Any], test_gt: dict[str, Any],
               cancel: CancelFlag | None) -> Generator[Progress, None, Row]:
    """Every training frame labeled, same training recipe: the ceiling."""
    from halgui.core.al.dataset import class_names, training_set
    from halgui.core.al.train import train

    start = time.perf_counter()
    project = _fresh_copy(base, seed_dir / "reference", "reference")
    try:
        oracle = Oracle.from_json(document)
        oracle.reveal(project, [(v.id, f) for v in project.videos() if v.split == "train"
                                for f in range(v.n_frames)])
        snapshot = project.snapshot()
        # as many epochs as all rounds of a strategy train in total (they warm-start each
        # round from the last), so the ceiling is not held back by a smaller training budget
        cfg = dataclasses.replace(round_config.train, seed=seed,
                                  epochs=round_config.train.epochs * rounds)
        videos = yield from training_set(project, snapshot, cfg.clip, cfg.stew,
                                         cancel=cancel)
        result = yield from train(videos, class_names(snapshot), cfg,
                                  project.folder / "models" / "reference.pt", cancel=cancel)
        metrics = yield from evaluate_checkpoint(project, result.checkpoint, test_gt, cancel)
    finally:
        project.close()
    row = Row("reference", seed, 0, 100.0, 100.0, metrics, time.perf_counter() - start)
    yield Progress("evaluated", 1, 1, "reference", {"row": row})
    return row


def evaluate_checkpoint(project: Project, checkpoint: Path, test_gt: dict[str, Any],
                        cancel: CancelFlag | None = None
                        ) -> Generator[Progress, None, dict[str, float | None]]:
    """frame-mAP and video-mAP of a checkpoint on the test videos."""
    from halgui.core.al import checkpoint as ckpt
    from halgui.core.al.data import ClipConfig
    from halgui.core.al.dataset import cached_frames, clip_cache
    from halgui.core.al.model import pick_device
    from halgui.core.al.predict import detect_video, predictions_json
    from halgui.core.metrics import evaluate

    loaded = ckpt.load(checkpoint, pick_device("auto"))
    mc = loaded.model.config
    clip = ClipConfig(clip_len=mc.clip_len, stride=mc.stride, size=mc.size)
    names = {v["name"] for v in test_gt["videos"]}
    videos = [v for v in project.videos() if v.name in names]
    frames = yield from cached_frames(clip_cache(project), videos, clip.size, cancel)
    results = []
    for video in videos:
        dets = yield from detect_video(loaded.model, video.name, frames[video.id],
                                       (video.width, video.height), loaded.classes, clip,
                                       cancel=cancel)
        results.append((video.name, video.n_frames, dets))
    summary = evaluate(test_gt, predictions_json(loaded.classes, results))["summary"]
    return {k: summary.get(k) for k in METRICS}


def _proposals(project: Project, number: int) -> list[tuple[int, int]]:
    rows = project.query(
        "SELECT video_id, frame FROM proposals JOIN rounds ON rounds.id = proposals.round_id"
        " WHERE rounds.number = ? ORDER BY rank", (number,))
    return [(int(r[0]), int(r[1])) for r in rows]
