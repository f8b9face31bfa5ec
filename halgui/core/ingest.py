"""Bringing videos into a project: probe, fingerprint, record; and relinking moved files.

Adding is all-or-nothing by default: every path is probed first, and if one cannot be read the
error names it and nothing is added (``skip_bad=True`` adds the readable ones and reports the
rest). A video whose file moved is found again by its fingerprint (size + hash).
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from halgui.core.errors import HalguiError, VideoError
from halgui.core.progress import CancelFlag, Progress
from halgui.core.project import Project, VideoRecord
from halgui.core.video import VIDEO_EXTENSIONS, VideoInfo, fingerprint, is_frame_folder, probe


@dataclass
class AddResult:
    added: list[int] = field(default_factory=list)
    already_present: list[Path] = field(default_factory=list)
    failed: list[VideoError] = field(default_factory=list)


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files stay; a frame folder is one video; any other folder gives the videos inside it."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser().resolve()
        if path.is_dir() and not is_frame_folder(path):
            found = sorted(
                p for p in path.iterdir()
                if (p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)
                or (p.is_dir() and is_frame_folder(p))
            )
            if not found:
                raise VideoError(path, "holds no video files and no frame images")
            out.extend(found)
        else:
            out.append(path)
    return out


def add_videos(
    project: Project,
    paths: Iterable[str | Path],
    *,
    split: str = "train",
    skip_bad: bool = False,
    cancel: CancelFlag | None = None,
) -> Generator[Progress, None, AddResult]:
    """Probe and add videos; yields progress per file; returns what was added."""
    files = expand_paths(paths)
    result = AddResult()
    known = {(v.size, v.hash) for v in project.videos() if v.hash}
    probed: list[tuple[Path, VideoInfo, int, str]] = []
    for i, path in enumerate(files):
        if cancel is not None:
            cancel.check()
        yield Progress("probing", i, len(files), path.name)
        try:
            info = probe(path)
            size, digest = fingerprint(path)
        except VideoError as exc:
            if not skip_bad:
                raise
            result.failed.append(exc)
            continue
        if (size, digest) in known:
            result.already_present.append(path)
            continue
        known.add((size, digest))
        probed.append((path, info, size, digest))
    yield Progress("probing", len(files), len(files))
    with project.transaction():
        names = {v.name for v in project.videos()}
        for path, info, size, digest in probed:
            name = _unique_name(path, names)
            names.add(name)
            result.added.append(
                project.add_video(
                    name, path=path, width=info.width, height=info.height, fps=info.fps,
                    n_frames=info.n_frames, size=size, hash=digest, kind=info.kind, split=split,
                )
            )
    return result


def _unique_name(path: Path, taken: set[str]) -> str:
    stem = path.stem if path.is_file() else path.name
    name, n = stem, 2
    while name in taken:
        name, n = f"{stem}_{n}", n + 1
    return name


def missing_videos(project: Project) -> list[VideoRecord]:
    """Videos whose file is gone or changed (size or hash differs): candidates for relinking."""
    out = []
    for video in project.videos():
        if video.path is None:
            out.append(video)
            continue
        try:
            current = fingerprint(video.path)
        except VideoError:
            out.append(video)
            continue
        if video.hash is not None and current != (video.size, video.hash):
            out.append(video)
    return out


def relink(project: Project, video_id: int, new_path: str | Path, *, force: bool = False) -> None:
    """Point a video at its file's new location, after checking it is the same file.

    An annotation-only video (no fingerprint yet) is linked after checking the frame size and
    count match its labels. ``force`` accepts a file whose content changed.
    """
    video = project.video(video_id)
    new_path = Path(new_path).resolve()
    info = probe(new_path)
    size, digest = fingerprint(new_path)
    if video.hash is not None and (size, digest) != (video.size, video.hash) and not force:
        raise VideoError(new_path, f"is not the file that video {video.name!r} was made from "
                                   "(its size or content differs)")
    if (info.width, info.height) != (video.width, video.height) and not force:
        raise VideoError(new_path, f"is {info.width}x{info.height}, but video {video.name!r} "
                                   f"is {video.width}x{video.height}")
    if info.n_frames != video.n_frames and not force:
        raise VideoError(new_path, f"has {info.n_frames} frames, but video {video.name!r} "
                                   f"has {video.n_frames}")
    project.link_video(video_id, new_path, size, digest)


def find_moved(project: Project, folder: str | Path) -> dict[int, Path]:
    """Search a folder (recursively) for the files of missing videos, matched by fingerprint."""
    wanted = {(v.size, v.hash): v.id for v in missing_videos(project) if v.hash}
    found: dict[int, Path] = {}
    if not wanted:
        return found
    sizes = {size for size, _ in wanted}
    for path in sorted(Path(folder).rglob("*")):
        if not (path.is_file() and path.suffix.lower() in VIDEO_EXTENSIONS):
            continue
        if path.stat().st_size not in sizes:
            continue
        try:
            key = fingerprint(path)
        except HalguiError:
            continue
        if key in wanted and wanted[key] not in found:
            found[wanted[key]] = path
    return found
