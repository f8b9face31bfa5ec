"""The project store on a real SQLite file: edits, snapshots, bad databases, durability. The
tests that take ``project`` or ``store`` run on PostgreSQL too (tests/core/conftest.py)."""

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from halgui.core import lock, schema
from halgui.core.annotations import Box
from halgui.core.errors import ProjectError
from halgui.core.project import DB_NAME, Project

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(store):
    with store.create() as p:
        yield p


def add_labeled_video(p: Project, name="v", n_frames=100):
    video = p.add_video(name, path=None, width=160, height=120, n_frames=n_frames)
    cls = p.class_by_name("walk")
    class_id = cls.id if cls else p.add_class("walk")
    return video, p.add_track(video, class_id)


def test_new_project_layout_and_wal(tmp_path):
    Project.create(tmp_path / "p").close()
    assert (tmp_path / "p" / DB_NAME).is_file()
    for sub in ("cache", "models", "exports"):
        assert (tmp_path / "p" / sub).is_dir()
    conn = sqlite3.connect(tmp_path / "p" / DB_NAME)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION


def test_edits_are_committed_when_the_method_returns(project, store):
    video, track = add_labeled_video(project)
    project.set_keyframe(track, 7, Box(1, 2, 30, 40))
    project.set_labeled(video, [7, 8])
    other = store.raw(project)  # another process's view, project still open
    assert other.execute("SELECT frame, x1, y2 FROM keyframes").fetchall() == [(7, 1.0, 40.0)]
    assert other.execute("SELECT COUNT(*) FROM labeled_frames").fetchone()[0] == 2


def test_labels_survive_reopen(store):
    with store.create() as p:
        video, track = add_labeled_video(p)
        p.set_keyframe(track, 3, Box(1, 2, 3, 4), source="model-accepted")
        p.set_keyframe(track, 9, Box(5, 6, 7, 8), outside=True)
        p.set_labeled(video, [3])
    with store.open(p) as p:
        (t,) = p.tracks(video)
        assert [(k.frame, k.box.as_tuple(), k.outside, k.source) for k in t.keyframes] == [
            (3, (1, 2, 3, 4), False, "model-accepted"),
            (9, (5, 6, 7, 8), True, "human"),
        ]
        assert p.labeled_frames(video) == {3}
        assert p.stats()["keyframe_boxes"] == 1  # the outside keyframe is not a box


def test_replacing_and_deleting_keyframes_return_what_was_there(project):
    _, track = add_labeled_video(project)
    assert project.set_keyframe(track, 1, Box(0, 0, 5, 5)) is None
    old = project.set_keyframe(track, 1, Box(1, 1, 6, 6))
    assert old is not None and old.box == Box(0, 0, 5, 5)
    gone = project.delete_keyframe(track, 1)
    assert gone is not None and gone.box == Box(1, 1, 6, 6)
    assert project.keyframes(track) == ()


def test_delete_and_restore_track_for_undo(project):
    video, track = add_labeled_video(project)
    project.set_keyframe(track, 1, Box(0, 0, 5, 5))
    project.set_keyframe(track, 4, Box(2, 0, 7, 5))
    deleted = project.delete_track(track)
    assert project.tracks(video) == []
    restored = project.restore_track(video, deleted)
    assert restored == track
    assert project.tracks(video) == [deleted]


def test_new_tracks_get_the_next_actor_id(project):
    video, first = add_labeled_video(project)
    cls = project.classes()[0].id
    second = project.add_track(video, cls)
    assert [t.actor for t in project.tracks(video)] == [1, 2]
    assert second != first


def test_duplicate_names_and_bad_values_are_refused_cleanly(project):
    project.add_class("walk")
    with pytest.raises(ProjectError, match="already used"):
        project.add_class("walk")
    project.add_video("a", path=None, width=10, height=10, n_frames=5)
    with pytest.raises(ProjectError, match="already used"):
        project.add_video("a", path=None, width=10, height=10, n_frames=5)
    with pytest.raises(ProjectError, match="out of range"):
        project.add_video("b", path=None, width=0, height=10, n_frames=5)
    with pytest.raises(ProjectError, match="split"):
        project.add_video("c", path=None, width=10, height=10, n_frames=5, split="holdout")
    assert [v.name for v in project.videos()] == ["a"]


