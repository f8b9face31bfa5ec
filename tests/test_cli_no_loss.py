"""Commands that used to delete a user's files or end in a traceback, run as a user runs them:
a failed import into a folder that held other files, ``simulate`` and ``predict`` onto existing
output, too few frames for ``synth`` and ``demo``, the app with no display."""

import json
import os
import sys
from pathlib import Path

import pytest

from tests.test_cli import halgui
from tests.test_cli_learning import TINY_TRAIN, assert_refused, demo, tree

__all__ = ["demo"]  # the module's fixture: a tiny demo project

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


def test_predict_refuses_to_replace_a_file_unless_overwrite(demo, tmp_path):
    model = tmp_path / "model.pt"
    trained = halgui("train", demo, *TINY_TRAIN, "--size", "32", "--batch-size", "2",
                     "--out", model)
    assert trained.returncode == 0, trained.stderr
    out = tmp_path / "results.json"
    out.write_text("my results")
    predict = ("predict", demo, out, "--checkpoint", model, "--device", "cpu")
    line = assert_refused(halgui(*predict), str(out))
    assert "--overwrite" in line and out.read_text() == "my results"

    result = halgui(*predict, "--overwrite")
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text())["format"] == "halgui-predictions"

    # the project's own files are never a place for predictions, even with --overwrite
    database = demo / "project.halgui"
    files = tree(demo)
    assert_refused(halgui("predict", demo, database, "--checkpoint", model, "--device", "cpu",
                          "--overwrite"), str(database))
    assert tree(demo) == files
