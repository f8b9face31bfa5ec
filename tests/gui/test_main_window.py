"""The main window over a real project: opening, the first video, navigation, jobs, settings."""

import pytest
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDropEvent

from halgui.core.ingest import add_videos
from halgui.core.progress import run_to_end
from halgui.core.project import Project
from halgui.gui import main_window as mw
from halgui.gui.main_window import MainWindow
from tests.core.videos import write_mp4


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def errors(monkeypatch):
    shown = []
    monkeypatch.setattr(mw, "show_error", lambda parent, title, error: shown.append(str(error)))
    return shown


@pytest.fixture
def project_dir(tmp_path):
    folder = tmp_path / "proj"
    videos = tmp_path / "videos"
    videos.mkdir()
    with Project.create(folder) as project:
        project.add_class("walk")
        project.add_class("wave")
        run_to_end(add_videos(project, [write_mp4(videos / "a.mp4", n_frames=30),
                                        write_mp4(videos / "b.mp4", n_frames=12, seed=1)]))
        with project.transaction() as c:
            rid = c.execute("INSERT INTO rounds (number, strategy, started_at)"
                            " VALUES (0, 'test', 'now')").lastrowid
            c.executemany("INSERT INTO proposals VALUES (?, 1, ?, 0.5, ?)",
                          [(rid, 20, 0), (rid, 7, 1)])
    return folder


@pytest.fixture
def window(qtbot, settings, errors):
    win = MainWindow(settings)
    qtbot.addWidget(win)
    yield win
    win.close()


def test_opens_a_project_at_the_first_proposed_frame(qtbot, window, project_dir, errors):
    assert window.open_project(project_dir)
    with qtbot.waitExposed(window):
        window.show()
    assert window.video is not None and window.video.name == "a"
    assert window.frames is not None and window.frames.info.n_frames == 30
    assert window.center.currentWidget() is window.canvas
    assert window.canvas.current_frame() == 20  # rank 0 of the round
    assert window.timeline.timeline.n_frames == 30
    assert window.timeline.timeline.proposed == (7, 20)
    assert window.status["frame"].text() == "Frame 21 / 30"
    assert window.video_list.model.rowCount() == 2
    assert "proj" in window.windowTitle()
    assert errors == []


def test_frame_keys_and_next_proposal_move_the_canvas(qtbot, window, project_dir):
    window.open_project(project_dir)
    with qtbot.waitActive(window):
        window.show()
    canvas = window.canvas
    window.timeline.player.request(0)
    qtbot.keyClick(canvas, Qt.Key.Key_Right)
    qtbot.keyClick(canvas, Qt.Key.Key_Period)
    assert canvas.current_frame() == 2
    qtbot.keyClick(canvas, Qt.Key.Key_Left)
    assert canvas.current_frame() == 1
    qtbot.keyClick(canvas, Qt.Key.Key_N)
    assert canvas.current_frame() == 7
    qtbot.keyClick(canvas, Qt.Key.Key_N)
    assert canvas.current_frame() == 20
    assert window.status["frame"].text() == "Frame 21 / 30"
    assert window.timeline.timeline.frame == 20
    qtbot.keyClick(canvas, Qt.Key.Key_P)
    assert canvas.current_frame() == 7


def test_next_proposal_goes_on_to_the_next_video_with_open_proposals(qtbot, window,
                                                                      project_dir):
    with Project.open(project_dir) as p, p.transaction() as c:
        c.executemany("INSERT INTO proposals VALUES (1, 2, ?, 0.4, ?)", [(3, 2), (9, 3)])
        p.set_labeled(2, [3])  # already done: skipped
    window.open_project(project_dir)
    with qtbot.waitActive(window):
        window.show()
    assert (window.video.name, window.canvas.current_frame()) == ("a", 20)
    qtbot.keyClick(window.canvas, Qt.Key.Key_N)  # nothing after 20 in "a"
    assert (window.video.name, window.canvas.current_frame()) == ("b", 9)
    qtbot.keyClick(window.canvas, Qt.Key.Key_N)  # "a" still has frames 7 and 20 open
    assert (window.video.name, window.canvas.current_frame()) == ("a", 20)


def test_double_click_in_the_list_opens_that_video(qtbot, window, project_dir):
    window.open_project(project_dir)
    window.video_list.videoActivated.emit(2)
    assert window.video.name == "b"
    assert window.timeline.timeline.n_frames == 12
    assert window.timeline.timeline.proposed == ()


def test_mark_labeled_refreshes_list_and_timeline(qtbot, window, project_dir):
    window.open_project(project_dir)
    with qtbot.waitActive(window):
        window.show()
    window.timeline.player.request(7)
    with qtbot.waitSignal(window.events.labelsChanged, timeout=2000):
        qtbot.keyClick(window.canvas, Qt.Key.Key_L)  # Label > Mark frame labeled
    assert window.timeline.timeline.labeled == (7,)
    assert window.video_list.model.index(0, 2).data() == "1"
    assert "1/2" in window.timeline.counter.text()
    window.undo_stack.undo()
    assert window.timeline.timeline.labeled == ()
    assert window.video_list.model.index(0, 2).data() == "0"