def test_failed_transaction_leaves_nothing(project):
    video, track = add_labeled_video(project)
    with pytest.raises(RuntimeError), project.transaction():
        project.set_keyframe(track, 1, Box(0, 0, 5, 5))
        project.set_labeled(video, [1])
        raise RuntimeError("boom")
    assert project.keyframes(track) == ()
    assert project.labeled_frames(video) == frozenset()


def test_video_paths_inside_the_project_are_stored_relative(tmp_path):
    with Project.create(tmp_path / "p") as p:
        (tmp_path / "p" / "clips").mkdir()
        inside = p.add_video("in", path=tmp_path / "p" / "clips" / "a.mp4", width=4, height=4,
                             n_frames=2)
        outside = p.add_video("out", path=tmp_path / "b.mp4", width=4, height=4, n_frames=2)
    raw = dict(sqlite3.connect(tmp_path / "p" / DB_NAME).execute("SELECT name, path FROM videos"))
    assert raw["in"] == "clips/a.mp4"
    assert raw["out"] == str((tmp_path / "b.mp4").resolve())
    # the project folder can move: inside paths follow it
    (tmp_path / "p").rename(tmp_path / "moved")
    with Project.open(tmp_path / "moved") as p:
        assert p.video(inside).path == (tmp_path / "moved" / "clips" / "a.mp4").resolve()
        assert p.video(outside).path == (tmp_path / "b.mp4").resolve()


def test_snapshot_is_consistent_while_another_thread_writes(project):
    video, track = add_labeled_video(project, n_frames=100_000)
    stop = threading.Event()

    def writer():
        i = 0
        while not stop.is_set():
            with project.transaction():  # one edit = keyframe + labeled frame together
                project.set_keyframe(track, i, Box(0, 0, 5, 5))
                project.set_labeled(video, [i])
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        sizes = set()
        deadline = time.monotonic() + 20
        while len(sizes) < 3 and time.monotonic() < deadline:  # until the writer shows up
            snap = project.snapshot()
            n_kf = len(snap.tracks[video][0].keyframes) if snap.tracks[video] else 0
            assert n_kf == len(snap.labeled[video])
            sizes.add(n_kf)
    finally:
        stop.set()
        thread.join()
    assert len(sizes) > 1  # the writer really was writing during the snapshots


# ---------------------------------------------------------------------- refusing bad databases
def _bytes(path: Path) -> bytes:
    return path.read_bytes()


def test_open_refuses_a_folder_that_is_not_a_project(tmp_path):
    with pytest.raises(ProjectError, match="not a halgui project"):
        Project.open(tmp_path)
    with pytest.raises(ProjectError, match="no such project folder"):
        Project.open(tmp_path / "missing")
    assert list(tmp_path.iterdir()) == []


