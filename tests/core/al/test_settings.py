"""Round settings in core: defaults from the core configs, per-project storage, the one list of
valid values, and how saved settings and command-line flags combine."""

import pytest
import torch

from halgui.core.al.model import pick_device
from halgui.core.al.rounds import RoundConfig
from halgui.core.al.settings import (
    BACKBONES,
    CPU_CLIPS_PER_S,
    DEVICES,
    FIELDS,
    STRATEGY_NAMES,
    RoundSettings,
    cost,
    expected,
    from_text,
)
from halgui.core.al.strategies import STRATEGIES, SelectionConfig
from halgui.core.al.train import TrainConfig
from halgui.core.errors import ProjectError
from halgui.core.project import Project

SAVED = RoundSettings(budget=40, alpha=0.25, epochs=3, device="cpu", warm_start=False,
                      strategy="entropy")


def test_defaults_come_from_the_core_configs(tmp_path):
    with Project.create(tmp_path / "p") as project:
        s = RoundSettings.load(project)
    assert s == RoundSettings()
    assert (s.budget, s.alpha) == (SelectionConfig().budget, SelectionConfig().alpha)
    assert (s.epochs, s.device, s.warm_start) == (TrainConfig().epochs, "auto", True)
    assert s.strategy == "claus"


def test_saved_per_project_and_bad_values_ignored(tmp_path):
    with Project.create(tmp_path / "a") as a, Project.create(tmp_path / "b") as b:
        SAVED.save(a)
        assert RoundSettings.load(b) == RoundSettings()
        b.set_setting("round", {"epochs": -1, "device": "tpu", "alpha": 0.1, "x": 1,
                                "budget": "many", "strategy": "nope"})
        assert RoundSettings.load(b) == RoundSettings(alpha=0.1)
    with Project.open(tmp_path / "a") as again:
        assert RoundSettings.load(again) == RoundSettings(40, 0.25, 3, "cpu", False, "entropy")


def test_apply_changes_only_what_the_settings_hold():
    base = RoundConfig(train=TrainConfig(width=4, batch_size=2), seed=7)
    config = RoundSettings(budget=12, alpha=0.3, epochs=2, device="cpu", warm_start=False,
                           strategy="uniform").apply(base)
    assert config.strategy == "uniform" and config.seed == 7
    assert (config.train.epochs, config.train.device, config.train.warm_start) == (2, "cpu",
                                                                                   False)
    assert (config.train.width, config.train.batch_size) == (4, 2)
    assert (config.selection.budget, config.selection.alpha) == (12, 0.3)


@pytest.mark.parametrize(("name", "value"), [
    ("budget", 7), ("budget", None), ("alpha", 0.0), ("epochs", 1000), ("device", "mps"),
    ("warm_start", True), ("strategy", "asl")])
def test_resolve_takes_a_given_value_for_its_own_field_only(tmp_path, name, value):
    with Project.create(tmp_path / "p") as project:
        SAVED.save(project)
        resolved = RoundSettings.resolve(project, {name: value})
    assert getattr(resolved, name) == value
    others = [f for f in FIELDS if f != name]
    assert [getattr(resolved, f) for f in others] == [getattr(SAVED, f) for f in others]


def test_resolve_without_saved_settings_is_the_defaults(tmp_path):
    with Project.create(tmp_path / "p") as project:
        assert RoundSettings.resolve(project, {}) == RoundSettings()
        project.set_setting("round", {"epochs": 4, "someday": 1})  # keys of a later version
        assert RoundSettings.resolve(project, {}) == RoundSettings(epochs=4)


def test_an_invalid_saved_setting_is_an_error_unless_a_flag_replaces_it(tmp_path):
    with Project.create(tmp_path / "p") as project:
        project.set_setting("round", {"epochs": 3, "device": "tpu"})
        with pytest.raises(ProjectError) as error:
            RoundSettings.resolve(project, {"epochs": 5})
        assert str(error.value) == (
            f"{project.db_path}: the saved round setting device is 'tpu', not one of auto, cpu,"
            " cuda, mps; change it in the app's Round settings or override it with a flag")
        assert RoundSettings.resolve(project, {"device": "cpu"}) == RoundSettings(
            epochs=3, device="cpu")
        project.set_setting("round", ["epochs", 3])
        with pytest.raises(ProjectError, match="not a table of values"):
            RoundSettings.resolve(project, {})


