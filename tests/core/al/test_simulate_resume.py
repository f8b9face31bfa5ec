"""A long simulation survives a crash: ``--resume`` keeps what finished and runs the rest."""

import json

import pytest

from halgui.core.al import owned
from halgui.core.al.simulate import SimulateConfig, finished_runs, simulate
from halgui.core.progress import run_to_end, run_with_events
from halgui.core.synthetic import SynthConfig, generate
from tests.core.al.test_simulate import TINY_ROUND
from tests.test_cli import halgui


@pytest.fixture(scope="module")
def tiny_gt(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume")
    return run_to_end(generate(folder / "data", SynthConfig(n_videos=10, n_frames=32, width=64,
                                                            height=48, seed=5), workers=1))


def test_an_interrupted_simulation_resumes_from_its_finished_runs(tmp_path, tiny_gt):
    config = SimulateConfig(strategies=("claus", "uniform"), seeds=(0,), initial_fraction=0.05,
                            budget_fraction=0.05, target_fraction=0.10, round=TINY_ROUND)
    rows = []
    work = simulate(tmp_path / "runs", tiny_gt, config)
    for event in work:
        if "row" in event.extra:
            rows.append(event.extra["row"])
            if rows[-1].strategy == "uniform":
                break
    work.close()  # the run dies in the middle of "uniform"
    done = finished_runs(rows, config)
    assert set(done) == {(0, "claus")}  # "uniform" had not reached the target
    seed = tmp_path / "runs" / "seed0"
    round0 = seed / "start" / "oracle.json"  # what round 0 revealed, written once
    stamp = (round0.stat().st_ino, round0.stat().st_mtime_ns)

    events, resumed = run_with_events(simulate(tmp_path / "runs", tiny_gt, config, done=done))
    ran = [e.extra["row"] for e in events if "row" in e.extra]
    assert {r.strategy for r in ran} == {"uniform", "reference"}  # claus was not run again
    assert [r for r in resumed if r.strategy == "claus"] == done[(0, "claus")]
    assert (round0.stat().st_ino, round0.stat().st_mtime_ns) == stamp  # round 0 reused
    uniform = [r for r in resumed if r.strategy == "uniform"]
    assert [r.round for r in uniform] == list(range(1, len(uniform) + 1))
    assert uniform[-1].frames_pct >= 10.0 - 1e-9
    # it started again from the same round 0 as before the crash
    assert uniform[0].frames_pct == pytest.approx(rows[-1].frames_pct)
    assert uniform[0].boxes_pct == pytest.approx(rows[-1].boxes_pct)
    assert [r.strategy for r in resumed].count("reference") == 1


def test_resume_refuses_another_protocol_or_nothing_to_resume(tmp_path, tiny_gt):
    out = tmp_path / "sim"
    result = halgui("simulate", "--out", out, "--gt", tiny_gt, "--resume")
    assert result.returncode == 2
    assert "nothing to resume" in result.stderr and str(out) in result.stderr
    owned.claim(out)
    (out / "results.partial.jsonl").write_text("", encoding="utf-8")
    (out / "config.json").write_text(json.dumps({"ground_truth": str(tiny_gt),
                                                 "target_fraction": 0.5}), encoding="utf-8")
    result = halgui("simulate", "--out", out, "--gt", tiny_gt, "--resume")
    assert result.returncode == 2
    assert "other settings" in result.stderr and "target_fraction" in result.stderr
    assert not (out / "runs").exists()  # nothing was started
