"""Rounds of a shared project as every member's window sees them.

A shared project's rounds run on the team's worker (``halgui worker URL``, the machine with
the GPU), not in the window: Retrain queues a request (:mod:`halgui.core.round_queue`; a
second Retrain joins the request that waits). Every member's window looks at the queue every
:attr:`QueueConfig.poll_s` and shows it in a status-bar label ("Round on gpu@lab: training
45%"); when a request ends, done or failed, the window is told (:attr:`SharedRounds.ended`)
so it shows the new proposals and model, and the status bar says how it ended.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QLabel

from halgui.core import round_queue as queue
from halgui.core.errors import HalguiError
from halgui.core.project import Project
from halgui.core.round_queue import DONE, FAILED, QUEUED, RUNNING, QueueConfig, RoundRequest
from halgui.core.schema import TEAM_TABLES

__all__ = ["SharedRounds", "describe"]

#: What a running round's phases are called in the label (others are shown as they are).
_PHASES = {"starting": "starting", "caching clips": "preparing clips", "training": "training",
           "scoring": "scoring", "selecting": "selecting", "saving": "saving"}


def describe(request: RoundRequest) -> str:
    """One line on ``request`` for the status bar."""
    if request.state == QUEUED:
        retry = f" (retrying: {request.message})" if request.message else ""
        return f"Round requested by {request.requested_by}: waiting for a worker{retry}"
    if request.state == RUNNING:
        phase = _PHASES.get(request.phase or "", request.phase or "running")
        return f"Round on {request.worker}: {phase} {request.fraction or 0:.0%}"
    if request.state == DONE:
        return f"Round {request.round_number} done on {request.worker}: new proposals"
    return f"The round request failed: {request.message}"


class SharedRounds(QObject):
    """Queues rounds of a shared project and follows the queue for the window."""

    ended = Signal()        # a request the window saw waiting or running ended
    message = Signal(str)   # how it ended, or why the queue cannot be read

    def __init__(self, parent: QObject | None = None, config: QueueConfig | None = None
                 ) -> None:
        super().__init__(parent)
        self.config = config or QueueConfig()
        #: the status bar's line on the round that waits or runs; hidden when none does
        self.label = QLabel()
        self.label.hide()
        self._project: Project | None = None
        self._open: set[int] = set()  # requests seen waiting or running
        self._unreachable = False
        self._timer = QTimer(self)
        self._timer.setInterval(round(self.config.poll_s * 1000))
        self._timer.timeout.connect(self.poll)

    def watch(self, project: Project | None) -> None:
        """Follow ``project``'s queue when it is shared; stop following with None."""
        self._project = project if project is not None and project.url is not None \
            and project.schema_version >= TEAM_TABLES else None
        self._open.clear()
        self.label.hide()
        if self._project is None:
            self._timer.stop()
            return
        self.poll()
        self._timer.start()

    def request(self, project: Project, by: str | None = None) -> RoundRequest:
        """Queue a round for the team's worker (Retrain on a shared project)."""
        made = queue.request_round(project, by or queue.member_name())
        self.message.emit("Round requested: the team's worker (halgui worker) runs it; keep "
                          "labeling, new labels count until it starts")
        self.poll()
        return made

    @Slot()
    def poll(self) -> None:
        """Look at the queue once: update the label; report requests that ended."""
        if self._project is None:
            return
        try:
            requests = queue.recent(self._project)
        except HalguiError as exc:
            if not self._unreachable:
                self.message.emit(f"The shared project cannot be read now: {exc}")
            self._unreachable = True
            return
        self._unreachable = False
        live = [r for r in requests if r.state in (QUEUED, RUNNING)]
        ended = [r for r in requests if r.id in self._open and r.state in (DONE, FAILED)]
        self._open = {r.id for r in live}
        shown = next((r for r in live if r.state == RUNNING), live[0] if live else None)
        self.label.setText("" if shown is None else describe(shown))
        self.label.setVisible(shown is not None)
        if ended:
            self.message.emit(describe(ended[0]))
            self.ended.emit()
