"""Round validation scores a model against the validation labels as halgui reads them: a track
keyed on a few frames is ground truth on every frame between (interpolated)."""

import pytest

from halgui.core.al.rounds import validation_ground_truth
from halgui.core.annotations import Box, interpolate
from halgui.core.metrics import evaluate, gt_from_json
from halgui.core.project import Project

START, END = (10.0, 20.0, 50.0, 80.0), (30.0, 24.0, 70.0, 90.0)


@pytest.fixture
def project(tmp_path):
    """A real project: validation video v keyed at frames 0 and 10 only, frames 0-10 labeled;
    validation video u, labeled too but with no file linked (a round cannot predict on it)."""
    p = Project.create(tmp_path / "p")
    walk = p.add_class("walk")
    for name, path in (("v", tmp_path / "v.mp4"), ("u", None)):
        vid = p.add_video(name, path=path, width=160, height=120, n_frames=11, split="val")
        track = p.add_track(vid, walk)
        p.set_keyframe(track, 0, Box(*START))
        p.set_keyframe(track, 10, Box(*END))
        p.set_labeled(vid, range(11))
    yield p
    p.close()


def perfect(boxes):
    dets = [{"frame": f, "box": list(b), "class": "walk", "score": 0.9} for f, b in boxes.items()]
    tube = {"class": "walk", "score": 0.9, "boxes": {str(f): list(b) for f, b in boxes.items()}}
    return {"format": "halgui-predictions", "version": 1, "classes": ["walk"],
            "videos": [{"name": "v", "n_frames": 11, "detections": dets, "tubes": [tube]}]}


def test_validation_ground_truth_of_sparse_keyframes_is_interpolated(project):
    snapshot = project.snapshot()
    val = [v for v in snapshot.videos if v.name == "v"]  # what validate predicts on
    gt = validation_ground_truth(snapshot, project.folder, val)
    assert [v["name"] for v in gt["videos"]] == ["v"]
    expected = interpolate({0: START, 10: END}, 11)
    _, videos = gt_from_json(gt)
    (tube,) = videos["v"].tubes
    assert sorted(tube.boxes) == list(range(11))
    for f, box in expected.items():
        assert list(tube.boxes[f]) == pytest.approx(box)
    summary = evaluate(gt, perfect(expected))["summary"]
    assert summary == {"frame_map@0.5_act": 1.0, "frame_map@0.5_voc": 1.0,
                       "video_map@0.2": 1.0, "video_map@0.5": 1.0, "video_map@0.75": 1.0,
                       "video_map@0.5:0.95": 1.0}
