"""Who may change a project, and when: the lock file, ids never given twice, a busy database,
read-only folders, and the migration of version 1 projects. Real SQLite files, real processes;
ids on PostgreSQL too (its own busy and read-only cases: test_store_postgresql.py)."""

import os
import shutil
import signal
import socket
import sqlite3
import time
from pathlib import Path

import pytest

from halgui.core import connection, lock, schema
from halgui.core.annotations import Box
from halgui.core.errors import ProjectError
from halgui.core.lock import LOCK_NAME, ProjectInUse
from halgui.core.project import DB_NAME, Project
from tests.core.holder import holding

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def folder(tmp_path):
    folder = tmp_path / "proj"
    with Project.create(folder) as p:
        video = p.add_video("v", path=None, width=160, height=120, n_frames=50)
        track = p.add_track(video, p.add_class("walk"))
        p.set_keyframe(track, 3, Box(1, 2, 30, 40))
    return folder


def write_lock(folder: Path, host: str, pid: int, what: str = "another halgui") -> None:
    (folder / LOCK_NAME).write_text(
        f'{{"what": "{what}", "host": "{host}", "pid": {pid}, "since": "2026-01-01"}}')


def dead_pid() -> int:
    """A pid that was just used and is gone (the child is reaped)."""
    import subprocess
    import sys

    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    return int(child.stdout)


# ---------------------------------------------------------------------- the lock file
def test_a_second_editor_is_refused_with_the_holders_host_and_pid(folder):
    with holding(folder) as child:
        with pytest.raises(ProjectInUse) as caught:
            Project.open(folder, lock="a second editor")
        message = str(caught.value)
        assert f"pid {child.pid} on {socket.gethostname()}" in message
        assert "the lock test's holder" in message and "--force" in message
        assert "\n" not in message
        assert caught.value.owner.pid == child.pid
        # reading goes on while it is held: plain opens, read-only opens, snapshots
        with Project.open(folder) as reader:
            assert [v.name for v in reader.videos()] == ["v"]
        with Project.open(folder, read_only=True) as viewer:
            assert len(viewer.snapshot().tracks[1][0].keyframes) == 1
        assert lock.read_owner(folder).pid == child.pid  # the readers left the lock alone


def test_the_lock_is_released_on_close_and_a_killed_holders_lock_is_taken_over(folder):
    with Project.open(folder, lock="first"):
        assert lock.read_owner(folder).what == "first"
    assert not (folder / LOCK_NAME).exists()
    with holding(folder) as child:
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert lock.read_owner(folder).pid == child.pid  # a crash leaves its lock behind
    with Project.open(folder, lock="after the crash") as p:  # stale: taken over, no question
        owner = lock.read_owner(folder)
        assert (owner.what, owner.pid) == ("after the crash", os.getpid())
        p.add_class("jump")


def test_force_takes_a_live_lock_and_the_old_holder_does_not_remove_the_new_one(folder):
    first = Project.open(folder, lock="first")
    with Project.open(folder, lock="second", force=True):
        first.close()  # its lock is no longer its own: left alone
        assert lock.read_owner(folder).what == "second"
    assert not (folder / LOCK_NAME).exists()


def test_a_lock_from_another_host_is_only_taken_with_force(folder):
    write_lock(folder, "labeler-2.example", 4242)
    with pytest.raises(ProjectInUse, match=r"pid 4242 on labeler-2\.example"):
        Project.open(folder, lock="here")
    write_lock(folder, socket.gethostname(), dead_pid())  # same host, dead: stale
    Project.open(folder, lock="here").close()
    write_lock(folder, "labeler-2.example", 4242)
    with Project.open(folder, lock="here", force=True):
        assert lock.read_owner(folder).host == socket.gethostname()


def test_an_unreadable_lock_is_waited_for_briefly_then_taken_over(folder):
    path = folder / LOCK_NAME
    path.write_text("")  # a lock being written in place, or damaged
    with pytest.raises(ProjectInUse, match="unreadable lock file"):
        Project.open(folder, lock="here")
    old = time.time() - lock.UNREADABLE_GRACE_S - 1
    os.utime(path, (old, old))
    Project.open(folder, lock="here").close()
    assert not path.exists()


def test_two_takers_of_a_stale_lock_end_with_one_holder(folder):
    """The take-over puts back a lock that turns out not to be the stale one it judged."""
    write_lock(folder, socket.gethostname(), dead_pid())
    stale_text = (folder / LOCK_NAME).read_text()
    held = lock.acquire(folder, "winner")  # took the stale lock over
    lock._take_over(folder / LOCK_NAME, stale_text)  # a slower taker that read the stale one
    assert lock.read_owner(folder).what == "winner"
    held.release()


