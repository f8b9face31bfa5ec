"""The demo project: a few dozen short SynthActions videos, a handful of frames labeled.

:func:`make_demo` renders the videos into ``<folder>/videos/``, keeps the full ground truth in
``<folder>/ground_truth.json`` (for simulated labeling and evaluation) and creates a project in
``<folder>`` that holds every video and class but, like a project a person has just started,
labels on only a few frames of a few videos: ``labeled_frames`` frames in each of
``labeled_videos`` training videos, with the ground-truth boxes of those frames as keyframes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Generator
from pathlib import Path

from halgui.core.errors import ProjectError
from halgui.core.formats.common import ParsedTrack, ParsedVideo, write_labels
from halgui.core.formats.halgui_json import parse
from halgui.core.progress import CancelFlag, Progress
from halgui.core.project import DB_NAME, Project
from halgui.core.synthetic import SynthConfig, generate

__all__ = ["DEMO_CONFIG", "Round0", "default_demo_dir", "make_demo"]

#: The demo's videos: 24 short ones at SynthActions' default size, seeded.
DEMO_CONFIG = SynthConfig(n_videos=24, n_frames=96, seed=7)

#: A round-0 step run on the new, open project after the labels are written (for example one
#: that proposes the first frames to label). It may yield progress; its return value is ignored.
Round0 = Callable[[Project, CancelFlag | None], Generator[Progress, None, object]]


def default_demo_dir() -> Path:
    """``<user data dir>/demo``: where ``halgui demo`` puts the demo by default."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("halgui", appauthor=False)) / "demo"


def first_proposals(project: Project, cancel: CancelFlag | None
                    ) -> Generator[Progress, None, object]:
    """The demo's round 0: proposals chosen by appearance, before any model is trained."""
    from halgui.core.al.rounds import cold_start_round

    return (yield from cold_start_round(project, cancel))


def make_demo(
    folder: str | Path,
    config: SynthConfig = DEMO_CONFIG,
    cancel: CancelFlag | None = None,
    *,
    labeled_videos: int = 4,
    labeled_frames: int = 3,
    round0: Round0 | None = first_proposals,
) -> Generator[Progress, None, Path]:
    """Generate the demo project in ``folder``; yields progress, returns the project folder.

    Refuses a folder that already holds a project. ``round0`` (see :data:`Round0`) makes the
    initial proposals: by default a cold-start round (appearance clusters, no training);
    ``None`` leaves the project without a round.
    """
    folder = Path(folder).resolve()
    if (folder / DB_NAME).exists():
        raise ProjectError(folder, "already holds a halgui project; open it instead")
    truth = yield from generate(folder, config, cancel)
    classes, videos = parse(truth)
    sparse = sparse_labels(videos, labeled_videos, labeled_frames)
    project = Project.create(folder)
    try:
        yield from write_labels(project, truth, classes, sparse, cancel)
        if round0 is not None:
            yield from round0(project, cancel)
    finally:
        project.close()
    return folder


def sparse_labels(videos: list[ParsedVideo], n_videos: int, n_frames: int) -> list[ParsedVideo]:
    """Keep labels on ``n_frames`` frames of the first ``n_videos`` training videos with
    actions (frames spread over the span where actors act); strip every other video's labels.

    A kept frame is marked labeled, and each track acting on it keeps its ground-truth box
    there as a keyframe; tracks with no kept frame are dropped.
    """
    chosen = [v for v in videos if v.split == "train" and v.tracks][:n_videos]
    out = []
    for video in videos:
        if video not in chosen:
            out.append(dataclasses.replace(video, labeled=(), tracks=()))
            continue
        acting = sorted({k.frame for t in video.tracks for k in t.keyframes if not k.outside})
        step = len(acting) / n_frames
        frames = sorted({acting[int(step * (i + 0.5))] for i in range(n_frames)})
        tracks = []
        for track in video.tracks:
            keep = tuple(k for k in track.keyframes if k.frame in frames and not k.outside)
            if keep:
                tracks.append(ParsedTrack(track.actor, track.class_name, keep))
        out.append(dataclasses.replace(video, labeled=tuple(frames), tracks=tuple(tracks)))
    return out
