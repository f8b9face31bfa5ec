"""Every frame of a video at model resolution, decoded once and memory-mapped from disk.

Training and pool scoring read the same frames over and over, and on a GPU decoding is the
limit. :class:`ClipCache` decodes a video once into an ``(N, S, S, 3)`` uint8 ``.npy`` file (S=112
by default: 37.6 KB a frame), named by the video's fingerprint and S, so a moved or renamed file
still hits its cache and a changed file gets a new one. A project's video is given as a
:class:`~halgui.core.video_source.VideoSource` made from its record, whose stored fingerprint
names the cache without reading the file; a bare path is fingerprinted once per call. Builds
write a temporary file and rename it into place, so a cancelled, failed or killed build never
leaves a cache file that looks whole.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Generator
from pathlib import Path

import numpy as np

from halgui.core.errors import VideoError
from halgui.core.progress import CancelFlag, Progress, run_to_end
from halgui.core.video import DEFAULT_CONFIG, VideoConfig
from halgui.core.video_source import VideoSource

__all__ = ["ClipCache"]

_FORMAT = "v1"  # bump when the way frames are resized changes: old caches are then ignored
_STALE_TEMP_S = 24 * 3600

Video = str | Path | VideoSource


class ClipCache:
    """Clip caches of many videos in one folder (a project's is ``Project.clip_cache_dir``).

    Each method takes the video as a :class:`VideoSource` or a path (fingerprinted then)."""

    def __init__(self, cache_dir: str | Path, config: VideoConfig | None = None) -> None:
        self.cache_dir = Path(cache_dir)
        self.config = config or DEFAULT_CONFIG
        self.builds = 0  # how many caches this object has built (not loaded)

    def path_for(self, video: Video, size: int | None = None) -> Path:
        """Where the cache of ``video`` at ``size`` lives (whether or not it exists yet)."""
        source = _source(video)
        size = self._size(size)
        return self.cache_dir / f"{source.digest[:32]}-{source.size}-{size}px-{_FORMAT}.npy"

    def has(self, video: Video, size: int | None = None) -> bool:
        """Whether a finished cache of ``video`` at ``size`` exists."""
        return self.path_for(video, size).is_file()

    def frames(self, video: Video, size: int | None = None) -> np.memmap:
        """The cached frames ``(N, S, S, 3)`` uint8, read-only memmap; builds them if missing."""
        source = _source(video)
        loaded = _load(self.path_for(source, size))
        if loaded is not None:
            return loaded
        result = run_to_end(self.build(source, size))
        assert result is not None
        return result

    def build(
        self, video: Video, size: int | None = None, cancel: CancelFlag | None = None
    ) -> Generator[Progress, None, np.memmap]:
        """Decode every frame of ``video`` at ``size`` x ``size`` into the cache, yielding progress.

        Returns the cached frames as a read-only memmap. Does nothing if the cache exists.
        Raises :class:`~halgui.core.errors.Cancelled` if ``cancel`` is set (nothing is left
        behind) and :class:`~halgui.core.errors.VideoError` if the video cannot be decoded.
        """
        source = _source(video)
        size = self._size(size)
        target = self.path_for(source, size)
        loaded = _load(target)
        if loaded is not None:
            return loaded
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self._remove_stale_temps(target)
        temp = target.with_name(f"{target.stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp.npy")
        every = max(1, self.config.clip_progress_every)
        name = source.path.name
        with source.open(self.config) as reader:
            n = reader.info.n_frames
            shape = (n, size, size, 3)
            out: np.memmap | None = np.lib.format.open_memmap(temp, "w+", np.uint8, shape)
            try:
                yield Progress("clip cache", 0, n, name)
                for i, frame in enumerate(reader.iter_frames(size=size)):
                    if cancel is not None:
                        cancel.check()
                    out[i] = frame  # type: ignore[index]
                    if (i + 1) % every == 0 or i + 1 == n:
                        yield Progress("clip cache", i + 1, n, name)
                out.flush()  # type: ignore[union-attr]
                out = None  # unmap before the rename (Windows needs it)
                os.replace(temp, target)
            except BaseException:  # cancelled, failed, or the generator was closed early
                out = None
                with contextlib.suppress(OSError):
                    temp.unlink()
                raise
        self.builds += 1
        result = _load(target)
        if result is None:
            raise VideoError(source.path,
                             f"clip cache {target} was written but cannot be read back")
        return result

    def _size(self, size: int | None) -> int:
        size = self.config.clip_size if size is None else int(size)
        if size <= 0:
            raise ValueError(f"clip size must be positive, not {size}")
        return size

    def _remove_stale_temps(self, target: Path) -> None:
        # A killed build leaves its temp file; one older than a day is nobody's work in progress.
        now = time.time()
        for temp in self.cache_dir.glob(f"{target.stem}.*.tmp.npy"):
            with contextlib.suppress(OSError):
                if now - temp.stat().st_mtime > _STALE_TEMP_S:
                    temp.unlink()


def _source(video: Video) -> VideoSource:
    return video if isinstance(video, VideoSource) else VideoSource.from_path(video)


def _load(target: Path) -> np.memmap | None:
    """The cache at ``target`` as a read-only memmap, or None if missing or unreadable."""
    try:
        return np.load(target, mmap_mode="r")
    except (OSError, ValueError):
        return None
