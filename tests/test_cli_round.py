"""`halgui round`: starts from the project's saved Round settings, applies only the flags given,
offers the choices of the one strategy registry and device list, and refuses bad values."""

import os
import re
import subprocess
import sys

import pytest

from halgui.cli import build_parser
from halgui.cli_learning import round_config
from halgui.core.al.rounds import RoundConfig
from halgui.core.al.settings import DEVICES, RoundSettings
from halgui.core.al.strategies import STRATEGIES
from halgui.core.project import DB_NAME, Project
from tests.test_cli import ROOT, halgui

SAVED = RoundSettings(budget=40, alpha=0.25, epochs=3, device="cpu", warm_start=False,
                      strategy="entropy")


def config_for(project, *flags):
    return round_config(project, build_parser().parse_args(["round", str(project.folder),
                                                            *flags]))


def test_without_flags_the_round_is_the_saved_settings(tmp_path):
    with Project.create(tmp_path / "p") as project:
        assert config_for(project) == RoundConfig()
        SAVED.save(project)
        assert config_for(project) == SAVED.apply(RoundConfig())


@pytest.mark.parametrize(("flags", "field", "value"), [
    (["--budget", "7"], "budget", 7),
    (["--budget", "auto"], "budget", None),
    (["--alpha", "0.8"], "alpha", 0.8),
    (["--epochs", "9"], "epochs", 9),
    (["--device", "mps"], "device", "mps"),
    (["--warm-start"], "warm_start", True),
    (["--strategy", "claus"], "strategy", "claus"),
    (["--minutes", "1.5"], "minutes", 1.5),
    (["--minutes", "none"], "minutes", None),
    (["--pretrained", "synth"], "pretrained", "synth"),
])
def test_a_flag_overrides_only_its_own_field(tmp_path, flags, field, value):
    with Project.create(tmp_path / "p") as project:
        SAVED.save(project)
        config = config_for(project, *flags)
    assert config == RoundSettings(**{**vars(SAVED), field: value}).apply(RoundConfig())


def test_from_scratch_seed_and_clips_keep_the_rest(tmp_path):
    with Project.create(tmp_path / "p") as project:
        RoundSettings(epochs=3).save(project)
        config = config_for(project, "--from-scratch", "--seed", "5", "--clips-per-epoch", "9")
    assert not config.train.warm_start and config.train.epochs == 3
    assert config.seed == 5 and config.train.clip.max_clips_per_epoch == 9


def help_text():
    env = {**os.environ, "COLUMNS": "400"}  # one line per option: names are not wrapped
    result = subprocess.run([sys.executable, "-m", "halgui", "round", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_help_lists_the_registry_and_the_device_list():
    text = help_text()
    strategies = re.search(r"--strategy NAME +one of: (.*)", text)
    devices = re.search(r"--device DEVICE +one of: (.*)", text)
    assert strategies and devices, text
    assert strategies[1].split(", ") == list(STRATEGIES)
    assert devices[1].split(", ") == list(DEVICES)


@pytest.mark.parametrize(("flags", "message"), [
    (["--device", "tpu"], "argument --device: invalid choice: 'tpu' (choose from 'auto', "
                          "'cpu', 'cuda', 'mps')"),
    (["--strategy", "cold-start"], "argument --strategy: invalid choice: 'cold-start'"),
    (["--alpha", "1.5"], "argument --alpha: '1.5' is not a share from 0 to 1"),
    (["--budget", "0"], "argument --budget: '0' is not a whole number from 1 to 1000000, or "
                        "automatic"),
    (["--epochs", "0"], "argument --epochs: '0' is not a whole number from 1 to 1000"),
])
def test_bad_flags_are_refused_before_anything_runs(tmp_path, flags, message):
    Project.create(tmp_path / "p").close()
    result = halgui("round", tmp_path / "p", *flags)
    assert result.returncode == 2
    assert message in result.stderr


def test_an_invalid_saved_setting_stops_halgui_round(tmp_path):
    with Project.create(tmp_path / "p") as project:
        project.set_setting("round", {"epochs": 3, "strategy": "claus-v2"})
    result = halgui("round", tmp_path / "p")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"halgui: error: {tmp_path / 'p' / DB_NAME}: the saved round setting strategy is "
        f"'claus-v2', not one of {', '.join(STRATEGIES)}; change it in the app's Round settings"
        " or override it with a flag"]
    with Project.open(tmp_path / "p") as again:
        assert again.rounds() == []
