"""The main window on a shared project: opened by its PostgreSQL URL (a real server,
tests.core.pg_server), edits land in the database, where another labeler's copy reads them."""

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QPushButton

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
    assert recent_projects(window.settings) == [shared]  # its URL: no password in it
    window.label_panel.mark_labeled()  # an edit, as the labeler makes it
    frame = window.canvas.current_frame()
    with open_project(shared) as other:  # another labeler's desktop
        assert other.labeled_frames(window.video.id) == {frame}


def test_a_shared_project_that_cannot_be_reached_is_one_message(window, tmp_path):
    url = f"postgresql://ann:secret@/nodb?host={tmp_path}&port=5999"
    assert not window.open_project(url)
    assert len(window.errors) == 1 and "cannot be reached" in window.errors[0]
    assert "secret" not in window.errors[0] and window.project is None


def test_retrain_queues_a_round_that_the_worker_runs_and_every_window_follows(
        window, shared, qtbot):
    from halgui.core import round_queue as queue
    from halgui.core.al.rounds import RoundConfig
    from halgui.core.progress import CancelFlag
    from halgui.core.round_worker import serve

    assert window.open_project(shared), window.errors
    label = window.rounds.shared.label
    window.retrain_action.trigger()
    assert not window.rounds.is_running()  # nothing runs in this window
    assert not label.isHidden() and label.text().startswith(
        f"Round requested by {queue.member_name()}: waiting for a worker")
    with open_project(shared) as p:  # the worker's round, as `halgui worker URL` runs it
        request = queue.take(p, "gpu@lab")
        assert queue.beat(p, request, "gpu@lab", "training", 0.45)
        window.rounds.shared.poll()
        assert label.text() == "Round on gpu@lab: training 45%"
        queue.release(p, request, "gpu@lab", "stopped")
    recorded = run_to_end(serve(shared, RoundConfig(), CancelFlag(), name="gpu@lab",
                                once=True))
    assert recorded == 1
    messages: list[str] = []
    window.rounds.message.connect(messages.append)
    with qtbot.waitSignal(window.rounds.ended, timeout=10_000):
        pass  # the window's own look at the queue (every 2 s) sees it end
    assert messages == ["Round 0 done on gpu@lab: new proposals"] and label.isHidden()
    assert window.history.table.rowCount() == 1  # the history shows the worker's round


def test_the_start_page_opens_a_shared_project_by_its_url_and_lists_it(window, shared,
                                                                      monkeypatch):
    from halgui.gui.dialogs import files
    from halgui.gui.start_page import add_recent

    asked: list[str] = []

    def answer(parent, title, prompt, echo, text):
        asked.append(prompt)  # first a folder (refused, asked again), then the URL
        return ("/not/a/url", True) if len(asked) == 1 else (shared, True)

    monkeypatch.setattr(files.QInputDialog, "getText", staticmethod(answer))
    button = next(b for b in window.start_page.findChildren(QPushButton)
                  if b.text() == "Open shared project…")
    button.click()
    assert len(asked) == 2 and "not a PostgreSQL URL" in asked[1]
    assert window.project is not None and window.project.url == shared
    window.close_project()
    # the recent list keeps URLs without their passwords, and opens them from the page
    add_recent(window.settings, "postgresql://ann:secret@db.lab/actions")
    entries = recent_projects(window.settings)
    assert entries[:2] == ["postgresql://ann@db.lab/actions", shared]
    window._show_project_widgets(False)
    items = [window.start_page.recent.item(i) for i in range(window.start_page.recent.count())]
    assert items[0].text().startswith("actions    postgresql://ann@db.lab/actions")
    window.start_page.recent.itemActivated.emit(items[1])
    assert window.project is not None and window.project.url == shared


def test_another_member_s_box_appears_in_the_open_window_without_reopening(
        window, shared, qtbot):
    import time

    from halgui.core.annotations import Box
    from halgui.gui.box_item import BoxItem

    assert window.open_project(shared), window.errors
    frame = window.canvas.current_frame()

    def boxes():
        return [i for i in window.canvas.scene().items() if isinstance(i, BoxItem)]

    assert boxes() == []
    with open_project(shared) as other:  # another labeler's desktop draws a box
        walk = other.class_by_name("walk").id
        track = other.add_track(window.video.id, walk)
        other.set_keyframe(track, frame, Box(5, 6, 40, 30))
        other.set_labeled(window.video.id, [frame])
    drawn = time.monotonic()
    # seen at the window's next look (every LiveEditsConfig.poll_s = 1 s); the wait allows
    # for a loaded machine: how soon is measured and printed, not asserted
    qtbot.waitUntil(lambda: len(boxes()) == 1, timeout=10_000)
    print(f"seen after {time.monotonic() - drawn:.2f} s")
    assert window.project.labeled_frames(window.video.id) == {frame}
    # this window's own edit is not announced twice
    seen: list[int] = []
    window.events.labelsChanged.connect(lambda v, f: seen.append(f))
    window.canvas.set_frame(frame + 1)
    window.label_panel.mark_labeled()
    window.live_edits.poll()
    assert seen == [frame + 1]
    assert window.project.labeled_frames(window.video.id) == {frame, frame + 1}


