"""From a project's label snapshot to model inputs: clip caches and per-video label arrays."""

from __future__ import annotations

from collections.abc import Generator, Sequence

import numpy as np

from halgui.core.al.data import ClipConfig, VideoLabels, video_labels
from halgui.core.al.stew import StewConfig
from halgui.core.clip_cache import ClipCache
from halgui.core.progress import CancelFlag, Progress
from halgui.core.project import LabelSnapshot, Project, VideoRecord
from halgui.core.video_source import VideoSource


def clip_cache(project: Project) -> ClipCache:
    """The project's clip caches (in :attr:`Project.clip_cache_dir`)."""
    return ClipCache(project.clip_cache_dir)


def class_names(snapshot: LabelSnapshot) -> list[str]:
    return [c.name for c in snapshot.classes]


def cached_frames(
    cache: ClipCache, videos: Sequence[VideoRecord], size: int, cancel: CancelFlag | None = None
) -> Generator[Progress, None, dict[int, np.ndarray]]:
    """The clip-cache frames of each video, building the caches that are missing; each cache is
    found by the video's stored fingerprint (no file is hashed again)."""
    out: dict[int, np.ndarray] = {}
    for i, video in enumerate(videos):
        source = VideoSource.from_record(video)
        if cancel is not None:
            cancel.check()
        yield Progress("caching clips", i, len(videos), video.name)
        if cache.has(source, size):
            out[video.id] = cache.frames(source, size)
        else:
            out[video.id] = yield from cache.build(source, size, cancel=cancel)
    yield Progress("caching clips", len(videos), len(videos))
    return out


def load_frames(cache: ClipCache, video: VideoRecord, size: int) -> np.ndarray:
    """One video's clip-cache frames, built now if missing (no progress: for background use)."""
    return cache.frames(VideoSource.from_record(video), size)


def labeled_videos(snapshot: LabelSnapshot, split: str = "train") -> list[VideoRecord]:
    """Videos of a split with at least one labeled frame (the training set of a round)."""
    return [v for v in snapshot.videos
            if v.split == split and snapshot.labeled.get(v.id)]


def training_set(
    project: Project, snapshot: LabelSnapshot, clip: ClipConfig, stew: StewConfig,
    *, split: str = "train", cancel: CancelFlag | None = None,
) -> Generator[Progress, None, list[VideoLabels]]:
    """Label arrays of every video of ``split`` that has labeled frames."""
    videos = labeled_videos(snapshot, split)
    frames = yield from cached_frames(clip_cache(project), videos, clip.size, cancel)
    index = {c.id: i for i, c in enumerate(snapshot.classes)}
    out = []
    for video in videos:
        out.append(video_labels(video.id, frames[video.id], (video.width, video.height),
                                snapshot.tracks.get(video.id, ()), snapshot.labeled[video.id],
                                index, stew))
    return out
