"""CVAT for video 1.1 export and import: round trips, datumaro reading our files, CVAT's own
outside semantics, foreign files, malformed files."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from halgui.core.errors import FormatError
from halgui.core.formats import cvat
from halgui.core.progress import run_to_end
from halgui.core.project import Project
from tests.core.formats.conftest import (
    CLIP,
    assert_import_refused,
    assert_same_labels,
    export_reference,
    export_with,
    fuzz_import,
    fuzz_settings,
    replace_once,
    visible_boxes,
)

TOL = 0.0051  # CVAT writes 2 decimals


def export(snapshot, out, **options):
    return export_with(cvat, snapshot, out, **options)


@pytest.mark.parametrize("pseudo", [False, True])
def test_round_trip_keeps_tracks_keyframes_classes_and_labeled_frames(tmp_path, snapshot, pseudo):
    out = export(snapshot, tmp_path / "out", pseudo_labels=pseudo)
    assert sorted(p.name for p in out.iterdir()) == ["clip.xml", "street_cam_02.xml"]
    with Project.create(tmp_path / "b") as p:
        summary = run_to_end(cvat.import_labels(p, out))
        assert (summary.videos, summary.tracks, summary.linked) == (2, 5, 1)
        assert_same_labels(snapshot, p.snapshot(), TOL)
        assert p.video_by_name(CLIP).path == snapshot.videos[0].path


def test_tracks_close_with_outside_as_cvat_needs(tmp_path, snapshot):
    out = export(snapshot, tmp_path / "out")
    text = (out / "clip.xml").read_text()
    # actor 1's wave track ends at its keyframe on frame 5: CVAT would run it to the video's end
    # without an outside box on frame 6
    wave = text[text.index('label="wave"'):]
    wave = wave[:wave.index("</track>")]
    assert 'frame="6" keyframe="1" outside="1"' in wave
    assert 'group_id="1"' in text and '<attribute name="source">model-accepted</attribute>' in wave
    # actor 2's walk track ends on the video's last frame: nothing to close
    assert "<closing_outside>1</closing_outside>" in text
    assert "<labeled_frames>0-5 7</labeled_frames>" in text
    assert "<original_size><width>64</width><height>48</height></original_size>" in text


@pytest.mark.parametrize("pseudo", [False, True])
def test_datumaro_reads_the_same_boxes(tmp_path, snapshot, pseudo):
    import datumaro as dm

    out = export(snapshot, tmp_path / "out", pseudo_labels=pseudo)
    dataset = dm.Dataset.import_from(str(out), "cvat")
    shapes = [a for item in dataset for a in item.annotations
              if a.type == dm.AnnotationType.bbox]
    visible = [a for a in shapes if not a.attributes["outside"]]
    assert len(visible) == visible_boxes(snapshot, pseudo=pseudo)
    assert sorted(dataset.subsets()) == ["clip", "street_cam_02"]
    labels = dataset.categories()[dm.AnnotationType.label]
    assert [label.name for label in labels] == ["walk", "wave"]
    keyframes = [a for a in visible if a.attributes["keyframe"]]
    assert len(keyframes) == visible_boxes(snapshot)
    assert (2.0, 3.0, 18.0, 27.0) in {tuple(a.get_bbox()) for a in keyframes}


def test_human_only_split_and_images(tmp_path, snapshot):
    import cv2

    out = export(snapshot, tmp_path / "out", human_only=True, split="train", write_images=True)
    frames = sorted((out / "images" / "clip").iterdir())
    assert len(frames) == 12 and frames[0].name == "frame_000000.png"
    assert cv2.imread(str(frames[0])).shape == (48, 64, 3)
    with Project.create(tmp_path / "b") as p:
        run_to_end(cvat.import_labels(p, out))
        after = p.snapshot()
        assert [v.name for v in after.videos] == [CLIP]
        sources = {k.source for ts in after.tracks.values() for t in ts for k in t.keyframes}
        assert sources == {"human"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "out", "source"]


FOREIGN = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta>
    <task>
      <id>5</id><name>clip01</name><size>10</size><mode>interpolation</mode>
      <subset>Validation</subset><start_frame>0</start_frame><stop_frame>9</stop_frame>
      <labels>
        <label><name>person</name><color>#fa3253</color><type>rectangle</type>
          <attributes><attribute><name>action</name><mutable>True</mutable>
            <input_type>select</input_type><values>stand
walk</values></attribute></attributes></label>
        <label><name>zone</name><type>polygon</type></label>
      </labels>
      <original_size><width>640</width><height>480</height></original_size>
      <source>clip01.mp4</source>
    </task>
  </meta>
  <track id="0" label="person" source="manual">
    <box frame="2" keyframe="1" outside="0" occluded="0" xtl="10.5" ytl="20" xbr="50" ybr="90">
      <attribute name="action">walk</attribute></box>
    <box frame="3" keyframe="0" outside="0" occluded="0" xtl="11.5" ytl="20" xbr="51" ybr="90">
      <attribute name="action">walk</attribute></box>
    <box frame="4" keyframe="1" outside="0" occluded="0" xtl="12.5" ytl="20" xbr="52" ybr="90">
      <attribute name="action">walk</attribute></box>
    <box frame="5" keyframe="0" outside="0" occluded="0" xtl="12.5" ytl="20" xbr="52" ybr="90">
      <attribute name="action">walk</attribute></box>
  </track>
  <track id="1" label="zone" source="manual">
    <polygon frame="0" keyframe="1" outside="0" occluded="0" points="1,1;5,1;5,5"></polygon>
  </track>
  <track id="2" label="person" source="manual" group_id="4">
    <box frame="0" keyframe="1" outside="0" occluded="0" xtl="0" ytl="0" xbr="8" ybr="8"></box>
    <box frame="1" keyframe="1" outside="1" occluded="0" xtl="0" ytl="0" xbr="8" ybr="8"></box>
  </track>
</annotations>
"""


