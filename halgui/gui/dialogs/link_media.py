"""File > Link media: choose the folder that holds the media, then see what was linked and,
row by row, what was not and why (missing, mismatched, ambiguous)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from halgui.core.media_link import STATUSES, LinkResult

__all__ = ["LinkResultDialog", "ask_media_folder", "show_link_result"]

COLUMNS = ("Video", "Problem", "Why", "Candidates")


def ask_media_folder(parent: QWidget | None, start: str = "") -> Path | None:
    """The folder to look for media in; None if cancelled."""
    name = QFileDialog.getExistingDirectory(
        parent, "Link media: the folder that holds the videos or frame folders", start)
    return Path(name) if name else None


def summary_text(result: LinkResult) -> str:
    """One paragraph: how many were linked of how many, then the count of each problem."""
    counts = result.counts()
    if not result.outcomes:
        return f"Every video already has its media; nothing to link from {result.root}."
    text = (f"Linked {counts['linked']} of {len(result.outcomes)} videos that needed media, "
            f"from {result.root}.")
    problems = [f"{counts[s]} {s}" for s in STATUSES[1:] if counts[s]]
    if problems:
        text += (f" Not linked: {', '.join(problems)}. Those videos are unchanged; fix the "
                 "media and link again.")
    return text


class LinkResultDialog(QDialog):
    """The outcome of a link: a summary line and a table of the videos not linked."""

    def __init__(self, result: LinkResult, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("linkResultDialog")
        self.setWindowTitle("Link media")
        self.summary = QLabel(summary_text(result))
        self.summary.setWordWrap(True)
        problems = result.problems
        self.table = QTableWidget(len(problems), len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        for row, outcome in enumerate(problems):
            cells = (outcome.name, outcome.status, outcome.detail,
                     "\n".join(str(c) for c in outcome.candidates))
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(row, col, item)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.setVisible(bool(problems))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        if problems:
            self.resize(900, 420)

    def rows(self) -> list[tuple[str, ...]]:
        """The table's text, row by row (what a person reads)."""
        return [tuple(self.table.item(r, c).text() for c in range(len(COLUMNS)))
                for r in range(self.table.rowCount())]


def show_link_result(parent: QWidget | None, result: LinkResult) -> None:
    LinkResultDialog(result, parent).exec()
