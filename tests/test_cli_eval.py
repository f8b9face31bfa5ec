"""``halgui eval`` as a user runs it: sparse ground truth, the two conventions, named."""

import json

from tests.core.test_metrics_convention import GT_BOX, one_track, preds
from tests.core.test_metrics_sparse_gt import SPARSE, document, predictions, walk_box
from tests.test_cli import halgui

SUMMARY = ("frame_map@0.5_act", "frame_map@0.5_voc", "video_map@0.2", "video_map@0.5",
           "video_map@0.75", "video_map@0.5:0.95")


def write(path, data):
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_eval_of_sparse_keyframes_and_both_conventions(tmp_path):
    gt = write(tmp_path / "gt.json", document(SPARSE))
    pred = write(tmp_path / "pred.json", predictions({f: walk_box(f) for f in range(11)}))
    text = halgui("eval", gt, pred)
    assert text.returncode == 0, text.stderr
    lines = dict(line.split(None, 1) for line in text.stdout.splitlines())
    assert lines["convention"].startswith("halgui: continuous box IoU")
    assert {k: lines[k] for k in SUMMARY} == dict.fromkeys(SUMMARY, "1.0000")
    out = json.loads(halgui("eval", gt, pred, "--convention", "act", "--json").stdout)
    assert out["convention"]["name"] == "act"
    assert "+1 pixel" in out["convention"]["description"]
    assert out["summary"] == dict.fromkeys(SUMMARY, 1.0)
    act_text = halgui("eval", gt, pred, "--convention", "act").stdout
    assert act_text.startswith("convention ") and " act: ACT / UCF101-24: +1 pixel" in act_text


def test_eval_conventions_differ_where_the_plus_one_area_crosses_0_5(tmp_path):
    gt = write(tmp_path / "gt.json", one_track({0: GT_BOX}, 1))
    pred = write(tmp_path / "pred.json", preds([(0, [0, 0, 10, 4.6], 0.9)], n_frames=1))
    default = json.loads(halgui("eval", gt, pred, "--json").stdout)
    act = json.loads(halgui("eval", gt, pred, "--json", "--convention", "act").stdout)
    assert default["convention"]["name"] == "halgui"
    assert (default["summary"]["frame_map@0.5_act"], act["summary"]["frame_map@0.5_act"]) == (
        0.0, 1.0)


def test_eval_bad_input_is_one_line_and_exit_2(tmp_path):
    gt = write(tmp_path / "gt.json", document(SPARSE))
    pred = write(tmp_path / "pred.json", predictions({0: walk_box(0)}))
    bad = halgui("eval", gt, pred, "--convention", "voc2007")
    assert bad.returncode == 2 and "invalid choice: 'voc2007'" in bad.stderr
    broken = document(SPARSE)
    broken["videos"][0]["tracks"][0]["keyframes"][1]["box"] = [5, 5, 5, 9]
    result = halgui("eval", write(tmp_path / "broken.json", broken), pred)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith(f"halgui: error: {tmp_path / 'broken.json'}: ground truth")
    assert "keyframes[1]" in result.stderr and "empty" in result.stderr
    wrong = predictions({0: walk_box(0)})
    wrong["videos"][0]["detections"][0]["class"] = "fly"
    result = halgui("eval", gt, write(tmp_path / "wrong.json", wrong))
    assert result.returncode == 2
    assert result.stderr.startswith(f"halgui: error: {tmp_path / 'wrong.json'}: predictions")
