"""Dialogs where a class name is typed refuse a name with a control character (a newline or tab
pasted in) with a message, and add nothing: MOT's and YOLO's class lists are one name a line."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QColorDialog, QInputDialog

from halgui.gui import label_panel
from halgui.gui.dialogs.new_project import NewProjectDialog
from halgui.gui.label_panel import LabelPanel


@pytest.fixture
def shown(monkeypatch):
    """Messages the label panel shows, and no real colour dialog."""
    messages: list[tuple[str, str]] = []
    monkeypatch.setattr(label_panel, "show_error",
                        lambda parent, title, text: messages.append((title, str(text))),
                        raising=False)
    monkeypatch.setattr(QColorDialog, "getColor",
                        lambda *a, **k: messages.append(("colour", "asked")) or QColor("#00ff00"))
    return messages


@pytest.mark.parametrize("bad", ["ju\nmp", "ju\tmp", "jump\x00"])
def test_new_project_dialog_refuses_a_control_character(qtbot, tmp_path, bad):
    dialog = NewProjectDialog(start=str(tmp_path / "new"))
    qtbot.addWidget(dialog)
    dialog.table.item(0, 0).setText("walk")
    dialog.add_class(bad)
    assert "control character" in dialog.problems()
    dialog.accept()
    assert dialog.result() == 0
    assert "control character" in dialog.problem.text() and repr(bad) in dialog.problem.text()
    dialog.table.item(1, 0).setText("jump")
    assert dialog.problems() == ""


def test_adding_a_class_refuses_a_pasted_newline_with_a_message(
        qtbot, project, undo_stack, events, monkeypatch, shown):
    panel = LabelPanel(project, undo_stack, events)
    qtbot.addWidget(panel)
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("ju\nmp", True))
    before = project.classes()
    qtbot.mouseClick(panel.add_button, Qt.MouseButton.LeftButton)
    assert project.classes() == before
    assert shown == [("Add class", "Class name 'ju\\nmp' contains the control character "
                                   "'\\n'.")]
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("jump", True))
    assert panel.add_class() is not None
    assert project.class_by_name("jump") is not None


def test_the_store_refuses_it_if_a_dialog_did_not(qtbot, project, undo_stack, events,
                                                  monkeypatch):
    panel = LabelPanel(project, undo_stack, events)
    qtbot.addWidget(panel)
    monkeypatch.setattr(label_panel, "ask_new_class", lambda parent, color: ("a\tb", "#000000"))
    assert panel.add_class() is None
    assert "control character" in panel.summary.text()
    assert [c.name for c in project.classes()] == ["walk", "run"]
