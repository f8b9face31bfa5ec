"""Whole rounds on a real project: cold start, train-score-select, oracle, cancel."""

import json
import sqlite3

import numpy as np
import pytest

from halgui.core.al.data import ClipConfig
from halgui.core.al.oracle import Oracle
from halgui.core.al.rounds import RoundConfig, run_round
from halgui.core.al.strategies import SelectionConfig
from halgui.core.al.train import TrainConfig
from halgui.core.al.uncertainty import UncertaintyConfig
from halgui.core.errors import Cancelled
from halgui.core.ingest import add_videos
from halgui.core.progress import CancelFlag, run_to_end
from halgui.core.project import DB_NAME, Project
from halgui.core.synthetic import SynthConfig, generate

TINY = RoundConfig(
    train=TrainConfig(epochs=1, batch_size=4, width=4,
                      clip=ClipConfig(clip_len=4, stride=2, size=32)),
    selection=SelectionConfig(budget=6, cold_fraction=0.05),
    uncertainty=UncertaintyConfig(passes=3),
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    gt = run_to_end(generate(out, SynthConfig(n_videos=8, n_frames=32, width=64, height=48,
                                              seed=3), workers=1))
    return json.loads(gt.read_text()), out


@pytest.fixture
def project(tmp_path, dataset):
    document, out = dataset
    p = Project.create(tmp_path / "p")
    for c in document["classes"]:
        p.add_class(c["name"], c["color"])
    result = run_to_end(add_videos(p, [out / v["path"] for v in document["videos"]]))
    for vid, v in zip(result.added, document["videos"], strict=True):
        p.set_split(vid, v["split"])
    yield p
    p.close()


def label_tables(db):
    conn = sqlite3.connect(db)
    return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
            for t in ("tracks", "keyframes", "labeled_frames", "rounds", "proposals")}


def proposals_of(project, number):
    return project._query(
        "SELECT video_id, frame FROM proposals JOIN rounds ON rounds.id = round_id"
        " WHERE number = ? ORDER BY rank", (number,))


def test_round_zero_then_a_learning_round(project, dataset):
    document, _ = dataset
    first = run_to_end(run_round(project, TINY))
    assert first.number == 0 and first.checkpoint is None and first.proposals > 0
    assert project.rounds()[0].strategy == "cold-start"
    oracle = Oracle.from_json(document)
    oracle.reveal(project, [tuple(r) for r in proposals_of(project, 0)])
    labeled_before = project.stats()["labeled_frames"]
    assert labeled_before == first.proposals

    second = run_to_end(run_round(project, TINY))
    assert second.number == 1 and second.checkpoint.exists()
    assert second.proposals == 6
    picked = [tuple(r) for r in proposals_of(project, 1)]
    assert not any(f in project.labeled_frames(v) for v, f in picked)
    rows = project._query("SELECT video_id, uncertainty, cluster FROM video_scores")
    pool = [v for v in project.videos() if v.split == "train"]
    assert len(rows) == len(pool)
    for row in rows:
        curve = np.frombuffer(row["uncertainty"], dtype="<f4")
        assert curve.shape == (project.video(row["video_id"]).n_frames,)
        assert np.isfinite(curve).all() and row["cluster"] is not None
    assert project.rounds()[1].metrics["labeled_frames"] == labeled_before


def test_a_cancelled_round_writes_nothing(project, dataset):
    document, _ = dataset
    run_to_end(run_round(project, TINY))
    Oracle.from_json(document).reveal(project, [tuple(r) for r in proposals_of(project, 0)])
    before = label_tables(project.db_path)
    flag = CancelFlag()
    work = run_round(project, TINY, cancel=flag)
    for event in work:
        if event.phase == "training" and event.done >= 1:
            flag.cancel()
            break
    with pytest.raises(Cancelled):
        for _ in work:
            pass
    assert label_tables(project.db_path) == before
    assert list((project.folder / "models").iterdir()) == []
    assert (project.folder / DB_NAME).exists()
