"""Retraining from the app: a round from the button, cancel, a failure, labeling meanwhile, the
model's boxes on the canvas and accepting them. Real rounds of a tiny model on the CPU, in the
child process the app uses."""

import dataclasses
import json
import shutil
import sqlite3

import pytest
from PySide6.QtCore import QSettings, Qt

from halgui.core import proposals as store
from halgui.core.al.data import ClipConfig
from halgui.core.al.model_jobs import round_job
from halgui.core.al.oracle import Oracle
from halgui.core.al.rounds import RoundConfig, run_round
from halgui.core.al.settings import RoundSettings
from halgui.core.al.strategies import SelectionConfig
from halgui.core.al.train import TrainConfig, TrainingError
from halgui.core.al.uncertainty import UncertaintyConfig
from halgui.core.ingest import add_videos
from halgui.core.progress import run_to_end
from halgui.core.project import DB_NAME, Project
from halgui.core.synthetic import SynthConfig, generate
from halgui.gui import round_panel
from halgui.gui.main_window import MainWindow
from halgui.gui.model_view import AcceptBoxes
from tests.gui.test_canvas import drag_scene

pytestmark = pytest.mark.slow

TINY = RoundConfig(
    train=TrainConfig(width=4, batch_size=4, clip=ClipConfig(clip_len=4, stride=2, size=32)),
    selection=SelectionConfig(cold_fraction=0.05),
    uncertainty=UncertaintyConfig(passes=2),
)
SETTINGS = RoundSettings(budget=6, epochs=1, device="cpu")
ROUND_S = 180_000  # ms: a round of the tiny model, with the child's start-up, on a slow CI


def label_tables(folder):
    conn = sqlite3.connect(folder / DB_NAME)
    try:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
                for t in ("tracks", "keyframes", "labeled_frames", "rounds", "proposals")}
    finally:
        conn.close()


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """SynthActions (8 videos of 32 frames, 64x48) in a project after round 0, with the
    frames round 0 proposed labeled from the ground truth; round settings for a tiny model."""
    out = tmp_path_factory.mktemp("synth")
    gt = run_to_end(generate(out, SynthConfig(n_videos=8, n_frames=32, width=64, height=48,
                                              seed=3), workers=1))
    document = json.loads(gt.read_text())
    folder = out / "project"
    with Project.create(folder) as p:
        for c in document["classes"]:
            p.add_class(c["name"], c["color"])
        added = run_to_end(add_videos(p, [out / v["path"] for v in document["videos"]]))
        for vid, v in zip(added.added, document["videos"], strict=True):
            p.set_split(vid, v["split"])
        run_to_end(run_round(p, dataclasses.replace(TINY, selection=SelectionConfig(
            budget=6, cold_fraction=0.05))))
        picked = p.query("SELECT video_id, frame FROM proposals ORDER BY rank")
        Oracle.from_json(document).reveal(p, [tuple(r) for r in picked])
        SETTINGS.save(p)
    return folder


@pytest.fixture
def project_dir(template, tmp_path):
    folder = tmp_path / "project"
    shutil.copytree(template, folder)
    return folder


@pytest.fixture
def window(qtbot, tmp_path, project_dir):
    win = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    win.rounds.base = TINY
    qtbot.addWidget(win)
    assert win.open_project(project_dir)
    with qtbot.waitExposed(win):
        win.show()
    yield win
    win.close()


def phases(window):
    seen = []
    window.rounds.worker.progress.connect(lambda e: seen.append(e))
    return seen


def wait_for_training(qtbot, seen):
    qtbot.waitUntil(lambda: any(e.phase == "training" and e.done >= 1 for e in seen),
                    timeout=ROUND_S)


