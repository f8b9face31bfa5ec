"""Import and export of the native JSON format, on real files, with bad input."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from halgui.core.annotations import Box
from halgui.core.errors import FormatError, VideoError
from halgui.core.formats import halgui_json
from halgui.core.progress import run_to_end
from halgui.core.project import Project
from tests.core.formats.conftest import assert_import_refused
from tests.core.videos import write_mp4


def document(**video_overrides):
    video = {
        "name": "clip", "path": "clip.mp4", "width": 64, "height": 48, "fps": 25.0,
        "n_frames": 12, "split": "train", "labeled_frames": [[0, 2], [5, 5]],
        "tracks": [{"actor": 1, "class": "wave", "keyframes": [
            {"frame": 0, "box": [1, 2, 30, 40]},
            {"frame": 4, "box": [5, 2, 34, 40], "source": "human"},
            {"frame": 8, "box": [5, 2, 34, 40], "outside": True},
        ]}],
    }
    video.update(video_overrides)
    return {"format": "halgui", "version": 1,
            "classes": [{"name": "wave", "color": "#112233"}, {"name": "jump"}],
            "videos": [video]}


@pytest.fixture
def gt(tmp_path):
    write_mp4(tmp_path / "clip.mp4", n_frames=12)
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(document()))
    return path


def test_import_creates_videos_classes_tracks_and_labeled_frames(tmp_path, gt):
    with Project.create(tmp_path / "p") as p:
        summary = run_to_end(halgui_json.import_labels(p, gt))
        assert summary == halgui_json.ImportSummary(videos=1, linked=1, tracks=1, keyframes=2,
                                                    labeled_frames=4)
        (video,) = p.videos()
        assert video.path == (tmp_path / "clip.mp4").resolve()
        assert (video.width, video.height, video.n_frames) == (64, 48, 12)
        assert [(c.name, c.color) for c in p.classes()] == [("wave", "#112233"),
                                                             ("jump", "#ff7f0e")]
        (track,) = p.tracks(video.id)
        assert [(k.frame, k.outside, k.source) for k in track.keyframes] == [
            (0, False, "imported"), (4, False, "human"), (8, True, "imported")]
        assert sorted(track.boxes(video.n_frames)) == list(range(8))
        assert p.labeled_frames(video.id) == {0, 1, 2, 5}


def test_missing_video_file_imports_annotations_only(tmp_path):
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(document(path="elsewhere/clip.mp4")))
    with Project.create(tmp_path / "p") as p:
        summary = run_to_end(halgui_json.import_labels(p, path))
        assert summary.linked == 0
        assert p.videos()[0].path is None
        assert p.stats()["keyframe_boxes"] == 2


def test_export_then_import_round_trips(tmp_path, gt):
    with Project.create(tmp_path / "a") as a:
        run_to_end(halgui_json.import_labels(a, gt))
        track = a.tracks(1)[0].id
        a.set_keyframe(track, 2, Box(3.25, 2, 31.5, 40))
        out = halgui_json.export_file(a.snapshot(), tmp_path / "out" / "labels.json")
        before = a.snapshot()
    with Project.create(tmp_path / "b") as b:
        run_to_end(halgui_json.import_labels(b, out))
        after = b.snapshot()
    assert [v.name for v in after.videos] == [v.name for v in before.videos]
    assert after.videos[0].path == before.videos[0].path
    assert [(c.name, c.color) for c in after.classes] == [(c.name, c.color) for c in before.classes]
    assert after.tracks == before.tracks
    assert after.labeled == before.labeled


def test_video_disagreeing_with_the_file_is_refused(tmp_path):
    write_mp4(tmp_path / "clip.mp4", n_frames=12)
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(document(n_frames=30)))
    with Project.create(tmp_path / "p") as p:
        with pytest.raises(VideoError, match="has 12 frames"):
            run_to_end(halgui_json.import_labels(p, path))
        assert p.stats()["videos"] == 0 and p.stats()["classes"] == 0


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d.update(format="coco"), "top level"),
        (lambda d: d.update(version=9), "top level"),
        (lambda d: d["videos"][0].pop("width"), "videos[0]: missing field 'width'"),
        (lambda d: d["videos"][0]["tracks"][0]["keyframes"][1].update(box=[1, 2, 3]),
         "videos[0].tracks[0].keyframes[1].box"),
        (lambda d: d["videos"][0]["tracks"][0]["keyframes"][1].update(box=[90, 90, 99, 99]),
         "videos[0].tracks[0].keyframes[1].box"),
        (lambda d: d["videos"][0]["tracks"][0]["keyframes"][1].update(frame=12),
         "videos[0].tracks[0].keyframes[1].frame"),
        (lambda d: d["videos"][0]["tracks"][0].update({"class": "swim"}),
         "videos[0].tracks[0].class"),
        (lambda d: d["videos"][0].update(labeled_frames=[[3, 1]]), "videos[0].labeled_frames[0]"),
        (lambda d: d["videos"][0].update(split="holdout"), "videos[0].split"),
        (lambda d: d["videos"].append(dict(d["videos"][0])), "videos[1].name"),
    ],
)
def test_malformed_files_name_the_field_and_change_nothing(tmp_path, gt, change, where):
    data = json.loads(gt.read_text())
    change(data)
    gt.write_text(json.dumps(data))
    assert_import_refused(halgui_json, gt, tmp_path, where)


def test_syntax_error_names_line_and_column(tmp_path):
    path = tmp_path / "gt.json"
    path.write_text('{"format": "halgui",\n "version": 1,\n "classes": [}\n')
    with pytest.raises(FormatError, match=r"gt.json: line 3, column 14"):
        halgui_json.parse(path)


def test_importing_the_same_video_twice_is_refused(tmp_path, gt):
    with Project.create(tmp_path / "p") as p:
        run_to_end(halgui_json.import_labels(p, gt))
        with pytest.raises(FormatError, match="already in the project"):
            run_to_end(halgui_json.import_labels(p, gt))
        assert p.stats()["tracks"] == 1


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_corrupted_files_fail_cleanly(tmp_path_factory, data):
    """Any corruption of a valid file either still parses or raises FormatError: never another
    exception, never a half import."""
    text = json.dumps(document(path=None))
    pos = data.draw(st.integers(0, len(text) - 1))
    mode = data.draw(st.sampled_from(["cut", "flip", "insert"]))
    char = data.draw(st.characters(codec="utf-8"))
    if mode == "cut":
        text = text[:pos]
    elif mode == "flip":
        text = text[:pos] + char + text[pos + 1:]
    else:
        text = text[:pos] + char + text[pos:]
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "gt.json"
    path.write_text(text, encoding="utf-8")
    with Project.create(folder / "p") as p:
        try:
            run_to_end(halgui_json.import_labels(p, path))
        except FormatError as exc:
            assert str(exc).startswith(str(path))
            assert p.stats()["videos"] == 0 and p.stats()["tracks"] == 0
