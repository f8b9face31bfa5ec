"""Import and export dialogs over the format registry (:mod:`halgui.core.formats`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QWidget,
)

from halgui.core import formats
from halgui.core.formats import FORMATS
from halgui.core.formats.common import ExportOptions
from halgui.core.progress import CancelFlag
from halgui.core.project import SPLITS, Project

__all__ = ["ExportDialog", "ImportDialog", "ask_export", "ask_import"]

Job = Callable[[CancelFlag], object]


def _format_box() -> QComboBox:
    box = QComboBox()
    for name in sorted(FORMATS):
        box.addItem(f"{name}: {FORMATS[name][1]}", name)
    box.setCurrentIndex(box.findData("halgui"))
    return box


class _PathDialog(QDialog):
    """Format + path + OK/Cancel; subclasses add their options."""

    def __init__(self, title: str, parent: QWidget | None, start: str) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.format = _format_box()
        self.path = QLineEdit(start)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path)
        row.addWidget(browse)
        self.form = QFormLayout(self)
        self.form.addRow("Format", self.format)
        self.form.addRow("Path", row)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.path.textChanged.connect(self._update_ok)
        self._update_ok()

    def finish_form(self) -> None:
        self.form.addRow(self.buttons)

    def format_name(self) -> str:
        return str(self.format.currentData())

    def chosen_path(self) -> Path:
        return Path(self.path.text().strip()).expanduser()

    def _update_ok(self) -> None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(bool(self.path.text().strip()))

    def _browse(self) -> None:  # pragma: no cover - a native file dialog
        raise NotImplementedError


class ImportDialog(_PathDialog):
    """Which labels file (or folder) to import, in which format."""

    def __init__(self, parent: QWidget | None = None, start: str = "") -> None:
        super().__init__("Import labels", parent, start)
        self.finish_form()

    def _browse(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Labels to import", self.path.text())
        if name:
            self.path.setText(name)


class ExportDialog(_PathDialog):
    """Where and how to export: format, split, human labels only or with pseudo-labels."""

    def __init__(self, parent: QWidget | None = None, start: str = "") -> None:
        super().__init__("Export labels", parent, start)
        self.split = QComboBox()
        self.split.addItem("all videos", None)
        for split in SPLITS:
            self.split.addItem(split, split)
        self.human_only = QCheckBox("Only boxes a person drew (no imported or accepted ones)")
        self.pseudo = QCheckBox("Also write interpolated boxes (pseudo-labels)")
        self.images = QCheckBox("Write frame images too (formats that reference frames)")
        self.form.addRow("Split", self.split)
        self.form.addRow("", self.human_only)
        self.form.addRow("", self.pseudo)
        self.form.addRow("", self.images)
        self.finish_form()

    def options(self) -> ExportOptions:
        return ExportOptions(split=self.split.currentData(), human_only=self.human_only.isChecked(),
                             pseudo_labels=self.pseudo.isChecked(),
                             write_images=self.images.isChecked())

    def _browse(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export to", self.path.text())
        if name:
            self.path.setText(name)


def ask_import(parent: QWidget | None, project: Project) -> Job | None:
    """Ask what to import; the import as a job for the worker, or None if cancelled."""
    dialog = ImportDialog(parent)
    if not dialog.exec():
        return None
    module, path = formats.get(dialog.format_name()), dialog.chosen_path()
    return lambda cancel: module.import_labels(project, path, cancel)


def ask_export(parent: QWidget | None, project: Project) -> Job | None:
    """Ask where and how to export; the export of a snapshot taken now, as a job."""
    dialog = ExportDialog(parent, str(project.folder / "exports"))
    if not dialog.exec():
        return None
    module, out, options = formats.get(dialog.format_name()), dialog.chosen_path(), dialog.options()
    snapshot = project.snapshot()
    return lambda cancel: module.export_labels(snapshot, out, options, cancel)
