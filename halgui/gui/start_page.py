"""The start page shown when no project is open: new, open, the demo, recent projects.

Recent projects live in QSettings (``recent/projects``, newest first); the helpers here are the
only code that reads or writes that key.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from halgui.core.locations import database_name, is_url
from halgui.core.postgres_sql import label
from halgui.core.project import DB_NAME

__all__ = ["MAX_RECENT", "StartPage", "add_recent", "fill_recent_menu", "recent_projects"]

MAX_RECENT = 10
_KEY = "recent/projects"


def recent_projects(settings: QSettings) -> list[Path | str]:
    """Recent projects, newest first: folders that still hold a project, and shared
    projects' URLs (whether their server answers is known only when one is opened)."""
    value = settings.value(_KEY, [])
    if isinstance(value, str):  # QSettings returns a lone entry as a string
        value = [value]
    out: list[Path | str] = []
    for raw in value or []:
        entry: Path | str = str(raw) if is_url(str(raw)) else Path(str(raw))
        if (isinstance(entry, str) or (entry / DB_NAME).is_file()) and entry not in out:
            out.append(entry)
    return out


def add_recent(settings: QSettings, where: Path | str) -> None:
    """Put a project first in the recent list (a URL without its password)."""
    entry: Path | str = label(where) if is_url(where) else Path(where).resolve()
    entries = [entry, *(p for p in recent_projects(settings) if p != entry)]
    settings.setValue(_KEY, [str(p) for p in entries[:MAX_RECENT]])


def fill_recent_menu(menu: QMenu, settings: QSettings,
                     open_project: Callable[[Path | str], object]) -> None:
    """File > Open recent: one entry per recent project, disabled when there is none."""
    menu.clear()
    for entry in recent_projects(settings):
        action = menu.addAction(str(entry))
        action.triggered.connect(lambda _=False, e=entry: open_project(e))
    menu.setEnabled(bool(menu.actions()))


class StartPage(QWidget):
    """Buttons for the ways into a project and the list of recent ones."""

    newRequested = Signal()
    openRequested = Signal()
    sharedRequested = Signal()
    demoRequested = Signal()
    recentChosen = Signal(object)  # Path, or a shared project's URL (str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel("halgui")
        font = QFont(title.font())
        font.setPointSizeF(font.pointSizeF() * 2.2)
        font.setBold(True)
        title.setFont(font)
        subtitle = QLabel("Label videos for spatio-temporal action detection, with active "
                          "learning choosing what to label next.")
        subtitle.setWordWrap(True)
        buttons = QHBoxLayout()
        for text, signal, tip in (
            ("New project…", self.newRequested, "Create a project in a new folder"),
            ("Open project…", self.openRequested, "Open a project folder"),
            ("Open shared project…", self.sharedRequested,
             "Open a project the team shares on a PostgreSQL server, by its URL"),
            ("Open the demo", self.demoRequested,
             "A project of generated videos with a few frames labeled (made on first use)"),
        ):
            button = QPushButton(text)
            button.setToolTip(tip)
            button.setMinimumHeight(36)
            button.clicked.connect(signal)
            buttons.addWidget(button)
        self.recent = QListWidget()
        self.recent.setObjectName("recentProjects")
        self.recent.itemActivated.connect(self._chosen)
        column = QVBoxLayout()
        column.addWidget(title)
        column.addWidget(subtitle)
        column.addSpacing(16)
        column.addLayout(buttons)
        column.addSpacing(16)
        column.addWidget(QLabel("Recent projects"))
        column.addWidget(self.recent, 1)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addLayout(column, 3)
        outer.addStretch(1)

    def set_recent(self, entries: list[Path | str]) -> None:
        self.recent.clear()
        for entry in entries:
            if isinstance(entry, str):  # a shared project
                item = QListWidgetItem(f"{database_name(entry)}    {entry}")
            else:
                item = QListWidgetItem(f"{entry.name}    {entry.parent}")
            item.setData(Qt.ItemDataRole.UserRole, str(entry))
            item.setToolTip(str(entry))
            self.recent.addItem(item)
        if not entries:
            item = QListWidgetItem("(none yet)")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.recent.addItem(item)

    def _chosen(self, item: QListWidgetItem) -> None:
        where = item.data(Qt.ItemDataRole.UserRole)
        if where:
            self.recentChosen.emit(where if is_url(where) else Path(where))
