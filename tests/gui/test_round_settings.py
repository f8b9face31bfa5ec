"""The Round settings dialog: shows and returns the core settings, saves them for the project,
offers exactly the valid values, says what round 0 does with them, and `halgui round` runs
what it saved."""

import json

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel

from halgui.core.al.settings import BACKBONES, DEVICES, FREEZE, RANGES, RoundSettings, cost
from halgui.core.al.strategies import STRATEGIES, SelectionConfig
from halgui.gui.dialogs import round_settings as rs
from halgui.gui.dialogs.round_settings import RoundSettingsDialog
from tests.test_cli import halgui


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
    assert dialog.minutes.text() == "No limit"
    dialog.minutes.setValue(3.5)
    assert dialog.values().minutes == 3.5
    dialog.set_values(RoundSettings(minutes=None))
    assert dialog.values().minutes is None
    for start in ("synth", "none"):
        dialog.set_values(RoundSettings(pretrained=start))
        assert dialog.values().pretrained == start
    restore = QDialogButtonBox.StandardButton.RestoreDefaults
    dialog.findChild(QDialogButtonBox).button(restore).click()
    assert dialog.values() == RoundSettings()


def test_accepted_dialog_saves_for_the_project(qtbot, tmp_path, monkeypatch):
    from halgui.core.project import Project

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


def test_dialog_offers_exactly_the_valid_values(qtbot):
    dialog = RoundSettingsDialog(RoundSettings(device="mps"))
    qtbot.addWidget(dialog)
    devices = [dialog.device.itemData(i) for i in range(dialog.device.count())]
    assert devices == list(DEVICES) and "mps" in devices
    assert dialog.values().device == "mps"  # shown and kept, not replaced by the first entry
    strategies = [dialog.strategy.itemData(i) for i in range(dialog.strategy.count())]
    assert strategies == list(STRATEGIES)
    assert (dialog.budget.maximum(), dialog.epochs.minimum(), dialog.epochs.maximum()) == (
        RANGES["budget"][1], RANGES["epochs"][0], RANGES["epochs"][1])
    dialog.epochs.setValue(RANGES["epochs"][1] + 1)  # clamped: the dialog cannot save it
    assert dialog.values().epochs == RANGES["epochs"][1]


def test_dialog_says_round_zero_ignores_the_budget(qtbot):
    dialog = RoundSettingsDialog(RoundSettings(budget=40))
    qtbot.addWidget(dialog)
    dialog.show()
    shown = [label.text() for label in dialog.findChildren(QLabel) if label.isVisible()]
    note = [text for text in shown if "Round 0" in text]
    assert len(note) == 1
    assert "ignores these settings, the frames per round too" in note[0]
    assert f"{SelectionConfig.cold_fraction:.0%} of the pool's frames" in note[0]


def test_halgui_round_runs_what_the_dialog_saved(qtbot, project, reopened, monkeypatch):
    """Saved in the app, used by the CLI: the round's stored config has the dialog's values,
    except the one field a flag gives."""
    def accept(self):
        self.budget.setValue(40)
        self.alpha.setValue(25)
        self.epochs.setValue(3)
        self.device.setCurrentIndex(self.device.findData("cpu"))
        self.warm_start.setChecked(False)
        self.strategy.setCurrentIndex(self.strategy.findData("entropy"))
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(RoundSettingsDialog, "exec", accept)
    assert rs.ask_round_settings(None, project)
    result = halgui("round", project.folder, "--json", "--epochs", "2")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["round"] == 0
    config = reopened().rounds()[0].config
    assert config["strategy"] == "entropy"
    assert (config["train"]["epochs"], config["train"]["device"],
            config["train"]["warm_start"]) == (2, "cpu", False)
    assert (config["selection"]["budget"], config["selection"]["alpha"]) == (40, 0.25)


def test_dialog_offers_the_backbones_with_their_cost(qtbot):
    dialog = RoundSettingsDialog(RoundSettings(epochs=2, backbone_weights="/w/r3d.pth"))
    qtbot.addWidget(dialog)
    assert [dialog.backbone.itemData(i) for i in range(dialog.backbone.count())] == list(
        BACKBONES)
    assert [dialog.freeze.itemData(i) for i in range(dialog.freeze.count())] == list(FREEZE)
    assert dialog.cost.text() == cost("r2plus1d-tiny", 2)
    dialog.backbone.setCurrentIndex(dialog.backbone.findData("r3d_18"))
    dialog.epochs.setValue(5)
    assert dialog.cost.text() == cost("r3d_18", 5)  # follows the backbone and the epochs
    dialog.freeze.setCurrentIndex(dialog.freeze.findData("all"))
    chosen = dialog.values()
    assert (chosen.backbone, chosen.freeze, chosen.backbone_weights) == (
        "r3d_18", "all", "/w/r3d.pth")  # the file given to halgui round is kept
