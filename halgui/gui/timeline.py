"""The timeline under the canvas, and playback.

:class:`Timeline` paints one video's frames left to right: the per-frame uncertainty of the
latest round as a filled curve, proposed frames (orange) and labeled frames (green) as ticks, one
lane per track with its span and keyframes (dots), and the playhead. Clicking or dragging asks
for a frame (:attr:`Timeline.frameRequested`); the canvas shows it and the timeline follows.

:class:`Player` steps through frames: play/pause on a QTimer at the video's frame rate (the frame
cache prefetches in the play direction), single steps, and jumps to the next or previous
proposed frame. :class:`TimelinePanel` puts the timeline, the transport buttons and the round's
progress counter together.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QColor, QMouseEvent, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from halgui.core import proposals as store
from halgui.core.project import Project

__all__ = ["Lane", "Player", "Timeline", "TimelinePanel", "lanes"]

PROPOSED = QColor("#ff7f0e")
LABELED = QColor("#2ca02c")
PLAYHEAD = QColor("#d62728")
MARGIN = 8
CURVE_H = 34
TICK_H = 9
LANE_H = 13


@dataclass(frozen=True)
class Lane:
    """One track on the timeline: its keyframe frames and the span its boxes cover."""

    name: str
    color: str
    keyframes: tuple[int, ...]
    first: int
    last: int


def lanes(project: Project, video_id: int) -> list[Lane]:
    """A lane per track of a video (span from its first to last keyframe)."""
    classes = {c.id: c for c in project.classes()}
    out = []
    for track in project.tracks(video_id):
        frames = tuple(k.frame for k in track.keyframes)
        if not frames:
            continue
        cls = classes.get(track.class_id)
        name = f"{cls.name if cls else '?'} #{track.actor}"
        out.append(Lane(name, cls.color if cls else "#7f7f7f", frames, frames[0], frames[-1]))
    return out


class Timeline(QWidget):
    """Custom-painted frame strip of one video; click or drag to seek."""

    frameRequested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.n_frames = 0
        self.frame = 0
        self.uncertainty: np.ndarray | None = None
        self.proposed: tuple[int, ...] = ()
        self.labeled: tuple[int, ...] = ()
        self.lanes: tuple[Lane, ...] = ()
        self.setMouseTracking(False)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)
        self.setToolTip("Uncertainty (curve), proposed frames (orange), labeled frames (green),\n"
                        "one lane per track with its keyframes. Click or drag to seek.")

    # ------------------------------------------------------------------ data
    def set_data(self, n_frames: int, *, uncertainty: np.ndarray | None = None,
                 proposed: Iterable[int] = (), labeled: Iterable[int] = (),
                 lanes: Sequence[Lane] = ()) -> None:  # fmt: skip
        self.n_frames = max(0, int(n_frames))
        self.uncertainty = None if uncertainty is None else np.asarray(uncertainty, float)
        self.proposed = tuple(sorted(set(proposed)))
        self.labeled = tuple(sorted(set(labeled)))
        self.lanes = tuple(lanes)
        self.frame = min(self.frame, max(0, self.n_frames - 1))
        self.updateGeometry()
        self.update()

    def load(self, project: Project | None, video_id: int | None) -> None:
        """Read everything the timeline shows for a video from the project (None: clear)."""
        if project is None or video_id is None:
            self.set_data(0)
            return
        video = project.video(video_id)
        score = store.video_scores(project).get(video_id)
        self.set_data(
            video.n_frames,
            uncertainty=None if score is None else score.uncertainty,
            proposed=[f for f, _, _ in store.proposals(project, video_id)],
            labeled=project.labeled_frames(video_id),
            lanes=lanes(project, video_id),
        )

    @Slot(int)
    def set_frame(self, frame: int) -> None:
        if frame != self.frame:
            self.frame = int(frame)
            self.update()

    # ------------------------------------------------------------------ geometry
    def sizeHint(self) -> QSize:
        return QSize(600, self._lanes_top() + LANE_H * max(1, len(self.lanes)) + MARGIN)

    def minimumSizeHint(self) -> QSize:
        return QSize(120, self._lanes_top() + LANE_H + MARGIN)

    def _lanes_top(self) -> int:
        return MARGIN + CURVE_H + 2 * TICK_H + 4

    def x_of(self, frame: float) -> float:
        """Centre x of a frame's column."""
        width = self.width() - 2 * MARGIN
        return MARGIN + (frame + 0.5) * width / max(1, self.n_frames)

    def frame_at(self, x: float) -> int:
        width = max(1, self.width() - 2 * MARGIN)
        frame = math.floor((x - MARGIN) / width * self.n_frames)
        return min(max(frame, 0), max(0, self.n_frames - 1))

    # ------------------------------------------------------------------ input
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.n_frames:
            self._seek(event.position().x())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton and self.n_frames:
            self._seek(event.position().x())

    def _seek(self, x: float) -> None:
        frame = self.frame_at(x)
        if frame != self.frame:
            self.set_frame(frame)
        self.frameRequested.emit(frame)

    # ------------------------------------------------------------------ painting
    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        p.fillRect(self.rect(), pal.base())
        if not self.n_frames:
            p.setPen(pal.placeholderText().color())
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No video open")
            return
        right = self.width() - MARGIN
        col = max(1.0, (right - MARGIN) / self.n_frames)
        self._paint_curve(p, pal.highlight().color())
        y = MARGIN + CURVE_H + 2
        for frames, color in ((self.proposed, PROPOSED), (self.labeled, LABELED)):
            for f in frames:
                p.fillRect(QRectF(self.x_of(f) - col / 2, y, col, TICK_H - 2), color)
            y += TICK_H
        y = self._lanes_top()
        text = pal.text().color()
        for lane in self.lanes:
            color = QColor(lane.color)
            mid = y + LANE_H / 2
            span = QPen(color, 3)
            span.setCapStyle(Qt.PenCapStyle.RoundCap)
            p.setPen(span)
            p.drawLine(QPointF(self.x_of(lane.first), mid), QPointF(self.x_of(lane.last), mid))
            p.setPen(QPen(text, 1))
            p.setBrush(color)
            for f in lane.keyframes:
                p.drawEllipse(QPointF(self.x_of(f), mid), 3.5, 3.5)
            y += LANE_H
        x = self.x_of(self.frame)
        p.setPen(QPen(PLAYHEAD, 2))
        p.drawLine(QPointF(x, 2), QPointF(x, self.height() - 2))

    def _paint_curve(self, p: QPainter, color: QColor) -> None:
        top, bottom = MARGIN, MARGIN + CURVE_H
        p.setPen(QPen(self.palette().mid().color(), 1))
        p.drawLine(QPointF(MARGIN, bottom), QPointF(self.width() - MARGIN, bottom))
        u = self.uncertainty
        if u is None or not len(u):
            return
        u = np.nan_to_num(np.asarray(u[: self.n_frames], float), nan=0.0)
        # Stretched between the video's least and most uncertain frame: the curve says where
        # in this video the model is least sure, which is what the labeler looks for.
        lo, hi = float(u.min()), float(u.max())
        height = (u - lo) / (hi - lo) if hi - lo > 1e-9 else np.full_like(u, 0.5)
        path = QPainterPath(QPointF(self.x_of(0), bottom))
        for f, v in enumerate(height):
            path.lineTo(self.x_of(f), bottom - (bottom - top) * (0.1 + 0.9 * float(v)))
        path.lineTo(self.x_of(len(u) - 1), bottom)
        fill = QColor(color)
        fill.setAlpha(90)
        p.setBrush(fill)
        p.setPen(QPen(color, 1))
        p.drawPath(path)