def test_retrain_button_runs_a_round_and_the_views_show_its_proposals(qtbot, window, messages):
    seen = phases(window)
    button = window.toolbar.widgetForAction(window.retrain_action)
    assert window.timeline.counter.text().startswith("Round 0:")
    with qtbot.waitSignal(window.rounds.finished, timeout=ROUND_S) as done:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        assert window.rounds.is_running()
        assert not window.retrain_action.isEnabled()
        assert not window.rounds.start(window.project)  # a second round is refused
        assert window.rounds.progress.isVisible()
        wait_for_training(qtbot, seen)
        assert "epoch 1/1" in window.rounds.progress.details.text()
        assert "loss" in window.rounds.progress.details.text()
        assert "ETA" in window.rounds.progress.details.text()
    result = done.args[0]
    assert result.number == 1 and result.proposals == 6 and result.checkpoint.exists()
    assert window.rounds.progress.device.text() == "on CPU"
    assert {e.phase for e in seen} >= {"starting", "training", "scoring", "saving"}
    assert window.retrain_action.isEnabled() and not window.rounds.progress.isVisible()

    new = store.proposal_counts(window.project)
    model = window.video_list.model
    shown = {model.summary(r).video_id: model.summary(r).proposed for r in range(model.rowCount())}
    assert sum(new.values()) == 6 and {v: shown[v] for v in new} == new
    scores = store.video_scores(window.project)
    assert any(model.summary(r).informativeness is not None for r in range(model.rowCount()))
    video_id = window.video.id
    assert window.timeline.timeline.proposed == tuple(f for f, _, _ in
                                                      store.proposals(window.project, video_id))
    assert window.timeline.timeline.uncertainty is not None
    assert len(window.timeline.timeline.uncertainty) == len(scores[video_id].uncertainty)
    assert window.timeline.counter.text().startswith("Round 1: 0/6")
    assert window.history.rows[-1].number == 1
    assert window.history.rows[-1].labeled_frames == result.metrics["labeled_frames"]
    assert window.history.rows[-1].boxes == result.metrics["keyframe_boxes"] > 0
    assert messages == []


def test_cancel_during_training_changes_nothing(qtbot, window, project_dir, messages):
    RoundSettings(budget=6, epochs=200, device="cpu").save(window.project)
    before = label_tables(project_dir)
    models = sorted((project_dir / "models").iterdir())
    seen = phases(window)
    with qtbot.waitSignal(window.rounds.worker.cancelled, timeout=ROUND_S):
        window.retrain_action.trigger()
        wait_for_training(qtbot, seen)
        qtbot.mouseClick(window.rounds.progress.cancel_button, Qt.MouseButton.LeftButton)
        assert "cancelling" in window.rounds.progress.phase.text()
    assert label_tables(project_dir) == before
    assert sorted((project_dir / "models").iterdir()) == models
    assert window.retrain_action.isEnabled()
    assert "cancelled" in window.statusBar().currentMessage()
    assert messages == []


def failing_round_job(folder, config, *, cancel):
    """round_job with training that fails: the patch is made in the round's own process."""
    from halgui.core.al import train as train_module

    def broken_train(*args, **kwargs):
        raise TrainingError("the loss became nan at step 1; nothing was saved (try a lower "
                            "learning rate)")
        yield

    train_module.train = broken_train
    return (yield from round_job(folder, config, cancel=cancel))


def test_a_failure_in_training_is_a_message_and_the_app_goes_on(qtbot, window, project_dir,
                                                                  messages, monkeypatch):
    before = label_tables(project_dir)
    monkeypatch.setattr(round_panel, "round_job", failing_round_job)
    with qtbot.waitSignal(window.rounds.worker.failed, timeout=ROUND_S):
        assert window.rounds.start(window.project)
    assert len(messages) == 1
    title, text = messages[0]
    assert title == "The round failed"
    assert text.startswith("the loss became nan at step 1")
    assert "Traceback" not in text and "Nothing was changed" in text
    assert label_tables(project_dir) == before
    assert list((project_dir / "models").iterdir()) == []
    assert window.retrain_action.isEnabled()

    monkeypatch.setattr(round_panel, "round_job", round_job)
    with qtbot.waitSignal(window.rounds.finished, timeout=ROUND_S) as done:
        window.retrain_action.trigger()
    assert done.args[0].number == 1 and len(messages) == 1


