"""One active-learning round on a project, as one generator (DESIGN.md 3).

snapshot -> clip caches -> (round 0: appearance clusters) or (train -> score the pool with MC
dropout -> cluster -> select) -> one transaction with the proposals, per-video uncertainty
curves, clusters and scores. The round reads a snapshot taken when it starts, so labeling can go
on meanwhile; a cancelled or failed round writes nothing (its checkpoint file is removed).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from halgui.core import shared_models
from halgui.core.al.clustering import ClusterConfig
from halgui.core.al.data import ClipConfig
from halgui.core.al.dataset import (
    cached_frames,
    class_names,
    clip_cache,
    load_frames,
    training_set,
)
from halgui.core.al.strategies import (
    STRATEGIES,
    PoolVideo,
    Selection,
    SelectionConfig,
    appearance_features,
    cold_start,
    select,
)
from halgui.core.al.train import TrainConfig
from halgui.core.al.uncertainty import UncertaintyConfig
from halgui.core.errors import HalguiError
from halgui.core.progress import CancelFlag, Progress
from halgui.core.project import LabelSnapshot, Project, VideoRecord


@dataclass(frozen=True)
class RoundConfig:
    """Everything a round needs to know; stored with the round."""

    strategy: str = "claus"
    #: a round's model starts from halgui's pretrained trunk unless it warm-starts from the
    #: previous round's (algorithm.md 2: trained from scratch in a round, the trunk memorises)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(pretrained="synth"))
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    uncertainty: UncertaintyConfig = field(default_factory=UncertaintyConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class RoundResult:
    number: int
    proposals: int
    checkpoint: Path | None
    metrics: dict[str, Any]
    seconds: float


def pool_videos(snapshot: LabelSnapshot) -> list[VideoRecord]:
    """The pool: linked videos of the training split."""
    return [v for v in snapshot.videos if v.split == "train" and v.path is not None]


def latest_checkpoint(project: Project) -> Path | None:
    """The newest round's checkpoint that still exists (the model in use)."""
    for record in reversed(project.rounds()):
        if record.checkpoint is not None and (record.checkpoint.exists()
                                              or shared_models.fetch(project, record)):
            return record.checkpoint
    return None


def run_round(
    project: Project, config: RoundConfig | None = None, cancel: CancelFlag | None = None,
    *, cold: bool = False, also: Callable[[Any, int], None] | None = None,
) -> Generator[Progress, None, RoundResult]:
    """Run one round and record it; yields progress of each phase. ``also`` writes what must
    commit with the round (:meth:`Project.record_round`); a shared project's checkpoint is
    stored in its database with the round (:mod:`halgui.core.shared_models`).

    Without any labeled frame (or with ``cold``) the round is a cold start: videos chosen by
    appearance clusters, frames evenly spaced, no training (algorithm.md 5.3, round 0).
    """
    config = config or RoundConfig()
    if config.strategy not in STRATEGIES:
        raise HalguiError(f"unknown strategy {config.strategy!r}; known: {sorted(STRATEGIES)}")
    start = time.perf_counter()
    started_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    snapshot = project.snapshot()
    videos = pool_videos(snapshot)
    if not videos:
        raise HalguiError(f"{project.folder}: no linked training videos to choose from")
    clip = config.train.clip
    labeled = {v.id: _mask(v, snapshot) for v in videos}
    checkpoint: Path | None = None
    metrics: dict[str, Any] = {}
    scores: dict[int, Any] = {}
    if cold or not any(m.any() for m in labeled.values()):
        frames = yield from cached_frames(clip_cache(project), videos, clip.size, cancel)
        yield Progress("selecting", 0, 1, "round 0: appearance clusters")
        pool = [PoolVideo(v.id, labeled[v.id]) for v in videos]
        selection = cold_start(pool, {v.id: appearance_features(frames[v.id]) for v in videos},
                               config.selection)
        strategy = "cold-start"
        metrics = label_counts(snapshot, videos, labeled)
    else:
        strategy = config.strategy
        number = len(project.rounds())
        checkpoint = project.folder / "models" / f"round-{number:03d}.pt"
        try:
            selection, scores, metrics = yield from _learn(project, snapshot, videos, labeled,
                                                           checkpoint, config, cancel)
        except BaseException:
            checkpoint.unlink(missing_ok=True)
            raise
    yield Progress("saving", 0, 1)

    def with_round(conn: Any, round_id: int) -> None:
        if project.url is not None and checkpoint is not None:
            shared_models.store(conn, round_id, checkpoint)
        if also is not None:
            also(conn, round_id)

    number = project.record_round(
        strategy=strategy, config=config.to_dict(), metrics=metrics, checkpoint=checkpoint,
        started_at=started_at, proposals=selection.proposals,
        video_scores=[(vid, s.uncertainty.astype("<f4").tobytes(), s.cluster,
                       _finite(selection.video_scores.get(vid))) for vid, s in scores.items()],
        also=with_round,
    )
    yield Progress("saving", 1, 1)
    return RoundResult(number, len(selection.proposals), checkpoint, metrics,
                       time.perf_counter() - start)


@dataclass
class _Scored:
    uncertainty: np.ndarray
    cluster: int | None


def cold_start_round(project: Project, cancel: CancelFlag | None = None
                     ) -> Generator[Progress, None, RoundResult]:
    """First proposals for a new project, whatever it already holds (the demo's round 0)."""
    return (yield from run_round(project, cancel=cancel, cold=True))


