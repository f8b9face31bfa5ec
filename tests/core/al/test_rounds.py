"""Whole rounds on a real project: cold start, train-score-select, oracle, and a cancelled or
failed round (before and after its checkpoint is written) changing nothing."""

import json
import shutil
import sqlite3

import numpy as np
import pytest

from halgui.core import metrics
from halgui.core.al import rounds
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


def new_project(folder, dataset, p=None):
    """A project in ``folder`` (or ``p``, on either engine) with the dataset's classes and
    videos, each in its split."""
    document, out = dataset
    p = p or Project.create(folder)
    for c in document["classes"]:
        p.add_class(c["name"], c["color"])
    result = run_to_end(add_videos(p, [out / v["path"] for v in document["videos"]]))
    for vid, v in zip(result.added, document["videos"], strict=True):
        p.set_split(vid, v["split"])
    return p


@pytest.fixture
def project(tmp_path, dataset):
    p = new_project(tmp_path / "p", dataset)
    yield p
    p.close()


@pytest.fixture(scope="module")
def learned(tmp_path_factory, dataset):
    """A project folder after a cold start and one learning round (its checkpoint in
    ``models/``), the validation video labeled: the next round trains, scores and validates."""
    document, _ = dataset
    folder = tmp_path_factory.mktemp("learned") / "p"
    with new_project(folder, dataset) as p:
        oracle = Oracle.from_json(document)
        run_to_end(run_round(p, TINY))
        oracle.reveal(p, [tuple(r) for r in proposals_of(p, 0)])
        val = [v for v in p.videos() if v.split == "val"]
        assert val
        oracle.reveal(p, [(v.id, f) for v in val for f in range(0, v.n_frames, 4)])
        first = run_to_end(run_round(p, TINY))
        assert first.checkpoint.exists() and any(k.startswith("val_") for k in first.metrics)
    return folder


def label_tables(db):
    conn = sqlite3.connect(db)
    return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
            for t in ("tracks", "keyframes", "labeled_frames", "rounds", "proposals")}


def proposals_of(project, number):
    return project.query(
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
    rows = project.query("SELECT video_id, uncertainty, cluster FROM video_scores")
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


def whole_database(db):
    """Every row of every table, as SQL text: what "the round changed nothing" compares."""
    conn = sqlite3.connect(db)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def folder_files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def cancel_in(phase):
    """A round driver that cancels at the first progress event of ``phase``."""
    def drive(work, flag, checkpoint):
        for event in work:
            if event.phase == phase and event.done >= 1:
                assert checkpoint.exists()  # past training: its checkpoint was written
                flag.cancel()
                break
        for _ in work:
            pass
    return drive


class Injected(RuntimeError):
    pass


def fail_scoring(monkeypatch, checkpoint):
    """The second pool video fails to load while scoring (on the background loader thread)."""
    calls = []
    real = rounds.load_frames

    def load(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            assert checkpoint.exists()
            raise Injected("scoring: a video could not be decoded")
        return real(*args, **kwargs)

    monkeypatch.setattr(rounds, "load_frames", load)


def fail_validation(monkeypatch, checkpoint):
    """Evaluation of the validation split fails: the last step before the round is saved."""
    def evaluate(*args, **kwargs):
        assert checkpoint.exists()
        raise Injected("validation: evaluation failed")

    monkeypatch.setattr(metrics, "evaluate", evaluate)


@pytest.mark.parametrize("how", ["cancel-scoring", "cancel-validation", "fail-scoring",
                                 "fail-validation"])
def test_a_round_stopped_after_training_changes_nothing(learned, tmp_path, monkeypatch, how):
    """Cancelled or failed once its checkpoint exists (while scoring the pool, or while
    validating), a round leaves the database and ``models/`` as they were."""
    folder = tmp_path / "p"
    shutil.copytree(learned, folder)
    database, models = whole_database(folder / DB_NAME), folder_files(folder / "models")
    assert list(models) == ["round-001.pt"]
    checkpoint = folder / "models" / "round-002.pt"
    with Project.open(folder) as project:
        flag = CancelFlag()
        work = run_round(project, TINY, cancel=flag)
        if how.startswith("cancel"):
            drive = cancel_in("scoring" if how == "cancel-scoring" else "predicting")
            with pytest.raises(Cancelled):
                drive(work, flag, checkpoint)
        else:
            (fail_scoring if how == "fail-scoring" else fail_validation)(monkeypatch, checkpoint)
            with pytest.raises(Injected, match=how.split("-")[1]):
                run_to_end(work)
        assert len(project.rounds()) == 2
    assert whole_database(folder / DB_NAME) == database
    assert folder_files(folder / "models") == models
