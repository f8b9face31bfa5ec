"""Two windows or programs on one project: undo that no longer applies, a busy or read-only
project, and the second window's choice. Real SQLite connections, widgets offscreen."""

from __future__ import annotations

import os
import socket
import sqlite3

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from halgui.core import connection, lock
from halgui.core.annotations import Box
from halgui.core.lock import LOCK_NAME
from halgui.core.project import DB_NAME, Project
from halgui.gui import main_window as mw
from halgui.gui.commands import CONFLICT, AddBox, EditBox, PasteBoxes, SetFrameLabeled
from halgui.gui.dialogs.project_in_use import InUseChoice, in_use_box
from halgui.gui.main_window import MainWindow
from halgui.gui.model_view import AcceptBoxes

B1 = Box(10, 10, 40, 60)
B2 = Box(20, 20, 50, 70)


@pytest.fixture
def failures(events):
    said: list[str] = []
    events.editFailed.connect(said.append)
    return said


def tracks_now(project: Project, video_id: int) -> dict[int, list[tuple[int, Box]]]:
    """What a fresh connection sees: track id -> (frame, box) of its keyframes."""
    with Project.open(project.folder, read_only=True) as fresh:
        return {t.id: [(k.frame, k.box) for k in t.keyframes] for t in fresh.tracks(video_id)}


# ---------------------------------------------------------------------- undo across programs
def test_undo_that_no_longer_applies_says_so_and_the_stack_goes_on(
        project, events, undo_stack, video, class_ids, reopened, failures):
    walk, run = class_ids["walk"], class_ids["run"]
    undo_stack.push(AddBox(project, events, video.id, 2, walk, B1))
    second = AddBox(project, events, video.id, 5, run, B2)
    undo_stack.push(second)
    undo_stack.push(EditBox(project, events, video.id, 5, second.track_id, B1))
    first_track = next(iter(tracks_now(project, video.id)))
    reopened().delete_track(second.track_id)  # another window deletes the edited track

    undo_stack.undo()  # the edit of the deleted track: cannot be undone
    assert len(failures) == 1 and "\n" not in failures[0]
    assert failures[0].startswith("Cannot undo Edit box: another window or team member "
                                  "changed or deleted it since")
    assert (undo_stack.count(), undo_stack.index()) == (2, 2)
    undo_stack.undo()  # the track's creation: it is gone already
    assert len(failures) == 2 and "Cannot undo Add box" in failures[1]
    assert (undo_stack.count(), undo_stack.index()) == (1, 1)
    undo_stack.undo()  # the other track: still applies
    assert len(failures) == 2 and tracks_now(project, video.id) == {}
    undo_stack.redo()
    assert tracks_now(project, video.id) == {first_track: [(2, B1)]}
    assert undo_stack.canUndo() and not undo_stack.canRedo()


def test_an_undo_that_would_overwrite_a_later_edit_elsewhere_is_refused(
        project, events, undo_stack, video, class_ids, reopened, failures):
    walk = class_ids["walk"]
    mine = AddBox(project, events, video.id, 2, walk, B1)
    undo_stack.push(mine)
    other_box = AddBox(project, events, video.id, 2, class_ids["run"], B2)
    undo_stack.push(other_box)
    undo_stack.push(EditBox(project, events, video.id, 2, mine.track_id, B2))
    moved = Box(1, 1, 9, 9)
    reopened().set_keyframe(mine.track_id, 2, moved)  # a team member moves the same box later
    undo_stack.undo()  # would put B1 back over their box: refused, theirs kept
    assert failures == [f"Cannot undo Edit box: {CONFLICT}. Nothing was changed; it was "
                        "removed from the undo history."]
    assert tracks_now(project, video.id)[mine.track_id] == [(2, moved)]
    undo_stack.undo()  # a box they did not touch: undone as usual
    assert len(failures) == 1 and other_box.track_id not in tracks_now(project, video.id)


def test_redo_after_another_program_added_a_track_restores_its_own(
        project, events, undo_stack, video, class_ids, reopened, failures):
    cmd = AddBox(project, events, video.id, 3, class_ids["walk"], B1)
    undo_stack.push(cmd)
    undo_stack.undo()  # the track is deleted; its id must not be given to anyone else
    theirs = reopened().add_track(video.id, class_ids["run"])
    assert theirs != cmd.track_id
    undo_stack.redo()
    assert failures == []
    assert tracks_now(project, video.id) == {cmd.track_id: [(3, B1)], theirs: []}


