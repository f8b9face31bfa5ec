"""YOLO export and import: round trips through the label files + the track sidecar, datumaro's
yolo reader, plain YOLO folders, malformed files."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from halgui.core.errors import FormatError
from halgui.core.formats import yolo
from halgui.core.progress import run_to_end
from halgui.core.project import Project
from tests.core.formats.conftest import (
    CLIP,
    LABELED,
    assert_import_refused,
    assert_same_labels,
    export_reference,
    export_with,
    fuzz_import,
    fuzz_settings,
    replace_once,
    visible_boxes,
)

TOL = 0.001  # 6 decimals of a 320-pixel side


def export(snapshot, out, **options):
    return export_with(yolo, snapshot, out, **options)


@pytest.mark.parametrize("pseudo", [False, True])
def test_round_trip_keeps_tracks_keyframes_classes_and_labeled_frames(tmp_path, snapshot, pseudo):
    out = export(snapshot, tmp_path / "out", pseudo_labels=pseudo)
    with Project.create(tmp_path / "b") as p:
        summary = run_to_end(yolo.import_labels(p, out))
        assert (summary.videos, summary.tracks, summary.linked) == (2, 5, 1)
        assert_same_labels(snapshot, p.snapshot(), TOL)


def test_dataset_files(tmp_path, snapshot):
    out = export(snapshot, tmp_path / "out")
    assert (out / "classes.txt").read_text() == "walk\nwave\n"
    assert (out / "data.yaml").read_text().splitlines()[1:] == [
        'train: ["images/clip"]', 'val: ["images/street_cam_02"]', "test: []", "nc: 2",
        'names: ["walk", "wave"]']
    files = sorted(p.stem for p in (out / "labels" / "clip").iterdir())
    boxed = {0, 1, 2, 3, 4, 5, 9, 11}
    assert files == [f"frame_{f:06d}" for f in sorted(boxed | set(LABELED[CLIP]))]
    assert (out / "labels" / "clip" / "frame_000007.txt").read_text() == ""  # negative frame
    assert (out / "labels" / "clip" / "frame_000000.txt").read_text() == (
        "0 0.171875 0.343750 0.281250 0.562500\n")
    assert not (out / "images").exists()
    side = json.loads((out / yolo.SIDECAR).read_text())
    walk = side["videos"][0]["tracks"][0]
    assert walk["keyframes"] == [[0, 0, "human"], [4, 0, "imported"]]
    assert walk["outside"] == [[6, 6.0, 3.0, 24.0, 30.0, "human"]]


def test_datumaro_reads_the_same_boxes(tmp_path, snapshot):
    import datumaro as dm

    out = export(snapshot, tmp_path / "out", split="train", write_images=True, pseudo_labels=True)
    dataset = dm.Dataset.import_from(str(out), "yolo")
    boxes = {(item.id, tuple(round(v, 3) for v in a.get_bbox()), a.label)
             for item in dataset for a in item.annotations}
    assert len(boxes) == visible_boxes(snapshot, split="train", pseudo=True)
    assert ("frame_000000", (2.0, 3.0, 18.0, 27.0), 0) in boxes
    assert sorted(dataset.subsets()) == ["clip"]
    labels = dataset.categories()[dm.AnnotationType.label]
    assert [label.name for label in labels] == ["walk", "wave"]
    assert len(dataset) == len(list((out / "images" / "clip").iterdir()))


def test_human_only_and_images_only_of_written_frames(tmp_path, snapshot):
    import cv2

    out = export(snapshot, tmp_path / "out", human_only=True, write_images=True)
    labels = sorted(p.stem for p in (out / "labels" / "clip").iterdir())
    images = sorted(p.stem for p in (out / "images" / "clip").iterdir())
    assert labels == images  # no image without a label file: YOLO would take it as negative
    assert cv2.imread(str(out / "images" / "clip" / "frame_000000.jpg")).shape == (48, 64, 3)
    assert not (out / "images" / "street_cam_02").exists()  # no file to take frames from
    with Project.create(tmp_path / "b") as p:
        run_to_end(yolo.import_labels(p, out))
        after = p.snapshot()
        sources = {k.source for ts in after.tracks.values() for t in ts for k in t.keyframes}
        assert sources == {"human"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "out", "source"]


def test_plain_yolo_imports_one_track_per_box(tmp_path, clip_file):
    import cv2

    from halgui.core.video import open_video

    root = tmp_path / "ds"
    (root / "labels" / "cam").mkdir(parents=True)
    (root / "images" / "cam").mkdir(parents=True)
    with open_video(clip_file) as reader:
        cv2.imwrite(str(root / "images" / "cam" / "img_003.jpg"), reader.read(3))
    (root / "labels" / "cam" / "img_003.txt").write_text("1 0.5 0.5 0.25 0.5\n0 0.1 0.1 0.1 0.1\n")
    (root / "labels" / "cam" / "img_005.txt").write_text("")
    (root / "data.yaml").write_text("train: images/cam\nnames:\n  0: stand\n  1: 'sit'\n")
    with Project.create(tmp_path / "p") as p:
        run_to_end(yolo.import_labels(p, root))
        (video,) = p.videos()
        assert (video.name, video.width, video.height, video.n_frames) == ("cam", 64, 48, 6)
        assert [c.name for c in p.classes()] == ["stand", "sit"]
        tracks = p.tracks(video.id)
        assert [(t.actor, len(t.keyframes)) for t in tracks] == [(1, 1), (2, 1)]
        assert tracks[0].keyframes[0].box.as_tuple() == (24.0, 12.0, 40.0, 36.0)
        assert p.labeled_frames(video.id) == {3, 5}


def test_plain_yolo_without_images_is_refused(tmp_path):
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (tmp_path / "classes.txt").write_text("person\n")
    with pytest.raises(FormatError, match="frame size"):
        yolo.parse(tmp_path)


@pytest.mark.parametrize(
    ("file", "old", "new", "where"),
    [
        ("labels/clip/frame_000000.txt", "0 0.171875", "0 0.171875 1", "line 1: expected 5"),
        ("labels/clip/frame_000000.txt", "0 0.171875", "2 0.171875", "line 1: class 2"),
        ("labels/clip/frame_000000.txt", "0 0.171875", "0 O.171875", "line 1: cx 'O.171875'"),
        ("labels/clip/frame_000000.txt", "0.281250 0.562500", "0 0.5", "line 1: w and h"),
        ("labels/clip/frame_000000.txt", "0.562500\n", "0.562500\n1 0.5 0.5 0.1 0.1\n",
         "frame_000000.txt: line 2: this box is in no track"),
        ("halgui_yolo.json", "[[0, 0, \"human\"]", "[[0, 3, \"human\"]",
         "videos[0].tracks[0].keyframes[0]: labels/clip/frame_000000.txt has no box 3"),
        ("halgui_yolo.json", '"class": "walk"', '"class": "wave"',
         "videos[0].tracks[0].keyframes[0]: box 0 of frame 0 is class 'walk'"),
        ("halgui_yolo.json", '"n_frames": 12', '"n_frames": 10', "frame_000011.txt: is frame 11"),
        ("classes.txt", "wave", "walk", "classes.txt: a class name appears twice"),
    ],
)
def test_malformed_files_name_the_line_and_change_nothing(tmp_path, snapshot, file, old, new,
                                                          where):
    out = export(snapshot, tmp_path / "out")
    path = out / file
    if file == yolo.SIDECAR:  # spaced JSON, to edit it by text
        path.write_text(json.dumps(json.loads(path.read_text())))
    replace_once(path, old, new)
    assert_import_refused(yolo, out, tmp_path, where)


@pytest.fixture(scope="module")
def fuzz_source(tmp_path_factory):
    return export_reference(yolo, tmp_path_factory.mktemp("yolo-fuzz"))


@fuzz_settings(80)
@given(data=st.data(), file=st.sampled_from([yolo.SIDECAR, "labels/clip/frame_000002.txt",
                                             "classes.txt"]))
def test_corrupted_files_fail_cleanly(tmp_path_factory, fuzz_source, data, file):
    fuzz_import(yolo, fuzz_source, file, data, tmp_path_factory.mktemp("fuzz"))
