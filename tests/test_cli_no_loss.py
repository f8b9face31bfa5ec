"""Commands that used to delete a user's files or end in a traceback, run as a user runs them:
a failed import into a folder that held other files, ``simulate`` and ``predict`` onto existing
output, too few frames for ``synth`` and ``demo``, the app with no display."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_cli import ROOT, halgui
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


TINY_SIMULATION = ("--strategies", "random", "--seeds", "0", "--epochs", "1", "--size", "32",
                   "--clips-per-epoch", "2", "--passes", "2", "--no-reference", "--device",
                   "cpu", "--initial", "0.2", "--budget-fraction", "0.2", "--target", "0.3")


@pytest.mark.parametrize("ablation", [(), ("--loss-ablation", "0.5")])
def test_simulate_refuses_an_out_folder_holding_other_files(tmp_path, ablation):
    gt = ground_truth(tmp_path / "data", ["train", "train", "test"])
    out = tmp_path / "out"
    out.mkdir()
    for rel in ("ablation.csv", "results.md", "runs/seed0/start/notes.txt",
                "ablation/uniform-0.5/model.pt"):
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(f"my {rel}")
    before = tree(out)
    line = assert_refused(halgui("simulate", "--out", out, "--gt", gt, *TINY_SIMULATION,
                                 *ablation), str(out))
    assert "did not write" in line and "--out" in line
    assert tree(out) == before


def test_simulate_reruns_in_its_own_folder_but_never_removes_a_users_one(tmp_path):
    from halgui.core.al import owned

    gt = ground_truth(tmp_path / "data", ["train", "train", "test"])
    out = tmp_path / "out"
    owned.claim(out)  # an earlier run's folder ...
    (out / "results.partial.jsonl").write_text('{"earlier": "rows"}\n')
    mine = out / "runs" / "seed0"  # ... in which the user put a folder of that name
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("mine")
    before = tree(out)
    line = assert_refused(halgui("simulate", "--out", out, "--gt", gt, *TINY_SIMULATION),
                          str(mine))
    assert "not made by halgui simulate" in line
    assert tree(out) == before  # the earlier run's rows are kept too


@pytest.mark.parametrize("splits, problem", [
    ([None, None], "no test videos"),  # a video without "split" is train (halgui format)
    (["train", "test", "missing"], "missing: v2"),
])
def test_simulate_refuses_a_ground_truth_it_cannot_use_and_writes_nothing(tmp_path, splits,
                                                                           problem):
    gt = ground_truth(tmp_path / "data", [s if s != "missing" else "test" for s in splits])
    if "missing" in splits:
        (tmp_path / "data" / "v2.mp4").unlink()
    out = tmp_path / "out"
    assert_refused(halgui("simulate", "--out", out, "--gt", gt, *TINY_SIMULATION), str(gt),
                   problem)
    assert not out.exists()


def ground_truth(folder: Path, splits: list) -> Path:
    """A halgui file of real 8-frame videos, one per split (None: no "split" field)."""
    from tests.core.al.test_simulate_folders import ground_truth as write

    return write(folder, ["walk"], splits)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 and Wayland: Linux")
@pytest.mark.parametrize("command", [(), ("open", "{p}"), ("{p}",), ("demo", "{p}")])
def test_the_app_without_a_display_is_one_line_before_qt_starts(tmp_path, command):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_DATA_HOME=str(tmp_path / "data"))
    folder = tmp_path / "p"
    args = [a.format(p=folder) for a in command]
    result = subprocess.run([sys.executable, "-m", "halgui", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    line = assert_refused(result)
    assert "no display" in line and "halgui info" in line
    assert not folder.exists()  # the demo is not made for a window that cannot open
