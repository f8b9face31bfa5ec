"""Proxies in the app: built in the background when a project opens, shown stretched to the
video's size (boxes stay in video pixels), the full frame swapped in when the playhead rests,
and a failed build leaving the video on its source with the reason shown."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QImage

from halgui.core.frame_cache import FrameCache
from halgui.core.progress import run_to_end
from halgui.core.proxy import ProxyConfig, ProxyStore, build_proxies, wanted_proxies
from halgui.gui.canvas import Canvas
from halgui.gui.full_frame import source_frames
from halgui.gui.main_window import MainWindow
from tests.gui.conftest import VIDEO_SIZE
from tests.gui.test_canvas import drag_scene

SMALL = ProxyConfig(height=60)  # the 160x120 test video gets an 80x60 proxy


@pytest.fixture
def proxy_frames(project, video):
    store = ProxyStore.for_project(project, SMALL)
    report = run_to_end(build_proxies(store, wanted_proxies(project, store)))
    assert report is not None and report.built == [video.name]
    cache = FrameCache.for_record(video, proxies=store)
    assert cache.proxy and cache.info.width == 80
    yield cache
    cache.close()


def _shown(canvas: Canvas) -> np.ndarray:
    """The pixels of the frame on the canvas, as an (H, W, 3) RGB array."""
    image = canvas._pixmap.pixmap().toImage().convertToFormat(QImage.Format.Format_RGB888)
    w, h, line = image.width(), image.height(), image.bytesPerLine()
    rows = np.frombuffer(image.constBits(), np.uint8, count=h * line).reshape(h, line)
    return rows[:, : w * 3].reshape(h, w, 3).copy()


def test_proxy_frames_fill_the_video_and_boxes_are_in_video_pixels(
        qtbot, project, video, undo_stack, events, proxy_frames):
    canvas = Canvas(project, undo_stack, events)
    qtbot.addWidget(canvas)
    canvas.resize(480, 360)
    canvas.show()
    qtbot.waitExposed(canvas)
    canvas.set_video(video, proxy_frames, source_frames(video))
    canvas.set_frame(5)
    assert not canvas.shows_full_resolution()
    item = canvas._pixmap
    assert item.mapRectToScene(item.boundingRect()).size().toSize().toTuple() == VIDEO_SIZE
    pa, pb = drag_scene(qtbot, canvas, (20, 30), (140, 110))
    (track,) = project.tracks(video.id)
    box = track.keyframes[0].box
    assert box.as_tuple() == pytest.approx((*pa, *pb), abs=0.01)
    assert box.as_tuple() == pytest.approx((20, 30, 140, 110), abs=1.5)  # not halved
    # At rest, the frame from the video itself replaces the proxy's.
    qtbot.waitUntil(canvas.shows_full_resolution, timeout=5000)
    with FrameCache(video.path) as source:
        assert np.array_equal(_shown(canvas), source.get(5))
    canvas.set_frame(6)
    assert not canvas.shows_full_resolution()
    canvas.set_video(None, None)


def test_a_stale_full_frame_is_not_shown(qtbot, project, video, undo_stack, events,
                                         proxy_frames):
    canvas = Canvas(project, undo_stack, events)
    qtbot.addWidget(canvas)
    canvas.set_video(video, proxy_frames, source_frames(video))
    canvas.set_frame(3)
    for index in range(4, 12):  # moving faster than the rest delay: never the full frame
        qtbot.wait(100)
        canvas.set_frame(index)
        assert not canvas.shows_full_resolution()
    canvas.set_video(None, None)


@pytest.fixture
def window(qtbot, tmp_path):
    win = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    yield win
    win.close()


def test_opening_a_project_builds_proxies_and_switches_the_video_to_its_proxy(
        qtbot, window, project, video):
    folder = project.folder
    project.close()
    with qtbot.waitSignal(window.proxies.built, timeout=20000) as built:
        assert window.open_project(folder)
        assert window.proxies.is_running()
        assert not window.frames.proxy  # the source until the proxy is ready
        window.canvas.set_frame(9)
    assert built.args == [[video.name]]
    assert window.frames.proxy and window.canvas.current_frame() == 9
    assert list((folder / "cache" / "proxies").glob("*.mp4"))
    assert window.proxies.label.text() == ""
    window.close_project()
    assert window.open_project(folder)  # built once: nothing to do now
    assert window.frames.proxy and not window.proxies.is_running()


def test_a_failed_build_shows_why_and_the_video_still_plays(qtbot, window, project, video):
    folder = project.folder
    project.close()
    (folder / "cache").mkdir(exist_ok=True)
    (folder / "cache" / "proxies").write_text("not a folder")
    with qtbot.waitSignal(window.proxies.message, timeout=20000) as message:
        window.open_project(folder)
    assert message.args[0].startswith("No proxy: ") and "cannot write to" in message.args[0]
    assert window.proxies.label.text() == "No proxy for 1 video(s)"
    assert "cannot write to" in window.proxies.label.toolTip()
    assert not window.frames.proxy
    window.canvas.set_frame(17)
    assert window.frames.get(17).shape == (*VIDEO_SIZE[::-1], 3)
    assert window.canvas.shows_full_resolution()


def test_proxy_settings_dialog_saves_and_a_smaller_budget_trims(qtbot, window, project, video,
                                                               monkeypatch):
    from halgui.core.proxy import ProxySettings
    from halgui.gui.dialogs.proxy_settings import ProxySettingsDialog

    folder = project.folder
    project.close()
    with qtbot.waitSignal(window.proxies.built, timeout=20000):
        window.open_project(folder)
    assert len(window.proxies.store.usage()) == 1

    def answer(dialog: ProxySettingsDialog) -> int:
        assert dialog.enabled.isChecked() and dialog.budget.value() == 4096
        dialog.budget.setValue(0)
        return 1

    monkeypatch.setattr(ProxySettingsDialog, "exec", answer)
    with qtbot.waitSignal(window.proxies.message, timeout=20000) as message:
        window.proxy_settings()
    assert ProxySettings.load(window.project) == ProxySettings(True, 0)
    assert window.proxies.store.usage() == []  # trimmed to the new budget
    assert "disk budget of 0 MiB" in message.args[0]  # and the rebuild does not fit

    def switch_off(dialog: ProxySettingsDialog) -> int:
        dialog.enabled.setChecked(False)
        dialog.budget.setValue(100)
        return 1

    monkeypatch.setattr(ProxySettingsDialog, "exec", switch_off)
    window.proxy_settings()
    assert ProxySettings.load(window.project) == ProxySettings(False, 100)
    assert not window.proxies.is_running()


def test_videos_added_in_the_app_get_their_proxy(qtbot, window, tmp_path):
    from halgui.core.project import Project
    from tests.core.videos import write_mp4

    folder = tmp_path / "empty"
    Project.create(folder).close()
    window.open_project(folder)
    assert not window.proxies.is_running()
    clip = write_mp4(tmp_path / "new.mp4", n_frames=15)
    with qtbot.waitSignal(window.proxies.built, timeout=20000) as built:
        window.add_videos([clip])
    assert built.args == [["new"]]
    assert window.video is not None and window.frames.proxy
