"""The video list: a table model over the project's videos and a sortable, filterable view.

Columns: name, frames, labeled frames, proposed frames (of the latest round), cluster and
informativeness. The rows come from one read (:func:`halgui.core.proposals.video_summaries`);
the model re-reads on :meth:`VideoListModel.refresh` (labels changed, a round finished, videos
added). A video with no media (annotation-only, waiting to be linked, or whose file is gone)
shows the ``no-media`` icon by its name; whether a linked file is still there is looked up only
when a video's path changes, never on a label edit. The view filters to *to label*, *in
progress*, *done* or *no media* and reports a double-click (or Enter) as
:attr:`VideoList.videoActivated`.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHeaderView,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from halgui.core import proposals
from halgui.core.project import Project
from halgui.core.proposals import VideoSummary
from halgui.gui import icons

__all__ = ["FILTERS", "VideoList", "VideoListModel", "VideoListProxy"]

Index = QModelIndex | QPersistentModelIndex

COLUMNS = ("Name", "Frames", "Labeled", "Proposed", "Cluster", "Info")
HEADER_TIPS = (
    "Video name",
    "Frames in the video",
    "Frames a person marked as labeled",
    "Frames the latest round proposed: labeled / proposed",
    "Cluster of the video in the latest round (diverse picks come from different clusters)",
    "Informativeness: how much the latest round expects labeling this video to help",
)
#: Filter names shown in the view, in order; "all" shows every video, "no media" those that
#: cannot show frames (not linked, or the file is gone).
FILTERS = ("all", "to label", "in progress", "done", "no media")
#: A row's media, as MEDIA_ROLE gives it.
LINKED, NOT_LINKED, FILE_MISSING = "linked", "not linked", "file missing"

VIDEO_ID_ROLE = Qt.ItemDataRole.UserRole + 1
STATUS_ROLE = Qt.ItemDataRole.UserRole + 2
SORT_ROLE = Qt.ItemDataRole.UserRole + 3
MEDIA_ROLE = Qt.ItemDataRole.UserRole + 4


class VideoListModel(QAbstractTableModel):
    """One row per video of a project (by id); read-only."""

    VideoIdRole = VIDEO_ID_ROLE
    StatusRole = STATUS_ROLE
    SortRole = SORT_ROLE
    MediaRole = MEDIA_ROLE

    def __init__(self, project: Project | None = None, parent: Any = None) -> None:
        super().__init__(parent)
        self._project = project
        self._rows: list[VideoSummary] = []
        self._present: dict[tuple[int, str], bool] = {}  # (video, stored path) -> file there
        self._no_media: QIcon | None = None
        self.refresh()

    def set_project(self, project: Project | None) -> None:
        self._project = project
        self._present = {}
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        """Re-read every row; a changed set of videos resets the model, else rows update."""
        rows = proposals.video_summaries(self._project) if self._project is not None else []
        self._check_media(rows)
        if [r.video_id for r in rows] != [r.video_id for r in self._rows]:
            self.beginResetModel()
            self._rows = rows
            self.endResetModel()
        elif rows != self._rows:
            self._rows = rows
            self.dataChanged.emit(self.index(0, 0), self.index(len(rows) - 1, len(COLUMNS) - 1))

    def summary(self, row: int) -> VideoSummary:
        return self._rows[row]

    def media(self, row: int) -> str:
        """LINKED, NOT_LINKED (annotation-only) or FILE_MISSING for a row."""
        r = self._rows[row]
        if r.path is None:
            return NOT_LINKED
        return LINKED if self._present.get((r.video_id, r.path), True) else FILE_MISSING

    def _check_media(self, rows: list[VideoSummary]) -> None:
        """Whether each linked video's file or folder exists, for new (video, path) pairs."""
        keys = {(r.video_id, r.path) for r in rows if r.path is not None}
        self._present = {key: self._present[key] if key in self._present
                         else self._found(key[1]) for key in keys}

    def _found(self, stored: str) -> bool:
        path = self._project.video_path(stored) if self._project is not None else None
        return path is not None and path.exists()

    def row_of(self, video_id: int) -> int | None:
        return next((i for i, r in enumerate(self._rows) if r.video_id == video_id), None)

    # ------------------------------------------------------------------ Qt model API
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        r, col = self._rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return _display(r, col)
        if role == SORT_ROLE:
            return _sort_key(r, col)
        if role == VIDEO_ID_ROLE:
            return r.video_id
        if role == STATUS_ROLE:
            return r.status
        if role == MEDIA_ROLE:
            return self.media(index.row())
        if role == Qt.ItemDataRole.DecorationRole and col == 0:
            if self.media(index.row()) == LINKED or QGuiApplication.instance() is None:
                return None  # an icon is drawn, which needs the GUI (a model alone has none)
            if self._no_media is None:
                self._no_media = icons.icon("no-media")
            return self._no_media
        if role == Qt.ItemDataRole.TextAlignmentRole and col > 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = f"{r.name}: {r.status}"
            media = self.media(index.row())
            if media != LINKED:
                tip += ("; not linked to its media yet (File > Link media)" if media == NOT_LINKED
                        else "; its file is gone (File > Link media finds it again)")
            if r.proposed:
                tip += f"; {r.proposed_labeled} of {r.proposed} proposed frames labeled"
            return tip
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # fmt: skip
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return HEADER_TIPS[section]
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flag = Qt.ItemFlag
        return flag.ItemIsEnabled | flag.ItemIsSelectable | flag.ItemNeverHasChildren


