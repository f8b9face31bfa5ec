"""Bad input to the ``halgui`` command, as a user gives it: each is refused in one line naming
the file and the problem, with exit status 2, and changes nothing."""

import json
import os
import pickle
import shutil

import pytest
import torch

from halgui.core.al import checkpoint
from halgui.core.al.model import ActorLocalizer, ModelConfig
from halgui.core.project import Project
from tests.core.videos import write_mp4
from tests.test_cli import halgui

CLASSES = ["wave", "run"]


def one_line_error(result, *fragments):
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("halgui: error: "), result.stderr
    assert "weights_only" not in result.stderr and "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def state(folder):
    """What a failed command must leave as it was: the bytes of every file but the database
    (SQLite rewrites its header when a connection closes) and the clip cache, and the
    project's rounds and labels as the store reads them."""
    files = {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*"))
             if p.is_file() and "cache" not in p.parts and not p.name.startswith("project.")}
    with Project.open(folder) as project:
        return files, len(project.rounds()), project.snapshot()


@pytest.fixture(scope="module")
def labeled(tmp_path_factory):
    """A one-video project with classes wave and run, every frame labeled."""
    root = tmp_path_factory.mktemp("cli")
    write_mp4(root / "clip.mp4", n_frames=10)
    doc = {"format": "halgui", "version": 1, "classes": [{"name": c} for c in CLASSES],
           "videos": [{"name": "clip", "path": "clip.mp4", "width": 64, "height": 48,
                       "n_frames": 10, "labeled_frames": [[0, 9]],
                       "tracks": [{"actor": 1, "class": "wave", "keyframes": [
                           {"frame": f, "box": [f, 1, f + 20, 30]} for f in range(10)]}]}]}
    (root / "gt.json").write_text(json.dumps(doc))
    result = halgui("import", root / "p", "--format", "halgui", root / "gt.json")
    assert result.returncode == 0, result.stderr
    return root / "p"


class Hostile:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))  # harmless, but proof that code ran


def good_checkpoint(path, classes=CLASSES, size=32):
    config = ModelConfig(n_classes=len(classes), width=4, size=size, clip_len=4)
    return checkpoint.save(path, ActorLocalizer(config), classes)


def bad_checkpoints(folder):
    """(file, words its one-line refusal must hold) for each kind of bad checkpoint (the
    rest are in tests/core/al/test_checkpoint.py; each run here starts torch, so few)."""
    good = torch.load(good_checkpoint(folder / "good.pt"), weights_only=True)
    torch.save({**good, "model_config": Hostile(folder / "ran")}, folder / "hostile.pt")
    (folder / "empty.pt").write_bytes(b"")
    (folder / "cut.pt").write_bytes((folder / "good.pt").read_bytes()[:500])
    torch.save({k: v for k, v in good.items() if k != "state_dict"}, folder / "nokey.pt")
    torch.save({**good, "model_config": {**good["model_config"], "width": "4"}},
               folder / "config.pt")
    shape = dict(good["state_dict"], **{"class_head.weight": torch.zeros(5, 5)})
    torch.save({**good, "state_dict": shape}, folder / "shape.pt")
    return [
        ("hostile.pt", "not loaded for safety"),
        ("empty.pt", "is empty"),
        ("cut.pt", "damaged or truncated"),
        ("nokey.pt", "'state_dict' is missing"),
        ("config.pt", "model_config 'width' is '4'"),
        ("shape.pt", "'class_head.weight' has shape (5, 5) but the model needs (2, 32)"),
    ]


def test_predict_refuses_each_bad_checkpoint_in_one_line(labeled, tmp_path):
    ok = halgui("predict", labeled, tmp_path / "ok.json", "--device", "cpu",
                "--checkpoint", good_checkpoint(tmp_path / "m.pt"))
    assert ok.returncode == 0, ok.stderr
    assert json.loads((tmp_path / "ok.json").read_text())["videos"][0]["name"] == "clip"
    before = state(labeled)
    for name, words in bad_checkpoints(tmp_path):
        out = tmp_path / f"{name}.json"
        result = halgui("predict", labeled, out, "--checkpoint", tmp_path / name,
                        "--device", "cpu")
        one_line_error(result, str(tmp_path / name), words)
        assert not out.exists()
    assert not (tmp_path / "ran").exists()
    assert state(labeled) == before


