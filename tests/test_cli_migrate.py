"""``halgui migrate DIR URL`` against a real PostgreSQL server: a folder project's labels,
rounds, settings and checkpoints become a shared project with the same ids; the folder is left
as it was; a database that is not empty, or a copy whose counts do not match, keeps nothing."""

import sqlite3

import pytest

from halgui.core import migrate as migrate_module
from halgui.core import postgres
from halgui.core.annotations import Box
from halgui.core.errors import ProjectError
from halgui.core.ingest import add_videos
from halgui.core.locations import local_folder
from halgui.core.progress import CancelFlag, run_to_end
from halgui.core.project import DB_NAME, Project
from halgui.core.schema import statements
from tests.core.videos import write_mp4
from tests.test_cli import halgui
from tests.test_cli_project_access import one_line_error

# url: an empty database of the session's server; data_home: this computer's folders of
# shared projects under the test's folder (both in tests/conftest.py)
pytestmark = pytest.mark.usefixtures("data_home")


@pytest.fixture
def folder(tmp_path):
    """A folder project with a video inside it, two classes, a track (one deleted before it,
    so ids have a gap), keyframes, labeled frames, settings and a trained round."""
    where = tmp_path / "p"
    with Project.create(where) as p:
        clip = write_mp4(where / "a.mp4", n_frames=8)
        (vid,) = run_to_end(add_videos(p, [clip])).added
        walk, jump = p.add_class("walk"), p.add_class("jump", shortcut="j")
        p.delete_track(p.add_track(vid, walk))
        track = p.add_track(vid, jump, actor=3)
        p.set_keyframe(track, 0, Box(1, 2, 30, 40))
        p.set_keyframe(track, 5, Box(3, 4, 33, 44), outside=True)
        p.set_labeled(vid, [0, 5])
        p.set_setting("round", {"epochs": 3})
        model = where / "models" / "round-000.pt"
        model.write_bytes(b"checkpoint bytes")
        p.record_round(strategy="claus", config={"a": 1}, metrics={"m": 0.5},
                       checkpoint=model, started_at="2026-01-01T00:00:00Z",
                       proposals=[(vid, 3, 0.9), (vid, 7, 0.4)],
                       video_scores=[(vid, b"\x00\x00\x80?", 2, 0.7)])
    return where


def rows(conn, table):
    return sorted(tuple(r) for r in conn.execute(f"SELECT * FROM {table}").fetchall())


def test_a_folder_project_becomes_a_shared_one_with_the_same_ids(folder, url):
    before = (folder / DB_NAME).read_bytes()
    done = halgui("migrate", folder, url, "--json")
    assert done.returncode == 0, done.stderr
    source = sqlite3.connect(folder / DB_NAME)
    with Project.open_url(url, local_folder(url)) as shared:
        for table in ("classes", "tracks", "keyframes", "labeled_frames", "proposals"):
            assert rows(shared._conn, table) == rows(source, table), table
        (video,) = shared.videos()
        assert video.path == folder / "a.mp4" and video.path.is_file()  # made absolute
        assert shared.get_setting("round") == {"epochs": 3}
        (record,) = shared.rounds()
        assert (record.number, record.config, record.metrics) == (0, {"a": 1}, {"m": 0.5})
        curve = shared.query("SELECT uncertainty, cluster FROM video_scores")[0]
        assert (bytes(curve[0]), curve[1]) == (b"\x00\x00\x80?", 2)
        # the checkpoint: copied to this computer's folder, and stored for other desktops
        assert record.checkpoint.read_bytes() == b"checkpoint bytes"
        assert bytes(shared.query("SELECT data FROM round_models")[0][0]) == \
            b"checkpoint bytes"
        # new rows take new ids, never a copied one (the deleted track's id 1 included)
        assert shared.add_track(video.id, 1) == 3
    assert (folder / DB_NAME).read_bytes() == before  # the folder is left as it was
    import json

    report = json.loads(done.stdout)
    assert report["copied"]["keyframes"] == 2 and report["checkpoints"] == 1


def test_a_database_that_holds_anything_is_refused_and_kept(folder, url):
    assert halgui("new", url, "--classes", "other").returncode == 0
    one_line_error(halgui("migrate", folder, url), "already holds a halgui project")
    with Project.open_url(url, local_folder(url)) as shared:
        assert [c.name for c in shared.classes()] == ["other"]


def test_a_copy_whose_counts_differ_keeps_nothing(folder, url, monkeypatch):
    real = postgres.Connection.executemany

    def drops_a_keyframe(self, sql, values):
        values = list(values)
        return real(self, sql, values[:-1] if "INTO keyframes" in sql else values)

    monkeypatch.setattr(postgres.Connection, "executemany", drops_a_keyframe)
    with pytest.raises(ProjectError, match="holds 1 rows of keyframes after the copy"):
        run_to_end(migrate_module.migrate(folder, url, CancelFlag()))
    monkeypatch.undo()
    conn = postgres.connect(url)
    try:  # not even the schema is left: the same command can run again
        assert conn.execute("SELECT COUNT(*) FROM pg_tables WHERE schemaname ="
                            " current_schema()").fetchone()[0] == 0
    finally:
        conn.close()
    assert halgui("migrate", folder, url).returncode == 0


def test_every_table_of_the_schema_is_copied():
    made = {s.split()[2] for s in statements() if s.strip().startswith("CREATE TABLE")}
    assert set(migrate_module.TABLES) == made


def test_the_worker_and_migrate_take_only_a_url(tmp_path):
    for command in (("worker", tmp_path), ("migrate", tmp_path, tmp_path)):
        result = halgui(*command)
        assert result.returncode == 2 and "is not a shared project's URL" in result.stderr
