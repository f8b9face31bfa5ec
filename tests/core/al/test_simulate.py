"""The simulation protocol end to end on a tiny dataset, and its reports."""

import csv
import json

import pytest

from halgui.core.al import report
from halgui.core.al.data import ClipConfig
from halgui.core.al.rounds import RoundConfig
from halgui.core.al.simulate import Row, SimulateConfig, simulate
from halgui.core.al.train import TrainConfig
from halgui.core.al.uncertainty import UncertaintyConfig
from halgui.core.progress import run_to_end
from halgui.core.synthetic import SynthConfig, generate

TINY_ROUND = RoundConfig(
    train=TrainConfig(epochs=1, batch_size=4, width=4, clip=ClipConfig(clip_len=4, size=32)),
    uncertainty=UncertaintyConfig(passes=2),
)


def test_simulation_runs_every_strategy_from_the_same_start(tmp_path):
    gt = run_to_end(generate(tmp_path / "data", SynthConfig(n_videos=10, n_frames=32, width=64,
                                                             height=48, seed=5), workers=1))
    config = SimulateConfig(strategies=("claus", "uniform"), seeds=(0,), initial_fraction=0.05,
                            budget_fraction=0.05, target_fraction=0.10, round=TINY_ROUND)
    rows = run_to_end(simulate(tmp_path / "runs", gt, config))
    n_train = sum(v["split"] == "train" for v in json.loads(gt.read_text())["videos"])
    by = {s: [r for r in rows if r.strategy == s] for s in ("claus", "uniform", "reference")}
    for s in ("claus", "uniform"):
        rounds = [r.round for r in by[s]]
        assert rounds == list(range(1, len(rounds) + 1))  # round 0 was the shared start
        assert by[s][0].frames_pct == pytest.approx(by["claus"][0].frames_pct)  # same start
        # rounds go on until the target share is labeled, and stop there
        assert by[s][-1].frames_pct >= 10.0 - 1e-9 > by[s][-2].frames_pct
        assert 0 < by[s][0].boxes_pct < by[s][-1].boxes_pct < 100
        for r in by[s]:
            assert set(r.metrics) >= {"frame_map@0.5_voc", "video_map@0.5"}
            # every pool video is in one cluster of the round; the row reports their sizes
            assert sum(r.clusters) == n_train and 1 <= len(r.clusters) <= 5
            assert r.flat()["clusters"] == " ".join(map(str, r.clusters))
    assert len(by["reference"]) == 1 and by["reference"][0].frames_pct == 100.0

    points = report.aggregate(rows)
    report.write_csv(rows, tmp_path / "r.csv")
    with open(tmp_path / "r.csv") as f:
        assert len(list(csv.DictReader(f))) == len(rows)
    table = report.markdown(points)
    assert table.count("\n") == len(points) + 1
    report.plot(points, tmp_path / "r.png")
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    json.dumps([r.flat() for r in rows])


def test_claims_are_decided_from_the_numbers():
    def row(strategy, rnd, pct, value, seed=0):
        return Row(strategy, seed, rnd, pct, pct, {"frame_map@0.5_voc": value}, 0.0)

    rows = [row("reference", 0, 100, 0.80),
            row("claus", 1, 2, 0.70), row("claus", 2, 4, 0.77),
            row("uniform", 1, 2, 0.60), row("uniform", 2, 4, 0.78),
            row("random", 1, 2, 0.50), row("random", 2, 4, 0.55),
            row("claus-no-stew", 1, 2, 0.65), row("claus-no-stew", 2, 4, 0.70)]
    decided = {statement: ok for statement, ok, _ in report.claims(report.aggregate(rows))}
    assert decided["claus reaches >= 95% of the 100%-label model at <= 5% of frames"] is True
    assert decided["claus above random at every budget"] is True
    assert decided["claus above uniform at every budget"] is False  # 0.77 < 0.78 at round 2
    assert decided["claus above claus-no-stew (mean over rounds after round 0)"] is True
    assert decided["claus above claus-no-cluster (mean over rounds after round 0)"] is None


def test_markdown_lists_each_seeds_cluster_sizes_largest_first():
    def row(seed, clusters):
        return Row("claus", seed, 1, 2.0, 3.0, {"frame_map@0.5_voc": 0.5}, 0.0, clusters)

    table = report.markdown(report.aggregate([row(0, (1, 3, 2)), row(1, (5, 1))]))
    header, _, line = table.splitlines()
    assert header.endswith("| seeds | cluster sizes |")
    assert line.endswith("| 2 | 3 2 1 / 5 1 |")
