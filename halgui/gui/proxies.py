"""Building the open project's proxies in the background, with progress in the status bar.

:class:`ProxyController` owns its own :class:`Worker` (proxies build while the user labels,
a round trains, or another job runs) and builds the proxies that are missing whenever a
project is opened or videos are added (:func:`halgui.core.proxy.wanted_proxies`). Each video
works from its source until its proxy is ready; :attr:`built` then names the videos that got
one, so the window can switch the one on screen. A build that fails leaves that video on its
source; the reason goes to the status bar and stays in the tooltip of the proxy status.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QWidget

from halgui.core.errors import HalguiError
from halgui.core.progress import Progress
from halgui.core.project import Project
from halgui.core.proxy import (
    ProxyReport,
    ProxySettings,
    ProxyStore,
    build_proxies,
    wanted_proxies,
)
from halgui.gui.dialogs.messages import show_error
from halgui.gui.worker import Worker

__all__ = ["ProxyController"]


class ProxyController(QObject):
    """Builds missing proxies of the open project, one video after another."""

    built = Signal(list)  # names of the videos whose proxy is now ready
    message = Signal(str)  # one line for the status bar

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store: ProxyStore | None = None
        self.failed: dict[str, str] = {}
        self._project: Project | None = None
        self._again = False
        self.worker = Worker(self)
        self.worker.progress.connect(self._progress)
        self.worker.finished.connect(self._finished)
        self.worker.failed.connect(lambda error: self._ended(None, str(error)))
        self.worker.cancelled.connect(lambda: self._ended(None, ""))
        self.widget = QWidget()
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(120)
        self.bar.setTextVisible(False)
        layout = QHBoxLayout(self.widget)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        self.bar.hide()

    def set_project(self, project: Project | None) -> None:
        """Build what ``project`` lacks (None: stop, for a project being closed)."""
        self.worker.shutdown()
        self._project, self.failed, self._again = project, {}, False
        self.store = None if project is None else ProxyStore.for_project(project)
        self.label.setText("")
        self.label.setToolTip("")
        self.bar.hide()
        self.update()

    def update(self) -> None:
        """Build the proxies now missing (after videos were added, say); if a build is under
        way, look again when it ends."""
        if self._project is None or self.store is None:
            return
        if self.worker.is_running():
            self._again = True
            return
        todo = [(name, source) for name, source in wanted_proxies(self._project, self.store)
                if name not in self.failed]
        if not todo:
            return
        store = self.store
        self.label.setText("Building proxy: starting")
        self.bar.setRange(0, 0)
        self.bar.show()
        self.worker.start(lambda cancel: build_proxies(store, todo, cancel, background=True))

    def edit_settings(self, parent: QWidget) -> None:
        """Edit > Proxy settings: the dialog; what it saves is applied at once."""
        from halgui.gui.dialogs.proxy_settings import ProxySettingsDialog

        if self._project is None or self.store is None:
            return
        dialog = ProxySettingsDialog(ProxySettings.load(self._project), self.store, parent)
        if dialog.exec():
            try:
                dialog.values().save(self._project)
            except HalguiError as exc:
                show_error(parent, "Cannot save the proxy settings", exc)
                return
            self.apply(dialog.values())

    def apply(self, settings: ProxySettings) -> None:
        """New settings (already saved): trim to the budget; stop building if proxies are off,
        else build what is missing."""
        if self.store is None:
            return
        self.store.budget_bytes = settings.budget_bytes
        self.store.trim()
        self.failed.clear()  # a new budget may let a failed build fit
        if not settings.enabled:
            self.worker.cancel()
        else:
            self.update()

    def is_running(self) -> bool:
        return self.worker.is_running()

    def shutdown(self) -> None:
        self.set_project(None)

    @Slot(object)
    def _progress(self, event: object) -> None:
        if not isinstance(event, Progress):
            return
        self.label.setText(f"Building proxy: {event.message}")
        self.label.setToolTip("A small copy of each video for fast seeking, built once")
        self.bar.setRange(0, max(1, event.total))
        self.bar.setValue(event.done)

    @Slot(object)
    def _finished(self, report: object) -> None:
        assert isinstance(report, ProxyReport)
        self.failed.update(report.failed)
        problem = "; ".join(f"{name}: {why}" for name, why in report.failed.items())
        self._ended(report, problem)

    def _ended(self, report: ProxyReport | None, problem: str) -> None:
        self.bar.hide()
        if self.failed:
            self.label.setText(f"No proxy for {len(self.failed)} video(s)")
            self.label.setToolTip("These videos are read from their files (slower seeking):\n"
                                  + "\n".join(f"{n}: {w}" for n, w in self.failed.items()))
        else:
            self.label.setText("")
        if problem:
            self.message.emit(f"No proxy: {problem}")
        if report is not None and report.built:
            self.built.emit(report.built)
        if self._again:
            self._again = False
            self.update()
