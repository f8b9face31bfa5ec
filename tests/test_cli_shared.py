"""A shared project from the command line: ``halgui new/add/info/export`` on a PostgreSQL URL,
against a real server (tests.core.pg_server), as subprocesses; bad URLs are one line, exit 2.
(A wrong password is not tried: the test server trusts its private socket.)"""

import json

import pytest

from halgui.core.locations import is_url, local_folder, target
from tests.core.videos import write_mp4
from tests.test_cli import halgui
from tests.test_cli_project_access import one_line_error

# url: an empty database of the session's server; data_home: this computer's folders of
# shared projects under the test's folder (both in tests/conftest.py)
pytestmark = pytest.mark.usefixtures("data_home")


def test_a_shared_project_is_made_filled_and_read_by_url(url, tmp_path, data_home):
    made = halgui("new", url, "--classes", "walk", "jump")
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == f"created project {url}"  # no password in this URL
    clip = write_mp4(tmp_path / "a.mp4", n_frames=6)
    added = halgui("add", url, clip, "--no-proxy")
    assert added.returncode == 0, added.stderr
    info = halgui("info", url, "--json", "--videos")
    assert info.returncode == 0, info.stderr
    stats = json.loads(info.stdout)
    assert (stats["classes"], stats["videos"], stats["frames"]) == (2, 1, 6)
    assert stats["project"] == url and stats["video_list"][0]["path"] == str(clip)
    # this computer's own folder: under its data folder, made when the project was
    assert stats["local_folder"] == str(local_folder(url))
    assert local_folder(url).is_relative_to(data_home) and local_folder(url).is_dir()
    out = tmp_path / "labels.json"
    exported = halgui("export", url, out, "--format", "halgui")
    assert exported.returncode == 0, exported.stderr
    document = json.loads(out.read_text())
    assert [c["name"] for c in document["classes"]] == ["walk", "jump"]
    assert [v["name"] for v in document["videos"]] == ["a"]


def test_a_url_is_never_taken_for_a_folder():
    url = "postgresql://ann@db.lab/actions?sslmode=require"
    assert target(url) == url and is_url(target(url))
    assert str(target("post/gresql")) == "post/gresql" and not is_url(target("post/gresql"))
    # the local folder ignores the password, and tells databases apart
    assert local_folder("postgresql://ann:secret@db.lab/actions") == \
        local_folder("postgresql://ann@db.lab/actions")
    assert local_folder("postgresql://ann@db.lab/actions") != \
        local_folder("postgresql://ann@db.lab/other")
    assert "secret" not in str(local_folder("postgresql://ann:secret@db.lab/actions"))


def test_a_database_made_twice_or_not_a_project_is_one_line(url, pg):
    assert halgui("new", url, "--classes", "walk").returncode == 0
    one_line_error(halgui("new", url), url, "already holds a halgui project")
    empty = pg.new_database()
    try:
        one_line_error(halgui("info", empty), empty, "not a halgui project")
    finally:
        pg.drop_database(empty)


def test_an_unreachable_server_or_database_is_one_line_without_the_password(pg, tmp_path):
    unreachable = f"postgresql://halgui:hunter2@/nodb?host={tmp_path}&port=5999"
    result = halgui("info", unreachable)
    one_line_error(result, "cannot be reached")
    assert "hunter2" not in result.stderr
    missing = pg.url("no_such_database")
    one_line_error(halgui("info", missing), "cannot be reached", "does not exist")


def test_the_worker_runs_a_queued_round_and_stops_when_none_waits(url, tmp_path):
    from halgui.core import round_queue as queue
    from halgui.core.locations import open_project

    assert halgui("new", url, "--classes", "walk").returncode == 0
    clip = write_mp4(tmp_path / "a.mp4", n_frames=40)
    assert halgui("add", url, clip, "--no-proxy").returncode == 0
    with open_project(url) as p:
        request = queue.request_round(p, "ann@desk")
    ran = halgui("worker", url, "--once", "--device", "cpu")
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert lines[1] == f"round request {request.id} from ann@desk"
    assert lines[2].startswith("round 0 recorded (") and lines[-1] == \
        "halgui worker: 1 round(s) recorded"
    with open_project(url) as p:
        (done,) = queue.recent(p)
        assert (done.state, done.round_number) == ("done", 0)
        assert p.stats()["proposals"] > 0


def test_each_desktop_finds_the_videos_under_its_own_media_root(url, tmp_path, monkeypatch):
    """Two members keep the same clips under different folders: each tells halgui its media
    root once; the project stores the path relative to it and each desktop finds its copy."""
    import shutil

    ann, bob = tmp_path / "ann" / "media", tmp_path / "bob" / "nas"
    (ann / "clips").mkdir(parents=True)
    clip = write_mp4(ann / "clips" / "a.mp4", n_frames=6)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "ann-data"))  # ann's desktop
    assert halgui("new", url, "--classes", "walk").returncode == 0
    told = halgui("link", url, ann, "--remember")
    assert told.returncode == 0, told.stderr
    assert halgui("add", url, clip, "--no-proxy").returncode == 0
    info = json.loads(halgui("info", url, "--json", "--videos").stdout)
    assert info["media_root"] == str(ann) and info["video_list"][0]["path"] == str(clip)

    (bob / "clips").mkdir(parents=True)
    shutil.copy(clip, bob / "clips" / "a.mp4")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "bob-data"))  # bob's desktop
    info = json.loads(halgui("info", url, "--json", "--videos").stdout)
    assert info["media_root"] is None and info["video_list"][0]["path"] is None  # not told yet
    told = halgui("link", url, bob, "--remember", "--json")
    assert told.returncode == 0, told.stderr
    assert json.loads(told.stdout)["linked"] == 0  # the stored path already fits bob's root
    info = json.loads(halgui("info", url, "--json", "--videos").stdout)
    assert info["video_list"][0]["path"] == str(bob / "clips" / "a.mp4")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "ann-data"))  # ann's is unchanged
    info = json.loads(halgui("info", url, "--json", "--videos").stdout)
    assert info["video_list"][0]["path"] == str(clip)


def test_remember_is_for_a_shared_project(tmp_path):
    folder = tmp_path / "p"
    assert halgui("new", folder).returncode == 0
    one_line_error(halgui("link", folder, tmp_path, "--remember"), "--remember is for a shared")


def test_a_wrong_password_is_one_line_without_the_password(tmp_path):
    from tests.core import pg_server

    server = pg_server.start(password="right-one")
    try:
        url = server.new_database()  # made with the right password
        assert halgui("new", url, "--classes", "walk").returncode == 0
        wrong = server.url(url.split("/")[3].split("?")[0], password="wrong-one")
        result = halgui("info", wrong)
        one_line_error(result, "cannot be reached", "password authentication failed")
        assert "wrong-one" not in result.stderr and "right-one" not in result.stderr
        assert halgui("info", url).returncode == 0
    finally:
        server.stop()


def test_the_worker_never_prints_a_password(tmp_path):
    from tests.core import pg_server

    server = pg_server.start(password="s3cret-pw")
    try:
        url = server.new_database()
        assert halgui("new", url, "--classes", "walk").returncode == 0
        ran = halgui("worker", url, "--once")
        assert ran.returncode == 0, ran.stderr
        assert "taking round requests of" in ran.stdout
        assert "s3cret-pw" not in ran.stdout + ran.stderr
    finally:
        server.stop()