def test_a_video_another_window_has_opens_read_only_or_is_taken_over(
        window, shared, qtbot, tmp_path, monkeypatch):
    from halgui.core import claims
    from halgui.gui import video_claims

    assert window.open_project(shared), window.errors
    video = window.video.id
    (held,) = claims.holders(window.project).items()
    assert held[0] == video and held[1].session == window.claims.session
    other = MainWindow(QSettings(str(tmp_path / "other.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(other)
    failures: list[str] = []
    other.events.editFailed.connect(failures.append)
    answers = iter([video_claims.READ_ONLY, video_claims.TAKE_OVER])
    asked: list[str] = []

    def answer(parent, name, holder):
        asked.append(holder.member)
        return next(answers)

    monkeypatch.setattr(video_claims, "ask_about_claim", answer)
    try:
        assert other.open_project(shared)
        assert asked == [window.claims.member] and other.video.id == video
        other.label_panel.mark_labeled()  # refused: the first window has the video
        assert len(failures) == 1 and "read-only here" in failures[0]
        assert other.project.labeled_frames(video) == frozenset()
        other.open_video(video)  # asked again: this time taken over
        assert len(asked) == 2 and claims.holders(other.project)[video].session == \
            other.claims.session
        mine: list[str] = []
        window.events.editFailed.connect(mine.append)
        window.label_panel.mark_labeled()  # its next edit already finds the claim gone
        assert len(mine) == 1 and "took it over" in mine[0]
        assert window.project.labeled_frames(video) == frozenset()
        window.claims.renew()
        assert "took it over" in window.events.read_only[video]
        other.label_panel.mark_labeled()
        assert len(failures) == 1 and other.project.labeled_frames(video) != frozenset()
        other.close_project()
        assert video not in claims.holders(window.project)  # given up on closing
    finally:
        other.close()


@pytest.fixture(scope="module")
def own_server():
    """A server of this module's own, to stop and start (the session's serves other tests)."""
    from tests.core import pg_server

    server = pg_server.start()
    yield server
    server.stop()


def test_a_window_says_one_line_while_the_server_is_down_and_goes_on_after(
        window, own_server, tmp_path, monkeypatch):
    from halgui.core import postgres

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setattr(postgres, "RECONNECT_PAUSE_S", 0.0)  # back at once, for this test
    url = own_server.new_database()
    with create_project(url) as project:
        project.add_class("walk")
        run_to_end(add_videos(project, [write_mp4(tmp_path / "a.mp4", n_frames=30)]))
    assert window.open_project(url), window.errors
    from halgui.core.errors import ServerUnreachable
    from halgui.gui import app

    own_server.stop_server()
    try:
        with pytest.raises(ServerUnreachable) as down:  # the click's read of the frame
            window.label_panel.mark_labeled()
        window.live_edits.poll()  # the window's looks at the server wait for it quietly
        window.claims.renew()
        window.rounds.shared.poll()
    finally:
        own_server.start_server()
    # what escapes a click is one line in the status bar, not a message box per click
    monkeypatch.setattr(app.QApplication, "activeWindow", staticmethod(lambda: window))
    from halgui.gui.dialogs import messages

    monkeypatch.setattr(messages, "show_error", lambda *a: pytest.fail("a message box"))
    app._excepthook(ServerUnreachable, down.value, None)
    line = window.statusBar().currentMessage()
    assert "cannot be reached" in line and "Nothing was changed" in line and "\n" not in line
    window.label_panel.mark_labeled()  # back: the edit is made, and kept
    frame = window.canvas.current_frame()
    with open_project(url) as other:
        assert other.labeled_frames(window.video.id) == {frame}


def test_a_video_under_this_desktop_s_media_root_shows_as_linked(window, pg, tmp_path,
                                                                monkeypatch):
    from halgui.core.locations import remember_media_root
    from halgui.gui.video_list import FILE_MISSING, LINKED

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    url = pg.new_database()
    try:
        media = tmp_path / "media"
        media.mkdir()
        with create_project(url) as project:
            project.add_class("walk")
            remember_media_root(project, media)
            run_to_end(add_videos(project, [write_mp4(media / "a.mp4", n_frames=12)]))
            assert project.query("SELECT path FROM videos")[0][0] == "a.mp4"  # relative
        assert window.open_project(url), window.errors
        assert window.video_list.model.media(0) == LINKED and window.frames is not None
        window.close_project()
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "elsewhere"))  # a desktop not told
        assert window.open_project(url), window.errors
        assert window.video_list.model.media(0) == FILE_MISSING
        window.close_project()
    finally:
        pg.drop_database(url)