class Player(QObject):
    """Playback and frame stepping for the open video; asks for frames, never shows them."""

    frameRequested = Signal(int)
    playingChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.n_frames = 0
        self.frame = 0
        self.proposed: list[int] = []
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self.set_video(0, 25.0)

    def set_video(self, n_frames: int, fps: float, proposed: Iterable[int] = ()) -> None:
        self.pause()
        self.n_frames = max(0, int(n_frames))
        self.frame = 0
        self.proposed = sorted(set(proposed))
        self._timer.setInterval(max(1, round(1000 / fps)) if fps > 0 else 40)

    def set_proposed(self, proposed: Iterable[int]) -> None:
        self.proposed = sorted(set(proposed))

    @Slot(int)
    def set_frame(self, frame: int) -> None:
        """The frame now shown (the canvas reports it)."""
        self.frame = int(frame)

    def is_playing(self) -> bool:
        return self._timer.isActive()

    @Slot()
    def play(self) -> None:
        if self.n_frames > 1 and not self._timer.isActive():
            if self.frame >= self.n_frames - 1:
                self.request(0)
            self._timer.start()
            self.playingChanged.emit(True)

    @Slot()
    def pause(self) -> None:
        if self._timer.isActive():
            self._timer.stop()
            self.playingChanged.emit(False)

    @Slot()
    def toggle(self) -> None:
        self.pause() if self.is_playing() else self.play()

    @Slot()
    def next_frame(self) -> None:
        self.step(1)

    @Slot()
    def previous_frame(self) -> None:
        self.step(-1)

    def step(self, delta: int) -> None:
        self.pause()
        if self.n_frames:
            self.request(min(max(self.frame + delta, 0), self.n_frames - 1))

    @Slot()
    def next_proposal(self) -> bool:
        """Go to the first proposed frame after the current one; False if there is none."""
        i = bisect.bisect_right(self.proposed, self.frame)
        if i == len(self.proposed):
            return False
        self.pause()
        self.request(self.proposed[i])
        return True

    @Slot()
    def previous_proposal(self) -> bool:
        i = bisect.bisect_left(self.proposed, self.frame)
        if i == 0:
            return False
        self.pause()
        self.request(self.proposed[i - 1])
        return True

    def request(self, frame: int) -> None:
        if self.n_frames and 0 <= frame < self.n_frames:
            self.frame = frame
            self.frameRequested.emit(frame)

    def _tick(self) -> None:
        if self.frame >= self.n_frames - 1:
            self.pause()
        else:
            self.request(self.frame + 1)


