"""CocoVid export and import: round trips, pycocotools and datumaro reading our files, foreign
CocoVid, malformed files."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from halgui.core.errors import FormatError
from halgui.core.formats import coco
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
    visible_boxes,
)

TOL = 0.0011  # 3 decimals for x, y, w and h


def export(snapshot, out, **options):
    return export_with(coco, snapshot, out, **options)


def import_into(folder, path):
    p = Project.create(folder)
    summary = run_to_end(coco.import_labels(p, path))
    return p, summary


@pytest.mark.parametrize("pseudo", [False, True])
def test_round_trip_keeps_tracks_keyframes_classes_and_labeled_frames(tmp_path, snapshot, pseudo):
    out = export(snapshot, tmp_path / "out", pseudo_labels=pseudo)
    p, summary = import_into(tmp_path / "b", out)
    with p:
        assert summary.videos == 2 and summary.tracks == 5 and summary.linked == 1
        after = p.snapshot()
        assert_same_labels(snapshot, after, TOL)
        clip = p.video_by_name(CLIP)
        assert clip.path == snapshot.videos[0].path  # linked again through the relative path


def test_files_layout_and_the_pseudo_label_marks(tmp_path, snapshot):
    out = export(snapshot, tmp_path / "out", pseudo_labels=True)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "annotations", "annotations/instances_train.json", "annotations/instances_val.json",
        "images"]
    doc = json.loads((out / "annotations" / "instances_train.json").read_text())
    assert [c["name"] for c in doc["categories"]] == ["walk", "wave"]
    assert [v["name"] for v in doc["videos"]] == [CLIP]
    marks = {(a["attributes"]["keyframe"], a["attributes"]["source"]) for a in doc["annotations"]}
    assert (False, "interpolated") in marks and (True, "human") in marks
    assert all(k == (s != "interpolated") for k, s in marks)
    labeled = sorted(im["frame_id"] for im in doc["images"] if im["labeled"])
    assert labeled == LABELED[CLIP]
    first = next(a for a in doc["annotations"] if a["attributes"]["source"] == "human")
    assert first["bbox"] == [2, 3, 18, 27] and first["area"] == 18 * 27


def test_pycocotools_reads_every_split_file(tmp_path, snapshot):
    from pycocotools.coco import COCO

    out = export(snapshot, tmp_path / "out")
    for split, video in (("train", snapshot.videos[0]), ("val", snapshot.videos[1])):
        api = COCO(str(out / "annotations" / f"instances_{split}.json"))
        boxed = {k.frame for t in snapshot.tracks[video.id] for k in t.keyframes if not k.outside}
        assert len(api.getImgIds()) == len(boxed | set(LABELED[video.name]))
        assert len(api.getAnnIds()) == visible_boxes(snapshot, split=split)
        assert len(api.getCatIds()) == 2
        assert api.loadCats(api.getCatIds())[0]["name"] == "walk"


@pytest.mark.parametrize("pseudo", [False, True])
def test_datumaro_reads_the_same_boxes(tmp_path, snapshot, pseudo):
    import datumaro as dm

    out = export(snapshot, tmp_path / "out", pseudo_labels=pseudo)
    dataset = dm.Dataset.import_from(str(out), "coco_instances")
    boxes = [a for item in dataset for a in item.annotations
             if a.type == dm.AnnotationType.bbox]
    assert len(boxes) == visible_boxes(snapshot, pseudo=pseudo)
    assert sorted(dataset.subsets()) == ["train", "val"]
    labels = dataset.categories()[dm.AnnotationType.label]
    assert [label.name for label in labels] == ["walk", "wave"]
    human = [b for b in boxes if b.attributes.get("source") == "human"]
    assert (2.0, 3.0, 18.0, 27.0) in {tuple(b.get_bbox()) for b in human}


def test_human_only_and_split(tmp_path, snapshot):
    out = export(snapshot, tmp_path / "out", human_only=True, split="train")
    assert not (out / "annotations" / "instances_val.json").exists()
    p, _ = import_into(tmp_path / "b", out)
    with p:
        after = p.snapshot()
        assert [v.name for v in after.videos] == [CLIP]
        sources = {k.source for ts in after.tracks.values() for t in ts for k in t.keyframes}
        assert sources == {"human"}
        assert p.stats()["keyframe_boxes"] == visible_boxes(snapshot, split="train",
                                                            human_only=True)


def test_images_are_written_only_when_asked(tmp_path, snapshot):
    import cv2

    out = export(snapshot, tmp_path / "out", write_images=True)
    doc = json.loads((out / "annotations" / "instances_train.json").read_text())
    for image in doc["images"]:
        pixels = cv2.imread(str(out / "images" / "train" / image["file_name"]))
        assert pixels.shape == (48, 64, 3)
    assert not (out / "images" / "val").exists()  # that video has no file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "source"]  # no temp left


def test_plain_cocovid_imports_one_track_per_instance(tmp_path):
    doc = {
        "categories": [{"id": 1, "name": "person"}],
        "videos": [{"id": 7, "name": "seq"}],
        "images": [{"id": i, "video_id": 7, "frame_id": i, "file_name": f"seq/{i}.jpg",
                    "width": 100, "height": 80} for i in range(3)],
        "annotations": [
            {"id": 1, "image_id": 0, "category_id": 1, "instance_id": 50,
             "bbox": [10, 10, 20, 30], "area": 600, "iscrowd": 0},
            {"id": 2, "image_id": 2, "category_id": 1, "instance_id": 50,
             "bbox": [14, 10, 20, 30], "area": 600, "iscrowd": 0},
            {"id": 3, "image_id": 2, "category_id": 1, "instance_id": 9,
             "bbox": [50, 5, 10, 10], "area": 100, "iscrowd": 0},
            {"id": 4, "image_id": 1, "category_id": 1, "bbox": [0, 0, 99, 79], "iscrowd": 1},
        ],
    }
    path = tmp_path / "instances_val.json"
    path.write_text(json.dumps(doc))
    p, summary = import_into(tmp_path / "p", path)
    with p:
        (video,) = p.videos()
        assert (video.name, video.width, video.height, video.n_frames, video.split) == (
            "seq", 100, 80, 3, "val")
        assert p.labeled_frames(video.id) == {0, 1, 2}  # every listed image
        tracks = p.tracks(video.id)
        assert [(t.actor, [k.frame for k in t.keyframes]) for t in tracks] == [(1, [2]),
                                                                              (2, [0, 2])]
        assert {k.source for t in tracks for k in t.keyframes} == {"imported"}
        assert summary.keyframes == 3  # the crowd region is not an actor


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d.pop("videos"), "not CocoVid"),
        (lambda d: d["annotations"][1].update(bbox=[1, 2, 3]), "annotations[1].bbox"),
        (lambda d: d["annotations"][1].update(bbox=[1, 2, -3, 4]), "annotations[1].bbox"),
        (lambda d: d["annotations"][1].update(bbox=[500, 500, 3, 4]), "annotations[1].bbox"),
        (lambda d: d["annotations"][0].update(image_id=999), "annotations[0].image_id"),
        (lambda d: d["annotations"][0].update(category_id=9), "annotations[0].category_id"),
        (lambda d: d["images"][0].update(frame_id=99), "videos[0]: has an image of frame 99"),
        (lambda d: d["images"][1].update(id=d["images"][0]["id"]), "images[1].id"),
        (lambda d: d["videos"][0].update(fps=0), "videos[0].fps"),
        (lambda d: d["categories"].append({"id": 5, "name": "walk"}), "categories[2].name"),
        (lambda d: d["tracks"][0]["outside"][0].update(frame_id=40), "tracks[0].outside[0]"),
        (lambda d: d["annotations"][1]["attributes"].update(actor=9), "annotations[1]"),
    ],
)
def test_malformed_files_name_the_field_and_change_nothing(tmp_path, snapshot, change, where):
    out = export(snapshot, tmp_path / "out")
    path = out / "annotations" / "instances_train.json"
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))
    assert_import_refused(coco, out, tmp_path, where, starts=path)


def test_json_syntax_error_names_line_and_column(tmp_path):
    path = tmp_path / "instances_train.json"
    path.write_text('{"videos": [],\n "images": [}\n')
    with pytest.raises(FormatError, match=r"instances_train.json: line 2, column 13"):
        coco.parse(path)


@pytest.fixture(scope="module")
def fuzz_source(tmp_path_factory):
    return export_reference(coco, tmp_path_factory.mktemp("coco-fuzz"))


@fuzz_settings(60)
@given(data=st.data())
def test_corrupted_files_fail_cleanly(tmp_path_factory, fuzz_source, data):
    fuzz_import(coco, fuzz_source, "annotations/instances_train.json", data,
                tmp_path_factory.mktemp("fuzz"))
