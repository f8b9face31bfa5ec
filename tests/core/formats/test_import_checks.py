"""What every importer refuses, whatever the format (checked once, in ``write_labels``): absurd
frame counts, sizes and rates, a track given twice, names with control characters. Each is one
FormatError naming the file, and the project is unchanged. Also: CVAT keeps names exactly."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from halgui.core.annotations import Box, Keyframe
from halgui.core.errors import FormatError
from halgui.core.formats import coco, cvat, halgui_json, mot, yolo
from halgui.core.formats.common import ExportOptions
from halgui.core.progress import run_to_end
from halgui.core.project import Project


def document(**video):
    base = {"name": "clip", "path": None, "width": 64, "height": 48, "fps": 25.0,
            "n_frames": 12, "labeled_frames": [[0, 11]],
            "tracks": [{"actor": 1, "class": "walk", "keyframes": [
                {"frame": 0, "box": [1, 2, 30, 40]}, {"frame": 6, "box": [5, 2, 34, 40]}]}]}
    base.update(video)
    return {"format": "halgui", "version": 1, "classes": [{"name": "walk"}], "videos": [base]}


def refused(tmp_path: Path, module, path: Path, message: str) -> None:
    """Importing ``path`` raises one FormatError starting with the file, matching ``message``;
    the project is unchanged."""
    with Project.create(tmp_path / "project") as p:
        before = p.stats()
        with pytest.raises(FormatError) as info:
            run_to_end(module.import_labels(p, path))
        text = str(info.value)
        assert text.startswith(str(path)) and "\n" not in text, text
        assert re.search(message, text), text
        assert p.stats() == before


def write_json(tmp_path: Path, data: dict, name: str = "gt.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(("value", "message"), [
    (10**30, r"n_frames: must be at most 2147483647"),
    (2**31, r"n_frames: must be at most 2147483647, got 2147483648"),
    (1e30, r"n_frames: expected a whole number"),
    (-5, r"n_frames: must be at least 1"),
    (0, r"n_frames: must be at least 1"),
    (float("nan"), r"n_frames: expected a whole number"),
    (float("inf"), r"n_frames: expected a whole number"),
    (4.5, r"n_frames: expected a whole number"),
])
def test_absurd_frame_counts_are_refused(tmp_path, value, message):
    refused(tmp_path, halgui_json, write_json(tmp_path, document(n_frames=value)), message)


def test_a_number_of_thousands_of_digits_is_refused_in_every_json_reader(tmp_path):
    digits = "9" * 5000  # Python refuses to read it as int: a ValueError, not a JSONDecodeError
    text = json.dumps(document(n_frames=12345)).replace("12345", digits)
    path = tmp_path / "gt.json"
    path.write_text(text)
    refused(tmp_path, halgui_json, path, "holds a number too long to read")
    with Project.create(tmp_path / "src") as p:
        run_to_end(halgui_json.import_labels(p, write_json(tmp_path, document(), "ok.json")))
        out = run_to_end(coco.export_labels(p.snapshot(), tmp_path / "coco")).path
    ann = out / "annotations" / "instances_train.json"
    ann.write_text(ann.read_text().replace('"n_frames":12', f'"n_frames":{digits}'))
    refused(tmp_path / "c", coco, out, "holds a number too long to read")


@pytest.mark.parametrize(("field", "value", "message"), [
    ("width", 10**30, r"width: must be at most"),
    ("height", 70000, r"height 70000 is not a whole number in 1..65535"),
    ("fps", 1e300, r"frame rate 1e\+300 is not a number in \(0, 1000\]"),
    ("fps", 0, r"fps: must be positive"),
])
def test_absurd_sizes_and_rates_are_refused(tmp_path, field, value, message):
    refused(tmp_path, halgui_json, write_json(tmp_path, document(**{field: value})), message)


def test_other_formats_refuse_absurd_rates_too(tmp_path):
    """MOT's frameRate and CVAT's fps reach the project through the same check."""
    with Project.create(tmp_path / "src") as p:
        run_to_end(halgui_json.import_labels(p, write_json(tmp_path, document())))
        snapshot = p.snapshot()
    out = run_to_end(mot.export_labels(snapshot, tmp_path / "mot")).path
    (sidecar,) = out.rglob("halgui.json")
    data = json.loads(sidecar.read_text())
    data["fps"] = 1e300
    sidecar.write_text(json.dumps(data))
    refused(tmp_path / "m", mot, out, r"frame rate 1e\+300 is not a number")
    out = run_to_end(cvat.export_labels(snapshot, tmp_path / "cvat")).path
    (xml,) = out.glob("*.xml")
    xml.write_text(re.sub(r"<fps>[^<]*</fps>", "<fps>1e300</fps>", xml.read_text()))
    refused(tmp_path / "c", cvat, xml, r"frame rate 1e\+300 is not a number")


def test_a_track_given_twice_is_refused_naming_the_video_and_actor(tmp_path):
    data = document()
    track = data["videos"][0]["tracks"][0]
    data["videos"][0]["tracks"].append(json.loads(json.dumps(track)))
    refused(tmp_path, halgui_json, write_json(tmp_path, data),
            r"video 'clip': actor 1 has the same 'walk' track twice; refused \(not merged\)")
    # the same actor in the same class with other boxes (he left and came back) is two tracks
    track2 = json.loads(json.dumps(track))
    for k in track2["keyframes"]:
        k["frame"] += 1
    data["videos"][0]["tracks"][1] = track2
    with Project.create(tmp_path / "ok") as p:
        assert run_to_end(halgui_json.import_labels(p, write_json(tmp_path, data))).tracks == 2


def test_a_track_given_twice_in_a_cvat_file_is_refused(tmp_path):
    with Project.create(tmp_path / "src") as p:
        run_to_end(halgui_json.import_labels(p, write_json(tmp_path, document())))
        out = run_to_end(cvat.export_labels(p.snapshot(), tmp_path / "cvat")).path
    (xml,) = out.glob("*.xml")
    text = xml.read_text()
    block = re.search(r"  <track id=\"0\".*?</track>\n", text, re.S).group(0)
    xml.write_text(text.replace(block, block + block.replace('id="0"', 'id="7"')))
    refused(tmp_path / "c", cvat, xml, r"video 'clip': actor 1 has the same 'walk' track twice")


@pytest.mark.parametrize("name", ["walk\nrun", "walk\trun", "walk\x00", "a\u2028b", "a\x1b[31m"])
def test_class_names_with_control_characters_are_refused(tmp_path, name):
    data = document()
    data["classes"].append({"name": name})
    refused(tmp_path, halgui_json, write_json(tmp_path, data), r"class name .* contains the "
                                                                r"control character")
    data = document()
    data["classes"] = [{"name": name}]
    data["videos"][0]["tracks"][0]["class"] = name
    refused(tmp_path / "b", halgui_json, write_json(tmp_path, data, "b.json"),
            r"class name .* contains the control character")


@pytest.mark.parametrize("name", ["clip\n2", "clip\r", "a\x07b"])
def test_video_names_with_control_characters_are_refused(tmp_path, name):
    refused(tmp_path, halgui_json, write_json(tmp_path, document(name=name)),
            r"video name .* contains the control character")


def test_a_newline_in_a_class_name_cannot_reach_a_mot_or_yolo_class_list(tmp_path):
    """MOT and YOLO write one class per line: a class "walk\\nrun" would shift every class
    after it. It cannot enter through any importer, so no export can hold it: a COCO file
    carrying it is refused, and the project exported to MOT and YOLO lists exactly its
    classes."""
    data = document()
    data["classes"] = [{"name": "walk"}, {"name": "jump"}]
    with Project.create(tmp_path / "src") as p:
        run_to_end(halgui_json.import_labels(p, write_json(tmp_path, data)))
        out = run_to_end(coco.export_labels(p.snapshot(), tmp_path / "coco")).path
    ann = out / "annotations" / "instances_train.json"
    coco_doc = json.loads(ann.read_text())
    coco_doc["categories"][0]["name"] = "wa\nlk"
    ann.write_text(json.dumps(coco_doc))
    refused(tmp_path / "c", coco, out, r"class name 'wa\\nlk' contains the control character")
    with Project.create(tmp_path / "d") as p:
        with pytest.raises(FormatError):
            run_to_end(coco.import_labels(p, out))
        assert p.classes() == []
        run_to_end(halgui_json.import_labels(p, write_json(tmp_path, data, "again.json")))
        snapshot = p.snapshot()
    mot_out = run_to_end(mot.export_labels(snapshot, tmp_path / "mot")).path
    yolo_out = run_to_end(yolo.export_labels(snapshot, tmp_path / "yolo")).path
    assert (yolo_out / "classes.txt").read_text() == "walk\njump\n"
    (actions,) = mot_out.rglob("action_labels.txt")
    assert actions.read_text() == "walk\njump\n"


def test_cvat_keeps_video_names_exactly(tmp_path):
    names = ["trailing  ", "  leading", "in  side"]
    with Project.create(tmp_path / "a") as a:
        walk = a.add_class("walk")
        for i, name in enumerate(names):
            video = a.add_video(name, path=None, width=100, height=50, n_frames=10)
            a.set_keyframes(a.add_track(video, walk, 1),
                            [Keyframe(i, Box(1, 2, 30, 40), source="human")])
        out = run_to_end(cvat.export_labels(a.snapshot(), tmp_path / "out",
                                            ExportOptions())).path
    with Project.create(tmp_path / "b") as b:
        run_to_end(cvat.import_labels(b, out))
        assert sorted(v.name for v in b.videos()) == sorted(names)
