"""The canvas: one frame at full resolution with its boxes, for drawing and editing labels.

Scene coordinates are original-frame pixels (the frame's pixmap sits at the origin, unscaled),
so whatever the zoom or pan, a point maps to the frame through ``mapToScene``. Edits become undo
commands on the shared stack; the canvas redraws when :class:`LabelEvents` says labels changed,
whoever changed them.

Mouse: left-drag on empty space draws a box (Shift+drag draws even over a box); click selects;
drag a box to move it, a handle to resize it; wheel zooms around the cursor; middle or right
drag, or Space+left drag, pans. Keys: Delete/Backspace deletes the selected box's keyframe,
1..9 set the selected box's class (or the class of the next box), Escape deselects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPixmap,
    QResizeEvent,
    QTransform,
    QUndoStack,
    QWheelEvent,
)
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QWidget

from halgui.core.annotations import Box, clip_box
from halgui.core.errors import BoxError, VideoError
from halgui.core.frame_cache import FrameCache
from halgui.core.labels import FrameBox, VideoTracks, class_keys
from halgui.core.project import Project, VideoRecord
from halgui.gui import commands
from halgui.gui.box_item import (
    BoxItem,
    Detection,
    HandleItem,
    Overlays,
    frame_pixmap,
    moved_rect,
    resize_rect,
    rubber_band,
)
from halgui.gui.full_frame import FullFrameLoader
from halgui.gui.label_events import LabelEvents

__all__ = ["Canvas", "Detection"]

MIN_DRAG_PX = 3  # drags shorter than this on screen are clicks
ZOOM_RANGE = (0.02, 64.0)


@dataclass
class _Drag:
    kind: str  # "draw" | "move" | "resize" | "pan"
    start_view: QPoint
    start_scene: QPointF
    last_view: QPoint
    track_id: int | None = None
    rect: QRectF | None = None  # the box when the drag began
    handle: int | None = None


class Canvas(QGraphicsView):
    """Shows and edits the labels of one frame; see the module docstring for the controls."""

    frameChanged = Signal(int)
    selectionChanged = Signal(object)  # track id or None
    zoomChanged = Signal(float)
    currentClassChanged = Signal(int)

    def __init__(self, project: Project, undo_stack: QUndoStack, events: LabelEvents,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.undo_stack = undo_stack
        self.events = events
        self._video: VideoRecord | None = None
        self._frames: FrameCache | None = None
        self._full: FullFrameLoader | None = None
        self._frame = 0
        self._class_id: int | None = None
        self._labels = VideoTracks(project, None)
        self._items: dict[int, BoxItem] = {}
        self._selected: int | None = None
        self._drag: _Drag | None = None
        self._stale = False  # labels changed elsewhere during a drag: re-read when it ends
        self._space = False
        self._fit = True

        self.setScene(QGraphicsScene(self))
        self._pixmap = QGraphicsPixmapItem()
        self._pixmap.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._overlays = Overlays(self.scene())
        self._rubber = rubber_band()
        self.scene().addItem(self._pixmap)
        self.scene().addItem(self._rubber)

        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setBackgroundBrush(QColor(40, 40, 40))
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.viewport().setMouseTracking(True)
        events.labelsChanged.connect(self._on_labels_changed)
        events.classesChanged.connect(self._reload)

    # ------------------------------------------------------------------ what is shown
    def set_video(self, video: VideoRecord | None, frames: FrameCache | None,
                  full: Callable[[], FrameCache] | None = None) -> None:
        """Show ``video`` (frames from ``frames``; None shows a blank frame of its size).

        When ``frames`` come from a proxy (smaller), they are stretched to the video's size,
        and ``full``, if given, opens the video itself: a frame the playhead rests on is then
        fetched from it (:class:`FullFrameLoader`) and swapped in."""
        old_frame = self._frame
        self._video, self._frames, self._frame = video, frames, 0
        self._set_full(full if frames is not None and frames.proxy else None)
        self._clear_overlays()
        self._select(None)
        if video is None:
            self._pixmap.setPixmap(QPixmap())
            self.scene().setSceneRect(QRectF())
        else:
            margin = 0.25 * max(video.width, video.height)
            self.scene().setSceneRect(QRectF(0, 0, video.width, video.height)
                                      .adjusted(-margin, -margin, margin, margin))
        self._reload()
        if video is not None:
            self._show_frame()
        self.fit_to_window()
        if old_frame != 0:
            self.frameChanged.emit(0)

    def set_frame(self, index: int) -> None:
        if self._video is None:
            return
        index = min(max(int(index), 0), self._video.n_frames - 1)
        changed = index != self._frame
        if changed:
            self._clear_overlays()
        self._frame = index
        self._show_frame()
        self._rebuild_boxes()
        if changed:
            self.frameChanged.emit(index)

    def current_frame(self) -> int:
        return self._frame

    def set_current_class(self, class_id: int) -> None:
        if class_id != self._class_id:
            self._class_id = class_id
            self.currentClassChanged.emit(class_id)

    def current_class(self) -> int | None:
        """The class a new box gets: the chosen one, else the first class of the project."""
        ids = [c.id for c in self.project.classes()]
        return self._class_id if self._class_id in ids else (ids[0] if ids else None)

    def selected_track(self) -> int | None:
        return self._selected

    def select_track(self, track_id: int | None) -> None:
        self._select(track_id if track_id in self._items else None)

    # ------------------------------------------------------------------ overlays
    def set_detections(self, dets: list[Detection] | None) -> None:
        """Model detections on the shown frame, drawn thin (cleared when the frame changes)."""
        colors = {c.name: c.color for c in self.project.classes()}
        self._overlays.set_detections(list(dets or []), colors)

    @property
    def show_detections(self) -> bool:
        return self._overlays.detections_visible

    @show_detections.setter
    def show_detections(self, on: bool) -> None:
        self._overlays.show_detections(bool(on))

    def set_show_detections(self, on: bool) -> None:
        self.show_detections = on

    def set_heatmap(self, map: np.ndarray | None) -> None:
        """An (h, w) array in [0, 1] for the shown frame, stretched over it (cleared when the
        frame changes); None removes it."""
        v = self._video
        self._overlays.set_heatmap(None if v is None else map, v.width if v else 0,
                                   v.height if v else 0)

    @property
    def show_heatmap(self) -> bool:
        return self._overlays.heatmap.isVisible()

    @show_heatmap.setter
    def show_heatmap(self, on: bool) -> None:
        self._overlays.heatmap.setVisible(bool(on))

    def set_show_heatmap(self, on: bool) -> None:
        self.show_heatmap = on

    @property
    def heatmap_opacity(self) -> float:
        return self._overlays.heatmap.opacity()

    @heatmap_opacity.setter
    def heatmap_opacity(self, value: float) -> None:
        self._overlays.heatmap.setOpacity(min(max(float(value), 0.0), 1.0))

    def set_heatmap_opacity(self, value: float) -> None:
        self.heatmap_opacity = value

    def _clear_overlays(self) -> None:
        self._overlays.set_detections([], {})
        self._overlays.set_heatmap(None, 0, 0)

    # ------------------------------------------------------------------ zoom
    def zoom(self) -> float:
        """Screen pixels per frame pixel."""
        return self.transform().m11()

    def set_zoom(self, zoom: float, anchor: QPoint | None = None) -> None:
        """Zoom to ``zoom``, keeping the frame point under ``anchor`` (a viewport point; the
        centre by default) where it is."""
        zoom = min(max(zoom, ZOOM_RANGE[0]), ZOOM_RANGE[1])
        anchor = self.viewport().rect().center() if anchor is None else anchor
        fixed = self.mapToScene(anchor)
        self._fit = False
        self.setTransform(QTransform.fromScale(zoom, zoom))
        moved = self.mapFromScene(fixed) - anchor
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + moved.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + moved.y())
        self._zoom_changed()

    def fit_to_window(self) -> None:
        if self._video is not None:
            self.fitInView(QRectF(0, 0, self._video.width, self._video.height),
                           Qt.AspectRatioMode.KeepAspectRatio)
        self._fit = True
        self._zoom_changed()

    def _zoom_changed(self) -> None:
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.zoom() < 1.0)
        self.zoomChanged.emit(self.zoom())

    # ------------------------------------------------------------------ edits
    def delete_selected(self) -> None:
        """Delete the selected box's keyframe on this frame (an interpolated box has none)."""
        shown = next((b for b in self._shown() if b.track.id == self._selected), None)
        if shown is not None and shown.keyframe:
            self.undo_stack.push(commands.DeleteBox(self.project, self.events, self._video.id,
                                                    self._frame, self._selected))

    def end_selected_track(self) -> None:
        """The selected actor is last seen on this frame: the track ends after it."""
        if self._selected is not None and self._frame + 1 < self._video.n_frames:
            self.undo_stack.push(commands.EndTrack(self.project, self.events, self._video.id,
                                         self._frame + 1, self._selected))

    def paste_previous(self) -> int:
        """Copy the previous labeled frame's boxes here; returns how many were pasted."""
        if self._video is None:
            return 0
        cmd = commands.PasteBoxes(self.project, self.events, self._video.id, self._frame)
        count = cmd.count
        self.undo_stack.push(cmd)
        return count

    # ------------------------------------------------------------------ mouse
    def mousePressEvent(self, event: QMouseEvent) -> None:
        pos = event.position().toPoint()
        scene = self._scene_point(event)
        button = event.button()
        if self._video is None or self._drag is not None:
            return
        if button in (Qt.MouseButton.MiddleButton, Qt.MouseButton.RightButton) or (
                button == Qt.MouseButton.LeftButton and self._space):
            self._drag = _Drag("pan", pos, scene, pos)
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        if button != Qt.MouseButton.LeftButton:
            return
        item, handle = self._hit(pos)
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            item = None
        if item is None:
            self._select(None)
            if self.current_class() is not None:
                self._drag = _Drag("draw", pos, scene, pos)
            return
        self._select(item.track_id)
        kind = "move" if handle is None else "resize"
        self._drag = _Drag(kind, pos, scene, pos, item.track_id, QRectF(item.rect()), handle)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.mousePressEvent(event)  # a quick second press is still a press

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        drag = self._drag
        if drag is None:
            return super().mouseMoveEvent(event)
        pos = event.position().toPoint()
        scene = self._scene_point(event)
        if drag.kind == "pan":
            delta = pos - drag.last_view
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
        elif drag.kind == "draw":
            self._rubber.setRect(QRectF(drag.start_scene, scene).normalized())
            self._rubber.show()
        elif drag.track_id in self._items:
            self._items[drag.track_id].set_box_rect(self._dragged_rect(drag, scene))
        drag.last_view = pos

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        drag = self._drag
        if drag is None or event.button() not in (Qt.MouseButton.LeftButton,
                                                  Qt.MouseButton.MiddleButton,
                                                  Qt.MouseButton.RightButton):
            return super().mouseReleaseEvent(event)
        self._drag = None
        if self._stale:
            self._stale = False
            self._reload()
        self._rubber.hide()
        self.viewport().unsetCursor()
        pos = event.position().toPoint()
        moved = pos - drag.start_view
        if drag.kind == "pan":
            return
        if drag.kind == "draw":
            if abs(moved.x()) >= MIN_DRAG_PX and abs(moved.y()) >= MIN_DRAG_PX:
                rect = QRectF(drag.start_scene, self._scene_point(event)).normalized()
                self._add_box(rect)
            return
        if moved.manhattanLength() < MIN_DRAG_PX or drag.track_id not in self._items:
            self._rebuild_boxes()  # a click: put back any preview
            return
        box = self._clipped(self._dragged_rect(drag, self._scene_point(event)))
        if box is None:
            self._rebuild_boxes()
        else:
            self.undo_stack.push(commands.EditBox(self.project, self.events, self._video.id,
                                                  self._frame, drag.track_id, box))

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120
        if self._video is None or not steps:
            return
        self.set_zoom(self.zoom() * 1.25 ** steps, event.position().toPoint())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._fit:
            self.fit_to_window()

    # ------------------------------------------------------------------ keys
    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space = True
                self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        elif key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.delete_selected()
        elif key == Qt.Key.Key_Escape:
            self._drag = None
            self._rubber.hide()
            self._rebuild_boxes()
            self._select(None)
        elif Qt.Key.Key_1 <= key <= Qt.Key.Key_9 and not (
                event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier):
            self._class_key(key - Qt.Key.Key_0)
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.viewport().unsetCursor()
        else:
            super().keyReleaseEvent(event)

    def _class_key(self, digit: int) -> None:
        chosen = class_keys(self.project.classes()).get(digit)
        if chosen is None:
            return
        track = self._labels.track(self._selected)
        if track is None:
            self.set_current_class(chosen.id)
        elif track.class_id != chosen.id:
            self.undo_stack.push(commands.SetBoxClass(self.project, self.events, self._video.id,
                                                      self._frame, self._selected, chosen.id))

    # ------------------------------------------------------------------ internals
    def _scene_point(self, event: QMouseEvent) -> QPointF:
        return self.mapToScene(event.position().toPoint())

    def _hit(self, pos: QPoint) -> tuple[BoxItem | None, int | None]:
        for item in self.items(pos):
            if isinstance(item, HandleItem) and item.isVisible():
                return item.parentItem(), item.index
            owner = item if isinstance(item, BoxItem) else item.parentItem()
            if isinstance(owner, BoxItem):
                return owner, None
        return None, None

    def _dragged_rect(self, drag: _Drag, scene: QPointF) -> QRectF:
        assert drag.rect is not None
        if drag.kind == "resize":
            return resize_rect(drag.rect, drag.handle, scene)
        return moved_rect(drag.rect, scene - drag.start_scene, self._video.width,
                          self._video.height)

    def _clipped(self, rect: QRectF) -> Box | None:
        values = (rect.left(), rect.top(), rect.right(), rect.bottom())
        try:
            return clip_box([round(v, 2) for v in values], self._video.width, self._video.height)
        except BoxError:
            return None

    def _add_box(self, rect: QRectF) -> None:
        box, class_id = self._clipped(rect), self.current_class()
        if box is None or class_id is None:
            return
        cmd = commands.AddBox(self.project, self.events, self._video.id, self._frame, class_id,
                              box)
        self.undo_stack.push(cmd)
        self._select(cmd.track_id)

    def _shown(self) -> list[FrameBox]:
        return self._labels.on_frame(self._frame) if self._video is not None else []

    def _select(self, track_id: int | None) -> None:
        for tid, item in self._items.items():
            item.set_selected(tid == track_id)
            item.setZValue(4 if tid == track_id else item.data(0))
        if track_id != self._selected:
            self._selected = track_id
            self.selectionChanged.emit(track_id)

    def _on_labels_changed(self, video_id: int, frame: int) -> None:
        if self._video is not None and video_id == self._video.id:
            if self._drag is not None:  # another window's edit: never pull a box from under
                self._stale = True      # the pointer; re-read when the drag ends
                return
            self._reload()

    def _reload(self) -> None:
        """Re-read the video's tracks (boxes per frame are computed once per change)."""
        video_id = None if self._video is None else self._video.id
        self._labels = VideoTracks(self.project, video_id)
        self._rebuild_boxes()

    def replace_frames(self, frames: FrameCache, full: Callable[[], FrameCache] | None = None
                       ) -> None:  # fmt: skip
        """Take frames from ``frames`` from now on (the video's proxy is ready), keeping the
        frame, the view and the selection; the caller closes the old cache."""
        self._frames = frames
        self._set_full(full if frames.proxy else None)
        if self._video is not None:
            self._show_frame()

    def shows_full_resolution(self) -> bool:
        """Whether the frame on screen has the video's own resolution (not the proxy's)."""
        pixmap = self._pixmap.pixmap()
        return self._video is not None and pixmap.width() == self._video.width

    def _set_full(self, full: Callable[[], FrameCache] | None) -> None:
        if self._full is not None:
            self._full.close()
            self._full.deleteLater()
            self._full = None
        if full is not None:
            self._full = FullFrameLoader(full, parent=self)
            self._full.ready.connect(self._full_frame_ready)

    def _full_frame_ready(self, index: int, rgb: np.ndarray) -> None:
        if self._video is not None and index == self._frame and self.sender() is self._full:
            self._put_pixmap(rgb)

    def _show_frame(self) -> None:
        rgb = None
        if self._frames is not None:
            try:
                rgb = self._frames.get(self._frame)
            except VideoError:
                rgb = None  # a frame that cannot be decoded shows grey; its boxes still show
        self._put_pixmap(rgb)
        if self._full is not None:
            self._full.request(self._frame)

    def _put_pixmap(self, rgb: np.ndarray | None) -> None:
        """Show a frame, stretched to the video's size if it is smaller (a proxy's): scene
        coordinates stay the video's pixels whatever the frame's."""
        video = self._video
        assert video is not None
        self._pixmap.setPixmap(frame_pixmap(rgb, video.width, video.height))
        if rgb is None or (rgb.shape[1], rgb.shape[0]) == (video.width, video.height):
            self._pixmap.setTransform(QTransform())
        else:
            self._pixmap.setTransform(QTransform.fromScale(video.width / rgb.shape[1],
                                                           video.height / rgb.shape[0]))

    def _rebuild_boxes(self) -> None:
        for item in self._items.values():
            self.scene().removeItem(item)
        self._items = {}
        classes = {c.id: c for c in self.project.classes()}
        area = max(1, (self._video.width * self._video.height) if self._video else 1)
        for shown in self._shown():
            track, (x1, y1, x2, y2) = shown.track, shown.box
            cls = classes.get(track.class_id)
            if cls is None or track.id is None:
                continue
            rect = QRectF(QPointF(x1, y1), QPointF(x2, y2))
            item = BoxItem(track.id, rect, QColor(cls.color), f"{cls.name} #{track.actor}",
                           keyframe=shown.keyframe)
            item.setData(0, 3 - rect.width() * rect.height() / area)  # small boxes on top
            self.scene().addItem(item)
            self._items[track.id] = item
        self._select(self._selected if self._selected in self._items else None)


if __name__ == "__main__":  # a quick look: python -m halgui.gui.canvas PROJECT [VIDEO_NAME]
    import sys

    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv)
    with Project.open(sys.argv[1]) as proj:
        video = proj.video_by_name(sys.argv[2]) if sys.argv[2:] else next(iter(proj.videos()), None)
        cache = FrameCache.for_record(video) if video is not None and video.path else None
        canvas = Canvas(proj, QUndoStack(), LabelEvents())
        canvas.resize(1000, 700)
        canvas.show()
        canvas.set_video(video, cache)
        app.exec()
        if cache is not None:
            cache.close()
