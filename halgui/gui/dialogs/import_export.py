"""Import and export dialogs over the format registry (:mod:`halgui.core.formats`).

The export dialog starts on a new dated folder under the project's ``exports/`` (so that two
exports never meet), and before it lets an export write into a folder that holds files, or over
an existing file, it names the files the export would replace and asks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
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
    QMessageBox,
    QPushButton,
    QWidget,
)

from halgui.core import formats
from halgui.core.errors import HalguiError
from halgui.core.formats import FORMATS
from halgui.core.formats.common import (
    ExportError,
    ExportExists,
    ExportOptions,
    check_export_target,
    files_written,
)
from halgui.core.progress import CancelFlag
from halgui.core.project import SPLITS, LabelSnapshot, Project
from halgui.gui.dialogs.messages import show_error

__all__ = ["ExportDialog", "ImportDialog", "ask_export", "ask_import", "default_export_path"]

Job = Callable[[CancelFlag], object]
#: How many replaced files the overwrite question lists by name before "and N more".
LISTED_FILES = 15


def _target(name: str) -> tuple[str, str]:
    """What a format writes: ``("folder", "")`` or ``("file", suffix)``."""
    module = formats.get(name)
    kind = getattr(module, "TARGET", "folder")
    return kind, getattr(module, "SUFFIX", "") if kind == "file" else ""


def default_export_path(exports: Path, format_name: str, now: datetime | None = None) -> Path:
    """A new path under ``exports`` named for the time and format, e.g.
    ``exports/2026-12-03_1530-coco`` (``-2``, ``-3``... when taken)."""
    stamp = f"{(now or datetime.now()):%Y-%m-%d_%H%M}-{format_name}"
    suffix = _target(format_name)[1]
    candidate, n = exports / f"{stamp}{suffix}", 1
    while candidate.exists():
        n += 1
        candidate = exports / f"{stamp}-{n}{suffix}"
    return candidate


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
    """Where and how to export: format, split, human labels only or with pseudo-labels.

    With ``exports`` (the project's exports folder) the path starts as, and follows the format
    as, a new dated folder there until the user edits it. OK checks the path first: a place no
    export may go is an error; an existing non-empty folder or file asks, naming the files the
    export would replace (``snapshot`` gives the labels to find them), and ``overwrite`` says
    whether the user agreed."""

    def __init__(self, parent: QWidget | None = None, start: str = "",
                 exports: Path | None = None,
                 snapshot: Callable[[], LabelSnapshot] | None = None) -> None:
        super().__init__("Export labels", parent, start)
        self.exports, self._snapshot = exports, snapshot
        self.overwrite = False
        self._auto = ""
        if exports is not None and not start:
            self._follow_format()
        self.format.currentIndexChanged.connect(self._follow_format)
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
                             write_images=self.images.isChecked(), overwrite=self.overwrite)

    def _follow_format(self) -> None:
        """A new dated path for the chosen format, unless the user typed a path of their own."""
        if self.exports is None or self.path.text() not in ("", self._auto):
            return
        self._auto = str(default_export_path(self.exports, self.format_name()))
        self.path.setText(self._auto)

    def accept(self) -> None:
        out, kind = self.chosen_path(), _target(self.format_name())[0]
        self.overwrite = False
        try:
            check_export_target(out, kind)  # type: ignore[arg-type]
        except ExportExists:
            if not self._confirm_overwrite(out, kind):
                return
            self.overwrite = True
        except ExportError as exc:
            show_error(self, "Cannot export there", exc)
            return
        super().accept()

    def _confirm_overwrite(self, out: Path, kind: str) -> bool:
        if kind == "file":
            text = (f"{out} exists.\n\nReplace it with this export? Nothing else is touched.")
        else:
            try:
                planned = files_written(formats.get(self.format_name()),
                                        self._labels(), self.options())
            except HalguiError as exc:  # the export itself would fail: say so now
                show_error(self, "Cannot export", exc)
                return False
            replaced = [rel for rel in planned if (out / rel).exists()]
            listed = "\n".join(f"  {rel}" for rel in replaced[:LISTED_FILES])
            more = len(replaced) - LISTED_FILES
            listed += f"\n  and {more} more" if more > 0 else ""
            text = (f"{out} is not empty.\n\n"
                    + (f"The export replaces these {len(replaced)} file(s) of an earlier "
                       f"export:\n{listed}\n\n" if replaced else
                       "The export adds its files there and replaces none.\n\n")
                    + ("Frame images of the same names are replaced too.\n\n"
                       if self.images.isChecked() else "")
                    + "Nothing else in the folder is touched. Export there?")
        box = QMessageBox(QMessageBox.Icon.Question, "Replace files?", text,
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                          self)
        box.setObjectName("overwriteQuestion")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        return box.exec() == QMessageBox.StandardButton.Yes

    def _labels(self) -> LabelSnapshot:
        if self._snapshot is None:
            raise HalguiError("no project labels to preview the export with")
        return self._snapshot()

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
    """Ask where and how to export; the export of a snapshot taken now, as a job. The export
    may replace files only where the dialog asked and the user agreed."""
    dialog = ExportDialog(parent, exports=project.folder / "exports", snapshot=project.snapshot)
    if not dialog.exec():
        return None
    module, out = formats.get(dialog.format_name()), dialog.chosen_path()
    options = dataclasses.replace(dialog.options(), overwrite=dialog.overwrite)
    snapshot = project.snapshot()
    return lambda cancel: module.export_labels(snapshot, out, options, cancel)