def test_a_paste_is_all_or_nothing_when_a_track_went_away(
        project, events, undo_stack, video, class_ids, reopened, failures):
    for box, cls in ((B1, "walk"), (B2, "run")):
        undo_stack.push(AddBox(project, events, video.id, 2, class_ids[cls], box))
    undo_stack.push(SetFrameLabeled(project, events, video.id, 2))
    paste = PasteBoxes(project, events, video.id, 6)
    assert paste.count == 2
    gone = max(tracks_now(project, video.id))
    reopened().delete_track(gone)
    undo_stack.push(paste)
    assert len(failures) == 1 and failures[0].startswith("Paste 2 boxes from frame 2 was not")
    assert all(frame == 2 for kfs in tracks_now(project, video.id).values() for frame, _ in kfs)
    assert undo_stack.count() == 3


def test_accepting_model_boxes_on_a_read_only_project_changes_nothing(
        project, events, undo_stack, video, class_ids, failures):
    with Project.open(project.folder, read_only="a test") as viewer:
        cmd = AcceptBoxes(viewer, events, video, 4, [(10, 10, 50, 50, "walk", 0.9)])
        undo_stack.push(cmd)
    assert len(failures) == 1 and "is open read-only (a test)" in failures[0]
    assert undo_stack.count() == 0 and tracks_now(project, video.id) == {}


def test_an_edit_of_a_busy_project_is_a_message_not_a_traceback(
        project, events, undo_stack, video, class_ids, failures):
    other = sqlite3.connect(project.db_path, isolation_level=None)
    with Project.open(project.folder, busy_timeout=0.2) as p:
        other.execute("BEGIN IMMEDIATE")
        undo_stack.push(AddBox(p, events, video.id, 3, class_ids["walk"], B1))
        other.execute("ROLLBACK")
        assert len(failures) == 1 and "is busy" in failures[0] and "0.2 s" in failures[0]
        assert undo_stack.count() == 0 and tracks_now(p, video.id) == {}
        undo_stack.push(AddBox(p, events, video.id, 3, class_ids["walk"], B1))
        assert undo_stack.count() == 1 and len(tracks_now(p, video.id)) == 1
    other.close()


# ---------------------------------------------------------------------- a second window
@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def windows(qtbot, settings, monkeypatch):
    errors: list[str] = []
    monkeypatch.setattr(mw, "show_error", lambda parent, title, error: errors.append(str(error)))
    made: list[MainWindow] = []

    def make() -> MainWindow:
        win = MainWindow(settings)
        qtbot.addWidget(win)
        made.append(win)
        return win

    yield make
    for win in made:
        win.close()
    assert errors == []


@pytest.fixture
def answer(monkeypatch):
    """The second window's question, answered by the test (and what it was asked)."""
    asked: list[lock.ProjectInUse] = []
    choice = [InUseChoice.CANCEL]

    def ask(parent, error):
        asked.append(error)
        return choice[0]

    monkeypatch.setattr(mw, "ask_project_in_use", ask)
    return choice, asked


def test_a_second_window_is_offered_read_only_and_cannot_edit(windows, project, video, answer,
                                                            class_ids):
    folder = project.folder
    project.close()
    first, second = windows(), windows()
    assert first.open_project(folder) and not first.project.read_only
    assert lock.read_owner(folder).what == mw.APP_LOCK
    choice, asked = answer
    choice[0] = InUseChoice.READ_ONLY
    assert second.open_project(folder)
    (error,) = asked
    assert (error.owner.pid, error.owner.host) == (os.getpid(), socket.gethostname())
    assert second.project.read_only and "open for editing in the halgui app (pid" in (
        second.project.read_only_reason)
    assert "(read-only)" in second.windowTitle()
    assert second.status["access"].text() == "Read-only"
    assert f"pid {os.getpid()}" in second.status["access"].toolTip()
    assert not second.retrain_action.isEnabled() and first.retrain_action.isEnabled()
    second.undo_stack.push(AddBox(second.project, second.events, video.id, 1,
                                  class_ids["walk"], B1))
    assert "was not saved" in second.statusBar().currentMessage()
    assert second.undo_stack.count() == 0
    assert second.project.snapshot().tracks[video.id] == ()  # viewing and export still work
    second.close_project()
    assert lock.read_owner(folder).what == mw.APP_LOCK  # the viewer never held it
    first.close_project()
    assert not (folder / LOCK_NAME).exists()


