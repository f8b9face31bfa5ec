"""One path from a stored video to its frames: a :class:`VideoSource`.

The project records each video's fingerprint (size and hash) and what probing it found (size,
rate, frame count) when it is added or relinked. A source made from that record reuses both:
its caches are named by the stored fingerprint and opening it skips counting frames, so neither
the frame cache (playback) nor the clip cache (model input) reads the file just to recognise it.

Trusting the record is checked by size only, which costs a ``stat`` (a listing for a frame
folder) and no reading: if the size on disk differs from the stored one, the file changed since
it was recorded, and the source falls back to what the file is now (fingerprinted and counted
afresh), as if it had no record. A same-size rewrite is not noticed here, as the fingerprint
itself, which hashes only the first and last MiB, would miss most of them too; relinking and the
missing-videos check (:mod:`halgui.core.ingest`) compare full fingerprints.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from halgui.core.errors import VideoError
from halgui.core.video import (
    VideoConfig,
    VideoInfo,
    VideoReader,
    fingerprint,
    frame_files,
    open_video,
)

if TYPE_CHECKING:
    from halgui.core.project import VideoRecord

__all__ = ["VideoSource"]


@dataclass(frozen=True)
class VideoSource:
    """A video file or frame folder, the fingerprint that names its caches and, when a trusted
    record says so, its :class:`VideoInfo` (``known``: then opening skips counting frames)."""

    path: Path
    size: int
    digest: str
    known: VideoInfo | None = None

    @classmethod
    def from_path(cls, path: str | Path) -> VideoSource:
        """A source for a file with no record: fingerprinted now, its frames counted on open."""
        path = Path(path)
        size, digest = fingerprint(path)
        return cls(path, size, digest)

    @classmethod
    def from_record(cls, record: VideoRecord) -> VideoSource:
        """A source for a project's video, trusting its stored fingerprint and probe while the
        size on disk matches (see the module docstring). Raises VideoError if the video is not
        linked to a file or the file is gone."""
        if record.path is None:
            raise VideoError(record.name, "is not linked to a video file yet; link it first")
        path = Path(record.path)
        if record.size is None or record.hash is None or _size_on_disk(path) != record.size:
            return cls.from_path(path)
        kind = "frames" if record.kind == "frames" else "file"
        known = VideoInfo(path, record.width, record.height, record.fps, record.n_frames, kind)
        return cls(path, record.size, record.hash, known)

    @property
    def key(self) -> tuple[int, str]:
        """``(size, digest)``, as :func:`~halgui.core.video.fingerprint` gives it."""
        return self.size, self.digest

    def open(self, config: VideoConfig | None = None) -> VideoReader:
        """A frame-exact reader (see :func:`~halgui.core.video.open_video`)."""
        return open_video(self.path, known=self.known, config=config)


def _size_on_disk(path: Path) -> int:
    """The size :func:`~halgui.core.video.fingerprint` would report, without hashing."""
    try:
        if path.is_dir():
            return sum(frame.stat().st_size for frame in frame_files(path))
        return path.stat().st_size
    except FileNotFoundError:
        raise VideoError(path, "does not exist") from None
    except OSError as error:
        raise VideoError(path, f"cannot be read ({error.strerror or error})") from None
