"""Round settings: what the Retrain button runs, remembered per project.

:class:`RoundSettings` is the plain data (saved with :meth:`Project.set_setting` under
``"round"``) and how it changes a :class:`RoundConfig`; :class:`RoundSettingsDialog` edits it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from halgui.core.al.rounds import RoundConfig
from halgui.core.al.strategies import STRATEGIES, SelectionConfig
from halgui.core.al.train import TrainConfig
from halgui.core.project import Project

__all__ = ["DEVICES", "RoundSettings", "RoundSettingsDialog", "ask_round_settings"]

#: Device choices: (stored value, what the dialog shows).
DEVICES = (("auto", "Auto (the GPU if there is one)"), ("cpu", "CPU"), ("cuda", "GPU (CUDA)"))
_KEY = "round"


@dataclass(frozen=True)
class RoundSettings:
    """The choices a labeler makes for the next rounds; defaults from the core configs."""

    budget: int | None = SelectionConfig.budget       # frames per round; None: automatic
    alpha: float = SelectionConfig.alpha               # share of the budget for new videos
    epochs: int = TrainConfig.epochs
    device: str = TrainConfig.device
    warm_start: bool = TrainConfig.warm_start
    strategy: str = RoundConfig.strategy

    @classmethod
    def load(cls, project: Project) -> RoundSettings:
        """The project's settings; unknown keys and values of the wrong type are ignored."""
        stored = project.get_setting(_KEY, {})
        if not isinstance(stored, dict):
            return cls()
        defaults = cls()
        kept: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            value = stored.get(f.name, getattr(defaults, f.name))
            if _valid(f.name, value):
                kept[f.name] = value
        return dataclasses.replace(defaults, **kept)

    def save(self, project: Project) -> None:
        project.set_setting(_KEY, dataclasses.asdict(self))

    def apply(self, base: RoundConfig) -> RoundConfig:
        """``base`` with these choices in it (everything else as ``base`` has it)."""
        return dataclasses.replace(
            base, strategy=self.strategy,
            train=dataclasses.replace(base.train, epochs=self.epochs, device=self.device,
                                      warm_start=self.warm_start),
            selection=dataclasses.replace(base.selection, budget=self.budget, alpha=self.alpha),
        )


def _valid(name: str, value: object) -> bool:
    if name == "budget":
        return value is None or (isinstance(value, int) and value > 0)
    if name == "alpha":
        return isinstance(value, (int, float)) and 0.0 <= value <= 1.0
    if name == "epochs":
        return isinstance(value, int) and not isinstance(value, bool) and value > 0
    if name == "device":
        return value in {d for d, _ in DEVICES}
    if name == "warm_start":
        return isinstance(value, bool)
    return value in STRATEGIES


class RoundSettingsDialog(QDialog):
    """Edits :class:`RoundSettings`; :meth:`values` reads them after accept."""

    def __init__(self, settings: RoundSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Round settings")
        self.budget = QSpinBox()
        self.budget.setRange(0, 1_000_000)
        self.budget.setSpecialValueText("Automatic")
        self.budget.setToolTip(
            f"Frames proposed per round. Automatic: {SelectionConfig.budget_fraction:.2%} of "
            f"the pool's frames, at least {SelectionConfig.min_budget}.")
        self.alpha = QDoubleSpinBox()
        self.alpha.setRange(0.0, 100.0)
        self.alpha.setDecimals(0)
        self.alpha.setSingleStep(5.0)
        self.alpha.setSuffix(" %")
        self.alpha.setToolTip("Share of the frames that go to videos with no label yet; the rest"
                              " goes to frames of videos already started")
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 1000)
        self.device = QComboBox()
        for value, text in DEVICES:
            self.device.addItem(text, value)
        self.warm_start = QCheckBox("Start from the previous round's model (warm start)")
        self.warm_start.setToolTip("Unchecked: train from scratch every round")
        self.strategy = QComboBox()
        for name in STRATEGIES:
            self.strategy.addItem(name, name)
        self.strategy.setToolTip("claus: diverse videos (deep clusters) and the most uncertain "
                                 "frames in them (MC dropout); the others are baselines")
        form = QFormLayout()
        form.addRow("Frames per round", self.budget)
        form.addRow("Share for new videos", self.alpha)
        form.addRow("Epochs", self.epochs)
        form.addRow("Device", self.device)
        form.addRow("", self.warm_start)
        form.addRow("Strategy", self.strategy)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel
                                   | QDialogButtonBox.StandardButton.RestoreDefaults)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(
            lambda: self.set_values(RoundSettings()))
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        note = QLabel("Remembered for this project; used by the next round.")
        note.setEnabled(False)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.set_values(settings)

    def set_values(self, s: RoundSettings) -> None:
        self.budget.setValue(s.budget or 0)
        self.alpha.setValue(round(s.alpha * 100))
        self.epochs.setValue(s.epochs)
        self.device.setCurrentIndex(max(0, self.device.findData(s.device)))
        self.warm_start.setChecked(s.warm_start)
        self.strategy.setCurrentIndex(max(0, self.strategy.findData(s.strategy)))

    def values(self) -> RoundSettings:
        return RoundSettings(
            budget=self.budget.value() or None, alpha=self.alpha.value() / 100,
            epochs=self.epochs.value(), device=str(self.device.currentData()),
            warm_start=self.warm_start.isChecked(), strategy=str(self.strategy.currentData()))


def ask_round_settings(parent: QWidget | None, project: Project) -> bool:
    """Show the dialog for ``project``'s settings and save them if accepted."""
    dialog = RoundSettingsDialog(RoundSettings.load(project), parent)
    if not dialog.exec():
        return False
    dialog.values().save(project)
    return True
