"""Frame-exact access to videos and folders of frame images.

One video is a file that FFmpeg (through PyAV) decodes, or a folder of frame images. Everything
above this module addresses frames by index, 0 to ``n_frames - 1``, and gets RGB ``uint8`` arrays
of shape (H, W, 3). :func:`probe` finds the true frame count, :func:`open_video` gives a reader
with random access, :func:`fingerprint` tells whether a file moved or changed. A project's video
is read through :mod:`halgui.core.video_source` (its stored fingerprint and probe reused); the
frame cache (playback) and the clip cache (model input) live in :mod:`halgui.core.frame_cache`
and :mod:`halgui.core.clip_cache`, the short-GOP copy that makes seeking fast in
:mod:`halgui.core.proxy`.

How a file is read frame-exactly: frame ``i`` is the ``i``-th distinct presentation timestamp.
For a constant-rate file (average rate equal to the base rate, and the last frame found where
the count says) the timestamp is ``start + i * step``; any other file is indexed once by
demuxing every packet (no decoding). A read seeks to the keyframe at or before the timestamp and
decodes forward, skipping non-reference frames on the way, or just decodes forward when the
target is a few frames ahead. Every frame handed out is checked against its expected timestamp,
so a wrong seek raises instead of returning a neighbour.
"""

from __future__ import annotations

import bisect
import hashlib
import operator
import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import av
import cv2
import numpy as np

from halgui.core.errors import VideoError

__all__ = [
    "FRAME_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "FrameRangeError",
    "VideoConfig",
    "VideoInfo",
    "VideoReader",
    "fingerprint",
    "frame_files",
    "is_frame_folder",
    "open_video",
    "probe",
]

VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts"}
    | {".wmv", ".flv", ".3gp", ".ogv"}
)
FRAME_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"})
_MIB = 1 << 20
Size = int | tuple[int, int]
"""A resize target: S for S x S, or (width, height)."""


@dataclass(frozen=True)
class VideoConfig:
    """Choices of the video layer, with their defaults in one place."""

    frame_cache_bytes: int = 512 * _MIB
    """Byte budget of a :class:`FrameCache` (about 86 frames at 1080p)."""
    prefetch_frames: int = 8
    """Frames a frame cache decodes ahead of the playhead when moving forward."""
    prefetch_back_frames: int = 24
    """Frames a frame cache keeps decoded behind the playhead when moving back. They come in
    blocks of this size, one seek each, so it must be large enough that a block decodes faster
    than the user steps through the previous one (a 1080p GOP of 120 takes ~0.3 s on 2 cores)."""
    clip_size: int = 112
    """Side S of the square S x S frames in the clip cache (the model's input size)."""
    clip_progress_every: int = 32
    """Frames between two progress events of a clip-cache build."""
    frames_fps: float = 25.0
    """Frame rate reported for a folder of frame images, which carries none."""
    full_frame_rest_ms: int = 400
    """How long the playhead must rest on a frame shown from a proxy before the canvas fetches
    it from the video itself (a seek there costs a few hundred ms on long-GOP footage)."""
    full_frame_cache_bytes: int = 32 * _MIB
    """Byte budget of the cache of those full-resolution frames (a few 1080p frames)."""
    forward_decode_max: int = 32
    """Decode forward instead of seeking when the target is at most this many frames ahead
    (and no known keyframe lies in between)."""


