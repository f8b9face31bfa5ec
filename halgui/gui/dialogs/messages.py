"""Errors as dialogs: the file and the reason, never a traceback."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from halgui.gui.worker import error_message

__all__ = ["show_error"]


def show_error(parent: QWidget | None, title: str, error: BaseException | str) -> None:
    """A warning box whose text is the error's message (``<file>: <problem>`` for
    :class:`~halgui.core.errors.HalguiError`)."""
    text = error if isinstance(error, str) else error_message(error)
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok,
                      parent)
    box.setObjectName("errorDialog")
    box.exec()
