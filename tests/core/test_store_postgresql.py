"""A project on a real PostgreSQL server: what the meta table stands for (the halgui mark, the
schema version), databases refused as on SQLite, migrations, read-only and busy projects, ids
never given twice, and values that keep their type. The Project API's own tests run on both
engines (test_project.py, test_project_names.py, test_proposals.py)."""

from __future__ import annotations

import time

import numpy as np
import psycopg
import pytest

from halgui.core import postgres_sql, schema
from halgui.core.annotations import Box
from halgui.core.errors import ProjectError
from halgui.core.project import Project
from tests.core import pg_server


def raw(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True)


def dump(url: str) -> list[tuple]:
    """Every table's rows: to see that a refused open changed nothing."""
    with raw(url) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
        return [(t, conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()) for t in tables]


def test_a_new_project_is_marked_in_its_meta_table_with_the_current_schema(url, tmp_path):
    Project.create_url(url, tmp_path / "local").close()
    with raw(url) as conn:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        identity = conn.execute(
            "SELECT table_name FROM information_schema.columns WHERE column_name = 'id'"
            " AND is_identity = 'YES' ORDER BY 1").fetchall()
    assert meta == {schema.META_APPLICATION: str(schema.APPLICATION_ID),
                    schema.META_VERSION: str(schema.SCHEMA_VERSION)}
    assert sorted(t for (t,) in identity) == sorted(schema.AUTOINCREMENT)
    for sub in ("cache", "models", "exports"):
        assert (tmp_path / "local" / sub).is_dir()


def test_another_programs_database_is_refused_and_left_as_it_was(url, tmp_path):
    with raw(url) as conn:
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        conn.execute("INSERT INTO meta VALUES ('owner', 'someone else')")
    before = dump(url)
    with pytest.raises(ProjectError, match="not a halgui project database") as caught:
        Project.open_url(url, tmp_path / "local")
    assert str(caught.value).startswith(url + ": ") and "\n" not in str(caught.value)
    with pytest.raises(ProjectError, match="is not empty"):
        Project.create_url(url, tmp_path / "local")
    assert dump(url) == before


def test_an_empty_database_is_not_a_project(url, tmp_path):
    with pytest.raises(ProjectError, match="not a halgui project database"):
        Project.open_url(url, tmp_path / "local")
    assert dump(url) == []


def test_a_project_is_not_created_twice(url, tmp_path):
    Project.create_url(url, tmp_path / "a").close()
    with pytest.raises(ProjectError, match="already holds a halgui project"):
        Project.create_url(url, tmp_path / "b")


def test_a_newer_schema_is_refused_and_changes_nothing(url, tmp_path):
    Project.create_url(url, tmp_path / "local").close()
    with raw(url) as conn:
        conn.execute("UPDATE meta SET value = %s WHERE key = %s",
                     (str(schema.SCHEMA_VERSION + 5), schema.META_VERSION))
    before = dump(url)
    with pytest.raises(ProjectError, match="newer halgui"):
        Project.open_url(url, tmp_path / "local")
    assert dump(url) == before


def test_an_older_schema_is_migrated_forward_by_the_same_migrations(url, tmp_path,
                                                                     monkeypatch):
    with Project.create_url(url, tmp_path / "local") as p:
        p.add_class("walk")

    def add_notes(conn):
        conn.execute("ALTER TABLE classes ADD COLUMN notes TEXT NOT NULL DEFAULT ''")

    monkeypatch.setattr(schema, "SCHEMA_VERSION", schema.SCHEMA_VERSION + 1)
    monkeypatch.setitem(schema.MIGRATIONS, schema.SCHEMA_VERSION - 1, add_notes)
    with Project.open_url(url, tmp_path / "local") as p:
        assert [c.name for c in p.classes()] == ["walk"]
    with raw(url) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = %s",
                            (schema.META_VERSION,)).fetchone()[0] == str(schema.SCHEMA_VERSION)
        assert conn.execute("SELECT notes FROM classes").fetchall() == [("",)]


def test_a_version_2_project_gets_the_round_queue_and_shared_checkpoints(url, tmp_path):
    with Project.create_url(url, tmp_path / "local") as p:
        p.add_class("walk")
    with raw(url) as conn:  # the project as version 2 made it
        conn.execute("DROP TABLE round_models, round_requests, video_claims, video_edits")
        conn.execute("UPDATE meta SET value = '2' WHERE key = %s", (schema.META_VERSION,))
    with Project.open_url(url, tmp_path / "local") as p:
        assert [c.name for c in p.classes()] == ["walk"]
        from halgui.core import round_queue

        assert round_queue.request_round(p, "ann@a").state == "queued"
        assert p.query("SELECT COUNT(*) FROM round_models")[0][0] == 0
    with raw(url) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = %s",
                            (schema.META_VERSION,)).fetchone()[0] == "3"