def test_open_refuses_a_corrupt_file_and_changes_nothing(tmp_path):
    db = tmp_path / DB_NAME
    db.write_bytes(b"this is not SQLite at all" * 100)
    before = _bytes(db)
    with pytest.raises(ProjectError, match=DB_NAME):
        Project.open(tmp_path)
    assert _bytes(db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [DB_NAME]


def test_open_refuses_a_truncated_database(tmp_path):
    with Project.create(tmp_path / "p") as p:
        for i in range(200):
            p.add_class(f"class {i}")
    db = tmp_path / "p" / DB_NAME
    data = _bytes(db)
    db.write_bytes(data[: len(data) // 3])
    (tmp_path / "p" / f"{DB_NAME}-wal").unlink(missing_ok=True)
    with pytest.raises(ProjectError):
        p = Project.open(tmp_path / "p")
        p.classes()


def test_open_refuses_another_apps_sqlite_file(tmp_path):
    conn = sqlite3.connect(tmp_path / DB_NAME)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    before = _bytes(tmp_path / DB_NAME)
    with pytest.raises(ProjectError, match="not a halgui project database"):
        Project.open(tmp_path)
    assert _bytes(tmp_path / DB_NAME) == before


def test_open_refuses_a_newer_schema_and_changes_nothing(tmp_path):
    Project.create(tmp_path / "p").close()
    db = tmp_path / "p" / DB_NAME
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 5}")
    conn.close()
    before = _bytes(db)
    with pytest.raises(ProjectError, match="newer halgui"):
        Project.open(tmp_path / "p")
    assert _bytes(db) == before


def test_older_schema_is_migrated_forward(tmp_path, monkeypatch):
    with Project.create(tmp_path / "p") as p:
        p.add_class("walk")

    def add_notes(conn):
        conn.execute("ALTER TABLE classes ADD COLUMN notes TEXT NOT NULL DEFAULT ''")

    monkeypatch.setattr(schema, "SCHEMA_VERSION", schema.SCHEMA_VERSION + 1)
    monkeypatch.setitem(schema.MIGRATIONS, schema.SCHEMA_VERSION - 1, add_notes)
    with Project.open(tmp_path / "p") as p:
        assert [c.name for c in p.classes()] == ["walk"]
    conn = sqlite3.connect(tmp_path / "p" / DB_NAME)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    assert conn.execute("SELECT notes FROM classes").fetchall() == [("",)]


# ---------------------------------------------------------------------- durability
#: SIGKILLs of the durability test; ``HALGUI_DURABILITY_KILLS=150 pytest -s -k sigkill
#: tests/core/test_project.py`` runs a longer one by hand (about half a second per kill).
DURABILITY_KILLS = int(os.environ.get("HALGUI_DURABILITY_KILLS", "12"))


def test_edits_reported_committed_survive_sigkill(tmp_path):
    """A labeler killed at random moments loses no edit it reported saved, and each kill's
    stale lock is taken over by the next one. Bounded here; see DURABILITY_KILLS."""
    folder = tmp_path / "p"
    with Project.create(folder) as p:
        add_labeled_video(p, n_frames=1_000_000)
    rng = random.Random(1234)
    reported: set[int] = set()
    start = 0
    child = None
    for _ in range(DURABILITY_KILLS):
        child = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "core" / "edit_child.py"), str(folder),
             str(start)],
            stdout=subprocess.PIPE, text=True, cwd=ROOT,
        )
        assert child.stdout is not None
        deadline = time.monotonic() + rng.uniform(0.05, 0.6)
        first_line = child.stdout.readline()  # wait until it is really editing
        assert first_line.startswith("committed"), first_line
        reported.add(int(first_line.split()[1]))
        while time.monotonic() < deadline:
            time.sleep(0.005)
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate()
        reported.update(int(line.split()[1]) for line in out.splitlines() if line)
        start = max(reported) + 1000  # never reuse a frame: each edit stays distinguishable
    conn = sqlite3.connect(folder / DB_NAME)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    keyframes = {r[0] for r in conn.execute("SELECT frame FROM keyframes")}
    labeled = {r[0] for r in conn.execute("SELECT frame FROM labeled_frames")}
    assert len(reported) > DURABILITY_KILLS
    assert reported <= keyframes
    assert reported <= labeled
    assert child is not None and lock.read_owner(folder).pid == child.pid  # the last one's
    Project.open(folder, lock="after the kills").close()  # stale: taken over
    print(f"{DURABILITY_KILLS} SIGKILLs, {len(reported)} edits reported committed, all kept")


def test_settings_are_json_values_kept_per_project(store):
    with store.create("a") as a, store.create("b") as b:
        assert a.get_setting("round") is None
        assert a.get_setting("round", {"epochs": 10}) == {"epochs": 10}
        a.set_setting("round", {"epochs": 3, "device": "cpu", "budget": None})
        a.set_setting("round", {"epochs": 4, "device": "cpu", "budget": None})  # replaces
        a.set_setting("alpha", 0.25)
        assert b.get_setting("round") is None
        with pytest.raises(TypeError):
            a.set_setting("bad", object())
    with store.open(a) as again:
        assert again.get_setting("round") == {"epochs": 4, "device": "cpu", "budget": None}
        assert again.get_setting("alpha") == 0.25
        with again.transaction() as c:
            c.execute("UPDATE meta SET value = '{not json' WHERE key = 'setting.alpha'")
        assert again.get_setting("alpha", 0.5) == 0.5
