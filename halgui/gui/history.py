"""Round history: a table and a plot of what each round started from and how good it was.

One row per finished round: its number, strategy, the pool's labeled frames (and their share)
and keyframe boxes when it started, the final training loss, frame-mAP / video-mAP at IoU 0.5 on
the labeled frames of the validation split (empty when that split has none), and how many pool
videos each cluster got (one cluster holding nearly all of them leaves the quota nothing to
do). The plot (pyqtgraph, built the first time the panel is painted, so the window comes up
without it) has labeled frames above and validation frame-mAP below, one point per round.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QPaintEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from halgui.core.project import Project, RoundRecord
from halgui.core.proposals import cluster_sizes

__all__ = ["COLUMNS", "HistoryPanel", "HistoryRow", "history_rows"]

COLUMNS = ("Round", "Strategy", "Labeled frames", "Boxes", "Loss", "Val frame-mAP",
           "Val video-mAP", "Cluster sizes")
TIPS = (
    "Round number (0: first proposals, before any model)",
    "How the round chose its frames",
    "Frames of the training videos marked labeled when the round started (share of all)",
    "Keyframe boxes in the training videos when the round started",
    "Training loss at the end of the round",
    "frame-mAP at IoU 0.5 (VOC) on the labeled frames of the validation videos",
    "video-mAP at IoU 0.5 on the fully labeled validation videos",
    "Pool videos in each cluster after the round (cluster 0 first); new videos are shared out "
    "in proportion to these sizes",
)
FRAME_MAP = "val_frame_map@0.5_voc"
VIDEO_MAP = "val_video_map@0.5"


@dataclass(frozen=True)
class HistoryRow:
    """What the history shows of one round (None: not measured in that round)."""

    number: int
    strategy: str
    labeled_frames: int | None
    pool_frames: int | None
    boxes: int | None
    loss: float | None
    val_frame_map: float | None
    val_video_map: float | None
    clusters: tuple[int, ...] = ()

    def cells(self) -> tuple[str, ...]:
        labeled = "" if self.labeled_frames is None else str(self.labeled_frames)
        if labeled and self.pool_frames:
            labeled += f" ({self.labeled_frames / self.pool_frames:.1%})"
        return (str(self.number), self.strategy, labeled, _text(self.boxes, "d"),
                _text(self.loss, ".4f"), _text(self.val_frame_map, ".3f"),
                _text(self.val_video_map, ".3f"), " ".join(map(str, self.clusters)))


def history_rows(rounds: list[RoundRecord], clusters: dict[int, list[int]] | None = None
                 ) -> list[HistoryRow]:
    """One row per round; ``clusters`` maps a round's number to its cluster sizes."""
    clusters = clusters or {}

    def num(record: RoundRecord, key: str) -> float | None:
        value = record.metrics.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        return float(value) if math.isfinite(value) else None

    def count(record: RoundRecord, key: str) -> int | None:
        value = num(record, key)
        return None if value is None else int(value)

    return [HistoryRow(r.number, r.strategy, count(r, "labeled_frames"),
                       count(r, "pool_frames"), count(r, "keyframe_boxes"),
                       num(r, "train_loss"), num(r, FRAME_MAP), num(r, VIDEO_MAP),
                       tuple(clusters.get(r.number, ())))
            for r in rounds]


def _text(value: float | int | None, spec: str) -> str:
    return "" if value is None else format(value, spec)


class HistoryPanel(QWidget):
    """Table over plot of the open project's rounds; :meth:`refresh` after a round."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._project: Project | None = None
        self.rows: list[HistoryRow] = []
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        for i, tip in enumerate(TIPS):
            self.table.horizontalHeaderItem(i).setToolTip(tip)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        #: the pyqtgraph widget, made when the panel is first shown
        self.plot = None
        self.curves: dict[str, Any] = {}
        self._axes: list[Any] = []
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.table)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

    def set_project(self, project: Project | None) -> None:
        self._project = project
        self.refresh()

    def refresh(self) -> None:
        project = self._project
        self.rows = (history_rows(project.rounds(), cluster_sizes(project))
                     if project is not None else [])
        self.table.setRowCount(len(self.rows))
        for r, row in enumerate(self.rows):
            for c, text in enumerate(row.cells()):
                item = QTableWidgetItem(text)
                if c != 1:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        self.table.scrollToBottom()
        self._update_plot()

    def series(self) -> dict[str, tuple[list[int], list[float]]]:
        """What the plot draws: per series, the rounds that have a value and the values."""
        out: dict[str, tuple[list[int], list[float]]] = {}
        for name, attr in (("labeled frames", "labeled_frames"),
                           ("val frame-mAP", "val_frame_map")):
            pairs = [(row.number, float(getattr(row, attr))) for row in self.rows
                     if getattr(row, attr) is not None]
            out[name] = ([x for x, _ in pairs], [y for _, y in pairs])
        return out

    # ------------------------------------------------------------------ the plot
    def paintEvent(self, event: QPaintEvent) -> None:
        # painted means seen (a dock tabbed behind another is "visible" but never painted)
        super().paintEvent(event)
        if self.plot is None:
            QTimer.singleShot(0, self._build_plot)

    def _build_plot(self) -> None:
        if self.plot is not None:
            return
        import pyqtgraph as pg  # ~0.3 s: only when the history is first shown

        plot = pg.GraphicsLayoutWidget()
        plot.setBackground(None)
        plot.setMinimumHeight(160)
        top = plot.addPlot(row=0, col=0)
        bottom = plot.addPlot(row=1, col=0)
        bottom.setXLink(top)
        top.setLabel("left", "labeled frames")
        bottom.setLabel("left", "val frame-mAP")
        bottom.setLabel("bottom", "round")
        bottom.setYRange(0, 1)
        for item in (top, bottom):
            item.showGrid(x=True, y=True, alpha=0.25)
            item.setMouseEnabled(x=False, y=False)
            item.hideButtons()
            item.setMenuEnabled(False)
        blue, orange = pg.mkColor("#1f77b4"), pg.mkColor("#ff7f0e")
        self.curves = {
            "labeled frames": top.plot(pen=pg.mkPen(blue, width=2), symbol="o",
                                       symbolBrush=blue, symbolSize=7),
            "val frame-mAP": bottom.plot(pen=pg.mkPen(orange, width=2), symbol="s",
                                         symbolBrush=orange, symbolSize=7),
        }
        self._axes = [top.getAxis("bottom"), bottom.getAxis("bottom")]
        self.plot = plot
        self.splitter.addWidget(plot)
        self.splitter.setSizes([1, 1])
        self._update_plot()

    def _update_plot(self) -> None:
        for name, (x, y) in self.series().items():
            curve = self.curves.get(name)
            if curve is not None:
                curve.setData(x, y)
        step = max(1, math.ceil(len(self.rows) / 10))  # whole rounds, ten ticks at most
        for axis in self._axes:
            axis.setTickSpacing(step, step)
