"""Proxies: a small, short-GOP copy of each video, so any frame is on screen within a seek.

Camera footage has keyframes every 60-250 frames, and a random seek in a 1080p file decodes
from the previous keyframe: 250-550 ms on 2 cores, whatever frames are cached. A proxy is the
same video re-encoded once, in the background, at display resolution (540 lines by default)
as H.264 with a keyframe every 10 frames and no B-frames, so a seek decodes at most 10 small
frames (about 10 ms). It is frame-exact: it is made by reading the source through the
frame-exact reader (:mod:`halgui.core.video`) front to back and writing frame ``i`` with
timestamp ``i``, and a build whose frame count differs from the source's is refused.

Proxies live in the project's cache folder (``Project.proxy_dir``), named by the video's
fingerprint and the proxy size, so a changed file gets a new proxy and a moved file keeps its
own. They are only a cache: deleting the folder loses nothing, and a video without a proxy
(none built yet, or a build that failed) is read from its source as before. The folder is held
to a disk budget (:class:`ProxySettings`, stored in the project): the least recently used
proxies go first, and a build that cannot fit fails with the reason.

Why these choices (1920x1080 H.264, GOP 120, 2 cores; docs/proxies.md has the table):
all-intra H.264 at 540p seeks in 9 ms but takes 190 MiB a minute; GOP 10 at CRF 26 seeks in
10 ms at 37 MiB a minute and encodes faster; MJPEG seeks in 7 ms at 97 MiB a minute; 720p
doubles the size and the seek time for little on a canvas that shows the whole frame.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Generator
from dataclasses import asdict, dataclass, field, fields
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from halgui.core.errors import Cancelled, VideoError
from halgui.core.progress import CancelFlag, Progress
from halgui.core.video import VideoInfo, VideoReader, open_video
from halgui.core.video_source import VideoSource

if TYPE_CHECKING:
    from halgui.core.project import Project

__all__ = [
    "ProxyConfig",
    "ProxyError",
    "ProxyReport",
    "ProxySettings",
    "ProxyStore",
    "build_proxies",
    "proxy_size",
    "wanted_proxies",
]

_FORMAT = "v1"  # bump when the encoding changes: old proxies are then ignored (and evicted)
_STALE_TEMP_S = 24 * 3600
_MIB = 1 << 20
SETTINGS_KEY = "proxy"


class ProxyError(VideoError):
    """A proxy could not be built; the source still works, the reason says why not."""


@dataclass(frozen=True)
class ProxyConfig:
    """How proxies are encoded (choices measured in docs/proxies.md)."""

    height: int = 540
    """Lines of a proxy frame; a source no taller than this keeps its size."""
    codec: str = "libx264"
    gop: int = 10
    """Frames between keyframes: a seek decodes at most this many proxy frames."""
    crf: int = 26
    preset: str = "superfast"
    tune: str = "fastdecode"
    progress_every: int = 15
    """Frames between two progress events of a build."""
    bytes_per_pixel: float = 0.05
    """A generous guess of a proxy's size per pixel and frame (measured: 0.04 on noisy 1080p
    camera-like footage), used to make room in the budget before a build starts."""
    background_nice: int = 10
    """Niceness a build in the app runs at, so decoding for the canvas comes first (Linux)."""


@dataclass(frozen=True)
class ProxySettings:
    """A project's proxy settings (stored with the project, under ``"proxy"``)."""

    enabled: bool = True
    """Build proxies when videos are added or the project is opened."""
    budget_mib: int = 4096
    """Disk the project's proxies may take, in MiB; the least recently used go first."""

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            raise ValueError(f"proxy setting enabled must be true or false, not {self.enabled!r}")
        if isinstance(self.budget_mib, bool) or not isinstance(self.budget_mib, int) \
                or self.budget_mib < 0:
            raise ValueError(f"proxy setting budget_mib must be a whole number of MiB >= 0,"
                             f" not {self.budget_mib!r}")

    @property
    def budget_bytes(self) -> int:
        return self.budget_mib * _MIB

    @classmethod
    def load(cls, project: Project) -> ProxySettings:
        """The project's settings; a stored value that is not valid is replaced by its default."""
        stored = project.get_setting(SETTINGS_KEY, {})
        values: dict[str, Any] = {}
        if isinstance(stored, dict):
            for f in fields(cls):
                if f.name in stored:
                    try:
                        cls(**{f.name: stored[f.name]})
                    except ValueError:
                        continue
                    values[f.name] = stored[f.name]
        return cls(**values)

    def save(self, project: Project) -> None:
        project.set_setting(SETTINGS_KEY, asdict(self))


