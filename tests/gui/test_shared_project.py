"""The main window on a shared project: opened by its PostgreSQL URL (a real server,
tests.core.pg_server), edits land in the database, where another labeler's copy reads them."""

import pytest
from PySide6.QtCore import QSettings

from halgui.core.ingest import add_videos
from halgui.core.locations import create_project, local_folder, open_project
from halgui.core.progress import run_to_end
from halgui.gui import main_window as mw
from halgui.gui.main_window import MainWindow
from halgui.gui.start_page import recent_projects
from tests.core.videos import write_mp4


@pytest.fixture
def shared(pg, tmp_path, monkeypatch):
    """A shared project with two classes and one 30-frame video."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    url = pg.new_database()
    with create_project(url) as project:
        project.add_class("walk")
        project.add_class("wave")
        run_to_end(add_videos(project, [write_mp4(tmp_path / "a.mp4", n_frames=30)]))
    yield url
    pg.drop_database(url)


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr(mw, "show_error", lambda parent, title, error: shown.append(str(error)))
    win = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    win.errors = shown  # type: ignore[attr-defined]
    yield win
    win.close()


def test_a_window_opens_a_shared_project_by_url_and_writes_to_its_database(window, shared):
    assert window.open_project(shared), window.errors
    name = shared.split("?")[0].rsplit("/", 1)[-1]
    assert window.windowTitle() == f"{name} - halgui"
    assert window.project is not None and window.project.url == shared
    assert window.project.folder == local_folder(shared)  # caches: this computer's own
    assert window.video is not None and window.video.name == "a"
    assert recent_projects(window.settings) == []  # recent projects are folders
    window.label_panel.mark_labeled()  # an edit, as the labeler makes it
    frame = window.canvas.current_frame()
    with open_project(shared) as other:  # another labeler's desktop
        assert other.labeled_frames(window.video.id) == {frame}


def test_a_shared_project_that_cannot_be_reached_is_one_message(window, tmp_path):
    url = f"postgresql://ann:secret@/nodb?host={tmp_path}&port=5999"
    assert not window.open_project(url)
    assert len(window.errors) == 1 and "cannot be reached" in window.errors[0]
    assert "secret" not in window.errors[0] and window.project is None
