"""The Round settings dialog: what the Retrain button runs, remembered per project.

The settings themselves (fields, defaults, valid values, storage) are
:class:`halgui.core.al.settings.RoundSettings`, shared with ``halgui round``;
:class:`RoundSettingsDialog` edits them.
"""

from __future__ import annotations

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

from halgui.core.al.settings import (
    BACKBONES,
    DEVICES,
    FREEZE,
    RANGES,
    STARTS,
    STRATEGY_NAMES,
    RoundSettings,
    cost,
)
from halgui.core.al.strategies import SelectionConfig
from halgui.core.project import Project

__all__ = ["RoundSettingsDialog", "ask_round_settings", "round_zero_note"]


def round_zero_note() -> str:
    """Why the first round does not follow these settings (algorithm.md 5.3, round 0)."""
    return (f"Round 0 (while no training video has a labeled frame) ignores these settings, "
            f"the frames per round too: it trains nothing and proposes "
            f"{SelectionConfig.cold_fraction:.0%} of the pool's frames, in videos chosen by "
            f"appearance. They apply from round 1 on.")


#: what the dialog shows for each freeze choice (settings.FREEZE)
_FREEZE_TEXT: dict[str, str] = {
    "auto": "Automatic (a pretrained trunk: all of it; a Kinetics trunk on a GPU: the lower "
            "stages)",
    "none": "Nothing (train the whole trunk)",
    "lower": "All but the last stage",
    "all": "The whole trunk",
}
assert tuple(_FREEZE_TEXT) == FREEZE


def _choices(items: dict[str, str]) -> QComboBox:
    """A combo box showing each item's text and holding its value (``{value: text}``)."""
    box = QComboBox()
    for value, text in items.items():
        box.addItem(text, value)
    return box


class RoundSettingsDialog(QDialog):
    """Edits :class:`RoundSettings`; :meth:`values` reads them after accept."""

    def __init__(self, settings: RoundSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Round settings")
        self.budget = QSpinBox()
        self.budget.setRange(0, int(RANGES["budget"][1]))  # 0 shows as "Automatic"
        self.budget.setSpecialValueText("Automatic")
        self.budget.setToolTip(
            f"Frames proposed per round. Automatic: {SelectionConfig.budget_fraction:.2%} of "
            f"the pool's frames, at least {SelectionConfig.min_budget}.")
        self.alpha = QDoubleSpinBox()
        self.alpha.setRange(RANGES["alpha"][0] * 100, RANGES["alpha"][1] * 100)
        self.alpha.setDecimals(0)
        self.alpha.setSingleStep(5.0)
        self.alpha.setSuffix(" %")
        self.alpha.setToolTip("Share of the frames that go to videos with no label yet; the rest"
                              " goes to frames of videos already started")
        self.epochs = QSpinBox()
        self.epochs.setRange(int(RANGES["epochs"][0]), int(RANGES["epochs"][1]))
        self.minutes = QDoubleSpinBox()
        self.minutes.setRange(0.0, RANGES["minutes"][1])  # 0 shows as "No limit"
        self.minutes.setDecimals(1)
        self.minutes.setSingleStep(0.5)
        self.minutes.setSuffix(" min")
        self.minutes.setSpecialValueText("No limit")
        self.minutes.setToolTip("Train for about this long, then score and propose frames "
                                "(training also ends after the epochs above, if sooner)")
        self.device = _choices(DEVICES)
        self.warm_start = QCheckBox("Start from the previous round's model (warm start)")
        self.warm_start.setToolTip("Unchecked: train from scratch every round")
        self.pretrained = _choices(STARTS)
        self.pretrained.setToolTip("What a round's model starts from when it does not continue "
                                   "the previous round's (the first round, or without warm "
                                   "start)")
        self.backbone = _choices(BACKBONES)
        self.backbone.setToolTip("The model's trunk. torchvision's, pretrained on Kinetics-400 "
                                 "(real footage), start from those weights (downloaded once) "
                                 "and are slow on a CPU; halgui's small one starts from "
                                 "\"Start from\"")
        self.freeze = _choices(_FREEZE_TEXT)
        self.freeze.setToolTip("Trunk stages a round leaves as they are: frozen stages cost no "
                               "backward pass")
        self.cost = QLabel()
        self.cost.setWordWrap(True)
        self.backbone.currentIndexChanged.connect(self._show_cost)
        self.epochs.valueChanged.connect(self._show_cost)
        self.strategy = _choices({name: name for name in STRATEGY_NAMES})
        self.strategy.setToolTip("claus: diverse videos (deep clusters) and the most uncertain "
                                 "frames in them (MC dropout); the others are baselines")
        form = QFormLayout()
        form.addRow("Frames per round", self.budget)
        form.addRow("Share for new videos", self.alpha)
        form.addRow("Epochs", self.epochs)
        form.addRow("Train for about", self.minutes)
        form.addRow("Device", self.device)
        form.addRow("", self.warm_start)
        form.addRow("Start from", self.pretrained)
        form.addRow("Backbone", self.backbone)
        form.addRow("Freeze", self.freeze)
        form.addRow("", self.cost)
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
        self.round_zero = QLabel(round_zero_note())
        self.round_zero.setWordWrap(True)
        layout.addWidget(self.round_zero)
        note = QLabel("Remembered for this project; used by the next round and by "
                      "halgui round.")
        note.setEnabled(False)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.set_values(settings)

    def set_values(self, s: RoundSettings) -> None:
        self.budget.setValue(s.budget or 0)
        self.alpha.setValue(round(s.alpha * 100))
        self.epochs.setValue(s.epochs)
        self.minutes.setValue(s.minutes or 0.0)
        self.device.setCurrentIndex(max(0, self.device.findData(s.device)))
        self.warm_start.setChecked(s.warm_start)
        self.strategy.setCurrentIndex(max(0, self.strategy.findData(s.strategy)))
        self.pretrained.setCurrentIndex(max(0, self.pretrained.findData(s.pretrained)))
        self.backbone.setCurrentIndex(max(0, self.backbone.findData(s.backbone)))
        self.freeze.setCurrentIndex(max(0, self.freeze.findData(s.freeze)))
        self._weights = s.backbone_weights  # set with halgui round --backbone-weights
        self._show_cost()

    def _show_cost(self) -> None:
        self.cost.setText(cost(str(self.backbone.currentData()), self.epochs.value()))

    def values(self) -> RoundSettings:
        return RoundSettings(
            budget=self.budget.value() or None, alpha=self.alpha.value() / 100,
            epochs=self.epochs.value(), minutes=self.minutes.value() or None,
            device=str(self.device.currentData()), warm_start=self.warm_start.isChecked(),
            strategy=str(self.strategy.currentData()),
            pretrained=str(self.pretrained.currentData()),
            backbone=str(self.backbone.currentData()), backbone_weights=self._weights,
            freeze=str(self.freeze.currentData()))


def ask_round_settings(parent: QWidget | None, project: Project) -> bool:
    """Show the dialog for ``project``'s settings and save them if accepted."""
    dialog = RoundSettingsDialog(RoundSettings.load(project), parent)
    if not dialog.exec():
        return False
    dialog.values().save(project)
    return True