DEFAULT_CONFIG = VideoConfig()


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` learns about a video; ``n_frames`` is the true (decodable) count."""

    path: Path
    width: int
    height: int
    fps: float
    n_frames: int
    kind: Literal["file", "frames"]


class FrameRangeError(VideoError, IndexError):
    """A frame index outside 0 .. n_frames - 1."""


# --------------------------------------------------------------------------------- public API


def probe(path: str | Path) -> VideoInfo:
    """Size, rate and true frame count of a video file or frame folder; raises VideoError."""
    with open_video(path) as reader:
        return reader.info


def open_video(
    path: str | Path,
    *,
    known: VideoInfo | None = None,
    sequential: bool = False,
    config: VideoConfig | None = None,
) -> VideoReader:
    """Open a video file or frame folder for frame-exact reading.

    ``known`` is the :class:`VideoInfo` of an earlier probe of the same, unchanged file (a
    project's video gets it from :class:`~halgui.core.video_source.VideoSource`): opening then
    skips counting frames. ``sequential`` says the
    caller reads front to back; it changes nothing today, as every reader already uses frame
    and slice threads (a random seek is throughput-bound too), and is kept for callers.
    """
    path = Path(path)
    config = config or DEFAULT_CONFIG
    if path.is_dir():
        return _FolderReader(path, config)
    if not path.exists():
        raise VideoError(path, "does not exist")
    suffix = path.suffix.lower()
    if suffix in FRAME_EXTENSIONS:
        raise VideoError(path, "is a single image; add the folder that holds the frames instead")
    if suffix not in VIDEO_EXTENSIONS:
        kinds = ", ".join(sorted(VIDEO_EXTENSIONS))
        raise VideoError(path, f"unsupported file type {suffix or '(none)'!r} (expected {kinds})")
    del sequential  # see the docstring
    return _FileReader(path, config, known=known)


def fingerprint(path: str | Path) -> tuple[int, str]:
    """``(size in bytes, hex digest)``: cheap, stable across copies, changes with the content.

    A file hashes its size, first and last MiB; a frame folder hashes the sorted list of its
    frame names and sizes (renaming, adding or resizing a frame changes it).
    """
    path = Path(path)
    digest = hashlib.sha256()
    try:
        if path.is_dir():
            total = 0
            for frame in frame_files(path):
                size = frame.stat().st_size
                total += size
                digest.update(f"{frame.name}\0{size}\n".encode())
            return total, digest.hexdigest()
        size = path.stat().st_size
        digest.update(str(size).encode() + b"\0")
        with path.open("rb") as f:
            digest.update(f.read(_MIB))
            if size > _MIB:
                f.seek(max(_MIB, size - _MIB))
                digest.update(f.read(_MIB))
    except FileNotFoundError:
        raise VideoError(path, "does not exist") from None
    except OSError as error:
        raise VideoError(path, f"cannot be read ({error.strerror or error})") from None
    return size, digest.hexdigest()


def frame_files(folder: Path) -> list[Path]:
    """The frame images in a folder, in natural order (``f2.png`` before ``f10.png``)."""
    files = [p for p in folder.iterdir() if p.suffix.lower() in FRAME_EXTENSIONS and p.is_file()]
    return sorted(files, key=lambda p: (_natural_key(p.name), p.name))


def is_frame_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder holding at least one frame image."""
    path = Path(path)
    try:
        return path.is_dir() and any(
            p.suffix.lower() in FRAME_EXTENSIONS and p.is_file() for p in path.iterdir()
        )
    except OSError:
        return False


def _wh(size: Size) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def _natural_key(name: str) -> list[int | str]:
    # re.split with a group alternates text and digits, so ints only ever meet ints.
    return [int(part) if part.isdecimal() else part.lower() for part in re.split(r"(\d+)", name)]


# ----------------------------------------------------------------------------------- readers


class VideoReader:
    """Frame-exact random access to one video. Not thread-safe: use one reader per thread."""

    info: VideoInfo

    def __len__(self) -> int:
        return self.info.n_frames

    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` as a new (H, W, 3) RGB uint8 array."""
        return self._read(self._check(index), None)

    def iter_frames(
        self, start: int = 0, stop: int | None = None, *, size: Size | None = None
    ) -> Iterator[np.ndarray]:
        """Frames ``start .. stop - 1`` in order, resized if ``size`` is given: ``S`` gives
        S x S frames, ``(width, height)`` frames of that shape."""
        stop = self.info.n_frames if stop is None else min(stop, self.info.n_frames)
        for index in range(start, stop):
            yield self._read(self._check(index), size)

    def close(self) -> None:
        """Release the decoder and file handles (idempotent)."""

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check(self, index: int) -> int:
        index = operator.index(index)
        if not 0 <= index < self.info.n_frames:
            last = self.info.n_frames - 1
            raise FrameRangeError(self.info.path, f"has no frame {index} (frames are 0..{last})")
        return index

    def _read(self, index: int, size: Size | None) -> np.ndarray:
        raise NotImplementedError


class _FolderReader(VideoReader):
    def __init__(self, path: Path, config: VideoConfig) -> None:
        try:
            self._files = frame_files(path)
        except OSError as error:
            raise VideoError(path, f"cannot be listed ({error.strerror or error})") from None
        if not self._files:
            kinds = ", ".join(sorted(FRAME_EXTENSIONS))
            raise VideoError(path, f"is a folder with no frame images ({kinds})")
        height, width = _imread(self._files[0]).shape[:2]
        self.info = VideoInfo(path, width, height, config.frames_fps, len(self._files), "frames")

    def _read(self, index: int, size: Size | None) -> np.ndarray:
        image = _imread(self._files[index])
        if image.shape[:2] != (self.info.height, self.info.width):
            h, w = image.shape[:2]
            want = f"{self.info.width}x{self.info.height}"
            raise VideoError(self._files[index], f"is {w}x{h}, the folder's first frame {want}")
        if size is not None:
            image = cv2.resize(image, _wh(size), interpolation=cv2.INTER_AREA)
        return image


def _imread(path: Path) -> np.ndarray:
    try:
        data = np.fromfile(path, dtype=np.uint8)  # also works for non-ASCII paths on Windows
    except OSError as error:
        raise VideoError(path, f"cannot be read ({error.strerror or error})") from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR_RGB) if data.size else None
    if image is None:
        raise VideoError(path, "cannot be decoded as an image")
    return image


class _Miss(Exception):
    """Internal: the wanted frame was not where its timestamp said (reason in args)."""


class _FileReader(VideoReader):
    def __init__(self, path: Path, config: VideoConfig, *, known: VideoInfo | None) -> None:
        self._path = path
        self._config = config
        self._container = _open_container(path)
        try:
            self._setup(known)
        except av.error.FFmpegError as error:
            self._container.close()
            raise VideoError(path, f"cannot be decoded ({_why(error)})") from None
        except BaseException:
            self._container.close()
            raise

    # --- opening and counting

    def _setup(self, known: VideoInfo | None) -> None:
        if not self._container.streams.video:
            raise VideoError(self._path, "has no video stream")
        stream = self._stream = self._container.streams.video[0]
        if stream.codec_context is None:
            raise VideoError(self._path, f"uses a codec this FFmpeg cannot decode ({stream})")
        # Frame and slice threads: a seek decodes up to a GOP, which is throughput-bound.
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate or rate <= 0 or stream.time_base is None:
            raise VideoError(self._path, "has no frame rate or time base; cannot address frames")
        self._step = 1 / (Fraction(rate) * stream.time_base)  # timestamp units per frame
        self._exact: list[int] | None = None  # timestamps by index, when not constant-rate
        self._index_by_ts: dict[int, int] = {}
        self._keyframes: list[int] = []  # indices seen to be keyframes, sorted
        self._next: int | None = None  # index of the frame the decoder yields next
        self._last: tuple[int, av.VideoFrame] | None = None
        self._frames: Iterator[av.VideoFrame] | None = None
        self._skip_below: int | None = None  # skip non-reference packets below this timestamp
        self._start = 0
        self._restart()
        first = self._pull_raw()
        if first is None:
            raise VideoError(self._path, "contains no video frames")
        self._start = _timestamp(first, self._path)
        self._last, self._next = (0, first), 1
        self._keyframes = [0] if first.key_frame else []
        width, height = first.width, first.height
        constant = bool(stream.average_rate) and stream.average_rate == stream.base_rate
        if known is not None:
            n_frames = known.n_frames
            if not constant:
                self._use_exact(self._demux_timestamps() or self._decode_timestamps())
        else:
            n_frames = self._count(constant)
        self.info = VideoInfo(self._path, width, height, float(rate), n_frames, "file")

    def _count(self, constant: bool) -> int:
        """The true frame count: trust the container only if frame n-1 decodes and n does not."""
        stream = self._stream
        if constant:
            # The header's count; failing that (Matroska stores none), the duration's.
            n = stream.frames
            if n <= 0 and self._container.duration:
                n = round(self._container.duration / av.time_base / self._step_s())
            if n > 0 and self._ends_at(n):
                return n
        timestamps = self._demux_timestamps()
        if timestamps:
            self._use_exact(timestamps)
            if self._ends_at(len(timestamps)):
                return len(timestamps)
        self._use_exact(self._decode_timestamps())
        assert self._exact is not None
        return len(self._exact)

    def _step_s(self) -> float:
        return float(self._step * self._stream.time_base)

    def _ends_at(self, n: int) -> bool:
        try:
            self._frame(n - 1)
            return self._pull() is None
        except (_Miss, av.error.FFmpegError):
            self._frames = None
            return False

    def _use_exact(self, timestamps: list[int]) -> None:
        if not timestamps:
            raise VideoError(self._path, "contains no video frames")
        self._exact = timestamps
        self._index_by_ts = {ts: i for i, ts in enumerate(timestamps)}
        self._start = timestamps[0]
        self._frames, self._next, self._last, self._keyframes = None, None, None, []

    def _demux_timestamps(self) -> list[int] | None:
        """Timestamps of all packets, sorted (no decoding); None if some packet lacks one.

        A packet that the demuxer marks corrupt (the file ends inside it) means truncation.
        """
        stamps: set[int] = set()
        complete = True
        try:
            with av.open(str(self._path)) as container:
                for k, packet in enumerate(container.demux(container.streams.video[0])):
                    if not packet.size:
                        continue
                    if packet.is_corrupt:
                        raise VideoError(
                            self._path, f"is truncated or corrupt: packet {k} of the video is cut"
                            f" short or damaged (the header announces {self._stream.frames or '?'}"
                            " frames)"
                        )
                    if packet.pts is None:
                        complete = False
                    else:
                        stamps.add(packet.pts)
        except av.error.FFmpegError:
            return None
        return sorted(stamps) if complete else None

    def _decode_timestamps(self) -> list[int]:
        """Timestamps of all frames by decoding the whole file: the last resort."""
        stamps: list[int] = []
        try:
            with av.open(str(self._path)) as container:
                for frame in container.decode(video=0):
                    stamps.append(_timestamp(frame, self._path))
        except av.error.FFmpegError as error:
            raise VideoError(
                self._path, f"is truncated or corrupt: decoding fails after frame {len(stamps)}"
                f" ({_why(error)})"
            ) from None
        if len(set(stamps)) != len(stamps) or stamps != sorted(stamps):
            raise VideoError(self._path, "has frames with repeated or unordered timestamps")
        return stamps

    # --- reading

    def _read(self, index: int, size: Size | None) -> np.ndarray:
        try:
            frame = self._frame(index)
        except (_Miss, av.error.FFmpegError) as error:
            self._frames, self._next, self._last = None, None, None
            if self._exact is None and isinstance(error, _Miss):
                self._use_exact(self._demux_timestamps() or self._decode_timestamps())
                return self._read(index, size)  # once: now _exact is set
            reason = f"frame {index} cannot be decoded ({_why(error)})"
            raise VideoError(self._path, reason) from None
        if size is None:
            array = frame.to_ndarray(format="rgb24")
        else:
            width, height = _wh(size)
            array = frame.to_ndarray(format="rgb24", width=width, height=height,
                                     interpolation="AREA")
        return np.ascontiguousarray(array)

    def _frame(self, index: int) -> av.VideoFrame:
        """The decoded frame ``index``: decode forward if it is just ahead, else seek."""
        if self._last is not None and self._last[0] == index:
            return self._last[1]
        # A seek can land just past the target (a keyframe whose decode time is before the
        # target but whose presentation time is after it): then seek from further back.
        further_back = iter((16, 256, index))
        if not self._forward_ok(index):
            self._seek(index)
        first_after_seek = self._next is None
        # Non-reference frames before the target are never shown: let the decoder drop them.
        slack = 0 if self._exact is not None else int(self._step / 2)
        self._skip_below = self._timestamp_of(index) - slack
        while True:
            got = self._pull()
            if got is None:
                raise _Miss(f"the file ends before frame {index}")
            j, frame = got
            if j == index:
                self._skip_below = None
                self._last = (j, frame)
                return frame
            if j > index:
                back = next(further_back, None) if first_after_seek else None
                if back is None:
                    raise _Miss(f"frame {j} came where frame {index} was expected")
                self._seek(max(0, index - back))
                continue
            first_after_seek = False

    def _forward_ok(self, index: int) -> bool:
        pos = self._next
        if self._frames is None or pos is None or index < pos:
            return False
        k = bisect.bisect_right(self._keyframes, index) - 1
        if k >= 0 and self._keyframes[k] > pos:
            return False  # a seek lands on that keyframe: less to decode
        return index - pos <= self._config.forward_decode_max

    def _seek(self, index: int) -> None:
        """Put the decoder on the last keyframe at or before frame ``index``."""
        offset = self._timestamp_of(index)
        self._container.seek(offset, stream=self._stream, backward=True, any_frame=False)
        self._frames = self._decode_from_here()
        self._next = None

    def _restart(self) -> None:
        self._frames = self._decode_from_here()
        self._next = 0

    def _decode_from_here(self) -> Iterator[av.VideoFrame]:
        codec = self._stream.codec_context
        for packet in self._container.demux(self._stream):
            skip = self._skip_below
            codec.skip_frame = (
                "NONREF" if skip is not None and packet.pts is not None and packet.pts < skip
                else "DEFAULT"
            )
            yield from packet.decode()

    def _pull_raw(self) -> av.VideoFrame | None:
        assert self._frames is not None
        return next(self._frames, None)

    def _pull(self) -> tuple[int, av.VideoFrame] | None:
        """The next decoded frame and its index, or None at the end of the file."""
        if self._frames is None:
            raise _Miss("the decoder has no position")
        frame = self._pull_raw()
        if frame is None:
            self._frames = None
            return None
        index = self._index_of(_timestamp(frame, self._path))
        if index is None:
            raise _Miss(f"timestamp {frame.pts} is not on the frame grid")
        if frame.key_frame:
            k = bisect.bisect_left(self._keyframes, index)
            if k == len(self._keyframes) or self._keyframes[k] != index:
                self._keyframes.insert(k, index)
        self._next = index + 1
        return index, frame

    def _index_of(self, ts: int) -> int | None:
        if self._exact is not None:
            return self._index_by_ts.get(ts)
        x = (ts - self._start) / self._step
        index = round(x)
        return index if index >= 0 and abs(x - index) < Fraction(1, 4) else None

    def _timestamp_of(self, index: int) -> int:
        if self._exact is not None:
            return self._exact[index]
        return self._start + round(index * self._step)

    def close(self) -> None:
        self._frames, self._last = None, None
        self._container.close()


def _open_container(path: Path) -> Any:
    try:
        return av.open(str(path), metadata_errors="ignore")
    except FileNotFoundError:
        raise VideoError(path, "does not exist") from None
    except PermissionError:
        raise VideoError(path, "cannot be read (permission denied)") from None
    except av.error.InvalidDataError:
        raise VideoError(
            path, "is not a readable video (invalid data: truncated, corrupt or not a video)"
        ) from None
    except (av.error.FFmpegError, OSError) as error:
        raise VideoError(path, f"cannot be opened as a video ({_why(error)})") from None


def _timestamp(frame: av.VideoFrame, path: Path) -> int:
    ts = frame.pts if frame.pts is not None else frame.dts
    if ts is None:
        raise VideoError(path, "has frames without timestamps; frame-exact access is impossible")
    return int(ts)


def _why(error: BaseException) -> str:
    if isinstance(error, av.error.FFmpegError) and error.strerror:
        return str(error.strerror)
    return str(error.args[0]) if error.args else type(error).__name__