def test_a_failed_migration_changes_nothing(url, tmp_path, monkeypatch):
    with Project.create_url(url, tmp_path / "local") as p:
        p.add_class("walk")
    before = dump(url)

    def half_done(conn):
        conn.execute("ALTER TABLE classes ADD COLUMN notes TEXT")
        raise RuntimeError("the step fails half-way")

    monkeypatch.setattr(schema, "SCHEMA_VERSION", schema.SCHEMA_VERSION + 1)
    monkeypatch.setitem(schema.MIGRATIONS, schema.SCHEMA_VERSION - 1, half_done)
    with pytest.raises(RuntimeError, match="half-way"):
        Project.open_url(url, tmp_path / "local")
    assert dump(url) == before


def test_a_read_only_project_reads_and_refuses_every_edit(url, tmp_path):
    with Project.create_url(url, tmp_path / "local") as p:
        p.add_class("walk")
    before = dump(url)
    with Project.open_url(url, tmp_path / "local", read_only=True) as p:
        assert p.read_only_reason == "opened read-only"
        assert [c.name for c in p.classes()] == ["walk"]
        with pytest.raises(ProjectError, match="is open read-only"):
            p.add_class("run")
        assert p.snapshot().classes[0].name == "walk"
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            p._conn.execute("INSERT INTO classes (name, color) VALUES ('x', '#000000')")
    assert dump(url) == before


def test_a_write_that_waits_too_long_is_one_line_naming_the_database(url, tmp_path):
    secret = url.replace("halgui@", "halgui:s3cret@")
    Project.create_url(url, tmp_path / "local").close()
    with Project.open_url(secret, tmp_path / "local", busy_timeout=0.2) as p, raw(url) as other:
        p.add_class("walk")
        other.execute("BEGIN")
        other.execute("LOCK TABLE classes IN EXCLUSIVE MODE")  # another program's write
        started = time.monotonic()
        with pytest.raises(ProjectError) as caught:
            p.add_class("mine")
        assert time.monotonic() - started < 5
        message = str(caught.value)
        assert message.startswith(f"{url}: is busy: another program kept a write open")
        assert "0.2 s" in message and "s3cret" not in message and "\n" not in message
        other.execute("ROLLBACK")
        p.add_class("mine")  # usable again once the other write ends
        assert [c.name for c in p.classes()] == ["walk", "mine"]


def test_an_unreachable_server_is_one_line(tmp_path):
    url = f"postgresql://halgui@/nothing?host={tmp_path}&port=1"
    with pytest.raises(ProjectError, match="cannot be reached") as caught:
        Project.open_url(url, tmp_path / "local")
    assert "\n" not in str(caught.value)


def end_sessions(url):
    """The server ends every other session of the database (a restart, an administrator)."""
    with raw(url) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                      " WHERE datname = current_database() AND pid <> pg_backend_pid()")


def test_a_connection_the_server_ended_between_edits_is_opened_again(url, tmp_path):
    with Project.create_url(url, tmp_path / "local") as p:
        p.add_class("walk")
        end_sessions(url)
        p.add_class("run")  # the edit starts on a new connection: nothing is lost
        end_sessions(url)
        assert [c.name for c in p.classes()] == ["walk", "run"]  # and so does a read
    with Project.open_url(url, tmp_path / "local") as p:
        assert [c.name for c in p.classes()] == ["walk", "run"]


def test_a_connection_lost_inside_an_edit_is_one_line_and_nothing_half_written(url,
                                                                               tmp_path):
    with Project.create_url(url, tmp_path / "local") as p:
        p.add_class("walk")
        lost = pytest.raises(ProjectError, match="lost its connection to the server")
        with lost as caught, p.transaction():
            p.add_class("run")
            end_sessions(url)
            p.add_class("jump")
        assert "\n" not in str(caught.value)
        p.add_class("wave")  # the next edit works again
    with Project.open_url(url, tmp_path / "local") as p:
        assert [c.name for c in p.classes()] == ["walk", "wave"]


@pytest.fixture(scope="module")
def own_server():
    """A server of this module's own, to restart (the session's one serves other tests)."""
    server = pg_server.start()
    yield server
    server.stop()


