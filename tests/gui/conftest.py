"""Fixtures for GUI tests: a real project with a real small video, label plumbing, QSettings in
tmp_path (so no test reads or writes the user's settings)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QMessageBox

from halgui.core.frame_cache import FrameCache
from halgui.core.ingest import add_videos
from halgui.core.progress import run_to_end
from halgui.core.project import Project, VideoRecord
from halgui.gui.label_events import LabelEvents
from tests.core.videos import write_mp4

VIDEO_SIZE = (160, 120)
VIDEO_FRAMES = 20


@pytest.fixture(autouse=True)
def qsettings_in_tmp(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "settings"
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
        QSettings.setPath(QSettings.Format.IniFormat, scope, str(folder))
    yield folder


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    """A project with one 160x120, 20-frame video and two classes: walk (1) and run (2)."""
    clip = write_mp4(tmp_path / "clip.mp4", n_frames=VIDEO_FRAMES, size=VIDEO_SIZE)
    p = Project.create(tmp_path / "proj")
    run_to_end(add_videos(p, [clip]))
    p.add_class("walk", "#1f77b4", "1")
    p.add_class("run", "#d62728", "2")
    yield p
    p.close()


@pytest.fixture
def video(project: Project) -> VideoRecord:
    return project.videos()[0]


@pytest.fixture
def class_ids(project: Project) -> dict[str, int]:
    return {c.name: c.id for c in project.classes()}


@pytest.fixture
def frames(video: VideoRecord) -> Iterator[FrameCache]:
    assert video.path is not None
    cache = FrameCache(video.path)
    yield cache
    cache.close()


@pytest.fixture
def events(qapp) -> LabelEvents:
    return LabelEvents()


@pytest.fixture
def undo_stack(qapp) -> QUndoStack:
    return QUndoStack()


@pytest.fixture
def messages(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every message box shown, as (title, text), answered OK at once instead of waiting."""
    shown: list[tuple[str, str]] = []

    def record(box: QMessageBox) -> QMessageBox.StandardButton:
        shown.append((box.windowTitle(), box.text()))
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "exec", record)
    return shown


@pytest.fixture
def reopened(project: Project) -> Iterator[Callable[[], Project]]:
    """Open the same project folder on a fresh connection: sees only what was committed."""
    opened: list[Project] = []

    def open_again() -> Project:
        p = Project.open(project.folder)
        opened.append(p)
        return p

    yield open_again
    for p in opened:
        p.close()
