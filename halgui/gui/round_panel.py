"""Retraining from the app: one round in the background, its progress, its end.

:class:`RoundController` owns the rounds' :class:`Worker` (the one adapter) and starts
:func:`halgui.core.al.model_jobs.round_job` in a child process through
:func:`~halgui.gui.process_job.in_subprocess`, with the project's :class:`RoundSettings`
applied to :attr:`RoundController.base`. The round reads a snapshot of the labels taken when
it starts, so labeling goes on meanwhile and what is drawn now counts in the next round. One
round at a time: :meth:`RoundController.start` refuses while one runs. A shared project's
rounds run on the team's worker instead: start queues a request
(:class:`~halgui.gui.shared_rounds.SharedRounds`).

:class:`RoundProgress` is the small widget (in the status bar) that shows the phase, a bar,
epoch, loss and ETA while training, the device, and Cancel. The controller reports the end:
:attr:`~RoundController.finished` with the :class:`RoundResult`, then
:attr:`~RoundController.ended` whatever the outcome (the window refreshes its views on it). A
failed round is a message box with the readable error; a failed or cancelled round changed
nothing (see :func:`halgui.core.al.rounds.run_round`).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from halgui.core.al.model_jobs import NICE, round_job
from halgui.core.al.rounds import RoundConfig, RoundResult
from halgui.core.al.settings import RoundSettings
from halgui.core.error_report import describe_error
from halgui.core.errors import HalguiError
from halgui.core.progress import Progress
from halgui.core.project import Project
from halgui.gui.dialogs.messages import show_error
from halgui.gui.process_job import in_subprocess
from halgui.gui.shared_rounds import SharedRounds
from halgui.gui.worker import Worker

__all__ = ["PHASES", "RoundController", "RoundProgress", "eta_text"]

#: What each phase of a round is called on screen.
PHASES = {
    "starting": "Starting",
    "fetching weights": "Getting the backbone's weights",
    "caching clips": "Preparing clips",
    "training": "Training",
    "scoring": "Scoring the pool",
    "selecting": "Selecting frames",
    "predicting": "Validating",
    "saving": "Saving",
}
_STOP_WAIT_MS = 90_000  # closing the window waits this long for a cancelled round to stop


def eta_text(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return f"{seconds // 60}:{seconds % 60:02d}"


class RoundProgress(QWidget):
    """Phase, bar, epoch / loss / ETA, device and Cancel of the running round."""

    cancelRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.phase = QLabel()
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(160)
        self.bar.setTextVisible(False)
        self.details = QLabel()
        self.device = QLabel()
        self.device.setToolTip("Where this round trains and scores")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the round; nothing it did is kept")
        self.cancel_button.clicked.connect(self.cancelRequested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.phase, self.bar, self.details, self.device, self.cancel_button):
            layout.addWidget(widget)
        self.hide()

    def begin(self) -> None:
        self.phase.setText("Round: starting")
        self.bar.setRange(0, 0)
        self.details.setText("")
        self.device.setText("")
        self.cancel_button.setEnabled(True)
        self.show()

    def cancelling(self) -> None:
        self.phase.setText("Round: cancelling…")
        self.cancel_button.setEnabled(False)

    @Slot(object)
    def update_from(self, event: object) -> None:
        if not isinstance(event, Progress) or not self.cancel_button.isEnabled():
            return
        self.phase.setText(f"Round: {PHASES.get(event.phase, event.phase)}")
        if event.total > 0:
            self.bar.setRange(0, event.total)
            self.bar.setValue(min(event.done, event.total))
        else:
            self.bar.setRange(0, 0)
        extra = event.extra
        if "device_name" in extra:
            self.device.setText(f"on {extra['device_name']}")
        if event.phase == "training" and "epochs" in extra:
            parts = [f"epoch {max(extra.get('epoch', 0), 1)}/{extra['epochs']}"]
            if "loss" in extra:
                parts.append(f"loss {extra['loss']:.4f}")
            if "eta" in extra:
                parts.append(f"ETA {eta_text(extra['eta'])}")
            self.details.setText(" · ".join(parts))
        elif event.phase != "training":
            self.details.setText(f"{event.done}/{event.total}" if event.total > 1 else "")


class RoundController(QObject):
    """Starts, follows and cancels the background round of the open project."""

    finished = Signal(object)       # RoundResult
    ended = Signal()                # after finished, failed or cancelled
    runningChanged = Signal(bool)
    message = Signal(str)           # for the status bar

    def __init__(self, parent: QWidget, base: RoundConfig | None = None) -> None:
        super().__init__(parent)
        self._parent = parent
        #: the configuration the project's round settings are applied to
        self.base = base or RoundConfig()
        self.worker = Worker(self)
        self.progress = RoundProgress()
        self.progress.cancelRequested.connect(self.cancel)
        self.worker.progress.connect(self.progress.update_from)
        self.worker.runningChanged.connect(self.runningChanged)
        self.worker.finished.connect(self._finished)
        self.worker.failed.connect(self._failed)
        self.worker.cancelled.connect(self._cancelled)
        #: a shared project's rounds: queued for the team's worker, followed in the status bar
        self.shared = SharedRounds(self)
        self.shared.message.connect(self.message)
        self.shared.ended.connect(self.ended)

    def is_running(self) -> bool:
        return self.worker.is_running()

    def start(self, project: Project | None) -> bool:
        """Start a round on ``project`` with its settings; False if one is running."""
        if project is None:
            return False
        if project.url is not None:  # the team's worker runs it
            try:
                self.shared.request(project)
            except HalguiError as exc:
                show_error(self._parent, "Cannot request a round", exc)
                return False
            return True
        if self.worker.is_running():
            self.message.emit("A round is already running")
            return False
        config = RoundSettings.load(project).apply(self.base)
        self.progress.begin()
        where = project.url or str(project.folder)  # a shared project: its URL
        started = self.worker.start(in_subprocess(round_job, where, config, nice=NICE))
        if started:
            self.message.emit("Round started: keep labeling; new labels count in the next one")
        return started

    @Slot()
    def cancel(self) -> None:
        if self.worker.is_running():
            self.progress.cancelling()
            self.worker.cancel()

    def watch(self, project: Project | None) -> None:
        """Follow the open project's queue of rounds, when it is a shared project."""
        self.shared.watch(project)

    def shutdown(self) -> None:
        """Cancel a running round and wait for it (closing the project or the window)."""
        self.shared.watch(None)
        if self.worker.is_running():
            self.progress.cancelling()
        self.worker.shutdown(_STOP_WAIT_MS)
        self.progress.hide()

    @Slot(object)
    def _finished(self, result: object) -> None:
        self.progress.hide()
        if isinstance(result, RoundResult):
            what = "first proposals" if result.checkpoint is None else "trained"
            self.message.emit(f"Round {result.number} done ({what}, {result.seconds:.0f} s): "
                              f"{result.proposals} frames proposed")
        self.finished.emit(result)
        self.ended.emit()

    @Slot(object)
    def _failed(self, error: BaseException) -> None:
        self.progress.hide()
        self.ended.emit()
        self.message.emit("The round failed; nothing was changed")
        show_error(self._parent, "The round failed",
                   f"{describe_error(error)[0]}\n\nNothing was changed: the labels and the "
                   "model in use are as they were.")

    @Slot()
    def _cancelled(self) -> None:
        self.progress.hide()
        self.ended.emit()
        self.message.emit("Round cancelled; nothing was changed")
