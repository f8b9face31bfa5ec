"""Drives the real app in its own process on a real X display (run by test_demo_e2e.py).

``python -m tests.e2e.drive_demo draw PROJECT SETTINGS OUT``: open the project in the main
window, double-click the first video with nothing labeled, step to frame 10 with the arrow key,
draw a box with the mouse, mark the frame labeled (L), step on and back, save screenshots, print
what the store holds as one JSON line, then wait for a line on stdin and quit.

``python -m tests.e2e.drive_demo check SETTINGS OUT VIDEO_ID``: start the app as a user would
(it reopens the last project), open that video on frame 10 and print what the store and the
canvas hold.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PySide6.QtCore import QPoint, QPointF, QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from halgui.gui.app import make_app, make_window
from halgui.gui.box_item import BoxItem
from halgui.gui.video_list import VideoListModel

FRAME = 10
BOX = ((40.0, 30.0), (95.0, 100.0))  # frame pixels of the 160x120 demo videos


def settle(ms: int = 50) -> None:
    QTest.qWait(ms)


def key(window, k: Qt.Key, times: int = 1) -> None:
    for _ in range(times):
        QTest.keyClick(window.canvas, k)
        settle(20)


def screenshot(window, path: Path) -> None:
    """What the X server shows of the window (QScreen.grabWindow of the root window)."""
    settle(300)
    geometry = window.frameGeometry()
    image = window.screen().grabWindow(0, geometry.x(), geometry.y(), geometry.width(),
                                       geometry.height())
    path.parent.mkdir(parents=True, exist_ok=True)
    assert image.save(str(path)), f"could not save {path}"


def state(window, video_id: int) -> dict:
    project = window.project
    boxes = [item for item in window.canvas.scene().items() if isinstance(item, BoxItem)]
    return {
        "project": str(project.folder),
        "video_id": video_id,
        "video": window.video.name,
        "frame": window.canvas.current_frame(),
        "keyframes": [[t.class_id, k.frame, list(k.box.as_tuple())]
                      for t in project.tracks(video_id) for k in t.keyframes],
        "labeled": sorted(project.labeled_frames(video_id)),
        "boxes_on_canvas": len(boxes),
        "platform": QApplication.platformName(),
    }


def show(window) -> None:
    window.resize(1400, 860)
    window.show()
    assert QTest.qWaitForWindowExposed(window, 10000), "the window was never exposed"
    window.activateWindow()
    QTest.qWaitForWindowActive(window, 5000)
    settle(200)


def draw(project: Path, settings: Path, out: Path) -> None:
    make_app()
    window = make_window(project, QSettings(str(settings), QSettings.Format.IniFormat))
    show(window)
    table, model = window.video_list.table, window.video_list.model
    row = next(r for r in range(model.rowCount())
               if model.index(r, 0).data(VideoListModel.StatusRole) == "to label")
    video_id = model.summary(row).video_id
    index = window.video_list.proxy.mapFromSource(model.index(row, 0))
    table.scrollTo(index)
    center = table.visualRect(index).center()
    QTest.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=center)
    QTest.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=center)
    settle(200)
    assert window.video is not None and window.video.id == video_id, "double-click did not open"
    key(window, Qt.Key.Key_Right, FRAME)
    canvas = window.canvas
    a, b = (canvas.mapFromScene(QPointF(*p)) for p in BOX)
    viewport = canvas.viewport()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    for t in (0.25, 0.5, 0.75, 1.0):
        QTest.mouseMove(viewport, QPoint(round(a.x() + t * (b.x() - a.x())),
                                         round(a.y() + t * (b.y() - a.y()))))
        settle(20)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, b)
    settle(100)
    key(window, Qt.Key.Key_L)
    key(window, Qt.Key.Key_Right, 3)
    key(window, Qt.Key.Key_Left, 3)
    screenshot(window, out / "e2e_drawn.png")
    print(json.dumps(state(window, video_id)), flush=True)
    sys.stdin.readline()  # the test takes its own screenshot of the X display meanwhile
    window.close()


def check(settings: Path, out: Path, video_id: int) -> None:
    make_app()
    window = make_window(None, QSettings(str(settings), QSettings.Format.IniFormat))
    show(window)
    assert window.project is not None, "the last project was not reopened"
    window.open_video(video_id)
    window.timeline.player.request(FRAME)
    settle(200)
    screenshot(window, out / "e2e_reopened.png")
    print(json.dumps(state(window, video_id)), flush=True)
    window.close()


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    if mode == "draw":
        draw(Path(args[0]), Path(args[1]), Path(args[2]))
    else:
        check(Path(args[0]), Path(args[1]), int(args[2]))