def test_bad_project_is_a_message_not_a_crash(window, tmp_path, errors):
    assert not window.open_project(tmp_path / "nothing-here")
    assert len(errors) == 1 and "nothing-here" in errors[0]
    assert window.project is None
    assert window.center.currentWidget() is window.start_page


def test_dropped_videos_are_added_in_the_background(qtbot, window, tmp_path):
    folder = tmp_path / "empty"
    with Project.create(folder):
        pass
    window.open_project(folder)
    video = write_mp4(tmp_path / "dropped.mp4", n_frames=9)
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(video))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, data,
                       Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.worker.finished, timeout=10000):
        window.dropEvent(event)
    qtbot.waitUntil(lambda: window.video_list.model.rowCount() == 1, timeout=5000)
    assert window.video is not None and window.video.name == "dropped"


def test_recent_projects_and_geometry_are_remembered(qtbot, settings, project_dir, errors):
    first = MainWindow(settings)
    qtbot.addWidget(first)
    first.open_project(project_dir)
    first.resize(640, 480)
    first.close()
    second = MainWindow(settings)
    qtbot.addWidget(second)
    assert (second.width(), second.height()) == (640, 480)
    second.open_last_or_start()
    assert second.project is not None and second.project.folder == project_dir.resolve()
    assert second.start_page.recent.count() >= 1
    second.close()


def test_a_bad_video_is_reported_with_its_file_and_reason(qtbot, window, tmp_path, errors):
    folder = tmp_path / "p2"
    with Project.create(folder):
        pass
    window.open_project(folder)
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video at all")
    good = write_mp4(tmp_path / "fine.mp4", n_frames=6)
    with qtbot.waitSignal(window.worker.finished, timeout=10000):
        assert window.add_videos([bad, good])
    qtbot.waitUntil(lambda: window.video_list.model.rowCount() == 1, timeout=5000)
    assert len(errors) == 1 and str(bad) in errors[0]


@pytest.mark.slow
def test_open_the_demo_makes_it_in_the_background_then_opens_it(qtbot, window, tmp_path,
                                                                 monkeypatch):
    import halgui.core.demo

    monkeypatch.setattr(halgui.core.demo, "default_demo_dir", lambda: tmp_path / "demo")
    with qtbot.waitSignal(window.worker.finished, timeout=120_000):
        window.start_page.demoRequested.emit()
    qtbot.waitUntil(lambda: window.project is not None, timeout=5000)
    assert window.project.folder == (tmp_path / "demo").resolve()
    assert window.video_list.model.rowCount() == 24
    assert window.video is not None


def test_new_project_dialog_checks_and_returns_its_values(qtbot, tmp_path):
    from halgui.gui.dialogs.new_project import ClassSpec, NewProjectDialog

    dialog = NewProjectDialog(start=str(tmp_path / "new"))
    qtbot.addWidget(dialog)
    dialog.table.item(0, 0).setText("walk")
    dialog.add_class("wave", "#123456", "2")
    folder, classes = dialog.values()
    assert folder == tmp_path / "new"
    assert classes == [ClassSpec("walk", "#1f77b4", "1"), ClassSpec("wave", "#123456", "2")]
    assert dialog.problems() == ""
    dialog.add_class("walk", shortcut="3")
    assert "differ" in dialog.problems()
    dialog.accept()
    assert dialog.result() == 0 and "differ" in dialog.problem.text()


def test_export_dialog_options(qtbot, tmp_path):
    from halgui.gui.dialogs.import_export import ExportDialog

    dialog = ExportDialog(start=str(tmp_path / "out.json"))
    qtbot.addWidget(dialog)
    assert dialog.format_name() == "halgui"
    dialog.split.setCurrentIndex(dialog.split.findData("val"))
    dialog.human_only.setChecked(True)
    options = dialog.options()
    assert (options.split, options.human_only, options.pseudo_labels) == ("val", True, False)
    assert dialog.chosen_path() == tmp_path / "out.json"


def test_shortcuts_dialog_lists_the_menu_shortcuts(qtbot, window, project_dir):
    from halgui.gui.dialogs.help import ShortcutsDialog

    window.open_project(project_dir)
    dialog = ShortcutsDialog(window.actions(), window)
    qtbot.addWidget(dialog)
    rows = {dialog.table.item(r, 0).text(): dialog.table.item(r, 1).text()
            for r in range(dialog.table.rowCount())}
    assert rows["Next proposal"] == "N"
    assert rows["Play / pause"] == "Space"
    assert rows["Mark frame labeled"] == "L"
    assert rows["1: walk"] == "1" and rows["2: wave"] == "2"
