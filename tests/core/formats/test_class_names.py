"""A class name is stored exactly as given, spaces at its ends included, so it round-trips
through the formats that keep it (halgui JSON, COCO, CVAT, YOLO) and an import never confuses it
with the name without them: "walk " and "walk" are two classes, each keeping its own tracks."""

import pytest

from halgui.core.annotations import Box, Keyframe
from halgui.core.errors import ProjectError
from halgui.core.formats import coco, cvat, halgui_json, yolo
from halgui.core.formats.common import ExportOptions
from halgui.core.progress import run_to_end
from halgui.core.project import Project

NAMES = ["walk ", "walk", " jump"]


def labels(project: Project) -> tuple[list[str], list[tuple[str, float]]]:
    """Class names in order, and (class name, first box's x1) of every track."""
    snapshot = project.snapshot()
    names = {c.id: c.name for c in snapshot.classes}
    tracks = sorted((names[t.class_id], round(t.keyframes[0].box.x1, 2))
                    for ts in snapshot.tracks.values() for t in ts)
    return [c.name for c in snapshot.classes], tracks


def source(folder) -> Project:
    p = Project.create(folder)
    video = p.add_video("v", path=None, width=64, height=48, n_frames=4, fps=25.0)
    for i, name in enumerate(NAMES):
        track = p.add_track(video, p.add_class(name), i + 1)
        p.set_keyframes(track, [Keyframe(0, Box.of((i + 1, 1, 20, 20)), False, "human")])
    p.set_labeled(video, [0])
    return p


@pytest.mark.parametrize("module", [halgui_json, coco, cvat, yolo],
                         ids=["halgui", "coco", "cvat", "yolo"])
def test_names_with_spaces_at_their_ends_round_trip(tmp_path, module):
    with source(tmp_path / "a") as p:
        expected = labels(p)
        out = run_to_end(module.export_labels(p.snapshot(), tmp_path / "out.json"
                                              if module is halgui_json else tmp_path / "out",
                                              ExportOptions())).path
    assert expected == (NAMES, [(" jump", 3.0), ("walk", 2.0), ("walk ", 1.0)])
    with Project.create(tmp_path / "b") as p:
        run_to_end(module.import_labels(p, out))
        assert labels(p) == expected
    # into a project that already has "walk": "walk " is matched to no class but its own
    with Project.create(tmp_path / "c") as p:
        p.add_class("walk")
        run_to_end(module.import_labels(p, out))
        assert labels(p) == (["walk", "walk ", " jump"], expected[1])


def test_a_blank_name_or_a_control_character_is_refused(tmp_path):
    with Project.create(tmp_path / "p") as p:
        for name in ("", "   ", "a\nb", "tab\there"):
            with pytest.raises(ProjectError, match="class"):
                p.add_class(name)
        assert p.classes() == []
