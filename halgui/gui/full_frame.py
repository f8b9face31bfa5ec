"""The full-resolution frame, fetched when the playhead rests on a frame shown from a proxy.

While the user steps, plays or jumps, the canvas shows proxy frames (fast to seek, fewer
pixels). Once the playhead has stayed on one frame for ``VideoConfig.full_frame_rest_ms``, this
loader decodes that frame from the video itself on a background thread (a seek in the source:
a few hundred ms for long-GOP footage) and hands it back with :attr:`ready`; a move in between
makes the answer stale, and the canvas drops it. The source's reader is opened on that thread on
first use, so a user who never rests never pays for it.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from halgui.core.errors import HalguiError
from halgui.core.frame_cache import FrameCache
from halgui.core.project import VideoRecord
from halgui.core.video import DEFAULT_CONFIG, VideoConfig
from halgui.core.video_source import VideoSource

__all__ = ["FullFrameLoader", "source_frames"]


def source_frames(video: VideoRecord, config: VideoConfig | None = None
                  ) -> Callable[[], FrameCache] | None:  # fmt: skip
    """What opens ``video``'s own frames for a :class:`FullFrameLoader` (a small cache, no
    prefetching: it serves one frame per rest); None for a video with no file."""
    if video.path is None:
        return None
    config = config or DEFAULT_CONFIG

    def open_source() -> FrameCache:
        return FrameCache(VideoSource.from_record(video), config.full_frame_cache_bytes,
                          prefetch=0, prefetch_back=0, config=config)

    return open_source


class FullFrameLoader(QObject):
    """Fetches frame ``index`` of the source after a rest; one per shown video."""

    ready = Signal(int, object)  # frame index, (H, W, 3) RGB array

    def __init__(self, open_source: Callable[[], FrameCache], config: VideoConfig | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        config = config or DEFAULT_CONFIG
        self._open = open_source
        self._cache: FrameCache | None = None
        self._broken = False
        self._pool = cf.ThreadPoolExecutor(1, thread_name_prefix="halgui-full-frame")
        self._index: int | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(config.full_frame_rest_ms)
        self._timer.timeout.connect(self._fetch)

    def request(self, index: int) -> None:
        """The playhead is on ``index`` now: fetch it if it stays there long enough."""
        self._index = index
        if not self._broken:
            self._timer.start()

    def close(self) -> None:
        """Stop: nothing more is fetched, and the source's reader is closed (in order, after
        any fetch in flight)."""
        self._timer.stop()
        self._index = None
        self._pool.submit(self._close_cache)
        self._pool.shutdown(wait=False)

    def _fetch(self) -> None:
        if self._index is not None:
            self._pool.submit(self._read, self._index)

    def _read(self, index: int) -> None:
        """On the loader's thread."""
        if self._index != index:
            return  # moved on while queued
        try:
            if self._cache is None:
                self._cache = self._open()
            rgb = self._cache.get(index)
        except HalguiError:
            self._broken = True  # the proxy still shows; the source is not readable now
            return
        self.ready.emit(index, rgb)

    def _close_cache(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None