def test_train_refuses_a_bad_warm_start_before_any_work(labeled, tmp_path):
    before = state(labeled)
    good_checkpoint(tmp_path / "other.pt", classes=["sit", "stand"])
    good_checkpoint(tmp_path / "m.pt")
    cases = [
        ("other.pt", [], "was trained for the classes sit, stand", "has wave, run"),
        ("m.pt", ["--size", "64"], "was trained on 32-pixel clips, not --size 64"),
        ("hostile.pt", [], "not loaded for safety"),
    ]
    good = torch.load(tmp_path / "m.pt", weights_only=True)
    torch.save({**good, "classes": Hostile(tmp_path / "ran")}, tmp_path / "hostile.pt")
    for name, extra, *words in cases:
        result = halgui("train", labeled, "--epochs", "1", "--init", tmp_path / name,
                        "--out", tmp_path / "new.pt", "--device", "cpu", *extra)
        one_line_error(result, str(tmp_path / name), *words)
        assert not (tmp_path / "new.pt").exists()
    assert not (tmp_path / "ran").exists()
    assert state(labeled) == before


def test_a_warm_start_continues_at_the_checkpoints_clip_size(labeled, tmp_path):
    good_checkpoint(tmp_path / "m.pt", size=32)
    result = halgui("train", labeled, "--epochs", "1", "--clips-per-epoch", "2", "--init",
                    tmp_path / "m.pt", "--out", tmp_path / "new.pt", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert checkpoint.load(tmp_path / "new.pt").model.config.size == 32


def test_a_round_warm_starting_from_a_damaged_model_changes_nothing(labeled, tmp_path):
    project = tmp_path / "p"
    shutil.copytree(labeled, project)
    models = project / "models"
    models.mkdir(exist_ok=True)
    (models / "round-001.pt").write_bytes(pickle.dumps(Hostile(tmp_path / "ran")))
    with Project.open(project) as p:  # round 0 chose by appearance; round 1 trained
        for ckpt in (None, models / "round-001.pt"):
            p.record_round(strategy="claus", config={}, metrics={}, checkpoint=ckpt,
                           started_at="2024-01-01T00:00:00Z", proposals=[])
    before = state(project)
    result = halgui("round", project, "--epochs", "1", "--clips-per-epoch", "2",
                    "--device", "cpu")
    one_line_error(result, str(models / "round-001.pt"), "not loaded for safety")
    assert not (tmp_path / "ran").exists()
    assert state(project) == before


@pytest.mark.parametrize("classes,words", [
    (["walk", "ju\nmp"], "--classes: class name 'ju\\nmp' contains the control character"),
    (["walk", "ju\tmp"], "control character '\\t'"),
    (["walk", "walk"], "--classes names a class twice"),
    (["walk", " "], "--classes has an empty class name"),
])
def test_new_refuses_a_bad_class_name_and_makes_no_project(tmp_path, classes, words):
    result = halgui("new", tmp_path / "p", "--classes", *classes)
    one_line_error(result, str(tmp_path / "p"), words, "no project was created")
    assert not (tmp_path / "p").exists()


def test_add_refuses_a_video_whose_file_name_holds_a_control_character(tmp_path):
    assert halgui("new", tmp_path / "p", "--classes", "walk").returncode == 0
    videos = tmp_path / "videos"
    videos.mkdir()
    write_mp4(videos / "good.mp4", n_frames=6)
    write_mp4(videos / "tab\there.mp4", n_frames=6, seed=1)
    result = halgui("add", tmp_path / "p", videos)
    one_line_error(result, "video name 'tab\\there' contains the control character '\\t'")
    with Project.open(tmp_path / "p") as project:
        assert project.videos() == []  # the whole add is one transaction
    (videos / "tab\there.mp4").rename(videos / "tab here.mp4")
    assert halgui("add", tmp_path / "p", videos).returncode == 0
