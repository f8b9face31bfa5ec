"""Starting the desktop app: the QApplication, the main window, the last project.

Start-up stays light: torch and the model code are imported only when a round runs, so the
window is up in well under the 1.5 s DESIGN target. The device shown in the status bar is
found after the window shows, without torch (see :func:`halgui.core.device.detect_device`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QSettings, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMainWindow

from halgui import __version__
from halgui.core.device import detect_device
from halgui.core.error_report import log_failure, log_to_file
from halgui.core.errors import ServerUnreachable
from halgui.core.locations import is_url
from halgui.gui.icons import app_icon

if TYPE_CHECKING:
    from halgui.gui.main_window import MainWindow

__all__ = ["make_app", "make_window", "run"]

ORGANIZATION = "halgui"
APPLICATION = "halgui"
DESKTOP_ID = "io.github.halgui.halgui"


def make_app(argv: list[str] | None = None) -> QApplication:
    """The QApplication (created once): names for QSettings, high-DPI, Fusion style, whose
    palette follows the system's light or dark scheme, and the app icon."""
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    QCoreApplication.setApplicationVersion(__version__)
    app = QApplication.instance()
    if app is None:
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
        )
        app = QApplication(argv if argv is not None else sys.argv[:1])
        app.setStyle("Fusion")
        app.setDesktopFileName(DESKTOP_ID)  # resources/<id>.desktop: the icon on Wayland
    assert isinstance(app, QApplication)
    if app.windowIcon().isNull():
        app.setWindowIcon(app_icon())
    return app


def make_window(project_dir: Path | str | None = None, settings: QSettings | None = None, *,
                show: bool = False) -> MainWindow:
    """The main window with ``project_dir`` open, or else the last project, or else the start
    page. ``show`` shows it first, so that a project that fails to open is reported over the
    window. Call after :func:`make_app`."""
    from halgui.gui.main_window import MainWindow

    window = MainWindow(settings)
    QTimer.singleShot(200, lambda: window.set_device_text(detect_device()))
    if show:
        window.show()
    if project_dir is not None:  # a folder, or a shared project's URL
        window.open_project(project_dir if is_url(project_dir) else Path(project_dir))
    else:
        window.open_last_or_start()
    return window


def run(project_dir: Path | str | None = None) -> int:
    """Open the app (on ``project_dir`` if given) and run until the window closes."""
    app = make_app()
    from platformdirs import user_log_path

    log_to_file(user_log_path(APPLICATION, ORGANIZATION) / "halgui.log")
    sys.excepthook = _excepthook
    window = make_window(project_dir, show=True)  # held: the window lives while the app runs
    code = app.exec()
    window.deleteLater()
    return code


def _excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """An exception that escaped a slot: a message box (the file and the reason for a
    HalguiError, a bug to report otherwise), a bug's traceback in the log; a shared project's
    server out of reach is one line in the status bar instead. The app keeps running."""
    from halgui.gui.dialogs.messages import show_error

    if issubclass(kind, KeyboardInterrupt):
        QApplication.quit()
        return
    log_failure(exc, "an event handler")
    window = QApplication.activeWindow()
    if isinstance(exc, ServerUnreachable) and isinstance(window, QMainWindow):
        window.statusBar().showMessage(f"{exc}. Nothing was changed; try again when it is "
                                       "back.", 15000)  # one line, no box per click meanwhile
    elif QApplication.instance() is not None:
        show_error(window, "halgui", exc)