def _learn(project: Project, snapshot: LabelSnapshot, videos: list[VideoRecord],
           labeled: dict[int, np.ndarray], out: Path, config: RoundConfig,
           cancel: CancelFlag | None
           ) -> Generator[Progress, None, tuple[Selection, dict[int, _Scored], dict[str, Any]]]:
    import torch

    from halgui.core.al import checkpoint as ckpt
    from halgui.core.al.clustering import DeepClusters, kmeans, normalise
    from halgui.core.al.model import pick_device
    from halgui.core.al.train import initial_model, prepare_backbone, train
    from halgui.core.al.uncertainty import score_pool

    strategy = STRATEGIES[config.strategy]
    stew = dataclasses.replace(config.train.stew, weighting=strategy.weighting)
    train_config = dataclasses.replace(config.train, stew=stew, seed=config.seed)
    clip = train_config.clip
    # a Kinetics trunk's weights (downloaded the first time), before any data work
    yield from prepare_backbone(train_config, cancel)
    train_videos = yield from training_set(project, snapshot, clip, stew, cancel=cancel)
    previous = latest_checkpoint(project)
    device = pick_device(train_config.device)
    names = class_names(snapshot)
    cluster = None
    if strategy.cluster_loss:
        torch.manual_seed(config.seed)
        init_model = initial_model(len(names), train_config, previous, device)
        embeddings = _embeddings(init_model.to(device), [t.frames for t in train_videos], clip)
        cluster = DeepClusters.from_embeddings(embeddings, config.cluster)
    result = yield from train(train_videos, names, train_config, out, init=previous,
                              cluster=cluster, cancel=cancel)
    model = ckpt.load(result.checkpoint, device).model
    torch.manual_seed(config.seed)
    cache = clip_cache(project)
    by_id = {v.id: v for v in videos}
    pool_scores = yield from score_pool(
        model, list(by_id), lambda vid: load_frames(cache, by_id[vid], clip.size), clip,
        config.uncertainty, cancel)
    embeddings = np.stack([pool_scores[v.id].embedding for v in videos])
    if cluster is not None:
        clusters = cluster.assign(embeddings)
    else:
        clusters = kmeans(normalise(embeddings), config.cluster.k, config.cluster.n_init,
                          config.cluster.seed)[1]
    pool = [PoolVideo(v.id, labeled[v.id], pool_scores[v.id].uncertainty,
                      pool_scores[v.id].entropy, int(c)) for v, c in zip(videos, clusters,
                                                                         strict=True)]
    yield Progress("selecting", 0, 1)
    selection = select(strategy, pool, config.selection, np.random.default_rng(config.seed))
    scored = {p.id: _Scored(p.uncertainty, p.cluster) for p in pool}
    metrics = {"train_loss": result.final_loss, "train_seconds": result.seconds,
               "device": result.device, **label_counts(snapshot, videos, labeled)}
    metrics.update((yield from validate(project, snapshot, model, names, clip, cancel)))
    return selection, scored, metrics


def validate(project: Project, snapshot: LabelSnapshot, model, names: list[str],
             clip: ClipConfig, cancel: CancelFlag | None = None
             ) -> Generator[Progress, None, dict[str, Any]]:
    """frame-mAP and video-mAP on the labeled frames of the validation split (empty if it has
    none): what the round history plots."""
    from halgui.core.al.predict import detect_video, predictions_json
    from halgui.core.metrics import evaluate

    val = [v for v in snapshot.videos if v.split == "val" and v.path is not None
           and snapshot.labeled.get(v.id)]
    if not val:
        return {}
    frames = yield from cached_frames(clip_cache(project), val, clip.size, cancel)
    results = []
    for video in val:
        dets = yield from detect_video(model, video.name, frames[video.id],
                                       (video.width, video.height), names, clip, cancel=cancel)
        results.append((video.name, video.n_frames, dets))
    gt = validation_ground_truth(snapshot, project.folder, val)
    summary = evaluate(gt, predictions_json(names, results))["summary"]
    return {f"val_{k}": v for k, v in summary.items()}


def validation_ground_truth(snapshot: LabelSnapshot, project_folder: Path,
                            videos: list[VideoRecord]) -> dict[str, Any]:
    """The validation videos' labels as halgui JSON, for :func:`halgui.core.metrics.evaluate`.

    Only keyframes are written: evaluate expands them (interpolation, the ``outside`` rule) as
    the rest of halgui does. Only ``videos`` are in it, so a validation video the round does not
    predict on (no file linked) does not count its boxes as misses.
    """
    from halgui.core.formats.halgui_json import to_dict

    gt = to_dict(snapshot, project_folder, split="val")
    names = {v.name for v in videos}
    return {**gt, "videos": [v for v in gt["videos"] if v["name"] in names]}


def label_counts(snapshot: LabelSnapshot, videos: list[VideoRecord],
                 labeled: dict[int, np.ndarray]) -> dict[str, int]:
    """What the pool held when the round started (the round history shows it): labeled
    frames, all frames, and keyframe boxes drawn (visible ones, any source)."""
    return {"labeled_frames": int(sum(m.sum() for m in labeled.values())),
            "pool_frames": int(sum(len(m) for m in labeled.values())),
            "keyframe_boxes": sum(1 for v in videos for t in snapshot.tracks.get(v.id, ())
                                  for k in t.keyframes if not k.outside)}


def _embeddings(model, frames: list[np.ndarray], clip: ClipConfig) -> np.ndarray:
    """Mean clip embedding of each video with a deterministic forward pass."""
    from halgui.core.al.predict import run_windows

    return np.stack([np.mean([w.embedding for w in run_windows(model, f, clip)], axis=0)
                     for f in frames])


def _mask(video: VideoRecord, snapshot: LabelSnapshot) -> np.ndarray:
    mask = np.zeros(video.n_frames, dtype=bool)
    frames = [f for f in snapshot.labeled.get(video.id, ()) if f < video.n_frames]
    mask[frames] = True
    return mask


def _finite(value: float | None) -> float | None:
    return value if value is not None and np.isfinite(value) else None

