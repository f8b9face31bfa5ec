"""The question asked when a project is open for editing elsewhere: view it read-only, take it
over, or leave it.

Two programs editing one project would overwrite each other's work (each undoes its own
history over the other's edits), so the default is read-only. Taking over is for a lock left by
a program that cannot be checked from here (on another computer) and is known to be gone.
"""

from __future__ import annotations

from enum import Enum

from PySide6.QtWidgets import QMessageBox, QWidget

from halgui.core.lock import ProjectInUse

__all__ = ["InUseChoice", "ask_project_in_use", "in_use_box"]


class InUseChoice(Enum):
    READ_ONLY = "read-only"
    TAKE_OVER = "take over"
    CANCEL = "cancel"


def in_use_box(parent: QWidget | None, error: ProjectInUse) -> QMessageBox:
    """The dialog, with its buttons' choices in the property ``choice`` of each button."""
    box = QMessageBox(QMessageBox.Icon.Question, "Project open elsewhere",
                      f"{error.path.name} is open for editing in {error.owner.describe()}.",
                      QMessageBox.StandardButton.NoButton, parent)
    box.setObjectName("projectInUseDialog")
    box.setInformativeText(
        "Open it read-only to view and export it without editing. Open it anyway only if that "
        "program is no longer running (for example on another computer that crashed): two "
        "programs editing one project overwrite each other's work.")
    read_only = box.addButton("Open read-only", QMessageBox.ButtonRole.AcceptRole)
    read_only.setProperty("choice", InUseChoice.READ_ONLY.value)
    take_over = box.addButton("Open anyway", QMessageBox.ButtonRole.DestructiveRole)
    take_over.setProperty("choice", InUseChoice.TAKE_OVER.value)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    cancel.setProperty("choice", InUseChoice.CANCEL.value)
    box.setDefaultButton(read_only)
    box.setEscapeButton(cancel)
    return box


def ask_project_in_use(parent: QWidget | None, error: ProjectInUse) -> InUseChoice:
    box = in_use_box(parent, error)
    box.exec()
    clicked = box.clickedButton()
    value = clicked.property("choice") if clicked is not None else None
    return InUseChoice(value) if value else InUseChoice.CANCEL
