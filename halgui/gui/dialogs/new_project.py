"""New project: a folder and the action classes (name, colour, shortcut key)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QColorDialog,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from halgui.core.names import name_problem
from halgui.core.project import DB_NAME, DEFAULT_COLORS

__all__ = ["ClassSpec", "NewProjectDialog"]


@dataclass(frozen=True)
class ClassSpec:
    name: str
    color: str
    shortcut: str | None


class NewProjectDialog(QDialog):
    """Asks for a project folder and its classes; :meth:`values` reads them after accept."""

    def __init__(self, parent: QWidget | None = None, start: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("New project")
        self.folder = QLineEdit(start)
        self.folder.setPlaceholderText("an empty or new folder")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder)
        row.addWidget(browse)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Class", "Colour", "Key"])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.cellDoubleClicked.connect(self._cell_double_clicked)
        add, remove = QPushButton("Add class"), QPushButton("Remove class")
        add.clicked.connect(lambda: self.add_class(""))
        remove.clicked.connect(self._remove_class)
        buttons_row = QHBoxLayout()
        buttons_row.addWidget(add)
        buttons_row.addWidget(remove)
        buttons_row.addStretch(1)
        self.problem = QLabel("")
        self.problem.setStyleSheet("color: #d62728")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Folder", row)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("Action classes (double-click a colour to change it):"))
        layout.addWidget(self.table)
        layout.addLayout(buttons_row)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)
        self.add_class("")

    def add_class(self, name: str, color: str | None = None, shortcut: str | None = None) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        self.table.setItem(row, 0, QTableWidgetItem(name))
        color = color or DEFAULT_COLORS[row % len(DEFAULT_COLORS)]
        swatch = QTableWidgetItem(color)
        swatch.setBackground(QColor(color))
        swatch.setFlags(swatch.flags() & ~Qt.ItemFlag.ItemIsEditable)
        self.table.setItem(row, 1, swatch)
        key = shortcut if shortcut is not None else (str(row + 1) if row < 9 else "")
        self.table.setItem(row, 2, QTableWidgetItem(key))

    def values(self) -> tuple[Path, list[ClassSpec]]:
        classes = []
        for row in range(self.table.rowCount()):
            name = (self.table.item(row, 0).text() or "").strip()
            if not name:
                continue
            key = (self.table.item(row, 2).text() or "").strip() or None
            classes.append(ClassSpec(name, self.table.item(row, 1).text(), key))
        return Path(self.folder.text().strip()).expanduser(), classes

    def problems(self) -> str:
        """Why the form cannot be accepted yet ("" when it can)."""
        folder, classes = self.values()
        if not self.folder.text().strip():
            return "Choose a folder for the project."
        if (folder / DB_NAME).exists():
            return f"{folder} already holds a project: open it instead."
        names = [c.name for c in classes]
        for name in names:
            problem = name_problem(name)
            if problem is not None:
                return f"Class {problem}."
        if len(set(names)) != len(names):
            return "Class names must differ."
        keys = [c.shortcut for c in classes if c.shortcut]
        if len(set(keys)) != len(keys):
            return "Each key can select only one class."
        return ""

    def accept(self) -> None:
        problem = self.problems()
        self.problem.setText(problem)
        if not problem:
            super().accept()

    def _browse(self) -> None:
        name = QFileDialog.getExistingDirectory(self, "Folder for the new project",
                                                self.folder.text())
        if name:
            self.folder.setText(name)

    def _remove_class(self) -> None:
        row = self.table.currentRow()
        if row >= 0:
            self.table.removeRow(row)

    def _cell_double_clicked(self, row: int, column: int) -> None:
        if column != 1:
            return
        item = self.table.item(row, 1)
        color = QColorDialog.getColor(QColor(item.text()), self, "Class colour")
        if color.isValid():
            item.setText(color.name())
            item.setBackground(color)