def test_a_restarted_server_is_one_line_while_down_and_loses_nothing(own_server, tmp_path,
                                                                      monkeypatch):
    import time

    from halgui.core import postgres

    monkeypatch.setattr(postgres, "RECONNECT_PAUSE_S", 0.5)
    url = own_server.new_database()
    with Project.create_url(url, tmp_path / "local") as p:
        p.add_class("walk")
        own_server.stop_server()
        with pytest.raises(ProjectError, match="cannot be reached") as caught:
            p.add_class("run")  # while it is down: one line, nothing changed
        assert "\n" not in str(caught.value)
        own_server.start_server()
        with pytest.raises(ProjectError, match="trying again in a few seconds"):
            p.add_class("run")  # no new connection tried yet: nothing waits on the network
        time.sleep(0.6)
        p.add_class("run")  # back: the edit is made again and kept
        own_server.restart()
        p.add_class("jump")
        assert [c.name for c in p.classes()] == ["walk", "run", "jump"]


def test_a_restored_id_moves_the_sequence_past_it(url, tmp_path):
    with Project.create_url(url, tmp_path / "local") as p:
        video = p.add_video("v", path=None, width=8, height=8, n_frames=5)
        walk = p.add_class("walk")
        with p.transaction() as c:  # a row put back with an id the sequence never gave
            c.execute("INSERT INTO tracks (id, video_id, class_id, actor) VALUES (?,?,?,?)",
                      (40, video, walk, 9))
        assert p.add_track(video, walk) == 41
        p.delete_track(41)
        assert p.add_track(video, walk) == 42  # and never goes back
        with p.transaction() as c:
            c.executemany("INSERT INTO tracks (id, video_id, class_id, actor) VALUES (?,?,?,?)",
                          [(50, video, walk, 10), (51, video, walk, 11)])
            assert c.execute("INSERT INTO tracks (id, video_id, class_id, actor) VALUES"
                             " (?,?,?,?) ON CONFLICT DO NOTHING",
                             (50, video, walk, 12)).lastrowid is None  # nothing was added
        assert p.add_track(video, walk) == 52


def test_values_keep_their_type_and_precision(url, tmp_path):
    curve = np.linspace(0, 1, 7, dtype="<f4")
    with Project.create_url(url, tmp_path / "local") as p:
        video = p.add_video("v", path=None, width=8, height=8, n_frames=5, fps=30000 / 1001,
                            size=5 * 2**32)
        track = p.add_track(video, p.add_class("walk"))
        p.set_keyframe(track, 1, Box(0.1, 1 / 3, 2.5, 7.125))
        p.record_round(strategy="x", config={"a": 1}, metrics={}, checkpoint=None,
                       started_at="now", proposals=[(video, 1, 0.5)],
                       video_scores=[(video, curve.tobytes(), 2, 0.25)])
    with Project.open_url(url, tmp_path / "local") as p:
        record = p.video(video)
        assert (record.fps, record.size) == (30000 / 1001, 5 * 2**32)
        assert p.keyframes(track)[0].box == Box(0.1, 1 / 3, 2.5, 7.125)
        with p.transaction() as c:
            (blob,) = c.execute("SELECT uncertainty FROM video_scores").fetchone()
        assert np.array_equal(np.frombuffer(blob, dtype="<f4"), curve)


# ---------------------------------------------------------------------- the SQL, no server
def test_placeholders_literals_and_percent_signs_are_rewritten():
    text, order = postgres_sql.statement(
        "SELECT '?%' || name FROM t WHERE a = ? AND b LIKE 'x%' AND c = ?")
    assert text == "SELECT '?%%' || name FROM t WHERE a = %s AND b LIKE 'x%%' AND c = %s"
    assert order is None
    text, order = postgres_sql.statement("SELECT ?2, ?1, ?2")
    assert text == "SELECT %s, %s, %s"
    assert postgres_sql.arguments(("a", "b"), order) == ("b", "a", "b")
    with pytest.raises(ValueError, match="mixes"):
        postgres_sql.statement("SELECT ?1, ?")


def test_the_schema_is_derived_with_postgresql_types():
    ddl = "\n".join(schema.statements("postgresql"))
    for sqlite_only in ("AUTOINCREMENT", "WITHOUT ROWID", "BLOB", "strftime", " REAL"):
        assert sqlite_only not in ddl
    assert ddl.count("GENERATED BY DEFAULT AS IDENTITY") == len(schema.AUTOINCREMENT)
    assert len(schema.statements("postgresql")) == len(schema.statements("sqlite"))


def test_a_password_never_reaches_a_message():
    assert postgres_sql.label("postgresql://ann:pw@db.example/labels") == \
        "postgresql://ann@db.example/labels"
    assert postgres_sql.label("postgresql://ann@/labels?host=/run&password=pw&port=5") == \
        "postgresql://ann@/labels?host=/run&port=5"
