"""What the canvas draws: the frame, label boxes with handles, model detections and the
uncertainty heatmap, plus the box geometry of drags. Drawing only: what a box means and what an
edit does is the canvas's and the commands' business.

Scene coordinates are original-frame pixels, so an item's rect is the box itself. Pens are
cosmetic and labels and handles ignore the view's transform: they keep their size on screen at
any zoom.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QPainter,
    QPen,
    QPixmap,
    QTransform,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QStyleOptionGraphicsItem,
    QWidget,
)

__all__ = [
    "HANDLE_CURSORS",
    "BoxItem",
    "Detection",
    "DetectionItem",
    "HandleItem",
    "Overlays",
    "frame_pixmap",
    "heatmap_image",
    "moved_rect",
    "resize_rect",
    "rubber_band",
]

Detection = tuple[float, float, float, float, str, float]  # x1, y1, x2, y2, label, score

HANDLE_PX = 8
# Handles clockwise from the top-left corner: 0 TL, 1 T, 2 TR, 3 R, 4 BR, 5 B, 6 BL, 7 L.
HANDLE_CURSORS = (
    Qt.CursorShape.SizeFDiagCursor, Qt.CursorShape.SizeVerCursor, Qt.CursorShape.SizeBDiagCursor,
    Qt.CursorShape.SizeHorCursor, Qt.CursorShape.SizeFDiagCursor, Qt.CursorShape.SizeVerCursor,
    Qt.CursorShape.SizeBDiagCursor, Qt.CursorShape.SizeHorCursor,
)
_IGNORES_TRANSFORM = QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations


def _handle_points(r: QRectF) -> list[QPointF]:
    cx, cy = r.center().x(), r.center().y()
    return [QPointF(r.left(), r.top()), QPointF(cx, r.top()), QPointF(r.right(), r.top()),
            QPointF(r.right(), cy), QPointF(r.right(), r.bottom()), QPointF(cx, r.bottom()),
            QPointF(r.left(), r.bottom()), QPointF(r.left(), cy)]


def resize_rect(rect: QRectF, handle: int, pos: QPointF) -> QRectF:
    """``rect`` with the edges that ``handle`` holds moved to ``pos`` (normalised: dragging a
    handle past the opposite edge flips the box instead of making it negative)."""
    x1, y1, x2, y2 = rect.left(), rect.top(), rect.right(), rect.bottom()
    if handle in (0, 6, 7):
        x1 = pos.x()
    if handle in (2, 3, 4):
        x2 = pos.x()
    if handle in (0, 1, 2):
        y1 = pos.y()
    if handle in (4, 5, 6):
        y2 = pos.y()
    return QRectF(QPointF(x1, y1), QPointF(x2, y2)).normalized()


def moved_rect(rect: QRectF, delta: QPointF, width: float, height: float) -> QRectF:
    """``rect`` moved by ``delta`` as far as it can go without leaving a width x height frame."""
    dx = min(max(delta.x(), -rect.left()), width - rect.right())
    dy = min(max(delta.y(), -rect.top()), height - rect.bottom())
    return rect.translated(dx, dy)


def frame_pixmap(rgb: np.ndarray | None, width: int, height: int) -> QPixmap:
    """A frame (H, W, 3) RGB uint8 as a pixmap; None gives a grey frame of the given size."""
    if rgb is None:
        pixmap = QPixmap(width, height)
        pixmap.fill(QColor(70, 70, 70))
        return pixmap
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    image = QImage(rgb.data, w, h, rgb.strides[0], QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image)  # copies the pixels while rgb is alive


def rubber_band() -> QGraphicsRectItem:
    """The dashed rectangle shown while a new box is dragged out (hidden until then)."""
    item = QGraphicsRectItem()
    pen = QPen(QColor("white"), 1, Qt.PenStyle.DashLine)
    pen.setCosmetic(True)
    item.setPen(pen)
    item.setZValue(10)
    item.hide()
    return item


class _Label(QGraphicsItem):
    """A small text tag on a coloured background, drawn just above its anchor point (or just
    below it)."""

    def __init__(self, text: str, color: QColor, parent: QGraphicsItem, *,
                 below: bool = False) -> None:
        super().__init__(parent)
        self.setFlag(_IGNORES_TRANSFORM)
        self._text = text
        self._color = color
        self._font = QFont()
        self._font.setPixelSize(11)
        m = QFontMetricsF(self._font)
        height = m.height() + 2
        self._rect = QRectF(0, 0 if below else -height, m.horizontalAdvance(text) + 6, height)

    def text(self) -> str:
        return self._text

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        painter.fillRect(self._rect, self._color)
        light = self._color.lightnessF() > 0.6
        painter.setPen(Qt.GlobalColor.black if light else Qt.GlobalColor.white)
        painter.setFont(self._font)
        painter.drawText(self._rect.adjusted(3, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter, self._text)


class HandleItem(QGraphicsRectItem):
    """One of the eight resize handles of the selected box; ``index`` says which (0 = top-left,
    clockwise)."""

    def __init__(self, index: int, color: QColor, parent: QGraphicsItem) -> None:
        half = HANDLE_PX / 2
        super().__init__(-half, -half, HANDLE_PX, HANDLE_PX, parent)
        self.index = index
        self.setFlag(_IGNORES_TRANSFORM)
        self.setBrush(QBrush(Qt.GlobalColor.white))
        pen = QPen(color, 1)
        pen.setCosmetic(True)
        self.setPen(pen)
        self.setCursor(HANDLE_CURSORS[index])


class BoxItem(QGraphicsRectItem):
    """A track's box on the shown frame: solid for a keyframe, dashed for an interpolated box,
    in the class colour, tagged ``"class #actor"``; handles when selected."""

    def __init__(self, track_id: int, rect: QRectF, color: QColor, label: str, *,
                 keyframe: bool) -> None:
        super().__init__(rect)
        self.track_id = track_id
        self.keyframe = keyframe
        self._color = QColor(color)
        self._selected = False
        self._label = _Label(label, self._color, self)
        self._handles = [HandleItem(i, self._color, self) for i in range(8)]
        self.setCursor(Qt.CursorShape.SizeAllCursor)
        self._restyle()
        self._place_children()

    def label_text(self) -> str:
        return self._label.text()

    def is_selected(self) -> bool:
        return self._selected

    def set_selected(self, selected: bool) -> None:
        self._selected = selected
        self._restyle()

    def set_box_rect(self, rect: QRectF) -> None:
        """Show the box at ``rect`` (a live preview while it is dragged)."""
        self.setRect(rect)
        self._place_children()

    def _restyle(self) -> None:
        pen = QPen(self._color, 3 if self._selected else 2)
        pen.setCosmetic(True)
        pen.setStyle(Qt.PenStyle.SolidLine if self.keyframe else Qt.PenStyle.DashLine)
        self.setPen(pen)
        fill = QColor(self._color)
        fill.setAlpha(45 if self._selected else 0)
        self.setBrush(QBrush(fill))
        for h in self._handles:
            h.setVisible(self._selected)

    def _place_children(self) -> None:
        r = self.rect()
        self._label.setPos(r.topLeft())
        for h, p in zip(self._handles, _handle_points(r), strict=True):
            h.setPos(p)


class DetectionItem(QGraphicsRectItem):
    """A model detection: a thin box with its label and score; not editable."""

    def __init__(self, rect: QRectF, color: QColor, text: str) -> None:
        super().__init__(rect)
        pen = QPen(color, 1)
        pen.setCosmetic(True)
        self.setPen(pen)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        faded = QColor(color)
        faded.setAlpha(170)
        _Label(text, faded, self, below=True).setPos(rect.bottomLeft())


def heatmap_image(values: np.ndarray) -> QImage:
    """An (h, w) array in [0, 1] as an RGBA image: a "hot" colour ramp whose opacity grows with
    the value, so low uncertainty leaves the frame visible."""
    v = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float32)), 0.0, 1.0)
    if v.ndim != 2:
        raise ValueError(f"a heatmap is a 2-D array, not shape {v.shape}")
    rgba = np.empty((*v.shape, 4), dtype=np.uint8)
    for channel, offset in enumerate((0.0, 1.0, 2.0)):
        rgba[..., channel] = (np.clip(3.0 * v - offset, 0.0, 1.0) * 255).astype(np.uint8)
    rgba[..., 3] = (np.sqrt(v) * 255).astype(np.uint8)
    h, w = v.shape
    image = QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888)
    return image.copy()  # own the pixels: rgba goes away when this returns


class Overlays:
    """The model's view of a frame, over it: detections (z 2) and the heatmap (z 1)."""

    def __init__(self, scene: QGraphicsScene) -> None:
        self._scene = scene
        self._detections: list[DetectionItem] = []
        self.detections_visible = True
        self.heatmap = QGraphicsPixmapItem()
        self.heatmap.setZValue(1)
        self.heatmap.setOpacity(0.5)
        self.heatmap.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        scene.addItem(self.heatmap)

    def set_detections(self, dets: list[Detection], colors: dict[str, str]) -> None:
        """Draw ``dets``; a label that names a class gets the class colour."""
        for item in self._detections:
            self._scene.removeItem(item)
        self._detections = []
        for x1, y1, x2, y2, label, score in dets:
            rect = QRectF(QPointF(x1, y1), QPointF(x2, y2)).normalized()
            item = DetectionItem(rect, QColor(colors.get(label, "#ffd400")), f"{label} {score:.2f}")
            item.setZValue(2)
            item.setVisible(self.detections_visible)
            self._scene.addItem(item)
            self._detections.append(item)

    def show_detections(self, on: bool) -> None:
        self.detections_visible = on
        for item in self._detections:
            item.setVisible(on)

    def set_heatmap(self, values: np.ndarray | None, width: int, height: int) -> None:
        """Stretch an (h, w) map in [0, 1] over a width x height frame; None removes it."""
        if values is None:
            self.heatmap.setPixmap(QPixmap())
            return
        h, w = np.shape(values)
        self.heatmap.setPixmap(QPixmap.fromImage(heatmap_image(values)))
        self.heatmap.setTransform(QTransform.fromScale(width / w, height / h))