def test_a_box_drawn_during_a_round_is_kept_and_counted_next_round(qtbot, window, messages):
    project, canvas = window.project, window.canvas
    labeled_before = project.stats()["labeled_frames"]
    video = next(v for v in project.videos() if v.split == "train" and not
                 project.labeled_frames(v.id))
    window.open_video(video.id)
    canvas.set_frame(5)
    seen = phases(window)
    with qtbot.waitSignal(window.rounds.finished, timeout=ROUND_S) as first:
        window.retrain_action.trigger()
        wait_for_training(qtbot, seen)
        drag_scene(qtbot, canvas, (10, 10), (30, 40))  # while the round trains
        qtbot.keyClick(canvas, Qt.Key.Key_L)
        assert window.rounds.is_running()
    (track,) = project.tracks(video.id)
    assert [k.frame for k in track.keyframes] == [5] and track.keyframes[0].source == "human"
    assert first.args[0].metrics["labeled_frames"] == labeled_before  # the snapshot before
    assert project.labeled_frames(video.id) == {5}
    with qtbot.waitSignal(window.rounds.finished, timeout=ROUND_S) as second:
        window.retrain_action.trigger()
    assert second.args[0].metrics["labeled_frames"] == labeled_before + 1
    assert [k.frame for k in project.track(track.id).keyframes] == [5]
    assert messages == []


def test_the_models_boxes_are_shown_and_accepted_as_editable_keyframes(qtbot, window,
                                                                       monkeypatch):
    heatmaps = []
    set_heatmap = window.canvas.set_heatmap
    monkeypatch.setattr(window.canvas, "set_heatmap",
                        lambda m: (heatmaps.append(m), set_heatmap(m)))
    with qtbot.waitSignal(window.rounds.finished, timeout=ROUND_S):
        window.retrain_action.trigger()
    assert window.model_view.has_model()
    with qtbot.waitSignal(window.model_view.changed, timeout=ROUND_S):
        window.canvas.set_frame(9)
    assert any(m is not None and m.ndim == 2 and 0 <= m.min() <= m.max() <= 1 for m in heatmaps)

    # the tiny model may find nobody: accept two boxes the model "found" on this frame
    video = window.video
    walk = window.project.classes()[0].name
    found = [(4.0, 4.0, 20.0, 30.0, walk, 0.9), (30.0, 8.0, 50.0, 40.0, walk, 0.7),
             (5.0, 5.0, 20.0, 30.0, walk, 0.5), (0.0, 0.0, 9.0, 9.0, "no such class", 0.9)]
    monkeypatch.setattr(window.model_view, "detections", lambda: found)
    before = {t.id for t in window.project.tracks(video.id)}
    qtbot.keyClick(window.canvas, Qt.Key.Key_A)
    added = [t for t in window.project.tracks(video.id) if t.id not in before]
    assert len(added) == 2  # the third overlaps the first; the fourth has no class
    assert all(t.keyframes[0].frame == 9 and t.keyframes[0].source == "model-accepted"
               for t in added)
    window.undo_stack.undo()
    assert {t.id for t in window.project.tracks(video.id)} == before
    window.undo_stack.redo()
    assert {t.id for t in window.project.tracks(video.id)} == before | {t.id for t in added}
    first = min(added, key=lambda t: t.keyframes[0].box.x1)
    drag_scene(qtbot, window.canvas, (12, 17), (22, 27))  # move it like any box
    moved = window.project.track(first.id).keyframes[0]
    assert moved.box.x1 > 4.0 and moved.source == "human"


def test_accepting_continues_the_nearest_track_of_the_class(qtbot, window):
    project = window.project
    video = next(v for v in project.videos() if not project.tracks(v.id))
    cls = project.classes()[0]
    track = project.add_track(video.id, cls.id)
    from halgui.core.annotations import Box

    project.set_keyframe(track, 2, Box(10, 10, 20, 30))
    cmd = AcceptBoxes(project, window.events, video, 12, [(12, 10, 22, 30, cls.name, 0.8)])
    assert cmd.count == 1
    window.undo_stack.push(cmd)
    assert [(k.frame, k.source) for k in project.track(track).keyframes] == [
        (2, "human"), (12, "model-accepted")]
    window.undo_stack.undo()
    assert [k.frame for k in project.track(track).keyframes] == [2]


def test_closing_the_window_cancels_the_round_and_waits(qtbot, window, project_dir, messages):
    import multiprocessing

    RoundSettings(budget=6, epochs=200, device="cpu").save(window.project)
    before = label_tables(project_dir)
    seen = phases(window)
    window.retrain_action.trigger()
    wait_for_training(qtbot, seen)
    window.close()
    assert not window.rounds.is_running() and window.project is None
    assert multiprocessing.active_children() == []
    assert label_tables(project_dir) == before
    assert list((project_dir / "models").iterdir()) == []
    assert messages == []
