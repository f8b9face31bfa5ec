"""Commands on a project that another program has open, or that is busy: real subprocesses."""

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys

import pytest

from halgui.core.annotations import Box
from halgui.core.project import DB_NAME, Project
from tests.core.holder import holding
from tests.core.videos import write_mp4
from tests.test_cli import ROOT, halgui


def one_line_error(result, *parts: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("halgui: error: "), result.stderr
    for part in parts:
        assert part in lines[0], lines[0]


def test_writing_commands_refuse_a_project_open_elsewhere_unless_forced(tmp_path):
    folder = tmp_path / "p"
    assert halgui("new", folder, "--classes", "walk").returncode == 0
    clip = write_mp4(tmp_path / "a.mp4", n_frames=6)
    labels = tmp_path / "labels.json"
    with holding(folder) as child:
        refused = halgui("add", folder, clip)
        one_line_error(refused, str(folder.resolve()), "open for editing elsewhere",
                       f"pid {child.pid} on {socket.gethostname()}", "--force")
        one_line_error(halgui("round", folder, "--epochs", "1"), f"pid {child.pid}")
        # reading commands work while it is held
        info = halgui("info", folder, "--json")
        assert info.returncode == 0, info.stderr
        assert json.loads(info.stdout)["videos"] == 0
        exported = halgui("export", folder, "--format", "halgui", labels)
        assert exported.returncode == 0, exported.stderr
        one_line_error(halgui("import", folder, labels, "--format", "halgui"), f"pid {child.pid}")
        with Project.open(folder) as p:
            assert p.videos() == []  # nothing was written by the refused commands
        forced = halgui("add", folder, clip, "--force")
        assert forced.returncode == 0, forced.stderr
    with Project.open(folder) as p:
        assert [v.name for v in p.videos()] == ["a"]
    assert not (folder / "project.lock").exists()


def test_a_write_that_stays_busy_is_one_line_and_exit_2(tmp_path):
    folder = tmp_path / "p"
    Project.create(folder).close()
    clip = write_mp4(tmp_path / "a.mp4", n_frames=6)
    other = sqlite3.connect(folder / DB_NAME, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # a write held open by another program
    try:
        env = {**os.environ, "HALGUI_BUSY_TIMEOUT": "0.2"}  # seconds, not the default 30
        result = subprocess.run([sys.executable, "-m", "halgui", "add", str(folder), str(clip)],
                                cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
        one_line_error(result, str(folder.resolve() / DB_NAME), "is busy", "another program",
                       "0.2 s")
    finally:
        other.execute("ROLLBACK")
        other.close()
    with Project.open(folder) as p:
        assert p.videos() == []


def bound_by_permissions() -> list[str]:
    """A command prefix under which permission bits hold: as root (the test machines), drop the
    capabilities that let root write anywhere; as any other user, none is needed."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("needs setpriv (util-linux) to run without root's override")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


def test_a_folder_without_write_permission_is_read_and_exported_not_changed(tmp_path):
    """A real read-only folder (mode 0555, the child bound by it), not a simulation."""
    prefix = bound_by_permissions()
    folder = tmp_path / "p"
    with Project.create(folder) as p:
        video = p.add_video("v", path=None, width=160, height=120, n_frames=20)
        p.set_keyframe(p.add_track(video, p.add_class("walk")), 4, Box(1, 2, 30, 40))
    before = sorted(x.name for x in folder.iterdir())
    folder.chmod(0o555)
    try:
        def run(*args):
            return subprocess.run([*prefix, sys.executable, "-m", "halgui", *map(str, args)],
                                  cwd=ROOT, capture_output=True, text=True, timeout=120)

        info = run("info", folder, "--json")
        assert info.returncode == 0, info.stderr
        assert json.loads(info.stdout)["keyframe_boxes"] == 1
        exported = run("export", folder, tmp_path / "out.json", "--format", "halgui")
        assert exported.returncode == 0, exported.stderr
        assert "walk" in (tmp_path / "out.json").read_text()
        one_line_error(run("add", folder, write_mp4(tmp_path / "a.mp4", n_frames=4)),
                       "cannot be changed here: there is no write permission on its folder")
        assert sorted(x.name for x in folder.iterdir()) == before
    finally:
        folder.chmod(0o755)
