"""About halgui: the version, the versions of what it runs on, and the training device.

Everything is found without importing torch (its version comes from the installed package's
metadata), so opening the dialog never stalls the app. "Copy" puts the same facts on the
clipboard as plain text, for a bug report.
"""

from __future__ import annotations

import platform
import sys
from importlib.metadata import PackageNotFoundError, version

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from halgui import __version__
from halgui.core.device import detect_device
from halgui.gui.icons import app_icon

__all__ = ["AboutDialog", "about_info", "show_about"]

SUMMARY = ("Label videos for spatio-temporal action detection, with hybrid active learning "
           "(CLAUS + STeW) built in.")


def _dist_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def about_info() -> dict[str, str]:
    """The facts the dialog shows, in order: halgui, PyTorch, Qt, PySide6, Python, system,
    device (the GPU a round would train on, or CPU)."""
    frozen = " (standalone app)" if getattr(sys, "frozen", False) else ""
    return {
        "halgui": __version__ + frozen,
        "PyTorch": _dist_version("torch"),
        "Qt": qVersion(),
        "PySide6": pyside_version,
        "Python": platform.python_version(),
        "System": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "Device": detect_device(),
    }


class AboutDialog(QDialog):
    """The app icon, name and summary, the facts of :func:`about_info`, Copy and Close."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About halgui")
        self.info = about_info()

        logo = QLabel()
        logo.setPixmap(app_icon().pixmap(64, 64))
        logo.setAlignment(Qt.AlignmentFlag.AlignTop)
        title = QLabel(f"<h2>halgui {__version__}</h2><p>{SUMMARY}</p>"
                       "<p>MIT licence. Icons drawn for halgui, under the same licence.</p>")
        title.setWordWrap(True)
        head = QHBoxLayout()
        head.addWidget(logo)
        head.addWidget(title, 1)

        form = QFormLayout()
        self.values: dict[str, QLabel] = {}
        for key, value in self.info.items():
            label = QLabel(value)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(f"{key}:", label)
            self.values[key] = label

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = buttons.addButton("&Copy", QDialogButtonBox.ButtonRole.ActionRole)
        copy.setToolTip("Copy these versions to the clipboard, for a bug report")
        copy.clicked.connect(self.copy)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.setMinimumWidth(420)

    def text(self) -> str:
        """The facts as plain text, one ``key: value`` a line."""
        return "\n".join(f"{key}: {value}" for key, value in self.info.items())

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text())


def show_about(parent: QWidget | None) -> None:
    """Help > About halgui: the dialog, modal over ``parent``."""
    dialog = AboutDialog(parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.exec()
