"""The Kinetics backbones from the command line, on a copy of the tiny demo project: trained
from a weights file a user gives, detected with, chosen for a round (and stored with it), and,
offline without the file, refused in one line that says where the weights come from."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.core.al.test_kinetics import torchvision, weights_file  # noqa: F401 (a fixture)
from tests.test_cli import ROOT, halgui
from tests.test_cli_learning import (  # noqa: F401 (demo, project: fixtures)
    TINY_TRAIN,
    assert_refused,
    demo,
    project,
    tree,
)


def test_train_from_a_weights_file_then_predict(project, tmp_path,  # noqa: F811
                                                torchvision):  # noqa: F811
    path, _ = weights_file(torchvision, tmp_path, "r3d_18")
    model = tmp_path / "model.pt"
    result = halgui("train", project, *TINY_TRAIN, "--size", "32", "--batch-size", "2",
                    "--backbone", "r3d_18", "--backbone-weights", path, "--out", model,
                    "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["steps"] == 1
    from halgui.core.al import checkpoint

    assert checkpoint.load(model).model.config.backbone == "r3d_18"
    result = halgui("predict", project, tmp_path / "pred.json", "--checkpoint", model,
                    "--device", "cpu", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["videos"] == 3
    # --init continues the checkpoint with its own backbone; another one is refused
    again = tmp_path / "again.pt"
    result = halgui("train", project, *TINY_TRAIN, "--batch-size", "2", "--init", model,
                    "--out", again, "--json")
    assert result.returncode == 0, result.stderr
    assert checkpoint.load(again).model.config.backbone == "r3d_18"
    assert_refused(halgui("train", project, *TINY_TRAIN, "--init", model, "--backbone",
                          "mc3_18", "--out", tmp_path / "no.pt"),
                   str(model), "backbone r3d_18, not --backbone mc3_18")


def test_offline_without_the_file_is_refused_in_one_line(project, tmp_path,  # noqa: F811
                                                         torchvision):  # noqa: F811
    files = tree(project)
    env = {**os.environ, "TORCH_HOME": str(tmp_path / "torch"),  # nothing cached
           "https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}  # no net
    result = subprocess.run(
        [sys.executable, "-m", "halgui", "train", project, *TINY_TRAIN, "--size", "32",
         "--backbone", "r2plus1d_18", "--out", tmp_path / "m.pt", "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.stdout == ""
    line = assert_refused(result, "backbone r2plus1d_18", "--backbone-weights FILE",
                          str(tmp_path / "torch"), "https://download.pytorch.org/")
    assert "cannot download its Kinetics-400 weights" in line
    assert not (tmp_path / "m.pt").exists() and tree(project) == files
    missing = tmp_path / "nowhere.pth"
    assert_refused(halgui("train", project, *TINY_TRAIN, "--backbone", "r2plus1d_18",
                          "--backbone-weights", missing), str(missing), "no such")


@pytest.mark.slow
def test_round_with_a_kinetics_backbone_is_recorded(project, tmp_path,  # noqa: F811
                                                     torchvision):  # noqa: F811
    path, _ = weights_file(torchvision, tmp_path, "mc3_18")
    result = halgui("round", project, *TINY_TRAIN, "--budget", "2", "--backbone", "mc3_18",
                    "--backbone-weights", path, "--freeze", "all", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    from halgui.core.al import checkpoint
    from halgui.core.project import Project

    assert checkpoint.load(Path(out["checkpoint"])).model.config.backbone == "mc3_18"
    with Project.open(project) as reopened:
        train = reopened.rounds()[-1].config["train"]
    assert (train["backbone"], train["freeze"], train["backbone_weights"]) == (
        "mc3_18", "all", str(path))
    assert_refused(halgui("round", project, "--backbone", "s3d"), "--backbone")
