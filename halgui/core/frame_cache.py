"""A byte-bounded LRU cache of full-resolution frames, with prefetch in the play direction.

The canvas asks :meth:`FrameCache.get` for a frame on every step; a background thread (plain
``threading``, no Qt) decodes the next few frames in the direction the user is moving, so a step
is answered from memory. Going backwards, the prefetcher fills a block of frames below the
playhead from one seek, since each backward step would otherwise cost a seek of its own.

One reader serves both threads, under a lock: a foreground miss waits for at most the frame the
prefetcher is decoding, and the prefetcher then continues from where the foreground read left
the decoder, which for a jump is exactly where the user now is.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from halgui.core.errors import VideoError
from halgui.core.video import (
    DEFAULT_CONFIG,
    FrameRangeError,
    VideoConfig,
    VideoInfo,
    VideoReader,
    open_video,
)
from halgui.core.video_source import VideoSource

if TYPE_CHECKING:
    from halgui.core.project import VideoRecord
    from halgui.core.proxy import ProxyStore

__all__ = ["FrameCache"]


class FrameCache:
    """Frames of one video by index, cached up to ``max_bytes`` (least recently used goes first).

    ``source`` is a path, a :class:`VideoSource` or a function that opens a
    :class:`VideoReader`; a project's video comes through :meth:`for_record`. Arrays returned by
    :meth:`get` are shared with the cache and read-only. ``get`` is thread-safe. Call
    :meth:`close` (or use ``with``) to stop the prefetch thread and release the reader.
    """

    def __init__(
        self,
        source: str | Path | VideoSource | Callable[[], VideoReader],
        max_bytes: int | None = None,
        *,
        prefetch: int | None = None,
        prefetch_back: int | None = None,
        config: VideoConfig | None = None,
        proxy: bool = False,
    ) -> None:
        config = config or DEFAULT_CONFIG
        self.proxy = proxy
        """Whether the frames come from the video's proxy (smaller than the video itself)."""
        self.max_bytes = config.frame_cache_bytes if max_bytes is None else int(max_bytes)
        if self.max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        if isinstance(source, str | Path):
            self._reader = open_video(source, config=config)
        elif isinstance(source, VideoSource):
            self._reader = source.open(config)
        else:
            self._reader = source()
        self.info: VideoInfo = self._reader.info
        frame_bytes = self.info.width * self.info.height * 3
        # The frames near the playhead (ahead: a window of k; behind: a window of b and a block
        # of b below it) must fit with one to spare, or prefetching would evict its own work.
        fits = self.max_bytes // frame_bytes if frame_bytes else 0
        ahead = config.prefetch_frames if prefetch is None else prefetch
        behind = config.prefetch_back_frames if prefetch_back is None else prefetch_back
        self.prefetch = max(0, min(ahead, fits - 2))
        self.prefetch_back = max(0, min(behind, (fits - 1) // 2))
        self._frames: OrderedDict[int, np.ndarray] = OrderedDict()
        self._failed: set[int] = set()
        self.nbytes = 0
        self.peak_bytes = 0
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._reader_lock = threading.Lock()
        self._waiting = 0  # foreground gets waiting for the reader
        self._pos: int | None = None
        self._dir = 1
        self._closed = False
        self._thread: threading.Thread | None = None
        if self.prefetch or self.prefetch_back:
            self._thread = threading.Thread(
                target=self._prefetch_loop, name=f"halgui-prefetch:{self.info.path.name}",
                daemon=True,
            )
            self._thread.start()

    @classmethod
    def for_record(cls, record: VideoRecord, max_bytes: int | None = None, *,
                   config: VideoConfig | None = None,
                   proxies: ProxyStore | None = None) -> FrameCache:
        """The frames of a project's video, trusting its stored fingerprint and frame count
        while the file's size still matches (:meth:`VideoSource.from_record`). With
        ``proxies``, frames come from the video's proxy when it has one (smaller frames:
        the caller scales them to the video's size), else from the video."""
        source = VideoSource.from_record(record)
        reader = proxies.open(source) if proxies is not None else None
        if reader is not None:
            return cls(lambda: reader, max_bytes, config=config, proxy=True)
        return cls(source, max_bytes, config=config)

    def __len__(self) -> int:
        return self.info.n_frames

    def get(self, index: int) -> np.ndarray:
        """Frame ``index`` (H, W, 3) RGB uint8, read-only; FrameRangeError if out of range."""
        index = int(index)
        if not 0 <= index < self.info.n_frames:
            last = self.info.n_frames - 1
            raise FrameRangeError(self.info.path, f"has no frame {index} (frames are 0..{last})")
        with self._lock:
            if self._closed:
                raise VideoError(self.info.path, "frame cache is closed")
            frame = self._frames.get(index)
            if frame is not None:
                self._frames.move_to_end(index)
                self.hits += 1
                self._moved_to(index)
                return frame
            self._waiting += 1
        try:
            with self._reader_lock:
                with self._lock:
                    if self._closed:
                        raise VideoError(self.info.path, "frame cache is closed")
                    frame = self._frames.get(index)  # the prefetcher may just have made it
                if frame is None:
                    frame = self._reader.read(index)
                    frame.flags.writeable = False
        finally:
            with self._lock:
                self._waiting -= 1
                self._wake.notify_all()
        with self._lock:
            self.misses += 1
            self._moved_to(index)
            self._store(index, frame)
        return frame

    def cached(self) -> list[int]:
        """Indices held now, least recently used first (for tests and the timeline)."""
        with self._lock:
            return list(self._frames)

    def close(self) -> None:
        """Stop the prefetch thread, drop the frames and close the reader (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join()
        with self._reader_lock:
            self._reader.close()
        with self._lock:
            self._frames.clear()
            self.nbytes = 0

    def __enter__(self) -> FrameCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- under self._lock

    def _store(self, index: int, frame: np.ndarray) -> None:
        """Add a frame, evicting least recently used frames away from the playhead first."""
        if index in self._frames or frame.nbytes > self.max_bytes:
            return
        excess = self.nbytes + frame.nbytes - self.max_bytes
        if excess > 0:
            victims: dict[int, None] = {}  # ordered set
            for protect in (True, False):  # near-playhead frames go only if nothing else can
                for i, old in self._frames.items():
                    if excess <= 0:
                        break
                    if not (protect and self._near(i)) and i not in victims:
                        victims[i] = None
                        excess -= old.nbytes
            for i in victims:
                self.nbytes -= self._frames.pop(i).nbytes
        self._frames[index] = frame
        self.nbytes += frame.nbytes
        self.peak_bytes = max(self.peak_bytes, self.nbytes)

    def _moved_to(self, index: int) -> None:
        if self._pos is not None and index != self._pos:
            step = index - self._pos
            # Small moves set the direction; a jump plays forward from where it lands.
            self._dir = -1 if -max(self.prefetch_back, 1) <= step < 0 else 1
        self._pos = index
        self._wake.notify_all()

    def _near(self, index: int) -> bool:
        """Whether a frame is one the prefetcher would fetch (or the one on screen)."""
        pos = self._pos
        if pos is None:
            return False
        if self._dir > 0:
            return pos <= index <= pos + self.prefetch
        return pos - 2 * self.prefetch_back + 1 <= index <= pos

    def _next_job(self) -> int | None:
        """The frame the prefetcher should decode next, or None if the window is full."""
        pos, n = self._pos, self.info.n_frames
        if pos is None:
            return None
        if self._dir > 0:
            for j in range(pos + 1, min(n, pos + 1 + self.prefetch)):
                if j not in self._frames and j not in self._failed:
                    return j
            return None
        k = self.prefetch_back
        for j in range(pos - 1, max(-1, pos - 1 - k), -1):
            if j not in self._frames and j not in self._failed:
                # Fill the block of k frames ending at j from its lowest missing frame up:
                # one seek, then cheap forward decoding.
                for m in range(max(0, j - k + 1), j + 1):
                    if m not in self._frames and m not in self._failed:
                        return m
        return None

    # --- the prefetch thread

    def _prefetch_loop(self) -> None:
        while True:
            with self._lock:
                while not self._closed and (self._waiting or (job := self._next_job()) is None):
                    self._wake.wait()
                if self._closed:
                    return
            with self._reader_lock:
                if self._closed:
                    return
                try:
                    frame = self._reader.read(job)
                except VideoError:
                    with self._lock:
                        self._failed.add(job)  # a foreground get will raise it
                    continue
            frame.flags.writeable = False
            with self._lock:
                if self._near(job):  # the user may have moved on while it decoded
                    self._store(job, frame)
