"""UCF101-24 ``pyannot.pkl``: the real excerpt imports with the counts the pickle holds, exports
round-trip, and no corrupt file gets past the parser as anything but a FormatError."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from halgui.core.errors import FormatError
from halgui.core.formats import ucf24
from halgui.core.formats.common import ExportOptions
from halgui.core.progress import run_to_end
from halgui.core.project import Project
from tests.core.formats.pickle_fixtures import (
    CLASSES,
    assert_boxes_close,
    check_corruptions,
    import_into,
    make_project,
    per_frame_boxes,
    tracks_by_key,
)

EXCERPT = Path(__file__).resolve().parents[2] / "data" / "ucf24_excerpt.pkl"
EXCERPT_TEST_VIDEOS = ("Fencing/v_Fencing_g06_c02", "Basketball/v_Basketball_g01_c01")


def _walk(path: Path) -> dict:
    """Counts of a pyannot.pkl, read with plain pickle (the file is ours and trusted)."""
    with open(path, "rb") as f:
        data = pickle.load(f, encoding="latin1")
    return {
        "videos": len(data),
        "tubes": sum(len(v["annotations"]) for v in data.values()),
        "boxes": sum(len(t["boxes"]) for v in data.values() for t in v["annotations"]),
        "frames": sum(int(v["numf"]) for v in data.values()),
        "classes": {str(k).split("/")[0] for k in data},
        "data": data,
    }


def test_the_real_excerpt_imports_with_the_counts_it_holds(tmp_path):
    shutil.copy(EXCERPT, tmp_path / "pyannot.pkl")
    (tmp_path / "testlist01.txt").write_text(
        "".join(f"{n}\n" for n in (*EXCERPT_TEST_VIDEOS, "Skiing/v_Skiing_g01_c01")))
    expected = _walk(EXCERPT)
    project = Project.create(tmp_path / "p")
    summary = run_to_end(ucf24.import_labels(project, tmp_path / "pyannot.pkl"))
    stats = project.stats()
    assert (summary.videos, summary.tracks, summary.keyframes, summary.labeled_frames) == (
        expected["videos"], expected["tubes"], expected["boxes"], expected["frames"])
    assert (stats["videos"], stats["tracks"], stats["keyframe_boxes"], stats["labeled_frames"],
            stats["linked_videos"]) == (expected["videos"], expected["tubes"], expected["boxes"],
                                        expected["frames"], 0)
    snapshot = project.snapshot()
    assert {c.name for c in snapshot.classes} == expected["classes"]
    names = {c.id: c.name for c in snapshot.classes}
    for video in snapshot.videos:
        entry = expected["data"][video.name]
        assert (video.width, video.height, video.n_frames, video.path) == (
            320, 240, int(entry["numf"]), None)
        assert video.split == ("test" if video.name in EXCERPT_TEST_VIDEOS else "train")
        assert snapshot.labeled[video.id] == frozenset(range(int(entry["numf"])))
        tracks = snapshot.tracks[video.id]
        assert len(tracks) == len(entry["annotations"])
        for track, tube in zip(tracks, entry["annotations"], strict=True):
            assert names[track.class_id] == video.name.split("/")[0]
            assert [k.frame for k in track.keyframes] == list(range(tube["sf"], tube["ef"]))
            assert {k.source for k in track.keyframes} == {"imported"}
            xywh = tube["boxes"].astype(np.float64)
            xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
            xyxy = np.clip(xyxy, 0, [320, 240, 320, 240])
            got = np.array([k.box.as_tuple() for k in track.keyframes])
            assert np.array_equal(got, xyxy)  # uint8 x + w must not wrap around
    project.close()


def test_without_a_testlist_every_video_is_train(tmp_path):
    shutil.copy(EXCERPT, tmp_path / "pyannot.pkl")
    project, snapshot = import_into(ucf24, tmp_path / "pyannot.pkl", tmp_path / "p")
    assert {v.split for v in snapshot.videos} == {"train"}
    project.close()


def test_round_trip(tmp_path):
    source = make_project(tmp_path / "src")
    out = run_to_end(ucf24.export_labels(source.snapshot(), tmp_path / "out")).path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src"]  # nothing else written
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [ucf24.PICKLE, ucf24.SIDECAR, ucf24.TRAINLIST, ucf24.TESTLIST])
    project, snapshot = import_into(ucf24, out, tmp_path / "dst")
    original = source.snapshot()
    assert [c.name for c in snapshot.classes] == list(CLASSES)
    assert [(v.name, v.width, v.height, v.fps, v.n_frames, v.split) for v in snapshot.videos] \
        == sorted((v.name, v.width, v.height, v.fps, v.n_frames, v.split)
                  for v in original.videos)
    for video in snapshot.videos:
        assert snapshot.labeled[video.id] == frozenset(range(video.n_frames))
    # Tubes keep a box on every frame (float32 in the file), not which were keyframes.
    assert_boxes_close(per_frame_boxes(snapshot), per_frame_boxes(original), 1e-3)
    walk = tracks_by_key(snapshot)[("clip_a", 1, "walk")][0]
    assert [(k.frame, k.outside) for k in walk.keyframes if k.outside] == [(75, True)]
    source.close()
    project.close()


def test_the_file_has_the_published_layout(tmp_path):
    source = make_project(tmp_path / "src")
    out = run_to_end(ucf24.export_labels(source.snapshot(), tmp_path / "out")).path
    with open(out / "pyannot.pkl", "rb") as f:
        data = pickle.load(f, encoding="latin1")
    assert set(data) == {"clip_a", "Class/clip_b", "clip_c"}
    for entry in data.values():
        assert set(entry) == {"label", "numf", "annotations"}
        for tube in entry["annotations"]:
            assert set(tube) == {"label", "sf", "ef", "boxes"}
            assert tube["boxes"].shape == (tube["ef"] - tube["sf"], 4)
    clip_a = data["clip_a"]
    assert clip_a["numf"] == 125 and clip_a["label"] == CLASSES.index("walk")
    walk = [t for t in clip_a["annotations"] if t["label"] == 0]
    assert [(t["sf"], t["ef"]) for t in walk] == [(0, 75), (100, 101)]  # split at the gap
    assert walk[0]["boxes"][0].tolist() == [10.5, 20.25, 50.0 - 10.5, 100.0 - 20.25]  # x y w h
    assert data["clip_c"] == {"label": -1, "numf": 40, "annotations": []}
    assert (out / "testlist01.txt").read_text() == "Class/clip_b\n"
    assert (out / "trainlist01.txt").read_text() == "clip_a\n"
    source.close()


def test_videos_not_labeled_on_every_frame_are_left_out(tmp_path):
    source = make_project(tmp_path / "src", fully_labeled=False)
    out = run_to_end(ucf24.export_labels(source.snapshot(), tmp_path / "out",
                                         ExportOptions(split=None))).path
    sidecar = json.loads((out / ucf24.SIDECAR).read_text())
    assert sidecar["skipped"] == ["clip_a"]
    assert "clip_a" not in sidecar["videos"]
    test_only = run_to_end(ucf24.export_labels(source.snapshot(), tmp_path / "test",
                                               ExportOptions(split="test"))).path
    with open(test_only / "pyannot.pkl", "rb") as f:
        assert list(pickle.load(f)) == ["Class/clip_b"]
    source.close()


def test_human_only_drops_other_keyframes(tmp_path):
    source = make_project(tmp_path / "src")
    out = run_to_end(ucf24.export_labels(source.snapshot(), tmp_path / "out",
                                         ExportOptions(human_only=True))).path
    with open(out / "pyannot.pkl", "rb") as f:
        data = pickle.load(f)
    tubes = {(t["label"], t["sf"], t["ef"]) for t in data["clip_a"]["annotations"]}
    # walk loses its imported keyframe at 50 (25 -> 75 held, gone at 75); wave keeps frame 0 only
    assert (0, 0, 75) in tubes and (2, 0, 1) in tubes
    source.close()


def _tube(**changes):
    tube = {"label": 0, "sf": 0, "ef": 3, "boxes": np.array([[1, 2, 3, 4]] * 3, np.uint8)}
    tube.update(changes)
    return tube


@pytest.mark.parametrize(("data", "message"), [
    ([1, 2], "top level: expected a dict"),
    ({"A/v": {"annotations": []}}, "key 'A/v': missing 'numf'"),
    ({"A/v": {"numf": 0, "annotations": []}}, "key 'A/v'.numf: 0 is outside"),
    ({"A/v": {"numf": 5, "annotations": [_tube(ef=9)]}}, r"annotations\[0\].ef: 9 is outside"),
    ({"A/v": {"numf": 5, "annotations": [_tube(ef=2)]}}, "3 boxes for frames 0..1"),
    ({"A/v": {"numf": 5, "annotations": [_tube(boxes=np.zeros((3, 4)))]}}, "has no area"),
    ({"A/v": {"numf": 5, "annotations": [_tube(boxes=[[1, 2, 3, 4]])]}}, "expected a NumPy"),
    ({"A/v": {"numf": 5, "annotations": [_tube(label=-1)]}}, r"\.label: -1 is outside"),
])
def test_malformed_pickles_name_the_file_and_key_and_change_nothing(tmp_path, data, message):
    path = tmp_path / "pyannot.pkl"
    path.write_bytes(pickle.dumps(data, protocol=3))
    project = Project.create(tmp_path / "p")
    with pytest.raises(FormatError, match=message) as caught:
        run_to_end(ucf24.import_labels(project, path))
    assert caught.value.path == path
    assert project.stats()["videos"] == 0 and project.stats()["classes"] == 0
    project.close()


def test_a_sidecar_with_the_wrong_number_of_actors_is_refused(tmp_path):
    source = make_project(tmp_path / "src")
    out = run_to_end(ucf24.export_labels(source.snapshot(), tmp_path / "out")).path
    sidecar = json.loads((out / ucf24.SIDECAR).read_text())
    sidecar["videos"]["clip_a"]["actors"].append(9)
    (out / ucf24.SIDECAR).write_text(json.dumps(sidecar))
    with pytest.raises(FormatError, match=r"actors: 5 actors for 4 tubes") as caught:
        import_into(ucf24, out, tmp_path / "p")
    assert caught.value.path == out / ucf24.SIDECAR
    source.close()


# ---------------------------------------------------------------------- fuzzing
def _exported(folder: Path) -> Path:
    if not (folder / "out").exists():
        source = make_project(folder / "src")
        run_to_end(ucf24.export_labels(source.snapshot(), folder / "out"))
        source.close()
    return folder / "out"


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    return _exported(tmp_path_factory.mktemp("ucf24"))


@pytest.mark.parametrize("name", [ucf24.PICKLE, ucf24.SIDECAR, ucf24.TESTLIST, "excerpt"])
def test_corrupt_files_import_or_raise_format_error(exported, tmp_path_factory, name):
    folder = tmp_path_factory.mktemp("fuzz")
    if name == "excerpt":
        shutil.copy(EXCERPT, folder / ucf24.PICKLE)
        name = ucf24.PICKLE
    else:
        for f in exported.iterdir():
            shutil.copy(f, folder / f.name)
    check_corruptions(ucf24, folder / name, folder / ucf24.PICKLE, lambda p: p.parent == folder)
