"""The label panel: pick the class of the next box, see the boxes of the shown frame, mark the
frame labeled, add a class.

Public parts for the main window (and tests): ``classes_view`` (one row per class: swatch, key,
name), ``boxes_view`` (one row per box on the frame), ``labeled_button`` and ``add_button``.
The dialog that asks for a new class is :func:`ask_new_class`, a plain function that tests
replace: asking is kept apart from doing.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap, QUndoStack
from PySide6.QtWidgets import (
    QColorDialog,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from halgui.core.errors import ProjectError
from halgui.core.labels import VideoTracks, class_keys
from halgui.core.names import name_problem
from halgui.core.project import DEFAULT_COLORS, Project
from halgui.gui.commands import SetFrameLabeled
from halgui.gui.dialogs.messages import show_error
from halgui.gui.label_events import LabelEvents

__all__ = ["LabelPanel", "ask_new_class"]

_ID = Qt.ItemDataRole.UserRole


def ask_new_class(parent: QWidget | None, color: str) -> tuple[str, str] | None:
    """Ask for a class name, then its colour (``color`` preselected); None if cancelled."""
    name, ok = QInputDialog.getText(parent, "Add class", "Name of the new action class:")
    if not ok or not name.strip():
        return None
    problem = name_problem(name.strip())
    if problem is not None:  # pasted text can hold a newline or tab; the store refuses it
        show_error(parent, "Add class", f"Class {problem}.")
        return None
    chosen = QColorDialog.getColor(QColor(color), parent, f"Colour of {name.strip()}")
    return (name.strip(), chosen.name()) if chosen.isValid() else None


def _swatch(color: str) -> QIcon:
    pixmap = QPixmap(14, 14)
    pixmap.fill(QColor(color))
    return QIcon(pixmap)


class LabelPanel(QWidget):
    """Classes, the boxes of the shown frame, and the frame's labeled mark."""

    classChosen = Signal(int)
    boxChosen = Signal(int)  # a track picked in the list of boxes

    def __init__(self, project: Project, undo_stack: QUndoStack, events: LabelEvents,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.undo_stack = undo_stack
        self.events = events
        self._video_id: int | None = None
        self._frame = 0
        self._current_class: int | None = None

        self.classes_view = QListWidget()
        self.classes_view.setToolTip("The class of the next box (keys 1-9)")
        self.add_button = QPushButton("Add class…")
        self.boxes_view = QListWidget()
        self.boxes_view.setToolTip("Boxes on this frame: solid = keyframe, dashed = interpolated")
        self.labeled_button = QPushButton("Mark frame labeled")
        self.labeled_button.setCheckable(True)
        self.labeled_button.setToolTip("This frame is finished, with or without actors (L)")
        self.summary = QLabel()
        self.summary.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Classes"))
        layout.addWidget(self.classes_view, 2)
        layout.addWidget(self.add_button)
        layout.addWidget(QLabel("Boxes on this frame"))
        layout.addWidget(self.boxes_view, 3)
        layout.addWidget(self.labeled_button)
        layout.addWidget(self.summary)

        self.classes_view.currentItemChanged.connect(self._class_row_changed)
        self.boxes_view.itemClicked.connect(lambda item: self.boxChosen.emit(item.data(_ID)))
        self.add_button.clicked.connect(self.add_class)
        self.labeled_button.clicked.connect(self.mark_labeled)
        events.labelsChanged.connect(self._labels_changed)
        events.classesChanged.connect(self._refresh)
        self._refresh()

    # ------------------------------------------------------------------ slots
    def set_frame(self, video_id: int | None, frame: int) -> None:
        self._video_id, self._frame = video_id, int(frame)
        self._refresh_frame()

    def set_current_class(self, class_id: int) -> None:
        """Show ``class_id`` as the current class (does not emit :attr:`classChosen`)."""
        self._current_class = class_id
        self._select_class_row()

    def current_class(self) -> int | None:
        return self._current_class

    def set_selected_track(self, track_id: object) -> None:
        """Highlight a box row (connect the canvas's ``selectionChanged``)."""
        self.boxes_view.blockSignals(True)
        self.boxes_view.clearSelection()
        for row in range(self.boxes_view.count()):
            item = self.boxes_view.item(row)
            item.setSelected(item.data(_ID) == track_id)
        self.boxes_view.blockSignals(False)

    def mark_labeled(self) -> None:
        """Toggle the shown frame's labeled mark (an undo step), with or without boxes on it."""
        if self._video_id is None:
            return
        labeled = self._frame in self.project.labeled_frames(self._video_id)
        self.undo_stack.push(SetFrameLabeled(self.project, self.events, self._video_id,
                                             self._frame, not labeled))
        self._refresh_frame()  # also when nothing changed: the button shows the truth

    def add_class(self) -> int | None:
        """Ask for a name and colour, add the class with the next free number key; returns
        its id (None if cancelled or refused)."""
        classes = self.project.classes()
        answer = ask_new_class(self, DEFAULT_COLORS[len(classes) % len(DEFAULT_COLORS)])
        if answer is None:
            return None
        name, color = answer
        used = {str(k) for k in class_keys(classes)} | {c.shortcut for c in classes}
        key = next((str(d) for d in range(1, 10) if str(d) not in used), None)
        try:
            class_id = self.project.add_class(name, color, key)
        except ProjectError as exc:
            self.summary.setText(str(exc.reason))
            return None
        self.events.classesChanged.emit()
        return class_id

    # ------------------------------------------------------------------ refresh
    def _labels_changed(self, video_id: int, frame: int) -> None:
        if video_id == self._video_id:
            self._refresh_frame()

    def _refresh(self) -> None:
        self.classes_view.blockSignals(True)
        self.classes_view.clear()
        classes = self.project.classes()
        keys = {c.id: key for key, c in class_keys(classes).items()}
        for c in sorted(classes, key=lambda c: keys.get(c.id, 10)):  # keyless ones (past 9) last
            item = QListWidgetItem(_swatch(c.color), f"{keys.get(c.id, ' ')}   {c.name}")
            item.setData(_ID, c.id)
            self.classes_view.addItem(item)
        self.classes_view.blockSignals(False)
        self._select_class_row()
        self._refresh_frame()

    def _select_class_row(self) -> None:
        ids = [self.classes_view.item(r).data(_ID) for r in range(self.classes_view.count())]
        if self._current_class not in ids:  # as the canvas: the first class until one is picked
            self._current_class = min(ids) if ids else None
        self.classes_view.blockSignals(True)
        for row in range(self.classes_view.count()):
            if self.classes_view.item(row).data(_ID) == self._current_class:
                self.classes_view.setCurrentRow(row)
                break
        else:
            self.classes_view.setCurrentRow(-1)
        self.classes_view.blockSignals(False)

    def _class_row_changed(self, item: QListWidgetItem | None) -> None:
        if item is not None:
            self._current_class = item.data(_ID)
            self.classChosen.emit(self._current_class)

    def _refresh_frame(self) -> None:
        self.boxes_view.clear()
        has_video = self._video_id is not None
        self.labeled_button.setEnabled(has_video)
        if not has_video:
            self.labeled_button.setChecked(False)
            self.summary.setText("No video open")
            return
        classes = {c.id: c for c in self.project.classes()}
        for shown in VideoTracks(self.project, self._video_id).on_frame(self._frame):
            cls = classes.get(shown.track.class_id)
            kind = "keyframe" if shown.keyframe else "interpolated"
            name = cls.name if cls else "?"
            item = QListWidgetItem(_swatch(cls.color if cls else "#888888"),
                                   f"{name} #{shown.track.actor}  ·  {kind}")
            item.setData(_ID, shown.track.id)
            self.boxes_view.addItem(item)
        labeled = self.project.labeled_frames(self._video_id)
        self.labeled_button.setChecked(self._frame in labeled)
        self.labeled_button.setText("Frame labeled ✓" if self._frame in labeled
                                    else "Mark frame labeled")
        boxes = self.boxes_view.count()
        self.summary.setText(f"Frame {self._frame + 1}: {boxes} box{'es' * (boxes != 1)}."
                             f" {len(labeled)} frames of this video labeled.")


if __name__ == "__main__":  # a quick look: python -m halgui.gui.label_panel PROJECT [FRAME]
    import sys

    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv)
    with Project.open(sys.argv[1]) as proj:
        events = LabelEvents()
        panel = LabelPanel(proj, QUndoStack(), events)
        videos = proj.videos()
        panel.set_frame(videos[0].id if videos else None, int(sys.argv[2]) if sys.argv[2:] else 0)
        panel.classChosen.connect(lambda c: print("class", c))
        panel.show()
        app.exec()
