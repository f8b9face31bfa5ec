"""Commands that used to delete a user's files or end in a traceback, run as a user runs them:
a failed import into a folder that held other files, ``simulate`` and ``predict`` onto existing
output, too few frames for ``synth`` and ``demo``, the app with no display."""

import json
import os
import sys
from pathlib import Path

import pytest

from tests.test_cli import halgui
from tests.test_cli_learning import assert_refused, tree

BAD_IMPORT = '{"format": "halgui", "version": 1, "classes": [], "videos": [{"name": 1}]}'


def users_files(folder: Path) -> dict[str, bytes]:
    """Nested files and an empty folder of the user's, some named like a project's folders."""
    for rel, data in (("models/x.pt", b"weights"), ("cache/notes.txt", b"mine"),
                      ("exports/old/labels.json", b"{}"), ("a/b/c.txt", b"deep"),
                      ("readme.txt", b"hello")):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    (folder / "empty").mkdir()
    return tree(folder)


def test_a_failed_import_removes_only_what_it_created(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(BAD_IMPORT)
    folder = tmp_path / "mine"
    folder.mkdir()
    before = users_files(folder)
    assert_refused(halgui("import", folder, bad, "--format", "halgui"), str(bad))
    assert tree(folder) == before  # x.pt, the nested files and the user's cache/ survive
    assert (folder / "empty").is_dir()
    assert sorted(p.name for p in folder.iterdir()) == [
        "a", "cache", "empty", "exports", "models", "readme.txt"]  # no project.halgui left

    # a folder that did not exist (nor its parent) is removed again, parents too
    new = tmp_path / "new" / "project"
    assert_refused(halgui("import", new, bad, "--format", "halgui"), str(bad))
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("command", [("synth",), ("demo", "--no-gui"), ("demo",)])
def test_too_few_frames_for_synth_and_demo_is_one_line(tmp_path, command):
    out = tmp_path / "out"
    line = assert_refused(halgui(command[0], out, *command[1:], "--frames", "10"), "--frames 10")
    assert "at least 24" in line
    assert not out.exists()
