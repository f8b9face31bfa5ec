"""Errors as dialogs: the file and the reason, or a bug to report; never a traceback."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from halgui.core.error_report import describe_error

__all__ = ["show_error"]


def show_error(parent: QWidget | None, title: str, error: BaseException | str) -> None:
    """A warning box whose text is ``error``, or what
    :func:`~halgui.core.error_report.describe_error` makes of an exception (``<file>:
    <problem>`` for a :class:`~halgui.core.errors.HalguiError`, a bug to report otherwise)."""
    text = error if isinstance(error, str) else describe_error(error)[0]
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok,
                      parent)
    box.setObjectName("errorDialog")
    box.exec()
