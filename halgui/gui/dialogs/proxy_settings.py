"""The Proxy settings dialog: whether the project's videos get proxies, and the disk they may
take. The settings are :class:`halgui.core.proxy.ProxySettings`, shared with
``halgui proxy``."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from halgui.core.proxy import ProxySettings, ProxyStore

__all__ = ["ProxySettingsDialog"]

_MIB = 1 << 20
MAX_BUDGET_MIB = 1 << 24  # 16 TiB: the spin box needs a top


class ProxySettingsDialog(QDialog):
    """Edits :class:`ProxySettings`; :meth:`values` reads them after accept."""

    def __init__(self, settings: ProxySettings, store: ProxyStore,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Proxy settings")
        self.enabled = QCheckBox("Build a proxy of each video (fast seeking)")
        self.enabled.setToolTip("A small copy of each video with frequent keyframes, built in"
                                " the background; the canvas shows it while you navigate")
        self.budget = QSpinBox()
        self.budget.setRange(0, MAX_BUDGET_MIB)
        self.budget.setSingleStep(512)
        self.budget.setSuffix(" MiB")
        self.budget.setToolTip("The least recently used proxies are deleted to stay within it")
        form = QFormLayout()
        form.addRow(self.enabled)
        form.addRow("Disk budget", self.budget)
        used = QLabel(f"Proxies now take {store.total_bytes() / _MIB:.1f} MiB in {store.folder}"
                      " (deletable: they are rebuilt when needed).")
        used.setWordWrap(True)
        used.setEnabled(False)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(used)
        layout.addWidget(buttons)
        self.enabled.setChecked(settings.enabled)
        self.budget.setValue(settings.budget_mib)

    def values(self) -> ProxySettings:
        return ProxySettings(enabled=self.enabled.isChecked(), budget_mib=self.budget.value())