def test_every_device_is_one_the_model_understands():
    """A listed device either is used or is refused as unavailable, never silently CPU."""
    for name in DEVICES:
        try:
            device = pick_device(name)
        except RuntimeError as exc:
            assert "not available" in str(exc)
            continue
        assert name == "auto" or device == torch.device(name)
    assert set(DEVICES) == {"auto", "cpu", "cuda", "mps"}


def test_strategies_are_the_registry():
    assert tuple(STRATEGIES) == STRATEGY_NAMES
    assert all(expected("strategy", s) is None for s in STRATEGIES)
    assert expected("strategy", "cold-start") == f"one of {', '.join(STRATEGIES)}"


@pytest.mark.parametrize(("name", "text", "value"), [
    ("budget", "auto", None), ("budget", "1", 1), ("budget", "1000000", 1_000_000),
    ("alpha", "0", 0.0), ("alpha", "1", 1.0), ("alpha", "0.35", 0.35),
    ("epochs", "1", 1), ("epochs", "1000", 1000), ("device", "mps", "mps"),
    ("minutes", "none", None), ("minutes", "2.5", 2.5), ("minutes", "0.1", 0.1)])
def test_flag_text_in_range(name, text, value):
    assert from_text(name, text) == value


@pytest.mark.parametrize(("name", "text", "message"), [
    ("budget", "0", "'0' is not a whole number from 1 to 1000000, or automatic"),
    ("budget", "1000001", "'1000001' is not a whole number from 1 to 1000000, or automatic"),
    ("budget", "2.5", "'2.5' is not a whole number from 1 to 1000000, or automatic"),
    ("alpha", "1.01", "'1.01' is not a share from 0 to 1"),
    ("alpha", "-0.1", "'-0.1' is not a share from 0 to 1"),
    ("alpha", "nan", "'nan' is not a share from 0 to 1"),
    ("epochs", "0", "'0' is not a whole number from 1 to 1000"),
    ("epochs", "1001", "'1001' is not a whole number from 1 to 1000"),
    ("device", "tpu", "'tpu' is not one of auto, cpu, cuda, mps"),
    ("minutes", "0", "'0' is not minutes from 0.1 to 1440, or none (no time limit)"),
    ("minutes", "inf", "'inf' is not minutes from 0.1 to 1440, or none (no time limit)")])
def test_flag_text_out_of_range(name, text, message):
    with pytest.raises(ValueError) as error:
        from_text(name, text)
    assert str(error.value) == message


def test_settings_that_cannot_be_are_refused_when_made():
    with pytest.raises(ValueError, match="epochs"):
        RoundSettings(epochs=0)
    with pytest.raises(ValueError, match="warm_start"):
        RoundSettings(warm_start=1)  # type: ignore[arg-type]


def test_a_time_budget_reaches_the_rounds_training():
    config = RoundSettings(epochs=50, minutes=2.5).apply(RoundConfig())
    assert (config.train.epochs, config.train.minutes) == (50, 2.5)
    assert RoundSettings().apply(RoundConfig()).train.minutes is None  # no limit by default


def test_what_a_round_starts_from_reaches_its_training():
    assert RoundSettings(pretrained="synth").apply(RoundConfig()).train.pretrained == "synth"
    assert RoundSettings(pretrained="none").apply(RoundConfig()).train.pretrained is None
    assert from_text("pretrained", "synth") == "synth"
    with pytest.raises(ValueError, match="one of synth, none"):
        from_text("pretrained", "imagenet")


def test_backbone_settings_reach_the_round_and_say_their_cost():
    chosen = RoundSettings(backbone="r3d_18", freeze="all", backbone_weights="/w/r3d.pth")
    train = chosen.apply(RoundConfig()).train
    assert (train.backbone, train.freeze, train.backbone_weights) == (
        "r3d_18", "all", "/w/r3d.pth")
    assert RoundSettings().apply(RoundConfig()).train.backbone == TrainConfig.backbone
    assert expected("backbone", "s3d") == f"one of {', '.join(BACKBONES)}"
    assert expected("freeze", "half") == "one of auto, none, lower, all"
    assert expected("backbone_weights", "") is not None
    assert from_text("backbone_weights", "none") is None
    with pytest.raises(ValueError, match="one of"):
        RoundSettings(backbone="mvit_v2_s")
    # the cost the dialog shows follows the measured rates
    assert set(BACKBONES) == set(CPU_CLIPS_PER_S)  # every backbone has measured rates
    train_rate = CPU_CLIPS_PER_S["r2plus1d_18"][0]
    assert f"{train_rate:.2g} clips/s training" in cost("r2plus1d_18", 3)
    assert f"train in about {3 * 100 / train_rate / 60:.0f} min" in cost("r2plus1d_18", 3)
