"""Opening a video in the main window reads it through its stored record: the file is not
hashed again, and the frames shown are the file's."""

import hashlib
from types import SimpleNamespace

import numpy as np
from PySide6.QtCore import QSettings

import halgui.core.video as video_module
from halgui.core.video import open_video
from halgui.gui import main_window as mw
from halgui.gui.main_window import MainWindow
from tests.gui.conftest import VIDEO_FRAMES


def test_opening_a_video_does_not_hash_its_file_again(qtbot, tmp_path, project, video,
                                                      monkeypatch):
    hashed = []

    def sha256(*args):
        hashed.append(args)
        return hashlib.sha256(*args)

    errors = []
    monkeypatch.setattr(mw, "show_error", lambda parent, title, error: errors.append(error))
    monkeypatch.setattr(video_module, "hashlib", SimpleNamespace(sha256=sha256))
    window = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    try:
        assert window.open_project(project.folder)  # opens its first (only) video
        window.open_video(video.id)  # and again
        assert errors == [] and len(hashed) == 0
        assert window.frames is not None and len(window.frames) == VIDEO_FRAMES
        with open_video(video.path) as reader:
            for i in (0, 7, VIDEO_FRAMES - 1):
                assert np.array_equal(window.frames.get(i), reader.read(i))
    finally:
        window.close()