# ---------------------------------------------------------------------- ids
def test_a_deleted_id_is_never_given_again(store):  # on both engines (conftest.py)
    with store.create() as p:
        video = p.add_video("v", path=None, width=160, height=120, n_frames=50)
        walk = p.add_class("walk")
        p.add_track(video, walk)
        last = p.add_track(video, walk)
        p.delete_track(last)
        assert p.add_track(video, walk) > last  # SQLite alone would give `last` again
        with p.transaction() as c:  # no app path deletes these yet; the schema holds anyway
            c.execute("DELETE FROM videos WHERE id = ?", (video,))
            c.execute("DELETE FROM classes WHERE id = ?", (walk,))
        assert p.add_video("w", path=None, width=8, height=8, n_frames=2) > video
        assert p.add_class("run") > walk
        first = p.record_round(strategy="x", config={}, metrics={}, checkpoint=None,
                               started_at="now", proposals=[])
        rid = c.execute("SELECT id FROM rounds WHERE number = ?", (first,)).fetchone()[0]
        with p.transaction() as c:
            c.execute("DELETE FROM rounds")
        p.record_round(strategy="x", config={}, metrics={}, checkpoint=None, started_at="now",
                       proposals=[])
        assert c.execute("SELECT id FROM rounds").fetchone()[0] > rid


def test_a_version_1_project_is_migrated_on_open_keeping_everything(tmp_path):
    """tests/data/project_v1.halgui was written by halgui with schema version 1 (see
    tests/data/README.md): its track 4 was deleted, so its highest id is 3."""
    folder = tmp_path / "old"
    folder.mkdir()
    shutil.copyfile(DATA / "project_v1.halgui", folder / DB_NAME)
    with Project.open(folder) as p:
        a, b = p.videos()
        assert [(a.name, a.n_frames, a.split), (b.name, b.n_frames, b.fps, b.split)] == [
            ("a", 40, "train"), ("b", 25, 10.0, "val")]
        assert [(c.id, c.name, c.shortcut) for c in p.classes()] == [
            (1, "walk", "1"), (2, "wave", None)]
        tracks = {t.id: t for v in (a, b) for t in p.tracks(v.id)}
        assert sorted(tracks) == [1, 2, 3]
        assert [(k.frame, k.box.as_tuple(), k.outside) for k in tracks[1].keyframes] == [
            (0, (10, 20, 50, 80), False), (10, (20, 20, 60, 80), False),
            (15, (20, 20, 60, 80), True)]
        assert tracks[2].keyframes[0].source == "imported"
        assert tracks[3].keyframes[0].source == "model-accepted"
        assert (p.labeled_frames(a.id), p.labeled_frames(b.id)) == ({0, 5, 10}, {3})
        (r,) = p.rounds()
        assert (r.number, r.strategy, r.metrics) == (0, "claus", {"train_loss": 0.5})
        assert p.get_setting("round") == {"epochs": 3}
        assert p.stats()["proposals"] == 2
        # ids from here on are new: the highest track deleted, the next one is not its id
        p.delete_track(3)
        assert p.add_track(b.id, 1) == 4
    conn = sqlite3.connect(folder / DB_NAME)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION == 3
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert conn.execute("SELECT COUNT(*) FROM video_scores").fetchone()[0] == 1
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master"
                                          " WHERE type = 'table'")}
    assert {"round_requests", "round_models", "video_edits"} <= tables  # made by version 3
    index = conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'"
                         " AND name = 'tracks_by_video'").fetchall()
    assert index == [("tracks_by_video",)]


def test_a_failed_migration_changes_nothing(tmp_path, monkeypatch):
    folder = tmp_path / "old"
    folder.mkdir()
    shutil.copyfile(DATA / "project_v1.halgui", folder / DB_NAME)

    def broken(conn):
        schema._v1_to_v2(conn)
        conn.execute("INSERT INTO tracks (video_id, class_id, actor) VALUES (99, 1, 1)")

    monkeypatch.setitem(schema.MIGRATIONS, 1, broken)
    with pytest.raises(sqlite3.IntegrityError, match="broken references"):
        Project.open(folder)
    conn = sqlite3.connect(folder / DB_NAME)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert "AUTOINCREMENT" not in conn.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'tracks'").fetchone()[0]
    assert conn.execute("SELECT COUNT(*) FROM tracks").fetchone()[0] == 3


# ---------------------------------------------------------------------- a busy database
def test_a_write_that_waits_too_long_is_one_line_naming_the_project_and_holder(folder):
    write_lock(folder, "labeler-2.example", 4242, "the halgui app")
    other = sqlite3.connect(folder / DB_NAME, isolation_level=None)
    with Project.open(folder, busy_timeout=0.2) as p:
        other.execute("BEGIN IMMEDIATE")  # another program's write, held open
        other.execute("INSERT INTO classes (name, color) VALUES ('theirs', '#000000')")
        started = time.monotonic()
        with pytest.raises(ProjectError) as caught:
            p.add_class("mine")
        assert time.monotonic() - started < 5
        message = str(caught.value)
        assert message.startswith(f"{p.db_path}: is busy: the halgui app (pid 4242 on "
                                  "labeler-2.example")
        assert "0.2 s" in message and "nothing was changed" in message and "\n" not in message
        other.execute("ROLLBACK")
        assert [c.name for c in p.classes()] == ["walk"]
        p.add_class("mine")  # the project is usable again once the other write ends
    other.close()