def proxy_size(width: int, height: int, config: ProxyConfig | None = None) -> tuple[int, int]:
    """The (width, height) of a proxy of a ``width`` x ``height`` video: at most
    ``config.height`` lines, the same shape, both even (as 4:2:0 video needs)."""
    config = config or ProxyConfig()
    if height <= config.height:
        w, h = width, height
    else:
        w, h = round(width * config.height / height), config.height
    return max(2, w - w % 2), max(2, h - h % 2)


class ProxyStore:
    """The proxies of a project's videos in one folder, within a disk budget.

    Each method takes the video as a :class:`VideoSource` (a project's video: made from its
    record, so naming its proxy reads nothing)."""

    def __init__(self, folder: str | Path, budget_bytes: int | None = None,
                 config: ProxyConfig | None = None) -> None:
        self.folder = Path(folder)
        self.config = config or ProxyConfig()
        self.budget_bytes = ProxySettings().budget_bytes if budget_bytes is None \
            else int(budget_bytes)
        self._lock = threading.Lock()  # eviction against opening, across threads

    @classmethod
    def for_project(cls, project: Project, config: ProxyConfig | None = None) -> ProxyStore:
        """The store of ``project``, with the budget from its settings."""
        settings = ProxySettings.load(project)
        return cls(project.proxy_dir, settings.budget_bytes, config)

    def path_for(self, source: VideoSource, info: VideoInfo | None = None) -> Path:
        """Where the proxy of ``source`` lives (whether or not it exists yet)."""
        info = info or source.known
        tag = "" if info is None else "-{}x{}".format(*proxy_size(info.width, info.height,
                                                                   self.config))
        return self.folder / f"{source.digest[:32]}-{source.size}{tag}-{_FORMAT}.mp4"

    def has(self, source: VideoSource) -> bool:
        """Whether a finished proxy of ``source`` exists."""
        return self._find(source) is not None

    def open(self, source: VideoSource) -> VideoReader | None:
        """A frame-exact reader of the proxy of ``source``, or None if it has none (or one
        that no longer matches it: that one is removed, to be built again)."""
        with self._lock:
            path = self._find(source)
            if path is None:
                return None
            with contextlib.suppress(OSError):
                os.utime(path)  # recently used: evicted last
        try:
            reader = open_video(path)
        except VideoError:
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        if source.known is not None and len(reader) != source.known.n_frames:
            reader.close()
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        return reader

    def usage(self) -> list[tuple[Path, int]]:
        """The finished proxies in the folder and their sizes, least recently used first."""
        found = []
        for path in self.folder.glob(f"*-{_FORMAT}.mp4"):
            with contextlib.suppress(OSError):
                stat = path.stat()
                found.append((stat.st_mtime, path, stat.st_size))
        return [(path, size) for _, path, size in sorted(found)]

    def total_bytes(self) -> int:
        return sum(size for _, size in self.usage())

    def trim(self) -> None:
        """Delete least recently used proxies until they fit the budget (after it shrank)."""
        with self._lock:
            proxies = self.usage()
            total = sum(size for _, size in proxies)
            for path, size in proxies:
                if total <= self.budget_bytes:
                    break
                with contextlib.suppress(OSError):
                    path.unlink()
                    total -= size

    def prune(self, keep: list[tuple[int, str]]) -> int:
        """Delete the proxies of files that are not among ``keep`` (``(size, digest)``
        fingerprints: a project's videos, as stored): those of videos removed or changed
        since. Returns how many went."""
        prefixes = tuple(f"{digest[:32]}-{size}-" for size, digest in keep)
        gone = 0
        with self._lock:
            for path, _ in self.usage():
                if not path.name.startswith(prefixes):
                    with contextlib.suppress(OSError):
                        path.unlink()
                        gone += 1
        return gone

    def build(self, source: VideoSource, cancel: CancelFlag | None = None, *,
              background: bool = False) -> Generator[Progress, None, Path]:
        """Encode the proxy of ``source``, yielding progress; returns its path (at once if it
        exists). ``background`` lowers the priority of this thread (and of the decoder and
        encoder threads it starts) so the app's own decoding comes first.

        Raises :class:`Cancelled` (nothing left behind) or :class:`ProxyError` with the
        reason (disk full, over the budget, a codec error, an unreadable source).
        """
        existing = self._find(source)
        if existing is not None:
            return existing
        if background:
            _lower_priority(self.config.background_nice)
        name = source.path.name
        temp: Path | None = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._remove_stale_temps()
            with source.open() as reader:
                info = reader.info
                target = self.path_for(source, info)
                width, height = proxy_size(info.width, info.height, self.config)
                guess = round(width * height * info.n_frames * self.config.bytes_per_pixel)
                self._make_room(guess, keep=target, needed_for=source)
                temp = target.with_name(
                    f"{target.stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp.mp4")
                yield Progress("proxy", 0, info.n_frames, name)
                yield from self._encode(reader, temp, (width, height), cancel,
                                        lambda used: self._make_room(used, keep=target,
                                                                     needed_for=source))
            written = open_video(temp)
            with written:
                if len(written) != info.n_frames:
                    raise ProxyError(source.path, f"the proxy has {len(written)} frames, the"
                                                  f" video {info.n_frames}; not kept")
            with self._lock:
                os.replace(temp, target)
            temp = target  # removed below if it does not fit after all
            self._make_room(0, keep=target, needed_for=source)
            temp = None
            return target
        except (Cancelled, ProxyError):
            raise
        except VideoError as error:
            raise ProxyError(source.path, f"no proxy: {error.reason}") from None
        except OSError as error:
            why = error.strerror or str(error)
            raise ProxyError(source.path, f"no proxy: cannot write to {self.folder} ({why})"
                             ) from None
        except Exception as error:  # PyAV's codec errors, among others
            if type(error).__module__.split(".")[0] != "av":
                raise
            raise ProxyError(source.path, f"no proxy: the encoder failed ({error})") from None
        finally:
            if temp is not None:
                with contextlib.suppress(OSError):
                    temp.unlink()

    def _encode(self, reader: VideoReader, temp: Path, size: tuple[int, int],
                cancel: CancelFlag | None, fit: Callable[[int], None]
                ) -> Generator[Progress, None, None]:  # fmt: skip
        """Write the proxy to ``temp``; ``fit(bytes written)`` makes room for it in the budget
        as it grows (or raises)."""
        import av

        info, config = reader.info, self.config
        rate = Fraction(info.fps).limit_denominator(1001) if info.fps > 0 else Fraction(25)
        every = max(1, config.progress_every)
        n = info.n_frames
        with av.open(str(temp), "w", format="mp4") as out:
            stream = out.add_stream(config.codec, rate=rate)
            stream.width, stream.height = size
            stream.pix_fmt = "yuv420p"
            stream.gop_size, stream.max_b_frames = config.gop, 0
            stream.options = {"preset": config.preset, "crf": str(config.crf),
                              "tune": config.tune, "scenecut": "0"}
            time_base = 1 / rate
            for i, image in enumerate(reader.iter_frames(size=size)):
                if cancel is not None:
                    cancel.check()
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                frame.pts, frame.time_base = i, time_base
                for packet in stream.encode(frame):
                    out.mux(packet)
                if (i + 1) % every == 0 or i + 1 == n:
                    fit(temp.stat().st_size)
                    yield Progress("proxy", i + 1, n, reader.info.path.name)
            for packet in stream.encode():
                out.mux(packet)

    def _make_room(self, needed: int, *, keep: Path, needed_for: VideoSource) -> None:
        """Evict least recently used proxies (never ``keep``) until ``needed`` more bytes fit;
        ProxyError if even all of them gone would not do."""
        with self._lock:
            proxies = [(p, s) for p, s in self.usage() if p != keep]
            kept = sum(s for p, s in self.usage() if p == keep)
            total = kept + sum(s for _, s in proxies)
            if kept + needed > self.budget_bytes:
                raise ProxyError(needed_for.path, f"no proxy: it needs {(kept + needed) / _MIB:.1f}"
                                 f" MiB or more, over the disk budget of"
                                 f" {self.budget_bytes // _MIB} MiB (View > Proxy settings, or"
                                 " halgui proxy --budget-mib)")
            for path, size in proxies:
                if total + needed <= self.budget_bytes:
                    break
                with contextlib.suppress(OSError):
                    path.unlink()
                    total -= size

    def _find(self, source: VideoSource) -> Path | None:
        if source.known is not None:
            path = self.path_for(source)
            return path if path.is_file() else None
        prefix = f"{source.digest[:32]}-{source.size}-"
        for path in self.folder.glob(f"{prefix}*-{_FORMAT}.mp4"):
            if path.is_file():
                return path
        return None

    def _remove_stale_temps(self) -> None:
        now = time.time()
        for temp in self.folder.glob("*.tmp.mp4"):
            with contextlib.suppress(OSError):
                if now - temp.stat().st_mtime > _STALE_TEMP_S:
                    temp.unlink()