def _display(r: VideoSummary, col: int) -> str:
    if col == 0:
        return r.name
    if col == 1:
        return str(r.n_frames)
    if col == 2:
        return str(r.labeled)
    if col == 3:
        return f"{r.proposed_labeled}/{r.proposed}" if r.proposed else "0"
    if col == 4:
        return "" if r.cluster is None else str(r.cluster)
    return "" if r.informativeness is None else f"{r.informativeness:.3f}"


def _sort_key(r: VideoSummary, col: int) -> Any:
    values = (r.name.lower(), r.n_frames, r.labeled, r.proposed,
              -1 if r.cluster is None else r.cluster,
              float("-inf") if r.informativeness is None else r.informativeness)
    return values[col]


class VideoListProxy(QSortFilterProxyModel):
    """Sorts by raw values and keeps the rows of one status (or all)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._status = "all"
        self.setSortRole(SORT_ROLE)

    def set_status(self, status: str) -> None:
        if status not in FILTERS:
            raise ValueError(f"unknown filter {status!r}; one of {FILTERS}")
        if hasattr(QSortFilterProxyModel, "Direction"):  # Qt >= 6.10
            self.beginFilterChange()
            self._status = status
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self._status = status
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        if self._status == "all":
            return True
        index = self.sourceModel().index(source_row, 0, source_parent)
        if self._status == "no media":
            return index.data(MEDIA_ROLE) != LINKED
        return index.data(STATUS_ROLE) == self._status


class VideoList(QWidget):
    """Filter box over a sortable table of videos; double-click or Enter opens a video."""

    videoActivated = Signal(int)

    def __init__(self, project: Project | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = VideoListModel(project, self)
        self.proxy = VideoListProxy(self)
        self.proxy.setSourceModel(self.model)
        self.filter = QComboBox()
        self.filter.addItems([f.capitalize() for f in FILTERS])
        self.filter.setToolTip("Show only the videos to label, in progress or done, or those "
                               "with no media (not linked yet, or the file is gone)")
        self.filter.currentIndexChanged.connect(lambda i: self.proxy.set_status(FILTERS[i]))
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.activated.connect(self._activated)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.filter)
        layout.addWidget(self.table)

    def set_project(self, project: Project | None) -> None:
        self.model.set_project(project)

    @Slot()
    def refresh(self) -> None:
        self.model.refresh()

    def select_video(self, video_id: int) -> None:
        """Highlight a video's row (when the current filter shows it)."""
        row = self.model.row_of(video_id)
        if row is None:
            return
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if index.isValid():
            self.table.selectRow(index.row())
            self.table.scrollTo(index)

    @Slot(QModelIndex)
    def _activated(self, index: QModelIndex) -> None:
        video_id = index.data(VIDEO_ID_ROLE)
        if video_id is not None:
            self.videoActivated.emit(int(video_id))
