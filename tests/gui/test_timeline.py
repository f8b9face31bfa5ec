"""Timeline seeking, playback and proposal jumps, over a real project store."""

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from halgui.core.annotations import Box
from halgui.core.project import Project
from halgui.gui.timeline import Player, Timeline, TimelinePanel


@pytest.fixture
def project(tmp_path):
    p = Project.create(tmp_path / "p")
    p.add_class("walk")
    p.add_video("a", path=None, width=64, height=48, n_frames=100, fps=50.0)
    p.add_video("b", path=None, width=64, height=48, n_frames=40)
    yield p
    p.close()


def fake_round(project, number, proposals, uncertainty=None):
    """Proposals (video, frame) and per-frame uncertainty of video 1, written with plain SQL."""
    with project.transaction() as c:
        rid = c.execute("INSERT INTO rounds (number, strategy, started_at)"
                        " VALUES (?, 'test', 'now')", (number,)).lastrowid
        c.executemany("INSERT INTO proposals VALUES (?,?,?,?,?)",
                      [(rid, v, f, 0.5, r) for r, (v, f) in enumerate(proposals)])
        if uncertainty is not None:
            c.execute("INSERT INTO video_scores VALUES (?, 1, ?, 0, 0.5)",
                      (rid, np.asarray(uncertainty, "<f4").tobytes()))


def test_click_and_drag_seek(qtbot):
    timeline = Timeline()
    qtbot.addWidget(timeline)
    timeline.resize(416, 80)  # 400 px of frames between 8 px margins: 4 px a frame
    timeline.set_data(100)
    with qtbot.waitExposed(timeline):
        timeline.show()
    with qtbot.waitSignal(timeline.frameRequested) as blocker:
        qtbot.mouseClick(timeline, Qt.MouseButton.LeftButton, pos=QPoint(8 + 4 * 37 + 2, 40))
    assert blocker.args == [37]
    assert timeline.frame == 37
    with qtbot.waitSignal(timeline.frameRequested) as blocker:
        qtbot.mouseClick(timeline, Qt.MouseButton.LeftButton, pos=QPoint(1000, 40))
    assert blocker.args == [99]  # past the end: the last frame
    seen = []
    timeline.frameRequested.connect(seen.append)
    qtbot.mousePress(timeline, Qt.MouseButton.LeftButton, pos=QPoint(10, 40))
    qtbot.mouseMove(timeline, QPoint(8 + 4 * 50 + 1, 40))
    qtbot.mouseRelease(timeline, Qt.MouseButton.LeftButton, pos=QPoint(8 + 4 * 50 + 1, 40))
    assert seen[0] == 0 and seen[-1] == 50


def test_loads_and_paints_what_the_project_holds(qtbot, project):
    track = project.add_track(1, 1)
    project.set_keyframe(track, 10, Box(1, 1, 20, 20))
    project.set_keyframe(track, 30, Box(2, 2, 22, 22))
    project.set_labeled(1, [10, 30])
    fake_round(project, 0, [(1, 12), (1, 70), (2, 5)], uncertainty=np.linspace(0, 1, 100))
    timeline = Timeline()
    qtbot.addWidget(timeline)
    timeline.load(project, 1)
    assert timeline.n_frames == 100
    assert timeline.proposed == (12, 70)
    assert timeline.labeled == (10, 30)
    assert [(lane.first, lane.last, lane.keyframes) for lane in timeline.lanes] == [
        (10, 30, (10, 30))
    ]
    assert timeline.uncertainty is not None and len(timeline.uncertainty) == 100
    timeline.resize(400, timeline.sizeHint().height())
    image = timeline.grab().toImage()  # paints without error
    assert image.width() == 400


def test_next_and_previous_proposal_jump_to_the_right_frames(qtbot, project):
    fake_round(project, 0, [(1, 50), (2, 3)])
    fake_round(project, 1, [(1, 70), (1, 12), (1, 40), (2, 9)])  # the latest round counts
    panel = TimelinePanel()
    qtbot.addWidget(panel)
    panel.load(project, 1, fps=50.0)
    player = panel.player
    seen = []
    player.frameRequested.connect(seen.append)
    assert player.next_proposal()
    assert player.next_proposal()
    assert player.next_proposal()
    assert not player.next_proposal()  # none after 70
    assert seen == [12, 40, 70]
    player.set_frame(45)  # the user stepped elsewhere
    assert player.previous_proposal()
    assert seen[-1] == 40
    assert panel.timeline.frame == 40
    assert "Round 1: 0/4" in panel.counter.text()
    project.set_labeled(1, [12, 40])
    panel.refresh(project, 1)
    assert "Round 1: 2/4" in panel.counter.text()
    assert "this video 2/3" in panel.counter.text()


def test_play_steps_at_the_frame_rate_and_stops_at_the_end(qtbot):
    player = Player()
    player.set_video(6, fps=100.0)
    seen = []
    player.frameRequested.connect(seen.append)
    states = []
    player.playingChanged.connect(states.append)
    player.play()
    assert player.is_playing()
    qtbot.waitUntil(lambda: not player.is_playing(), timeout=3000)
    assert seen == [1, 2, 3, 4, 5]
    assert states == [True, False]
    player.step(-2)
    assert seen[-1] == 3
    player.step(-10)
    assert seen[-1] == 0