class TimelinePanel(QWidget):
    """Transport buttons, the frame counter and the round's progress above the timeline."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.timeline = Timeline()
        self.player = Player(self)
        self.position = QLabel("-")
        self.counter = QLabel("")
        self.counter.setToolTip("Proposed frames of the current round that are labeled")
        self._buttons = QHBoxLayout()
        self._buttons.setContentsMargins(0, 0, 0, 0)
        self._buttons.addWidget(self.position)
        self._buttons.addStretch(1)
        self._buttons.addWidget(self.counter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addLayout(self._buttons)
        layout.addWidget(self.timeline)
        self.timeline.frameRequested.connect(self.player.request)
        self.player.frameRequested.connect(self.timeline.set_frame)

    def add_transport(self, actions: Sequence[QAction]) -> None:
        """Tool buttons for the given actions (prev/next proposal, step, play)."""
        for i, action in enumerate(actions):
            button = QToolButton()
            button.setDefaultAction(action)
            button.setAutoRaise(True)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
            self._buttons.insertWidget(i, button)

    def load(self, project: Project | None, video_id: int | None, fps: float = 25.0) -> None:
        """Show a video's timeline and prepare playback (None: nothing open)."""
        self.timeline.load(project, video_id)
        self.player.set_video(self.timeline.n_frames, fps, self.timeline.proposed)
        self.timeline.set_frame(0)
        self.update_counter(project, video_id)
        self.show_frame(0)

    def refresh(self, project: Project | None, video_id: int | None) -> None:
        """Re-read labels and tracks after an edit, keeping the playhead."""
        frame = self.timeline.frame
        self.timeline.load(project, video_id)
        self.timeline.set_frame(frame)
        self.player.set_proposed(self.timeline.proposed)
        self.update_counter(project, video_id)

    def update_counter(self, project: Project | None, video_id: int | None) -> None:
        last = store.latest_round(project) if project is not None else None
        if last is None:
            self.counter.setText("No round yet")
            return
        done, total = store.round_progress(project, last.id)
        text = f"Round {last.number}: {done}/{total} proposed frames labeled"
        if video_id is not None:
            vdone, vtotal = store.round_progress(project, last.id, video_id)
            if vtotal:
                text += f" (this video {vdone}/{vtotal})"
        self.counter.setText(text)

    @Slot(int)
    def show_frame(self, frame: int) -> None:
        """The canvas now shows ``frame``: move the playhead and the counter."""
        self.timeline.set_frame(frame)
        self.player.set_frame(frame)
        n = self.timeline.n_frames
        self.position.setText(f"Frame {frame + 1} / {n}" if n else "-")
