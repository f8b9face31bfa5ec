"""Bringing videos into a project: probe, fingerprint, record; and relinking moved files.

Adding is all-or-nothing by default: every path is probed first, and if one cannot be read the
error names it and nothing is added (``skip_bad=True`` adds the readable ones and reports the
rest). A path that carries the name of an annotation-only video (labels imported without their
media) is linked to that video rather than added twice. A video whose file moved is found again
by its fingerprint (size + hash); :mod:`halgui.core.media_link` finds many videos' media by name.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from halgui.core.errors import HalguiError, VideoError
from halgui.core.media_check import check_media, media_problem, videos_named_by
from halgui.core.progress import CancelFlag, Progress
from halgui.core.project import Project, VideoRecord
from halgui.core.video import VIDEO_EXTENSIONS, VideoInfo, fingerprint, is_frame_folder, probe


@dataclass(frozen=True)
class LinkedVideo:
    """An added path that was an annotation-only video's media, linked to it instead."""

    video_id: int
    name: str
    path: Path


@dataclass
class AddResult:
    added: list[int] = field(default_factory=list)
    already_present: list[Path] = field(default_factory=list)
    failed: list[VideoError] = field(default_factory=list)
    linked: list[LinkedVideo] = field(default_factory=list)


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
    """Probe and add videos; yields progress per file; returns what was added.

    A path that carries the name of an annotation-only video (imported labels waiting for
    their media, see :func:`~halgui.core.media_check.videos_named_by`) is linked to it instead
    of being added as a second video, once it agrees with the labels; one that does not agree,
    or whose name fits several such videos, is an error like an unreadable file."""
    files = expand_paths(paths)
    result = AddResult()
    known = {(v.size, v.hash) for v in project.videos() if v.hash}
    waiting = [v for v in project.videos() if v.path is None]
    probed: list[tuple[Path, VideoInfo, int, str]] = []
    to_link: dict[int, tuple[Path, VideoInfo, int, str]] = {}
    for i, path in enumerate(files):
        if cancel is not None:
            cancel.check()
        yield Progress("probing", i, len(files), path.name)
        try:
            info = probe(path)
            size, digest = fingerprint(path)
            target = _waiting_video(path, waiting, info, (size, digest), to_link)
        except VideoError as exc:
            if not skip_bad:
                raise
            result.failed.append(exc)
            continue
        if target is not None:
            to_link[target.id] = (path, info, size, digest)
            result.linked.append(LinkedVideo(target.id, target.name, path))
            continue
        if (size, digest) in known:
            result.already_present.append(path)
            continue
        known.add((size, digest))
        probed.append((path, info, size, digest))
    yield Progress("probing", len(files), len(files))
    with project.transaction():
        for video_id, (path, info, size, digest) in to_link.items():
            project.link_video(video_id, path, size, digest, info.kind)
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


def _waiting_video(path: Path, waiting: list[VideoRecord], info: VideoInfo,
                   key: tuple[int, str], claimed: dict[int, tuple[Path, VideoInfo, int, str]]
                   ) -> VideoRecord | None:
    """The annotation-only video ``path`` is the media of, if its name says so (None: it is
    a new video); a VideoError when the name fits several, or the media does not fit."""
    named = videos_named_by(path, waiting)
    if not named:
        return None
    if len(named) > 1:
        listed = ", ".join(repr(v.name) for v in named)
        raise VideoError(path, f"fits the names of several annotation-only videos ({listed}); "
                               "link it with 'halgui link' from a folder that keeps the "
                               "dataset's layout")
    video = named[0]
    if video.id in claimed:
        raise VideoError(path, f"names the annotation-only video {video.name!r}, as "
                               f"{claimed[video.id][0]} does; not added")
    problem = media_problem(video, info, key)
    if problem is not None:
        raise VideoError(path, f"names the annotation-only video {video.name!r} but {problem}; "
                               "not added")
    return video


def _unique_name(path: Path, taken: set[str]) -> str:
    stem = path.stem if path.is_file() else path.name
    name, n = stem, 2
    while name in taken:
        name, n = f"{stem}_{n}", n + 1
    return name


def missing_videos(project: Project) -> list[VideoRecord]:
    """Videos whose file is gone or changed (size or hash differs): candidates for relinking."""
    return [video for video in project.videos() if needs_media(video)]


def needs_media(video: VideoRecord) -> bool:
    """Whether ``video`` has no file, or its file is gone or no longer fits the fingerprint
    the project recorded (a different file now sits at its path)."""
    if video.path is None:
        return True
    try:
        current = fingerprint(video.path)
    except VideoError:
        return True
    return video.hash is not None and current != (video.size, video.hash)


def relink(project: Project, video_id: int, new_path: str | Path, *, force: bool = False) -> None:
    """Point a video at its file's new location, after checking it is the same file.

    An annotation-only video (no fingerprint yet) is linked after checking the frame size and
    count match its labels (:func:`~halgui.core.media_check.check_media`). ``force`` accepts a
    file whose content changed.
    """
    video = project.video(video_id)
    new_path = Path(new_path).resolve()
    info, size, digest = check_media(video, new_path, force=force)
    project.link_video(video_id, new_path, size, digest, info.kind)


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
