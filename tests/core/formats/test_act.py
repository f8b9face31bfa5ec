"""ACT/MOC/YOWO ground-truth pickles: a JHMDB-like file imports, exports round-trip, and corrupt
files fail as FormatErrors only."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from halgui.core.errors import FormatError
from halgui.core.formats import act
from halgui.core.formats.common import ExportError, ExportOptions
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


def _tube(first: int, last: int, box=(10, 20, 29, 59), skip=()) -> np.ndarray:
    frames = [f for f in range(first, last + 1) if f not in skip]
    return np.array([(f, *box) for f in frames], dtype=np.float32)


def _jhmdb_like() -> dict:
    """Three splits, (h, w) resolutions, 1-based frames, several tubes of one label."""
    return {
        "labels": ["brush_hair", "catch", "clap"],
        "train_videos": [["brush_hair/a", "clap/c"], ["catch/b"], ["clap/c"]],
        "test_videos": [["catch/b"], ["brush_hair/a"], []],
        "nframes": {"brush_hair/a": 30, "catch/b": 20, "clap/c": 15},
        "resolution": {"brush_hair/a": (240, 320), "catch/b": (240, 320), "clap/c": (120, 160)},
        "gttubes": {
            "brush_hair/a": {0: [_tube(1, 30)]},
            "catch/b": {1: [_tube(3, 10), _tube(5, 20, (0, 0, 99, 99), skip=(12, 13))]},
            "clap/c": {},
        },
    }


def test_a_jhmdb_like_file_imports(tmp_path):
    path = tmp_path / "JHMDB-GT.pkl"
    path.write_bytes(pickle.dumps(_jhmdb_like(), protocol=2))
    project, snapshot = import_into(act, path, tmp_path / "p")
    assert [c.name for c in snapshot.classes] == ["brush_hair", "catch", "clap"]
    videos = {v.name: v for v in snapshot.videos}
    assert {n: (v.width, v.height, v.n_frames, v.split, v.fps) for n, v in videos.items()} == {
        "brush_hair/a": (320, 240, 30, "train", 25.0), "catch/b": (320, 240, 20, "test", 25.0),
        "clap/c": (160, 120, 15, "train", 25.0)}  # split 1 of 3
    for v in snapshot.videos:
        assert snapshot.labeled[v.id] == frozenset(range(v.n_frames))
    tracks = tracks_by_key(snapshot)
    assert set(tracks) == {("brush_hair/a", 1, "brush_hair"), ("catch/b", 1, "catch"),
                           ("catch/b", 2, "catch")}
    hair = tracks[("brush_hair/a", 1, "brush_hair")][0]
    assert [k.frame for k in hair.keyframes] == list(range(30))  # 1-based -> 0-based
    assert hair.keyframes[0].box.as_tuple() == (10, 20, 30, 60)  # inclusive -> continuous
    second = tracks[("catch/b", 2, "catch")][0]
    frames = [(k.frame, k.outside) for k in second.keyframes]
    assert (11, True) in frames and (12, False) not in frames and (13, False) in frames
    assert project.stats()["keyframe_boxes"] == 30 + 8 + 14
    project.close()


def test_round_trip(tmp_path):
    source = make_project(tmp_path / "src")
    out = run_to_end(act.export_labels(source.snapshot(), tmp_path / "gt.pkl")).path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gt.pkl", "src"]
    project, snapshot = import_into(act, out, tmp_path / "dst")
    original = source.snapshot()
    assert [c.name for c in snapshot.classes] == list(CLASSES)
    assert [(v.name, v.width, v.height, v.fps, v.n_frames, v.split) for v in snapshot.videos] \
        == sorted((v.name, v.width, v.height, v.fps, v.n_frames, v.split)
                  for v in original.videos)
    assert_boxes_close(per_frame_boxes(snapshot), per_frame_boxes(original), 1e-3)
    source.close()
    project.close()


def test_the_file_has_the_published_layout(tmp_path):
    source = make_project(tmp_path / "src")
    out = run_to_end(act.export_labels(source.snapshot(), tmp_path / "gt.pkl")).path
    assert out.read_bytes()[:2] == b"\x80\x02"  # protocol 2, as the published files
    with open(out, "rb") as f:
        data = pickle.load(f, encoding="latin1")
    assert set(data) == {"labels", "train_videos", "test_videos", "nframes", "resolution",
                         "gttubes", "halgui"}
    assert data["labels"] == list(CLASSES)
    assert data["train_videos"] == [["clip_a"]] and data["test_videos"] == [["Class/clip_b"]]
    assert data["nframes"] == {"clip_a": 125, "Class/clip_b": 90, "clip_c": 40}
    assert data["resolution"]["clip_a"] == (120, 160)  # (h, w)
    assert data["gttubes"]["clip_c"] == {}
    walk = data["gttubes"]["clip_a"][0]
    assert [(int(t[0, 0]), int(t[-1, 0])) for t in walk] == [(1, 75), (101, 101)]
    assert walk[0][0].tolist() == pytest.approx([1, 10.5, 20.25, 49.0, 99.0])  # x2 - 1, y2 - 1
    for tubes in data["gttubes"].values():
        for label, arrays in tubes.items():
            assert 0 <= label < len(CLASSES)
            for t in arrays:
                assert t.shape[1] == 5 and (np.diff(t[:, 0]) == 1).all()
    source.close()


def test_options(tmp_path):
    source = make_project(tmp_path / "src", fully_labeled=False)
    # clip_a, the one train video, is not labeled on every frame: nothing to write is an error
    with pytest.raises(ExportError, match=r"gt\.pkl: nothing to write: .*none of the 1 video"):
        run_to_end(act.export_labels(source.snapshot(), tmp_path / "gt.pkl",
                                     ExportOptions(split="train")))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]
    source.close()


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.pop("gttubes"), "missing key 'gttubes'"),
    (lambda d: d["nframes"].update({"clap/c": 0}), r"'nframes'\['clap/c'\]: 0 is outside"),
    (lambda d: d["resolution"].pop("clap/c"), "no entry for 'clap/c'"),
    (lambda d: d["gttubes"].update({"x": {}}), "video not in nframes"),
    (lambda d: d["gttubes"]["clap/c"].update({3: []}), r"\[3\]: 3 is outside \[0, 2\]"),
    (lambda d: d["gttubes"]["clap/c"].update({2: [_tube(0, 3)]}), "frames must be 1..15"),
    (lambda d: d["gttubes"]["clap/c"].update({2: [_tube(1, 3)[::-1]]}), "frames must increase"),
    (lambda d: d["gttubes"]["clap/c"].update({2: [_tube(1, 3, (5, 5, 4, 9))]}), "x2 < x1"),
    (lambda d: d["gttubes"]["clap/c"].update({2: [np.zeros((2, 4))]}), r"shape \(n, 5\)"),
    (lambda d: d.update({"test_videos": [["clap/c"]]}), "also in test_videos"),
])
def test_malformed_files_name_the_file_and_key(tmp_path, change, message):
    data = _jhmdb_like()
    change(data)
    path = tmp_path / "gt.pkl"
    path.write_bytes(pickle.dumps(data, protocol=2))
    project = Project.create(tmp_path / "p")
    with pytest.raises(FormatError, match=message) as caught:
        run_to_end(act.import_labels(project, path))
    assert caught.value.path == path
    assert project.stats()["videos"] == 0
    project.close()


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("act")
    source = make_project(folder / "src")
    out = run_to_end(act.export_labels(source.snapshot(), folder / "gt.pkl")).path
    source.close()
    return out


@pytest.mark.parametrize("which", ["export", "jhmdb"])
def test_corrupt_files_import_or_raise_format_error(exported, tmp_path_factory, which):
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "gt.pkl"
    if which == "export":
        shutil.copy(exported, path)
    else:
        path.write_bytes(pickle.dumps(_jhmdb_like(), protocol=4))
    check_corruptions(act, path, path, lambda p: p == path, max_examples=80)