def test_a_cvat_file_imports_with_cvat_semantics(tmp_path):
    path = tmp_path / "annotations.xml"
    path.write_text(FOREIGN)
    with Project.create(tmp_path / "p") as p:
        run_to_end(cvat.import_labels(p, path))
        (video,) = p.videos()
        assert (video.name, video.width, video.height, video.n_frames, video.fps,
                video.split) == ("clip01", 640, 480, 10, 25.0, "val")
        assert [c.name for c in p.classes()] == ["person", "zone"]
        t0, t2 = p.tracks(video.id)  # the polygon track is not a box track
        # keyframe="0" boxes are pseudo-labels, but the last one ends the span, as in CVAT
        assert [(k.frame, k.outside) for k in t0.keyframes] == [(2, False), (4, False),
                                                                (5, False)]
        assert t0.keyframes[0].box.as_tuple() == (10.5, 20, 50, 90)
        assert [(k.frame, k.outside) for k in t2.keyframes] == [(0, False), (1, True)]
        assert t2.actor == 4 and t0.actor == 5  # group_id, else the next free actor
        assert {k.source for k in t0.keyframes} == {"imported"}
        assert p.labeled_frames(video.id) == {0, 2, 3, 4, 5}  # every frame with a box


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ('frame="9" keyframe', 'frame="12" keyframe', "past the task's last frame"),
        ('xtl="40.00"', 'xtl="forty"', "xtl 'forty' is not a number"),
        ('keyframe="1" outside="0" occluded="0" xtl="40.00"',
         'keyframe="2" outside="0" occluded="0" xtl="40.00"', "keyframe='2'"),
        ("<original_size><width>64</width><height>48</height></original_size>", "",
         "no <original_size>"),
        ('<track id="2" label="walk"', '<track id="2" label="run"', "label 'run' is not declared"),
        ('<box frame="9"', '<box frame="11"', "has two boxes on frame 11"),
        ("<labeled_frames>0-5 7", "<labeled_frames>0-5 70", "range 70"),
        ("<annotations>", '<!DOCTYPE x [<!ENTITY a "b">]><annotations>', "DTDs"),
        ('xbr="60.00" ybr="44.00"', 'xbr="40.00" ybr="44.00"', "no area"),
        ("</annotations>", '<image id="0" name="a.png"></image></annotations>',
         "CVAT for images"),
    ],
)
def test_malformed_files_name_the_line_and_change_nothing(tmp_path, snapshot, old, new, where):
    out = export(snapshot, tmp_path / "out")
    path = out / "clip.xml"
    replace_once(path, old, new)
    assert_import_refused(cvat, out, tmp_path, where, starts=f"{path}: line ")


def test_xml_syntax_error_names_line_and_column(tmp_path):
    path = tmp_path / "a.xml"
    path.write_text("<annotations>\n  <meta>\n  </mta>\n</annotations>\n")
    with pytest.raises(FormatError, match=r"a.xml: line 3, column 5: mismatched tag"):
        cvat.parse(path)


def test_an_unknown_declared_encoding_is_a_format_error(tmp_path):
    # found by fuzzing: expat raises LookupError, not ExpatError, for it
    path = tmp_path / "a.xml"
    path.write_text('<?xml version="1.0" encoding="u-8"?>\n<annotations/>\n')
    with pytest.raises(FormatError, match=r"a.xml: cannot be decoded \(unknown encoding"):
        cvat.parse(path)


@pytest.fixture(scope="module")
def fuzz_source(tmp_path_factory):
    return export_reference(cvat, tmp_path_factory.mktemp("cvat-fuzz"))


@fuzz_settings(60)
@given(data=st.data())
def test_corrupted_files_fail_cleanly(tmp_path_factory, fuzz_source, data):
    fuzz_import(cvat, fuzz_source, "clip.xml", data, tmp_path_factory.mktemp("fuzz"))
