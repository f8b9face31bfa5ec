"""Linking many videos to their media at once, by name: ``halgui link`` and File > Link media.

Every dataset of the field arrives as labels plus a folder of media (UCF101-24 and JHMDB-21 as
one folder of JPEG frames per video, or .avi files; AVA, MultiSports, COCO/CVAT/MOT exports as
video files or frame folders). After an import the videos are annotation-only; after a move
their files are gone. :func:`link_media` looks for each such video under a media root:

1. ``ROOT/NAME``: a frame folder (or a video file, for a name that keeps its extension), or a
   folder whose one frame subfolder holds the frames (MOTChallenge's ``NAME/img1``);
2. ``ROOT/NAME.EXT`` for each of :attr:`LinkConfig.extensions`;
3. when neither exists, anything at any depth under ROOT whose folder name or file stem is the
   name's last component (a folder counting as named so when its one frame subfolder is not),
   if no other video of the project ends in the same component;
4. for a moved video file that none of these finds (renamed as well as moved): a video file
   under ROOT with the fingerprint (size and hash) the project recorded.

One candidate is probed and linked if it agrees with the labels
(:func:`~halgui.core.media_check.media_problem`); otherwise the video is *mismatched*. Several
candidates make it *ambiguous*, none *missing*; a path another video already uses is never
taken twice. Problems change nothing for their video. Every link is written in one
transaction (none with ``dry_run``).
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from halgui.core.errors import ProjectError, VideoError
from halgui.core.ingest import needs_media
from halgui.core.media_check import check_media, name_parts
from halgui.core.progress import CancelFlag, Progress
from halgui.core.project import Project, VideoRecord
from halgui.core.video import FRAME_EXTENSIONS, fingerprint, is_frame_folder

__all__ = ["STATUSES", "LinkConfig", "LinkOutcome", "LinkResult", "link_media", "unlinked"]

Status = Literal["linked", "missing", "mismatched", "ambiguous"]
#: Every outcome a video can have, in the order summaries list them.
STATUSES: tuple[Status, ...] = ("linked", "missing", "mismatched", "ambiguous")


@dataclass(frozen=True)
class LinkConfig:
    """Choices of the name matching."""

    extensions: tuple[str, ...] = (".avi", ".mp4", ".mkv", ".mov", ".webm")
    """Video file extensions tried after a name (``NAME.avi``), in this order; either case."""


@dataclass(frozen=True)
class LinkOutcome:
    """What became of one video: linked to ``path``, or why not (``detail``, and the
    ``candidates`` found when there were several or the one found did not fit)."""

    video_id: int
    name: str
    status: Status
    path: Path | None = None
    detail: str = ""
    candidates: tuple[Path, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"video": self.name, "status": self.status}
        if self.path is not None:
            out["path"] = str(self.path)
        if self.detail:
            out["detail"] = self.detail
        if self.candidates:
            out["candidates"] = [str(c) for c in self.candidates]
        return out


@dataclass
class LinkResult:
    """One outcome per video that needed media, in the project's order."""

    root: Path
    dry_run: bool
    outcomes: list[LinkOutcome] = field(default_factory=list)

    @property
    def linked(self) -> list[LinkOutcome]:
        return [o for o in self.outcomes if o.status == "linked"]

    @property
    def problems(self) -> list[LinkOutcome]:
        return [o for o in self.outcomes if o.status != "linked"]

    def counts(self) -> dict[str, int]:
        counted = Counter(o.status for o in self.outcomes)
        return {status: counted[status] for status in STATUSES}

    def as_dict(self) -> dict[str, Any]:
        """The ``--json`` report: counts, what was (or would be) linked, and the problems."""
        return {
            "media_root": str(self.root), "dry_run": self.dry_run,
            "videos": len(self.outcomes), **self.counts(),
            "links": [{"video": o.name, "path": str(o.path)} for o in self.linked],
            "problems": [o.as_dict() for o in self.problems],
        }


def unlinked(project: Project, cancel: CancelFlag | None = None
             ) -> Generator[Progress, None, list[VideoRecord]]:
    """The videos that need media: annotation-only ones, and those whose file is gone or
    changed (the fingerprint the project recorded no longer fits)."""
    videos = project.videos()
    out = []
    for i, video in enumerate(videos):
        if cancel is not None:
            cancel.check()
        if video.path is not None:  # only a linked one costs a fingerprint
            yield Progress("checking linked videos", i, len(videos), video.name)
        if needs_media(video):
            out.append(video)
    return out


