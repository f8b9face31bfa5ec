"""The label panel: classes, boxes of the frame, the labeled mark, adding a class."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from halgui.core.annotations import Box
from halgui.gui import label_panel
from halgui.gui.commands import AddBox
from halgui.gui.label_panel import LabelPanel


@pytest.fixture
def panel(qtbot, project, undo_stack, events, video):
    p = LabelPanel(project, undo_stack, events)
    qtbot.addWidget(p)
    p.show()
    p.set_frame(video.id, 5)
    return p


def rows(view):
    return [view.item(i).text() for i in range(view.count())]


def test_lists_classes_with_their_keys_and_picks_one(qtbot, panel, class_ids):
    assert rows(panel.classes_view) == ["1   walk", "2   run"]
    assert panel.current_class() == class_ids["walk"]  # the canvas's default too
    with qtbot.waitSignal(panel.classChosen) as blocker:
        panel.classes_view.setCurrentRow(1)
    assert blocker.args == [class_ids["run"]]
    panel.set_current_class(class_ids["walk"])  # following the canvas: no echo
    assert panel.current_class() == class_ids["walk"]
    assert panel.classes_view.currentRow() == 0


def test_shows_the_boxes_of_the_frame_and_follows_edits(
        qtbot, panel, project, events, undo_stack, video, class_ids):
    assert rows(panel.boxes_view) == []
    for frame in (0, 10):
        undo_stack.push(AddBox(project, events, video.id, frame, class_ids["walk"],
                               Box(10, 10, 40, 60)))
    assert rows(panel.boxes_view) == ["walk #1  ·  interpolated"]
    panel.set_frame(video.id, 10)
    assert rows(panel.boxes_view) == ["walk #1  ·  keyframe"]
    (track,) = project.tracks(video.id)
    with qtbot.waitSignal(panel.boxChosen) as blocker:
        item = panel.boxes_view.item(0)
        rect = panel.boxes_view.visualItemRect(item)
        qtbot.mouseClick(panel.boxes_view.viewport(), Qt.MouseButton.LeftButton,
                         pos=rect.center())
    assert blocker.args == [track.id]


def test_mark_a_frame_with_no_actor_labeled_and_back(
        qtbot, panel, video, undo_stack, reopened):
    qtbot.mouseClick(panel.labeled_button, Qt.MouseButton.LeftButton)
    fresh = reopened()
    assert fresh.labeled_frames(video.id) == {5}
    assert fresh.tracks(video.id) == []
    assert panel.labeled_button.isChecked()

    panel.mark_labeled()  # the L key: toggles
    assert reopened().labeled_frames(video.id) == set()
    assert not panel.labeled_button.isChecked()
    undo_stack.undo()
    assert reopened().labeled_frames(video.id) == {5}
    assert panel.labeled_button.isChecked()


def test_without_a_video_marking_does_nothing(panel, undo_stack):
    panel.set_frame(None, 0)
    panel.mark_labeled()
    assert undo_stack.count() == 0 and not panel.labeled_button.isEnabled()


def test_add_class_asks_then_adds_with_the_next_number_key(
        qtbot, panel, project, events, monkeypatch):
    asked = []
    monkeypatch.setattr(label_panel, "ask_new_class",
                        lambda parent, color: asked.append(color) or ("jump", "#00ff00"))
    with qtbot.waitSignal(events.classesChanged):
        qtbot.mouseClick(panel.add_button, Qt.MouseButton.LeftButton)
    added = project.class_by_name("jump")
    assert (added.color, added.shortcut) == ("#00ff00", "3")
    assert rows(panel.classes_view)[-1] == "3   jump"
    assert len(asked) == 1

    monkeypatch.setattr(label_panel, "ask_new_class", lambda parent, color: None)
    assert panel.add_class() is None
    monkeypatch.setattr(label_panel, "ask_new_class", lambda parent, color: ("jump", "#000000"))
    assert panel.add_class() is None  # the name is taken: refused, said in the panel
    assert len(project.classes()) == 3
