"""From a project's label snapshot to model inputs: clip caches and per-video label arrays."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from pathlib import Path

import numpy as np

from halgui.core.al.data import ClipConfig, VideoLabels, video_labels
from halgui.core.al.stew import StewConfig
from halgui.core.clip_cache import ClipCache
from halgui.core.errors import VideoError
from halgui.core.progress import CancelFlag, Progress, run_to_end
from halgui.core.project import LabelSnapshot, VideoRecord


def clip_cache(project_folder: str | Path) -> ClipCache:
    return ClipCache(Path(project_folder) / "cache" / "clips")


def class_names(snapshot: LabelSnapshot) -> list[str]:
    return [c.name for c in snapshot.classes]


def cached_frames(
    cache: ClipCache, videos: Sequence[VideoRecord], size: int, cancel: CancelFlag | None = None
) -> Generator[Progress, None, dict[int, np.ndarray]]:
    """The clip-cache frames of each video, building the caches that are missing."""
    out: dict[int, np.ndarray] = {}
    for i, video in enumerate(videos):
        if video.path is None:
            raise VideoError(video.name, "is not linked to a video file yet; link it first")
        if cancel is not None:
            cancel.check()
        yield Progress("caching clips", i, len(videos), video.name)
        if cache.has(video.path, size):
            out[video.id] = cache.frames(video.path, size)
        else:
            out[video.id] = yield from cache.build(video.path, size, cancel=cancel)
    yield Progress("caching clips", len(videos), len(videos))
    return out


def load_frames(cache: ClipCache, video: VideoRecord, size: int) -> np.ndarray:
    """One video's clip-cache frames, built now if missing (no progress: for background use)."""
    if video.path is None:
        raise VideoError(video.name, "is not linked to a video file yet; link it first")
    if cache.has(video.path, size):
        return cache.frames(video.path, size)
    return run_to_end(cache.build(video.path, size))


def labeled_videos(snapshot: LabelSnapshot, split: str = "train") -> list[VideoRecord]:
    """Videos of a split with at least one labeled frame (the training set of a round)."""
    return [v for v in snapshot.videos
            if v.split == split and snapshot.labeled.get(v.id)]


def training_set(
    project_folder: str | Path, snapshot: LabelSnapshot, clip: ClipConfig, stew: StewConfig,
    *, split: str = "train", cancel: CancelFlag | None = None,
) -> Generator[Progress, None, list[VideoLabels]]:
    """Label arrays of every video of ``split`` that has labeled frames."""
    videos = labeled_videos(snapshot, split)
    frames = yield from cached_frames(clip_cache(project_folder), videos, clip.size, cancel)
    index = {c.id: i for i, c in enumerate(snapshot.classes)}
    out = []
    for video in videos:
        out.append(video_labels(video.id, frames[video.id], (video.width, video.height),
                                snapshot.tracks.get(video.id, ()), snapshot.labeled[video.id],
                                index, stew))
    return out
