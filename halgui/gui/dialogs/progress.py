"""A progress dialog that follows the worker's current job and cancels it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QProgressDialog, QWidget

from halgui.core.progress import Progress
from halgui.gui.worker import Worker

__all__ = ["JobProgress"]


class JobProgress(QProgressDialog):
    """Shows phase, count and message of each progress event; Cancel cancels the job. Closes
    itself when the job ends, however it ends."""

    def __init__(self, worker: Worker, title: str, parent: QWidget | None = None) -> None:
        super().__init__(title, "Cancel", 0, 0, parent)
        self.setWindowTitle(title)
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setMinimumDuration(300)
        self.setAutoClose(False)
        self.setAutoReset(False)
        self._worker = worker
        self.canceled.connect(worker.cancel)
        worker.progress.connect(self._on_progress)
        for ended in (worker.finished, worker.failed, worker.cancelled):
            ended.connect(self._done)

    @Slot(object)
    def _on_progress(self, event: object) -> None:
        if not isinstance(event, Progress):
            return
        self.setMaximum(max(event.total, 0))
        self.setValue(min(event.done, max(event.total, 0)))
        text = f"{event.phase}: {event.done}/{event.total}" if event.total else event.phase
        self.setLabelText(f"{text}\n{event.message}" if event.message else text)

    @Slot()
    def _done(self, *_: object) -> None:
        worker = self._worker
        worker.progress.disconnect(self._on_progress)
        for ended in (worker.finished, worker.failed, worker.cancelled):
            ended.disconnect(self._done)
        self.close()
        self.deleteLater()
