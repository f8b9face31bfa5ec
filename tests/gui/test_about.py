"""Help > About: the versions and the device, found without importing torch."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import qVersion
from PySide6.QtGui import QGuiApplication

from halgui import __version__
from halgui.gui.dialogs import help as help_dialogs
from halgui.gui.dialogs.about import AboutDialog, about_info, show_about


def test_about_shows_versions_and_device(qtbot):
    dialog = AboutDialog()
    qtbot.addWidget(dialog)
    shown = {key: label.text() for key, label in dialog.values.items()}
    assert shown["halgui"] == __version__
    assert shown["PyTorch"] == version("torch")
    assert shown["Qt"] == qVersion()
    assert shown["PySide6"] == pyside_version
    assert shown["Device"] == "CPU" or shown["Device"].startswith("GPU: ")
    assert list(shown) == list(about_info())


def test_copy_puts_the_facts_on_the_clipboard(qtbot):
    dialog = AboutDialog()
    qtbot.addWidget(dialog)
    dialog.copy()
    text = QGuiApplication.clipboard().text()
    assert f"halgui: {__version__}" in text
    assert f"PyTorch: {version('torch')}" in text


def test_the_help_menu_entry_opens_this_dialog():
    assert help_dialogs.show_about is show_about


def test_about_does_not_import_torch():
    code = ("import sys\n"
            "from PySide6.QtWidgets import QApplication\n"
            "app = QApplication([])\n"
            "from halgui.gui.dialogs.about import AboutDialog\n"
            "AboutDialog()\n"
            "print('torch' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
