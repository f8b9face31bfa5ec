"""Shared fixtures and checks for the coco, cvat, mot and yolo format tests: a real SQLite
project with two videos (one a real mp4 file, one annotation-only), two classes, several tracks
with outside keyframes and an actor who returns, one actor in two classes at once, keyframes of
every source, and labeled frames including negative ones (no box); exporting it, and importing
a broken export."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from halgui.core.annotations import Box, Keyframe, track_boxes
from halgui.core.errors import FormatError
from halgui.core.formats.common import ExportOptions
from halgui.core.progress import run_to_end
from halgui.core.project import LabelSnapshot, Project
from tests.core.videos import write_mp4

CLIP = "clip"             # 64 x 48, 12 frames, a real mp4, split train
STREET = "street cam/02"  # 320 x 240, 40 frames at 29.97 fps, annotation-only, split val


def kf(frame, box, outside=False, source="human"):
    return Keyframe(frame, Box.of(box), outside, source)


#: video -> [(actor, class, keyframes)]
TRACKS = {
    CLIP: [
        (1, "walk", [kf(0, (2, 3, 20, 30)), kf(4, (6, 3, 24, 30), source="imported"),
                     kf(6, (6, 3, 24, 30), outside=True)]),
        (1, "wave", [kf(2, (2.5, 3.25, 20.5, 30), source="model-accepted"),
                     kf(5, (7, 4, 25, 31))]),
        (2, "walk", [kf(1, (30, 10, 50, 40)), kf(3, (32, 10.125, 52, 40)),
                     kf(6, (32, 10, 52, 40), outside=True), kf(9, (40, 12, 60, 44)),
                     kf(11, (44, 12, 63.9, 47), source="imported")]),
    ],
    STREET: [
        (3, "wave", [kf(10, (100, 50, 150, 200)), kf(20, (110.333, 55, 160, 205)),
                     kf(30, (120, 60, 170, 210), source="imported")]),
        (5, "walk", [kf(0, (0, 0, 40, 80)), kf(1, (0, 0, 40, 80), outside=True)]),
    ],
}
LABELED = {CLIP: [0, 1, 2, 3, 4, 5, 7], STREET: [10, 20, 30, 35]}  # 7 and 35 hold no box
CLASSES = [("walk", "#112233"), ("wave", "#445566")]


def build_project(folder: Path, video_file: Path | None) -> Project:
    """The reference project; ``video_file`` (an existing 64x48, 12-frame mp4) or None."""
    p = Project.create(folder)
    ids = {name: p.add_class(name, color) for name, color in CLASSES}
    clip = p.add_video(CLIP, path=video_file, width=64, height=48, n_frames=12, fps=25.0,
                       split="train")
    street = p.add_video(STREET, path=None, width=320, height=240, n_frames=40, fps=29.97,
                         split="val")
    for name, video_id in ((CLIP, clip), (STREET, street)):
        with p.transaction():
            for actor, cls, kfs in TRACKS[name]:
                track = p.add_track(video_id, ids[cls], actor)
                p.set_keyframes(track, kfs)
            p.set_labeled(video_id, LABELED[name])
    return p


@pytest.fixture
def clip_file(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("videos")
    return write_mp4(folder / "clip.mp4", n_frames=12, size=(64, 48))


@pytest.fixture
def project(tmp_path, clip_file):
    p = build_project(tmp_path / "source", clip_file)
    yield p
    p.close()


@pytest.fixture
def snapshot(project) -> LabelSnapshot:
    return project.snapshot()


def visible_boxes(snapshot: LabelSnapshot, pseudo: bool = False, split: str | None = None,
                  human_only: bool = False) -> int:
    """How many boxes an export writes: visible keyframes, plus interpolated ones."""
    total = 0
    for video in snapshot.videos:
        if split is not None and video.split != split:
            continue
        for track in snapshot.tracks[video.id]:
            kfs = [k for k in track.keyframes if not human_only or k.source == "human"]
            if pseudo:
                total += len(track_boxes(kfs, video.n_frames))
            else:
                total += sum(not k.outside for k in kfs)
    return total


def summary(snapshot: LabelSnapshot) -> dict:
    """What a round trip must keep, by video name."""
    classes = {c.id: c.name for c in snapshot.classes}
    out = {}
    for v in snapshot.videos:
        tracks = sorted(
            ((t.actor, classes[t.class_id],
              tuple((k.frame, k.outside, k.source, k.box.as_tuple()) for k in t.keyframes))
             for t in snapshot.tracks[v.id]),
            key=lambda t: (t[0], t[1], t[2][0][0] if t[2] else -1),
        )
        out[v.name] = {"size": (v.width, v.height, v.n_frames), "fps": v.fps, "split": v.split,
                       "labeled": sorted(snapshot.labeled[v.id]), "tracks": tracks}
    return out


def assert_same_labels(before: LabelSnapshot, after: LabelSnapshot, tol: float,
                       labeled: bool = True, fps: bool = True, colors: bool = True) -> None:
    """The round trip kept videos, classes, tracks (class, actor), keyframes (frame, outside,
    source, box within ``tol`` pixels) and labeled frames."""
    assert [c.name for c in after.classes] == [c.name for c in before.classes]
    if colors:
        assert [c.color for c in after.classes] == [c.color for c in before.classes]
    a, b = summary(before), summary(after)
    assert sorted(a) == sorted(b)
    for name in a:
        va, vb = a[name], b[name]
        assert va["size"] == vb["size"], name
        assert va["split"] == vb["split"], name
        if fps:
            assert math.isclose(va["fps"], vb["fps"]), name
        if labeled:
            assert va["labeled"] == vb["labeled"], name
        assert [(t[0], t[1]) for t in va["tracks"]] == [(t[0], t[1]) for t in vb["tracks"]], name
        for ta, tb in zip(va["tracks"], vb["tracks"], strict=True):
            assert [k[:3] for k in ta[2]] == [k[:3] for k in tb[2]], (name, ta[:2])
            for ka, kb in zip(ta[2], tb[2], strict=True):
                assert max(abs(x - y) for x, y in zip(ka[3], kb[3], strict=True)) <= tol, (
                    name, ta[:2], ka, kb)


def empty_stats(tmp_path: Path) -> dict:
    with Project.create(tmp_path / "empty-reference") as p:
        return p.stats()


def export_with(module, snapshot: LabelSnapshot, out: Path, **options) -> Path:
    """Export ``snapshot`` with a format ``module``; returns where it wrote."""
    return run_to_end(module.export_labels(snapshot, out, ExportOptions(**options))).path


def export_reference(module, folder: Path) -> Path:
    """The reference project (without video file) exported with ``module`` into ``folder``:
    the file set a fuzzing test corrupts."""
    with build_project(folder / "p", None) as p:
        return export_with(module, p.snapshot(), folder / "out")


def replace_once(path: Path, old: str, new: str) -> None:
    """Edit one file of an export: the first ``old`` (which must be there) becomes ``new``."""
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def assert_import_refused(module, source: Path, tmp_path: Path, where: str,
                          starts: Path | str | None = None) -> None:
    """Importing ``source`` into a new project raises a FormatError whose message starts with
    ``starts`` (default ``source``: the file it names) and mentions ``where``; the project is
    left exactly as empty as a new one."""
    with Project.create(tmp_path / "p") as p:
        with pytest.raises(FormatError) as info:
            run_to_end(module.import_labels(p, source))
        assert str(info.value).startswith(str(starts or source)), str(info.value)
        assert where in str(info.value)
        assert p.stats() == empty_stats(tmp_path)


def fuzz_settings(max_examples: int):
    """Hypothesis settings of the fuzzing tests (``fuzz_source`` is built once per module)."""
    from hypothesis import HealthCheck, settings

    return settings(max_examples=max_examples, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def mutate(data, text: str) -> str:
    """Cut, flip or insert one character of ``text`` (drawn by hypothesis)."""
    from hypothesis import strategies as st

    pos = data.draw(st.integers(0, max(len(text) - 1, 0)))
    mode = data.draw(st.sampled_from(["cut", "flip", "insert"]))
    char = data.draw(st.characters(codec="utf-8"))
    if mode == "cut":
        return text[:pos]
    if mode == "flip":
        return text[:pos] + char + text[pos + 1:]
    return text[:pos] + char + text[pos:]


def fuzz_import(module, export: Path, rel: str, data, folder: Path, import_from: str = "") -> None:
    """Copy an export, corrupt one of its files, import it into a new project: the import either
    succeeds or raises FormatError naming a file of the export, and changes nothing then."""
    import shutil

    root = folder / "export"
    shutil.copytree(export, root)
    target = root / rel
    target.write_text(mutate(data, target.read_text(encoding="utf-8")), encoding="utf-8")
    with Project.create(folder / "p") as p:
        try:
            run_to_end(module.import_labels(p, root / import_from))
        except FormatError as exc:
            assert str(exc).startswith(str(root)), str(exc)
            stats = p.stats()
            assert stats["videos"] == 0 and stats["tracks"] == 0 and stats["classes"] == 0