@dataclass
class ProxyReport:
    """What :func:`build_proxies` did: proxies built and, by video name, why others were not."""

    built: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def wanted_proxies(project: Project, store: ProxyStore | None = None,
                   video_ids: list[int] | None = None) -> list[tuple[str, VideoSource]]:
    """The project's linked videos (or those of ``video_ids``) that have a file but no proxy
    in ``store`` (default: the project's), as ``(name, source)``; none if the project's proxy
    setting is off. A video whose file is gone is left out: it has nothing to build from.
    Proxies of files the project no longer has (a video changed on disk) are deleted."""
    if not ProxySettings.load(project).enabled:
        return []
    store = store or ProxyStore.for_project(project)
    keep = [(v.size, v.hash) for v in project.videos() if v.size is not None and v.hash]
    sources = []
    for video in project.videos():
        if video.path is None:
            continue
        try:
            source = VideoSource.from_record(video)  # a file changed on disk: its new print
        except VideoError:
            continue
        keep.append(source.key)
        if video_ids is None or video.id in video_ids:
            sources.append((video.name, source))
    store.prune(keep)
    return [(name, source) for name, source in sources if not store.has(source)]


def build_proxies(store: ProxyStore, videos: list[tuple[str, VideoSource]],
                  cancel: CancelFlag | None = None, *, background: bool = False,
                  ) -> Generator[Progress, None, ProxyReport]:
    """Build the proxies of ``videos`` (``(name, source)``, as :func:`wanted_proxies` gives
    them) one after the other; a video whose build fails is reported and the rest go on.
    Progress is per frame of the video being built, with ``extra["video"]`` its name and
    ``extra["done_videos"]``/``extra["videos"]`` the count."""
    report = ProxyReport()
    for k, (name, source) in enumerate(videos):
        extra = {"video": name, "done_videos": k, "videos": len(videos)}
        try:
            for event in store.build(source, cancel, background=background):
                yield Progress(event.phase, event.done, event.total,
                               f"{name} ({k + 1}/{len(videos)})", extra)
        except ProxyError as error:
            report.failed[name] = error.reason
            continue
        report.built.append(name)
    return report


def _lower_priority(nice: int) -> None:
    """Lower this thread's priority (Linux sets niceness per thread; threads it starts inherit
    it). Elsewhere this does nothing: the build then competes as an equal."""
    if not hasattr(os, "setpriority") or not hasattr(threading, "get_native_id"):
        return
    with contextlib.suppress(OSError):
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, max(current, nice))
