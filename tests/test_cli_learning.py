"""The learning commands as a user runs them: ``round``, ``train``, ``predict``, ``eval`` and
``simulate``, each a real subprocess on a tiny demo project (3 videos of 24 frames, clips of
32 pixels, one epoch of two clips), and each with a bad input that must end in one line,
``halgui: error: ...``, exit status 2, no traceback and nothing written."""

import csv
import json
import math
import shutil
from pathlib import Path

import pytest

from tests.test_cli import halgui

#: the smallest run that still trains, scores and selects: seconds per command on a CPU
TINY_TRAIN = ("--epochs", "1", "--clips-per-epoch", "2", "--device", "cpu")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """``halgui demo``: SynthActions videos in a project with a few frames labeled, round 0
    done, and the dataset's full ground truth beside it."""
    folder = tmp_path_factory.mktemp("demo") / "d"
    result = halgui("demo", folder, "--no-gui", "--videos", "3", "--frames", "24")
    assert result.returncode == 0, result.stderr
    return folder


@pytest.fixture
def project(demo, tmp_path) -> Path:
    """A copy of the demo project that a test may change."""
    return Path(shutil.copytree(demo, tmp_path / "d"))


def info(folder: Path) -> dict:
    result = halgui("info", folder, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def assert_refused(result, *names: str) -> str:
    """One line ``halgui: error: ...`` naming ``names``, exit 2, no traceback."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("halgui: error: "), result.stderr
    for name in names:
        assert name in lines[0]
    return lines[0]


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def perfect_predictions(gt: dict) -> dict:
    """Every ground-truth box as a detection of score 1, each track as its tube."""
    classes = [c["name"] for c in gt["classes"]]
    videos = []
    for v in gt["videos"]:
        tracks = [t for t in v["tracks"] if t["keyframes"]]
        videos.append({
            "name": v["name"], "n_frames": v["n_frames"],
            "detections": [{"frame": k["frame"], "class": t["class"], "score": 1.0,
                            "box": k["box"]} for t in tracks for k in t["keyframes"]],
            "tubes": [{"class": t["class"], "score": 1.0,
                       "boxes": {str(k["frame"]): k["box"] for k in t["keyframes"]}}
                      for t in tracks]})
    return {"format": "halgui-predictions", "version": 1, "classes": classes, "videos": videos}


@pytest.mark.slow
def test_round_proposes_frames_and_saves_its_model(project):
    before = info(project)
    result = halgui("round", project, *TINY_TRAIN, "--budget", "3", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["round"] == before["rounds"] and out["proposals"] == 3
    assert Path(out["checkpoint"]).parent == project / "models"
    assert Path(out["checkpoint"]).is_file()
    assert out["labeled_frames"] == before["labeled_frames"]
    assert math.isfinite(out["train_loss"])
    after = info(project)
    assert (after["rounds"], after["labeled_frames"]) == (before["rounds"] + 1,
                                                          before["labeled_frames"])


def test_round_refuses_bad_input_and_changes_nothing(project, tmp_path):
    files = tree(project)
    assert_refused(halgui("round", project, *TINY_TRAIN, "--budget", "0"), "--budget")
    assert tree(project) == files
    assert halgui("new", tmp_path / "empty").returncode == 0
    assert_refused(halgui("round", tmp_path / "empty", *TINY_TRAIN),
                   str(tmp_path / "empty"), "no linked training videos")


def test_train_predict_eval(project, tmp_path):
    model = tmp_path / "model.pt"
    result = halgui("train", project, *TINY_TRAIN, "--size", "32", "--batch-size", "2",
                    "--out", model, "--json")
    assert result.returncode == 0, result.stderr
    trained = json.loads(result.stdout)
    assert trained["checkpoint"] == str(model) and model.is_file()
    assert trained["steps"] == 1 and math.isfinite(trained["final_loss"])  # 2 clips, batch 2
    # the training split's videos with labeled frames (the demo labels a few frames of each)
    assert trained["videos"] == sum(v["split"] == "train" for v in info_videos(project)) == 2

    pred = tmp_path / "pred.json"
    result = halgui("predict", project, pred, "--checkpoint", model, "--device", "cpu",
                    "--json")
    assert result.returncode == 0, result.stderr
    predicted = json.loads(result.stdout)
    document = json.loads(pred.read_text())
    assert document["format"] == "halgui-predictions"
    assert sorted(v["name"] for v in document["videos"]) == sorted(
        v["name"] for v in info_videos(project))
    assert predicted["videos"] == 3
    missing = tmp_path / "nowhere"
    assert_refused(halgui("predict", missing, tmp_path / "other.json", "--checkpoint", model,
                          "--device", "cpu"), str(missing))
    assert not (tmp_path / "other.json").exists() and not missing.exists()
    assert predicted["detections"] == sum(len(v["detections"]) for v in document["videos"])
    for v in document["videos"]:
        for d in v["detections"]:
            assert 0 <= d["frame"] < v["n_frames"] and 0 <= d["score"] <= 1

    gt = project / "ground_truth.json"
    result = halgui("eval", gt, pred, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)["summary"]
    assert summary and all(v is None or 0 <= v <= 1 for v in summary.values())

    # the same command scores the ground truth itself as perfect
    perfect = tmp_path / "perfect.json"
    perfect.write_text(json.dumps(perfect_predictions(json.loads(gt.read_text()))))
    result = halgui("eval", gt, perfect, "--json")
    assert result.returncode == 0, result.stderr
    scores = [v for v in json.loads(result.stdout)["summary"].values() if v is not None]
    assert scores and all(v == pytest.approx(1.0) for v in scores)


def info_videos(folder: Path) -> list[dict]:
    result = halgui("info", folder, "--videos", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["video_list"]


def test_train_refuses_bad_input_and_writes_nothing(project, tmp_path):
    files = tree(project)
    model = tmp_path / "model.pt"
    for flag in ("--batch-size", "--size", "--epochs", "--clips-per-epoch"):
        args = dict.fromkeys(("--epochs", "--clips-per-epoch", "--size", "--batch-size"), "2")
        args[flag] = "0"
        result = halgui("train", project, "--device", "cpu", "--out", model,
                        *(x for kv in args.items() for x in kv))
        assert_refused(result, flag)
        assert not model.exists()
    assert tree(project) == files


def test_train_for_minutes_stops_at_the_budget_with_a_model(project, tmp_path):
    model = tmp_path / "model.pt"
    result = halgui("train", project, "--minutes", "0.05", "--clips-per-epoch", "2", "--size",
                    "32", "--batch-size", "2", "--device", "cpu", "--out", model, "--json")
    assert result.returncode == 0, result.stderr
    trained = json.loads(result.stdout)
    assert trained["seconds"] >= 3.0 and model.is_file()  # 0.05 min; one epoch is one step
    assert trained["steps"] > 1  # no epoch cap: epochs went on until the time was spent
    assert_refused(halgui("train", project, "--minutes", "0", "--out", model), "--minutes")


def test_predict_refuses_a_missing_checkpoint(project, tmp_path):
    pred = tmp_path / "pred.json"
    assert_refused(halgui("predict", project, pred, "--checkpoint", tmp_path / "none.pt",
                          "--device", "cpu"), str(tmp_path / "none.pt"))
    assert not pred.exists()


def test_eval_refuses_a_file_that_is_not_json(tmp_path, demo):
    bad = tmp_path / "pred.json"
    bad.write_text('{"format": "halgui-predictions",')
    line = assert_refused(halgui("eval", demo / "ground_truth.json", bad), str(bad))
    assert "line 1" in line


@pytest.mark.slow
def test_simulate_writes_results(tmp_path):
    out = tmp_path / "sim"
    result = halgui("simulate", "--out", out, "--videos", "5", "--frames", "24",
                    "--strategies", "random", "--seeds", "0", "--epochs", "1", "--size", "32",
                    "--clips-per-epoch", "2", "--passes", "2", "--no-reference",
                    "--device", "cpu", "--initial", "0.05", "--budget-fraction", "0.05",
                    "--target", "0.06", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert Path(summary["csv"]) == out / "results.csv"
    for name in ("results.csv", "results.md", "results.png", "config.json"):
        assert (out / name).is_file(), name
    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    streamed = (out / "results.partial.jsonl").read_text().splitlines()
    assert len(rows) == len(streamed) >= 1
    assert {(r["strategy"], r["seed"]) for r in rows} == {("random", "0")}
    pct = [float(r["frames_pct"]) for r in rows]
    assert pct == sorted(pct) and pct[0] > 0
    metrics = [k for k in rows[0] if "map" in k]
    assert metrics
    for r in rows:
        for k in metrics:
            assert r[k] == "" or 0 <= float(r[k]) <= 1


def test_simulate_refuses_bad_input_and_writes_nothing(tmp_path):
    missing = tmp_path / "missing.json"
    out = tmp_path / "sim"
    assert_refused(halgui("simulate", "--out", out, "--gt", missing), str(missing))
    not_json = tmp_path / "gt.json"
    not_json.write_text("videos: []")
    assert_refused(halgui("simulate", "--out", out, "--gt", not_json), str(not_json))
    assert_refused(halgui("simulate", "--out", out, "--videos", "2", "--frames", "10"),
                   "--frames")
    assert_refused(halgui("simulate", "--out", out, "--passes", "0"), "--passes")
    assert not out.exists() or tree(out) == {}


def test_diagnose_reports_each_split_and_a_verdict(demo, tmp_path):
    """Every split of the demo's ground truth labeled: held-out and training numbers, in
    range, with the box count of each split's labeled frames."""
    project = tmp_path / "full"
    gt = json.loads((demo / "ground_truth.json").read_text())
    assert halgui("import", project, "--format", "halgui", demo / "ground_truth.json",
                  ).returncode == 0
    model = tmp_path / "model.pt"
    assert halgui("train", project, *TINY_TRAIN, "--size", "32", "--batch-size", "2",
                  "--out", model).returncode == 0
    result = halgui("diagnose", project, "--checkpoint", model, "--device", "cpu", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert list(report["splits"]) == ["test", "train"] and report["verdict"]
    for split, numbers in report["splits"].items():
        videos = [v for v in gt["videos"] if v["split"] == split]
        assert numbers["videos"] == len(videos)
        assert numbers["gt_boxes"] > 0
        for key in ("agnostic_ap", "frame_map", "top1_gt", "gt_box_map", "video_map_02"):
            assert 0.0 <= numbers[key] <= 1.0
    text = halgui("diagnose", project, "--checkpoint", model, "--device", "cpu")
    assert text.returncode == 0 and "agnostic AP" in text.stdout.splitlines()[0]
    assert_refused(halgui("diagnose", project, "--checkpoint", tmp_path / "none.pt"),
                   "none.pt")


def test_simulate_report_only_redraws_from_the_streamed_rows_with_cluster_sizes(tmp_path):
    out = tmp_path / "sim"
    out.mkdir()
    rows = [{"strategy": "claus", "seed": 0, "round": r, "frames_pct": 1.0 + 2 * r,
             "boxes_pct": 0.5 + r, "frame_map@0.5_voc": 0.1 * r, "seconds": 3.0,
             "clusters": "3 6 2 4 2"} for r in (1, 2)]
    (out / "results.partial.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = halgui("simulate", "--out", out, "--report-only")
    assert result.returncode == 0, result.stderr
    with open(out / "results.csv") as f:
        table = list(csv.DictReader(f))
    assert [row["clusters"] for row in table] == ["3 6 2 4 2"] * 2
    assert "3 6 2 4 2" in (out / "results.md").read_text() or "6 4 3 2 2" in (
        out / "results.md").read_text()


def test_simulate_refuses_a_missing_pretrained_model_before_writing(tmp_path):
    out = tmp_path / "sim"
    assert_refused(halgui("simulate", "--out", out, "--videos", "2", "--pretrained",
                          tmp_path / "none.pt"), "none.pt", "no such pretrained model")
    assert not out.exists()


def test_train_on_two_processes_writes_the_usual_model(project, tmp_path):
    """``--nproc 2`` on the CPU: the ranks read the clip caches, rank 0 writes the model, and
    ``predict`` reads it like any other."""
    model = tmp_path / "model.pt"
    result = halgui("train", project, "--epochs", "1", "--clips-per-epoch", "4", "--size", "32",
                    "--batch-size", "4", "--device", "cpu", "--nproc", "2", "--out", model,
                    "--json")
    assert result.returncode == 0, result.stderr
    trained = json.loads(result.stdout)
    assert trained["steps"] == 1 and math.isfinite(trained["final_loss"])  # 4 clips, batch 4
    assert trained["device"] == "cpu x2"
    pred = tmp_path / "pred.json"
    result = halgui("predict", project, pred, "--checkpoint", model, "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert json.loads(pred.read_text())["format"] == "halgui-predictions"


@pytest.mark.slow
def test_round_on_two_processes_trains_with_its_cluster_term(project):
    result = halgui("round", project, *TINY_TRAIN, "--budget", "3", "--nproc", "2", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["proposals"] == 3 and out["device"] == "cpu x2"
    assert Path(out["checkpoint"]).is_file()


def test_nproc_is_refused_before_any_work(project, tmp_path):
    files = tree(project)
    for command in ("train", "round"):
        line = assert_refused(halgui(command, project, *TINY_TRAIN, "--nproc", "0",
                                     "--out" if command == "train" else "--seed",
                                     tmp_path / "m.pt" if command == "train" else "0"),
                              "--nproc")
        assert "at least 1" in line
        line = assert_refused(halgui(command, project, *TINY_TRAIN, "--nproc", "4096"),
                              "--nproc 4096")
        assert "CPU cores" in line
    assert tree(project) == files and not (tmp_path / "m.pt").exists()