def link_media(
    project: Project,
    root: str | Path,
    *,
    dry_run: bool = False,
    only: set[int] | None = None,
    config: LinkConfig | None = None,
    cancel: CancelFlag | None = None,
) -> Generator[Progress, None, LinkResult]:
    """Find, check and link the media of every video that needs it (those in ``only``, if
    given) under ``root``; see the module docstring. Raises VideoError if ``root`` is not a
    folder; a problem with one video is an outcome, not an error."""
    config = config or LinkConfig()
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise VideoError(root, "is not a folder (give the folder that holds the media)")
    if project.read_only and not dry_run:
        raise ProjectError(project.folder, f"is open read-only ({project.read_only_reason}): "
                                           "nothing can be linked")
    result = LinkResult(root, dry_run)
    todo = [v for v in (yield from unlinked(project, cancel)) if only is None or v.id in only]
    everyone = project.videos()
    taken = {v.path.resolve() for v in everyone if v.path is not None
             and v.id not in {t.id for t in todo}}
    last_counts = Counter(parts[-1] for v in everyone if (parts := name_parts(v.name)))
    index: _MediaIndex | None = None
    claimed: dict[Path, int] = {}  # candidate path -> index of the outcome that took it
    checked: list[tuple[VideoRecord, Path, str, int, str]] = []
    for i, video in enumerate(todo):
        if cancel is not None:
            cancel.check()
        yield Progress("matching", i, len(todo), video.name)
        parts = name_parts(video.name)
        candidates = _direct(root, parts, config)
        if not candidates and parts:
            if index is None:
                yield Progress("listing media", 0, 1, str(root))
                index = _MediaIndex(root, config)
            if last_counts[parts[-1]] == 1:
                candidates = index.named(parts[-1])
            elif index.named(parts[-1]):
                result.outcomes.append(LinkOutcome(
                    video.id, video.name, "ambiguous",
                    detail=f"other videos' names also end in {parts[-1]!r}, so media found by "
                           "that name alone could be theirs; use a media folder that keeps "
                           "the dataset's layout", candidates=tuple(index.named(parts[-1]))))
                continue
        candidates = [c for c in candidates if c.resolve() not in taken]
        if not candidates and video.hash is not None and video.kind == "file":
            if index is None:
                yield Progress("listing media", 0, 1, str(root))
                index = _MediaIndex(root, config)
            candidates = [c for c in index.with_fingerprint(video.size, video.hash)
                          if c.resolve() not in taken]
        if not candidates:
            result.outcomes.append(LinkOutcome(video.id, video.name, "missing",
                                               detail=f"nothing under {root} has its name"))
            continue
        if len(candidates) > 1:
            result.outcomes.append(LinkOutcome(
                video.id, video.name, "ambiguous",
                detail=f"{len(candidates)} candidates have its name", candidates=tuple(candidates)))
            continue
        path = candidates[0].resolve()
        if path in claimed:  # two videos' names lead to one path: neither gets it
            other = result.outcomes[claimed[path]]
            result.outcomes[claimed[path]] = LinkOutcome(
                other.video_id, other.name, "ambiguous",
                detail=f"video {video.name!r} has a name that fits it too", candidates=(path,))
            result.outcomes.append(LinkOutcome(
                video.id, video.name, "ambiguous",
                detail=f"video {other.name!r} has a name that fits it too", candidates=(path,)))
            continue
        try:
            info, size, digest = check_media(video, path)
        except VideoError as exc:
            detail = exc.reason if exc.path == path else str(exc)  # a frame inside names it
            result.outcomes.append(LinkOutcome(video.id, video.name, "mismatched", path, detail,
                                               (path,)))
            continue
        claimed[path] = len(result.outcomes)
        result.outcomes.append(LinkOutcome(video.id, video.name, "linked", path))
        checked.append((video, path, info.kind, size, digest))
    yield Progress("matching", len(todo), len(todo))
    links = {o.video_id for o in result.linked}
    if not dry_run and links:
        with project.transaction():
            for video, path, kind, size, digest in checked:
                if video.id in links:
                    project.link_video(video.id, path, size, digest, kind)
    return result


def _direct(root: Path, parts: tuple[str, ...], config: LinkConfig) -> list[Path]:
    """Rules 1 and 2 of the module docstring."""
    if not parts:
        return []
    base = root.joinpath(*parts)
    found = []
    if base.is_dir():
        if is_frame_folder(base):
            found.append(base)
        else:
            inner = [d for d in sorted(base.iterdir()) if is_frame_folder(d)]
            found.extend(inner if len(inner) == 1 else ())
    elif base.is_file() and base.suffix.lower() in {e.lower() for e in config.extensions}:
        found.append(base)
    for ext in config.extensions:
        for variant in dict.fromkeys((ext.lower(), ext.upper())):
            candidate = base.with_name(base.name + variant)
            if candidate.is_file():
                found.append(candidate)
    return list(dict.fromkeys(found))


class _MediaIndex:
    """Every frame folder and video file under a root, by folder name, file name and stem:
    one walk of the tree, made only when some name is not found where rules 1-2 look."""

    def __init__(self, root: Path, config: LinkConfig) -> None:
        extensions = {e.lower() for e in config.extensions}
        self._by_name: dict[str, list[Path]] = defaultdict(list)
        self._files: list[Path] = []  # every video file, for rule 4
        frame_folders: dict[Path, list[Path]] = defaultdict(list)  # parent -> its frame folders
        for folder, _, names in os.walk(root):
            here = Path(folder)
            if here != root and any(os.path.splitext(n)[1].lower() in FRAME_EXTENSIONS
                                    for n in names):
                self._by_name[here.name].append(here)
                frame_folders[here.parent].append(here)
            for name in names:
                stem, ext = os.path.splitext(name)
                if ext.lower() in extensions:
                    self._files.append(here / name)
                    self._by_name[stem].append(here / name)
                    self._by_name[name].append(here / name)
        for parent, inner in frame_folders.items():
            if len(inner) == 1 and parent != root and not _holds_frames(parent):
                self._by_name[parent.name].append(inner[0])

    def named(self, name: str) -> list[Path]:
        return sorted(set(self._by_name.get(name, ())))

    def with_fingerprint(self, size: int | None, digest: str) -> list[Path]:
        """The video files whose fingerprint is ``(size, digest)`` (only same-size files are
        read)."""
        found = []
        for path in self._files:
            try:
                if path.stat().st_size == size and fingerprint(path) == (size, digest):
                    found.append(path)
            except (OSError, VideoError):
                continue
        return found


def _holds_frames(folder: Path) -> bool:
    return any(p.suffix.lower() in FRAME_EXTENSIONS for p in folder.iterdir() if p.is_file())
