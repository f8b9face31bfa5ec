"""AVA CSV family: the files follow the evaluator's rules, exports round-trip at the keyframe
rate, a real-AVA-like folder (no sidecar, a video file) imports, corrupt files fail cleanly."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from halgui.core.annotations import Box, Keyframe
from halgui.core.errors import FormatError
from halgui.core.formats import ava
from halgui.core.formats.common import ExportOptions
from halgui.core.progress import run_to_end
from halgui.core.project import Project
from tests.core.formats.pickle_fixtures import (
    CLASSES,
    check_corruptions,
    import_into,
    make_project,
    tracks_by_key,
)

VTEST = Path(__file__).resolve().parents[2] / "data" / "vtest_60.avi"


# ---------------------------------------------------------------------- the evaluator's rules
def read_labelmap_like_the_evaluator(path: Path) -> dict[int, str]:
    """formats.md section 1: only lines starting with exactly two spaces and name:/id: count."""
    labelmap, name = {}, None
    for line in path.read_text().splitlines():
        assert not line.startswith(" ") or (line.startswith("  ") and line[2] != " "), line
        if line.startswith("  name:"):
            name = line.split('"')[1]
        elif line.startswith(("  id:", "  label_id:")):
            labelmap[int(line.strip().split(" ")[-1])] = name
    return labelmap


def read_gt_like_the_evaluator(path: Path, labelmap: dict[int, str]) -> list[tuple]:
    rows = []
    for line in path.read_text().splitlines():
        cols = line.split(",")
        assert len(cols) == 8, line  # GT: the 8th column is the person id
        video, stamp, *coords, action, person = cols
        assert video and re.fullmatch(r"\d{4,}", stamp) and stamp == f"{int(stamp):04d}"
        for c in coords:
            assert re.fullmatch(r"[01]\.\d{3}", c) and 0.0 <= float(c) <= 1.0, line
        x1, y1, x2, y2 = map(float, coords)
        assert x1 < x2 and y1 < y2
        assert int(action) in labelmap
        rows.append((video, int(stamp), ",".join(coords), int(action), int(person)))
    return rows


def test_the_files_follow_the_evaluator_rules(tmp_path):
    source = make_project(tmp_path / "src", fully_labeled=False)
    out = run_to_end(ava.export_labels(source.snapshot(), tmp_path / "ava")).path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ava", "src"]
    labelmap = read_labelmap_like_the_evaluator(out / ava.LABEL_MAP)
    assert labelmap == {1: "walk", 2: "run", 3: "wave", 4: "idle"}
    rows = read_gt_like_the_evaluator(out / "ava_train_v2.2.csv", labelmap)
    assert [r[1] for r in rows if r[0] == "clip_a" and r[3] == 1] == [0, 1, 2, 4]  # gone at 3
    # Identical boxes are identical strings: person 1's two actions merge into one multi-hot.
    merged: dict[tuple, set[int]] = {}
    for video, stamp, box, action, _ in rows:
        merged.setdefault((video, stamp, box), set()).add(action)
    assert merged[("clip_a", 1, "0.125,0.183,0.375,0.846")] == {1, 2}
    assert {(r[1], r[4]) for r in rows if r[3] == 2} == {(1, 1), (2, 1)}  # person = actor
    excluded = (out / "ava_train_excluded_timestamps_v2.2.csv").read_text().splitlines()
    assert excluded == ["clip_a,0004"]  # frame 100 is not labeled
    assert all(len(line.split(",")) == 2 for line in excluded)
    assert read_gt_like_the_evaluator(out / "ava_test_v2.2.csv", labelmap)[0] == (
        "Class/clip_b", 0, "0.104,0.185,0.486,0.959", 1, 3)
    assert (out / "ava_val_v2.2.csv").read_text() == ""  # clip_c: negatives only
    sidecar = json.loads((out / ava.SIDECAR).read_text())
    assert sidecar["keyframe_rate"] == 1.0 and sidecar["timestamp_start"] == 0
    assert sidecar["videos"]["clip_a"] == {"width": 160, "height": 120, "fps": 25.0,
                                           "n_frames": 125, "split": "train"}
    source.close()


def test_round_trip_keeps_the_keyframes_at_the_rate(tmp_path):
    source = make_project(tmp_path / "src", fully_labeled=False)
    out = run_to_end(ava.export_labels(source.snapshot(), tmp_path / "ava")).path
    project, snapshot = import_into(ava, out, tmp_path / "dst")
    original = source.snapshot()
    assert [c.name for c in snapshot.classes] == list(CLASSES)
    assert [(v.name, v.width, v.height, v.fps, v.n_frames, v.split) for v in snapshot.videos] \
        == sorted((v.name, v.width, v.height, v.fps, v.n_frames, v.split)
                  for v in original.videos)
    sizes = {v.name: (v.width, v.height) for v in original.videos}
    got, want = tracks_by_key(snapshot), tracks_by_key(original)
    assert got.keys() == want.keys()
    for key in want:
        (a,), (b,) = got[key], want[key]
        assert [(k.frame, k.outside) for k in a.keyframes] == [
            (k.frame, k.outside) for k in b.keyframes]
        w, h = sizes[key[0]]
        for ka, kb in zip(a.keyframes, b.keyframes, strict=True):
            if not ka.outside:  # 3 decimals of the normalised coordinates
                for va, vb, size in zip(ka.box.as_tuple(), kb.box.as_tuple(), (w, h, w, h),
                                        strict=True):
                    assert abs(va - vb) <= 0.0005 * size + 1e-9
    labeled = {v.name: snapshot.labeled[v.id] for v in snapshot.videos}
    assert labeled == {"clip_a": {0, 25, 50, 75}, "Class/clip_b": {0, 30, 60},
                       "clip_c": {0, 10, 20, 30}}
    source.close()
    project.close()


def test_pseudo_labels_go_to_their_own_file(tmp_path):
    source = make_project(tmp_path / "src")
    video = source.video_by_name("clip_a")
    sparse = source.add_track(video.id, source.class_by_name("wave").id, 7)
    source.set_keyframes(sparse, [Keyframe(0, Box(0, 0, 80, 60)), Keyframe(50, Box(80, 60, 160,
                                                                                    120))])
    out = run_to_end(ava.export_labels(source.snapshot(), tmp_path / "ava",
                                       ExportOptions(pseudo_labels=True))).path
    gt = (out / "ava_train_v2.2.csv").read_text().splitlines()
    pseudo = (out / "ava_train_pseudo_labels_v2.2.csv").read_text().splitlines()
    assert "clip_a,0001,0.250,0.250,0.750,0.750,3,7" in pseudo  # halfway, interpolated
    assert not any(line.startswith("clip_a,0001") and line.endswith(",7") for line in gt)
    sidecar = json.loads((out / ava.SIDECAR).read_text())
    assert sidecar["files"]["train"]["pseudo_labels"] == "ava_train_pseudo_labels_v2.2.csv"
    project, snapshot = import_into(ava, out, tmp_path / "dst")  # pseudo rows are not read
    (track,) = tracks_by_key(snapshot)[("clip_a", 7, "wave")]
    # Without a row at labeled timestamp 1 the person reads as gone there (AVA boxes everyone).
    assert [(k.frame, k.outside) for k in track.keyframes] == [(0, False), (25, True),
                                                                (50, False)]
    source.close()
    project.close()


@pytest.mark.parametrize(("rate", "frames"), [(2.0, [0, 13, 25]), (0.5, [0, 50, 100])])
def test_other_rates(tmp_path, rate, frames):
    project = Project.create(tmp_path / "src")
    video = project.add_video("v", path=None, width=100, height=100, fps=25.0, n_frames=125)
    track = project.add_track(video, project.add_class("jump"), 1)
    project.set_keyframes(track, [Keyframe(f, Box(10, 10, 50, 50)) for f in frames])
    project.set_labeled(video, range(125))
    out = run_to_end(ava.export_labels(project.snapshot(), tmp_path / "ava",
                                       ExportOptions(keyframe_rate=rate))).path
    stamps = [line.split(",")[1] for line in (out / "ava_train_v2.2.csv").read_text().split()]
    assert stamps == ["0000", "0001", "0002"]
    assert json.loads((out / ava.SIDECAR).read_text())["keyframe_rate"] == rate
    copy, snapshot = import_into(ava, out, tmp_path / "dst")
    (got,) = next(iter(tracks_by_key(snapshot).values()))
    assert [k.frame for k in got.keyframes] == frames
    project.close()
    copy.close()


def test_unexportable_names_are_refused_before_writing(tmp_path):
    project = Project.create(tmp_path / "src")
    project.add_video("a,b", path=None, width=10, height=10, fps=25.0, n_frames=5)
    with pytest.raises(FormatError, match="comma"):
        run_to_end(ava.export_labels(project.snapshot(), tmp_path / "ava"))
    with pytest.raises(FormatError, match="positive"):
        run_to_end(ava.export_labels(project.snapshot(), tmp_path / "ava",
                                     ExportOptions(keyframe_rate=0)))
    assert not (tmp_path / "ava").exists()
    project.close()


# ---------------------------------------------------------------------- real AVA layout
def test_a_real_ava_folder_imports_with_its_video_file(tmp_path):
    """No sidecar: the size, rate and length come from ``videos/<id>.avi`` (vtest: 768x576,
    10 fps, 60 frames), person ids start at 0, labeled = timestamps with rows, not excluded."""
    (tmp_path / "videos").mkdir()
    shutil.copy(VTEST, tmp_path / "videos" / "vtest.avi")
    ann = tmp_path / "annotations"
    ann.mkdir()
    (ann / "ava_action_list_v2.1_for_activitynet_2019.pbtxt").write_text(
        'label {\n  name: "bend/bow (at the waist)"\n  label_id: 1\n  label_type: PERSON_MOVEMENT'
        '\n}\nlabel {\n  name: "walk"\n  label_id: 14\n  label_type: PERSON_MOVEMENT\n}\n')
    (ann / "ava_val_v2.1.csv").write_text(
        "vtest,0000,0.077,0.151,0.283,0.811,14,0\n"
        "vtest,0000,0.077,0.151,0.283,0.811,1,0\n"
        "vtest,0000,0.500,0.500,0.600,0.600,14,1\n"
        "vtest,0002,0.100,0.151,0.300,0.811,14,0\n"
        "vtest,0004,0.500,0.500,0.600,0.600,14,1\n"
        "vtest,0005,0.100,0.100,0.200,0.200,14,1\n")
    (ann / "ava_val_excluded_timestamps_v2.1.csv").write_text("vtest,0005\nother,0003\n")
    project = Project.create(tmp_path / "p")
    summary = run_to_end(ava.import_labels(project, ann / "ava_val_v2.1.csv"))
    assert (summary.videos, summary.linked, summary.tracks) == (1, 1, 3)
    snapshot = project.snapshot()
    (video,) = snapshot.videos
    assert (video.width, video.height, video.fps, video.n_frames, video.split) == (
        768, 576, 10.0, 60, "val")
    assert snapshot.labeled[video.id] == {0, 20, 40}
    assert [c.name for c in snapshot.classes] == ["bend/bow (at the waist)", "walk"]
    tracks = tracks_by_key(snapshot)
    (walk0,) = tracks[("vtest", 1, "walk")]  # person 0 -> actor 1
    assert [(k.frame, k.outside) for k in walk0.keyframes] == [(0, False), (20, False)]
    assert walk0.keyframes[0].box.as_tuple() == pytest.approx(
        (0.077 * 768, 0.151 * 576, 0.283 * 768, 0.811 * 576))
    (walk1,) = tracks[("vtest", 2, "walk")]  # missing at labeled 0002: gone there
    assert [(k.frame, k.outside) for k in walk1.keyframes] == [
        (0, False), (20, True), (40, False), (50, False)]
    project.close()


@pytest.mark.parametrize(("name", "text", "message"), [
    ("ava_train_v2.2.csv", "v,0001,0.1,0.1,0.2,0.2,1\n", "line 1: expected 8 columns"),
    ("ava_train_v2.2.csv", "v,0001,0.1,0.1,1.2,0.2,1,1\n", "line 1: x2 '1.2' is not"),
    ("ava_train_v2.2.csv", "v,1_0,0.1,0.1,0.2,0.2,1,1\n", "line 1: timestamp '1_0'"),
    ("ava_train_v2.2.csv", "clip_a,0001,0.1,0.1,0.2,0.2,9,1\n", "action_id 9 is not in"),
    ("ava_train_v2.2.csv", "clip_a,0009,0.1,0.1,0.2,0.2,1,1\n", "timestamp 9 is frame 225"),
    ("ava_train_v2.2.csv", "x,0001,0.1,0.1,0.2,0.2,1,1\n", "frame size of video 'x'"),
    ("ava_train_v2.2.csv", "clip_a,0001,0.3,0.1,0.2,0.2,1,1\n", "line 1: box .* is empty"),
    ("ava_train_excluded_timestamps_v2.2.csv", "clip_a,0001,1\n", "expected 2 columns"),
    (ava.LABEL_MAP, "item {\n  name: walk\n  id: 1\n}\n", "quoted name"),
    (ava.LABEL_MAP, "item {\n  id: 1\n}\n", "has no name before it"),
    (ava.LABEL_MAP, "item {\n   name: \"a\"\n   id: 1\n}\n", "holds no classes"),
    (ava.SIDECAR, '{"format": "halgui-ava-sidecar", "keyframe_rate": -1}', "keyframe_rate"),
])
def test_malformed_files_name_the_file_and_line(tmp_path, name, text, message):
    source = make_project(tmp_path / "src")
    out = run_to_end(ava.export_labels(source.snapshot(), tmp_path / "ava")).path
    source.close()
    (out / name).write_text(text)
    project = Project.create(tmp_path / "p")
    with pytest.raises(FormatError, match=message) as caught:
        run_to_end(ava.import_labels(project, out))
    assert caught.value.path == out / name
    assert project.stats()["videos"] == 0 and project.stats()["classes"] == 0
    project.close()


# ---------------------------------------------------------------------- fuzzing
@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ava")
    source = make_project(folder / "src", fully_labeled=False)
    out = run_to_end(ava.export_labels(source.snapshot(), folder / "ava",
                                       ExportOptions(pseudo_labels=True))).path
    source.close()
    return out


@pytest.mark.parametrize("name", ["ava_train_v2.2.csv", "ava_train_excluded_timestamps_v2.2.csv",
                                  ava.LABEL_MAP, ava.SIDECAR])
def test_corrupt_files_import_or_raise_format_error(exported, tmp_path_factory, name):
    folder = tmp_path_factory.mktemp("fuzz")
    for f in exported.iterdir():
        shutil.copy(f, folder / f.name)
    check_corruptions(ava, folder / name, folder, lambda p: p.parent == folder)
