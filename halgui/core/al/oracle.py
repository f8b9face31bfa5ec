"""The simulated annotator: reveals ground-truth boxes on the frames a strategy proposes.

Used by ``halgui simulate`` and by tests. Each ground-truth track becomes one project track
(same actor id and class) the first time one of its boxes is revealed; a revealed frame gets a
keyframe for every ground-truth box on it and is marked labeled (a frame without boxes becomes a
negative frame), exactly what a person labeling that frame would store.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from halgui.core.annotations import Box, Keyframe
from halgui.core.project import Project


@dataclass
class _GTTrack:
    actor: int
    class_name: str
    boxes: dict[int, tuple[float, float, float, float]]
    project_track: int | None = None


@dataclass
class Oracle:
    """Ground truth of a halgui JSON document, keyed by video name."""

    tracks: dict[str, list[_GTTrack]] = field(default_factory=dict)
    boxes_total: int = 0
    boxes_revealed: int = 0

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Oracle:
        oracle = cls()
        for video in document["videos"]:
            tracks = []
            for t in video.get("tracks", []):
                boxes = {k["frame"]: tuple(k["box"]) for k in t["keyframes"]
                         if not k.get("outside", False)}
                tracks.append(_GTTrack(t.get("actor", 0), t["class"], boxes))
                oracle.boxes_total += len(boxes)
            oracle.tracks[video["name"]] = tracks
        return oracle

    @classmethod
    def from_file(cls, path: str | Path) -> Oracle:
        import json

        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))

    def state(self) -> dict[str, Any]:
        """What the oracle has revealed (its project tracks and count), as JSON, so a run
        can go on after an interruption with :meth:`restore`."""
        return {"boxes_revealed": self.boxes_revealed,
                "project_tracks": {name: [t.project_track for t in tracks]
                                   for name, tracks in self.tracks.items()}}

    def restore(self, state: dict[str, Any]) -> None:
        """Take back a :meth:`state` of an oracle made from the same ground truth."""
        self.boxes_revealed = int(state["boxes_revealed"])
        for name, ids in state["project_tracks"].items():
            for track, project_track in zip(self.tracks[name], ids, strict=True):
                track.project_track = project_track

    def reveal(self, project: Project, frames: Iterable[tuple[int, int]]) -> int:
        """Label ``(video id, frame)`` pairs from ground truth, in one transaction; returns the
        number of boxes drawn. An oracle remembers the project tracks it made: to go on with a
        copy of the project, go on with a copy (``copy.deepcopy``) of the oracle too."""
        names = {v.id: v.name for v in project.videos()}
        classes = {c.name: c.id for c in project.classes()}
        drawn = 0
        by_video: dict[int, list[int]] = {}
        for video_id, frame in frames:
            by_video.setdefault(video_id, []).append(frame)
        with project.transaction():
            for video_id, video_frames in by_video.items():
                for track in self.tracks.get(names[video_id], []):
                    hits = [f for f in video_frames if f in track.boxes]
                    if not hits:
                        continue
                    if track.project_track is None:
                        if track.class_name not in classes:
                            classes[track.class_name] = project.add_class(track.class_name)
                        track.project_track = project.add_track(
                            video_id, classes[track.class_name], track.actor or None)
                    project.set_keyframes(track.project_track, [
                        Keyframe(f, Box(*track.boxes[f]), source="human") for f in hits])
                    drawn += len(hits)
                project.set_labeled(video_id, video_frames)
        self.boxes_revealed += drawn
        return drawn
