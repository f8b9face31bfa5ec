"""Round settings: defaults from the core configs, remembered per project, applied to a round."""

from PySide6.QtWidgets import QDialog, QDialogButtonBox

from halgui.core.al.rounds import RoundConfig
from halgui.core.al.strategies import SelectionConfig
from halgui.core.al.train import TrainConfig
from halgui.core.project import Project
from halgui.gui.dialogs import round_settings as rs
from halgui.gui.dialogs.round_settings import RoundSettings, RoundSettingsDialog


def test_defaults_come_from_the_core_configs(tmp_path):
    with Project.create(tmp_path / "p") as project:
        s = RoundSettings.load(project)
    assert s == RoundSettings()
    assert (s.budget, s.alpha) == (SelectionConfig().budget, SelectionConfig().alpha)
    assert (s.epochs, s.device, s.warm_start) == (TrainConfig().epochs, "auto", True)
    assert s.strategy == "claus"


def test_saved_per_project_and_bad_values_ignored(tmp_path):
    with Project.create(tmp_path / "a") as a, Project.create(tmp_path / "b") as b:
        RoundSettings(budget=40, alpha=0.25, epochs=3, device="cpu", warm_start=False,
                      strategy="entropy").save(a)
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


def test_dialog_shows_and_returns_the_values(qtbot):
    chosen = RoundSettings(budget=None, alpha=0.35, epochs=7, device="cuda", warm_start=False,
                           strategy="random")
    dialog = RoundSettingsDialog(chosen)
    qtbot.addWidget(dialog)
    assert dialog.budget.text() == "Automatic" and dialog.alpha.value() == 35
    assert dialog.values() == chosen
    dialog.budget.setValue(25)
    dialog.epochs.setValue(2)
    assert dialog.values() == RoundSettings(25, 0.35, 2, "cuda", False, "random")
    restore = QDialogButtonBox.StandardButton.RestoreDefaults
    dialog.findChild(QDialogButtonBox).button(restore).click()
    assert dialog.values() == RoundSettings()


def test_accepted_dialog_saves_for_the_project(qtbot, tmp_path, monkeypatch):
    def accept(self):
        self.epochs.setValue(4)
        self.device.setCurrentIndex(self.device.findData("cpu"))
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(RoundSettingsDialog, "exec", accept)
    with Project.create(tmp_path / "p") as project:
        assert rs.ask_round_settings(None, project)
        assert RoundSettings.load(project) == RoundSettings(epochs=4, device="cpu")
        monkeypatch.setattr(RoundSettingsDialog, "exec", lambda self: 0)
        assert not rs.ask_round_settings(None, project)