def test_a_second_window_can_decline_or_take_over(windows, project, answer):
    folder = project.folder
    project.close()
    first, second = windows(), windows()
    first.open_project(folder)
    choice, asked = answer
    assert not second.open_project(folder)  # cancelled
    assert second.project is None and len(asked) == 1
    choice[0] = InUseChoice.TAKE_OVER
    assert second.open_project(folder) and not second.project.read_only
    first.close_project()  # the lock is the second window's now: left in place
    assert (folder / LOCK_NAME).exists()
    second.close_project()
    assert not (folder / LOCK_NAME).exists()


def test_a_stale_lock_is_taken_over_without_asking(windows, project, answer):
    folder = project.folder
    project.close()
    held = lock.acquire(folder, "a crashed halgui")
    raw = (folder / LOCK_NAME).read_text().replace(f'"pid": {os.getpid()}', '"pid": 999999999')
    held.path.write_text(raw)  # as if its process were gone
    window = windows()
    assert window.open_project(folder) and not window.project.read_only
    assert answer[1] == []


def test_a_read_only_folder_opens_read_only_with_the_reason(windows, project, answer,
                                                           monkeypatch):
    """Simulated: the tests run as root, whom chmod does not stop; ``os.access`` is what
    halgui asks, and it says the folder cannot be written, as on a read-only mount."""
    folder = project.folder
    project.close()
    real = os.access
    monkeypatch.setattr(connection.os, "access",
                        lambda p, m, *a, **k: False if str(p) == str(folder) and m & os.W_OK
                        else real(p, m, *a, **k))
    window = windows()
    assert window.open_project(folder) and window.project.read_only
    assert "no write permission on its folder" in window.status["access"].toolTip()
    assert "no write permission on its folder" in window.statusBar().currentMessage()
    assert answer[1] == [] and not (folder / LOCK_NAME).exists()


def test_the_question_names_the_holder_and_offers_read_only_first(qtbot, tmp_path):
    owner = lock.LockOwner("the halgui app", "labeler-2.example", 4242, "2026-01-01 10:00 UTC")
    box = in_use_box(None, lock.ProjectInUse(tmp_path / "proj", owner))
    qtbot.addWidget(box)
    assert "proj is open for editing in the halgui app (pid 4242 on labeler-2.example" in (
        box.text())
    buttons = {b.text(): b.property("choice") for b in box.buttons()}
    assert buttons["Open read-only"] == "read-only" and buttons["Open anyway"] == "take over"
    assert box.defaultButton().text() == "Open read-only"
    assert box.escapeButton() is box.button(QMessageBox.StandardButton.Cancel)


def test_an_edit_in_a_window_on_a_busy_project_says_so(windows, project, video, class_ids,
                                                      monkeypatch):
    folder = project.folder
    project.close()
    monkeypatch.setenv(connection.BUSY_TIMEOUT_ENV, "0.2")
    window = windows()
    window.open_project(folder)
    other = sqlite3.connect(folder / DB_NAME, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        window.undo_stack.push(AddBox(window.project, window.events, video.id, 1,
                                      class_ids["walk"], B1))
        assert "is busy" in window.statusBar().currentMessage()
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert window.undo_stack.count() == 0


def test_a_version_1_project_that_cannot_be_written_opens_and_is_watched_quietly(
        windows, tmp_path, monkeypatch):
    """An old project on a read-only mount has none of schema 3's tables: the window reads it
    and its looks for others' edits find nothing to do (and raise nothing)."""
    import shutil
    from pathlib import Path

    from halgui.core.project import DB_NAME
    from tests.core.test_project_access import unwritable

    folder = tmp_path / "old"
    folder.mkdir()
    shutil.copyfile(Path(__file__).resolve().parents[1] / "data" / "project_v1.halgui",
                    folder / DB_NAME)
    unwritable(monkeypatch, folder)
    win = windows()
    assert win.open_project(folder)
    assert win.project.read_only and win.project.schema_version == 1
    win.live_edits.poll()
    win.claims.renew()
    win.rounds.shared.poll()
    assert [v.name for v in win.project.videos()] == ["a", "b"]