def test_the_busy_timeout_can_come_from_the_environment(monkeypatch):
    monkeypatch.setenv(connection.BUSY_TIMEOUT_ENV, "0.25")
    assert connection.busy_timeout_s() == 0.25
    assert connection.busy_timeout_s(3) == 3
    monkeypatch.setenv(connection.BUSY_TIMEOUT_ENV, "soon")
    assert connection.busy_timeout_s() == connection.DEFAULT_BUSY_TIMEOUT_S


# ---------------------------------------------------------------------- read-only projects
def unwritable(monkeypatch, *paths: Path) -> None:
    """Make ``os.access`` say these paths cannot be written, as it does on a read-only mount
    or without write permission. The tests run as root, whom chmod does not stop, so the
    refusal is simulated where halgui asks the OS; SQLite itself could still write."""
    real = os.access
    denied = {str(p) for p in paths}

    def access(path, mode, *args, **kwargs):
        if mode & os.W_OK and str(path) in denied:
            return False
        return real(path, mode, *args, **kwargs)

    monkeypatch.setattr(connection.os, "access", access)


def listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_read_only_folder_opens_for_viewing_without_writing_a_byte(folder, monkeypatch):
    unwritable(monkeypatch, folder)
    before = listing(folder)
    with Project.open(folder) as p:
        assert p.read_only and "no write permission on its folder" in p.read_only_reason
        assert [v.name for v in p.videos()] == ["v"]
        snap = p.snapshot()
        assert snap.tracks[1][0].keyframes[0].box == Box(1, 2, 30, 40)
        with pytest.raises(ProjectError, match=r"read-only.*no write permission"):
            p.add_class("jump")
    assert listing(folder) == before  # immutable: not even a -shm file was made


def test_a_read_only_project_reads_what_a_live_writer_committed(folder, monkeypatch):
    with Project.open(folder, lock="writer") as writer:  # its -wal and -shm exist
        writer.add_class("jump")
        unwritable(monkeypatch, folder, folder / DB_NAME)
        with Project.open(folder) as viewer:
            assert [c.name for c in viewer.classes()] == ["walk", "jump"]
            writer.add_class("run")
            assert [c.name for c in viewer.classes()] == ["walk", "jump", "run"]


def test_a_read_only_database_file_is_named_as_the_reason(folder, monkeypatch):
    unwritable(monkeypatch, folder / DB_NAME)
    with Project.open(folder) as p:
        assert p.read_only_reason == "there is no write permission on its database file"


def test_a_read_only_project_refuses_every_edit_and_changes_nothing(folder):
    before = sqlite3.connect(folder / DB_NAME).execute("SELECT * FROM keyframes").fetchall()
    with Project.open(folder, read_only="chosen by the test") as p:
        assert not (folder / LOCK_NAME).exists()
        edits = [lambda: p.add_class("jump"),
                 lambda: p.set_keyframe(1, 4, Box(0, 0, 5, 5)),
                 lambda: p.delete_track(1),
                 lambda: p.set_labeled(1, [3]),
                 lambda: p.set_setting("x", 1),
                 lambda: p.add_video("w", path=None, width=8, height=8, n_frames=2)]
        for edit in edits:
            with pytest.raises(ProjectError, match=r"is open read-only \(chosen by the test\)"):
                edit()
    after = sqlite3.connect(folder / DB_NAME).execute("SELECT * FROM keyframes").fetchall()
    assert after == before


def test_editing_a_read_only_folder_is_refused_before_anything_is_written(folder, monkeypatch):
    unwritable(monkeypatch, folder)
    with pytest.raises(ProjectError, match="cannot be changed here: there is no write"):
        Project.open(folder, lock="halgui add")
    assert not (folder / LOCK_NAME).exists()


def test_a_version_1_project_is_read_without_migrating_where_it_cannot_be_written(
        tmp_path, monkeypatch):
    folder = tmp_path / "old"
    folder.mkdir()
    shutil.copyfile(DATA / "project_v1.halgui", folder / DB_NAME)
    unwritable(monkeypatch, folder)
    with Project.open(folder) as p:
        assert [v.name for v in p.videos()] == ["a", "b"]
    assert (folder / DB_NAME).read_bytes() == (DATA / "project_v1.halgui").read_bytes()
    assert sorted(x.name for x in folder.iterdir()) == [DB_NAME]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through chmod; see the tests above")
def test_a_chmod_read_only_folder_opens_read_only(folder):
    Project.open(folder).close()
    folder.chmod(0o555)
    try:
        with Project.open(folder) as p:
            assert p.read_only and [v.name for v in p.videos()] == ["v"]
    finally:
        folder.chmod(0o755)
