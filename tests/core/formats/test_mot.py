"""MOTChallenge export and import: round trips through gt.txt + the actions sidecar, datumaro's
mot_seq reader, plain MOT files, malformed files."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from halgui.core.annotations import track_boxes
from halgui.core.formats import mot
from halgui.core.progress import run_to_end
from halgui.core.project import Project
from tests.core.formats.conftest import (
    CLIP,
    STREET,
    assert_import_refused,
    assert_same_labels,
    export_reference,
    export_with,
    fuzz_import,
    fuzz_settings,
    replace_once,
)

TOL = 0.0011  # 3 decimals for left, top, width and height
SEQ = {CLIP: "train/clip", STREET: "val/street_cam_02"}


def export(snapshot, out, **options):
    return export_with(mot, snapshot, out, **options)


def actor_boxes(snapshot, name, pseudo=False):
    """(frame, actor) pairs with a box: what gt.txt holds, one row each."""
    video = next(v for v in snapshot.videos if v.name == name)
    pairs = set()
    for t in snapshot.tracks[video.id]:
        frames = (track_boxes(t.keyframes, video.n_frames) if pseudo
                  else [k.frame for k in t.keyframes if not k.outside])
        pairs.update((f, t.actor) for f in frames)
    return pairs


@pytest.mark.parametrize("pseudo", [False, True])
def test_round_trip_keeps_tracks_keyframes_classes_and_labeled_frames(tmp_path, snapshot, pseudo):
    out = export(snapshot, tmp_path / "out", pseudo_labels=pseudo)
    with Project.create(tmp_path / "b") as p:
        summary = run_to_end(mot.import_labels(p, out))
        assert (summary.videos, summary.tracks, summary.linked) == (2, 5, 1)
        assert_same_labels(snapshot, p.snapshot(), TOL)


def test_sequence_files(tmp_path, snapshot):
    out = export(snapshot, tmp_path / "out")
    seq = out / SEQ[CLIP]
    assert (seq / "seqinfo.ini").read_text() == (
        "[Sequence]\nname=clip\nimDir=img1\nframeRate=25\nseqLength=12\nimWidth=64\n"
        "imHeight=48\nimExt=.jpg\n")
    gt = (seq / "gt" / "gt.txt").read_text().splitlines()
    assert gt[0] == "1,1,2,3,18,27,1,1,1"  # 1-based frame, id = actor, MOT class 1
    assert len(gt) == len(actor_boxes(snapshot, CLIP))
    assert not (seq / "img1").exists()  # no images unless asked for
    assert (seq / "gt" / "labels.txt").read_text() == "pedestrian\n"
    assert (seq / "gt" / "action_labels.txt").read_text() == "walk\nwave\n"
    actions = (seq / "gt" / "actions.csv").read_text().splitlines()
    assert actions[0] == mot.ACTIONS_HEADER
    assert "3,1,2,2,keyframe,model-accepted,,,," in actions  # the gt.txt box is its own
    assert "1,1,1,1,keyframe,human,,,," in actions
    assert "7,2,1,3,outside,human,32,10,20,30" in actions
    side = json.loads((seq / "gt" / "halgui.json").read_text())
    assert side["labeled_frames"] == [[1, 6], [8, 8]] and side["fps"] == 25.0
    pseudo = export(snapshot, tmp_path / "pseudo", pseudo_labels=True)
    actions = (pseudo / SEQ[CLIP] / "gt" / "actions.csv").read_text().splitlines()
    # on frame 3 actor 1 walks (the gt.txt box, interpolated) and waves with a box of its own
    assert "3,1,1,1,interpolated,human,,,," in actions
    assert "3,1,2,2,keyframe,model-accepted,2.5,3.25,18,26.75" in actions
    street = (out / SEQ[STREET] / "seqinfo.ini").read_text()
    assert "frameRate=30\n" in street  # MOT wants whole numbers; 29.97 is in halgui.json


@pytest.mark.parametrize("pseudo", [False, True])
def test_datumaro_reads_the_same_boxes(tmp_path, snapshot, pseudo):
    import datumaro as dm

    out = export(snapshot, tmp_path / "out", pseudo_labels=pseudo)
    for name, rel in SEQ.items():
        dataset = dm.Dataset.import_from(str(out / rel), "mot_seq")
        boxes = [(int(item.id), a.attributes["track_id"]) for item in dataset
                 for a in item.annotations if a.type == dm.AnnotationType.bbox]
        assert sorted(boxes) == sorted((f + 1, a) for f, a in actor_boxes(snapshot, name, pseudo))
        labels = dataset.categories()[dm.AnnotationType.label]
        assert [label.name for label in labels] == ["pedestrian"]
        video = next(v for v in snapshot.videos if v.name == name)
        assert len(dataset) == video.n_frames  # seqinfo.ini read: every frame is an item


def test_human_only_split_and_images(tmp_path, snapshot):
    out = export(snapshot, tmp_path / "out", human_only=True, split="train", write_images=True)
    images = sorted((out / "train" / "clip" / "img1").iterdir())
    assert [p.name for p in images[:2]] == ["000001.jpg", "000002.jpg"] and len(images) == 12
    assert not (out / "val").exists()
    with Project.create(tmp_path / "b") as p:
        run_to_end(mot.import_labels(p, out))
        after = p.snapshot()
        sources = {k.source for ts in after.tracks.values() for t in ts for k in t.keyframes}
        assert [v.name for v in after.videos] == [CLIP] and sources == {"human"}


def test_plain_mot_imports_one_track_per_id(tmp_path):
    seq = tmp_path / "MOT17-02"
    (seq / "gt").mkdir(parents=True)
    (seq / "seqinfo.ini").write_text("[Sequence]\nname=MOT17-02\nimDir=img1\nframeRate=30\n"
                                     "seqLength=10\nimWidth=200\nimHeight=100\nimExt=.jpg\n")
    (seq / "gt" / "gt.txt").write_text(
        "1,1,10,10,20,40,1,1,1\n2,1,12,10,20,40,1,1,0.8\n5,1,20,10,20,40,1,1,1\n"
        "2,2,100,20,30,60,1,7,1\n3,3,0,0,200,100,0,12,1\n")
    with Project.create(tmp_path / "p") as p:
        run_to_end(mot.import_labels(p, seq))
        (video,) = p.videos()
        assert (video.name, video.fps, video.n_frames, video.split) == ("MOT17-02", 30.0, 10,
                                                                        "train")
        assert [c.name for c in p.classes()] == ["pedestrian", "static person"]
        t1, t2 = p.tracks(video.id)  # the conf=0 row (an ignore region) is no actor
        # frames 3-4 are missing for id 1: it left after frame 2 and came back on frame 5
        assert [(k.frame, k.outside) for k in t1.keyframes] == [(0, False), (1, False),
                                                                (2, True), (4, False)]
        assert (t1.actor, t2.actor) == (1, 2)
        assert p.labeled_frames(video.id) == {0, 1, 4}


@pytest.mark.parametrize(
    ("file", "old", "new", "where"),
    [
        ("gt/gt.txt", "1,1,2,3,18,27,1,1,1", "0,1,2,3,18,27,1,1,1", "line 1: frame 0"),
        ("gt/gt.txt", "1,1,2,3,18,27,1,1,1", "1,1,2,3,18", "line 1: expected 6 to 10"),
        ("gt/gt.txt", "1,1,2,3,18,27,1,1,1", "1,1,2,3,-18,27,1,1,1", "line 1: bb_width"),
        ("gt/gt.txt", "2,2,30,10", "1,1,30,10", "line 2: id 1 has a second"),
        ("seqinfo.ini", "imWidth=64\n", "", "has no imwidth"),
        ("seqinfo.ini", "seqLength=12", "seqLength=twelve", "line 5: seqlength"),
        ("gt/actions.csv", "1,1,1,1,keyframe", "1,1,1,1,keyfrme", "line 2: kind 'keyfrme'"),
        ("gt/actions.csv", "1,1,1,1,keyframe", "1,1,3,1,keyframe", "line 2: action_id 3"),
        ("gt/actions.csv", "1,1,1,1,keyframe,human,,,,\n", "", "gt.txt: line 1: the box of id 1"),
        ("gt/actions.csv", "7,2,1,3,outside,human,32,10,20,30", "7,2,1,3,outside,human,,,,",
         "needs its box"),
        ("gt/halgui.json", '"fps": 25.0', '"fps": 0', "fps: must be positive"),
    ],
)
def test_malformed_files_name_the_line_and_change_nothing(tmp_path, snapshot, file, old, new,
                                                          where):
    out = export(snapshot, tmp_path / "out")
    path = out / SEQ[CLIP] / file
    replace_once(path, old, new)
    assert_import_refused(mot, out, tmp_path, where, starts=out / SEQ[CLIP])


@pytest.fixture(scope="module")
def fuzz_source(tmp_path_factory):
    return export_reference(mot, tmp_path_factory.mktemp("mot-fuzz"))


@fuzz_settings(80)
@given(data=st.data(), file=st.sampled_from(["gt/gt.txt", "gt/actions.csv", "seqinfo.ini",
                                             "gt/halgui.json", "gt/action_labels.txt"]))
def test_corrupted_files_fail_cleanly(tmp_path_factory, fuzz_source, data, file):
    fuzz_import(mot, fuzz_source, f"{SEQ[CLIP]}/{file}", data, tmp_path_factory.mktemp("fuzz"))
