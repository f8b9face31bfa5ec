"""The one adapter between core's progress generators and Qt: run a generator in a QThread.

Long work in core is a generator that yields :class:`~halgui.core.progress.Progress` and
returns its result. :class:`Worker` pulls it on a worker thread (the ``moveToThread`` recipe)
and turns what happens into signals on the GUI thread::

    progress(Progress)   each yield, throttled (:class:`~halgui.core.progress.Throttle`:
                         ~50 per second; phase changes and the last event always pass)
    finished(object)     the generator's return value
    failed(object)       the exception the job raised (describe it to a person with
                         :func:`halgui.core.error_report.describe_error`; a bug's traceback
                         is already in the log)
    cancelled()          the job stopped because cancel() was called

Exactly one of the last three ends each job, after the thread has stopped, so a slot may start
the next job. One job at a time: :meth:`Worker.start` refuses (returns False) while one runs.
Cancelling stops pulling at the next yield and closes the generator (its ``finally`` blocks
run); work that checks the job's :class:`CancelFlag` itself stops sooner. :meth:`shutdown`
(call it when the window closes) cancels and waits.

Work that must not share the GIL with the GUI (a round: torch, numpy) goes through the same
adapter, as a generator that runs it in a child process
(:func:`halgui.gui.process_job.in_subprocess`).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from halgui.core.error_report import log_failure
from halgui.core.errors import Cancelled
from halgui.core.progress import CancelFlag, Progress, Throttle

__all__ = ["Job", "Worker"]

Job = Generator[Progress, Any, Any]
#: What :meth:`Worker.start` takes: a generator, or a function that makes one from the job's
#: cancel flag (so the work can poll it between steps).
JobSource = Job | Callable[[CancelFlag], Job]


class _Runner(QObject):
    """Lives on the worker thread; pulls the generator and reports back through signals."""

    progress = Signal(object)
    ended = Signal(str, object)  # "finished" | "failed" | "cancelled", payload

    def __init__(self, work: Job, cancel: CancelFlag) -> None:
        super().__init__()
        self._work = work
        self._cancel = cancel

    @Slot()
    def run(self) -> None:
        throttle = Throttle()
        try:
            while True:
                if self._cancel.cancelled:
                    self._work.close()
                    self.ended.emit("cancelled", None)
                    return
                try:
                    event = next(self._work)
                except StopIteration as stop:
                    for held in throttle.flush():
                        self.progress.emit(held)
                    self.ended.emit("finished", stop.value)
                    return
                if throttle.passes(event):
                    self.progress.emit(event)
        except Cancelled:
            self.ended.emit("cancelled", None)
        except Exception as exc:  # a bug in the job must not kill the app: report it
            log_failure(exc, f"background job {getattr(self._work, '__qualname__', '')}")
            self.ended.emit("failed", exc)


class Worker(QObject):
    """Runs one progress generator at a time on a background thread."""

    progress = Signal(object)
    finished = Signal(object)
    failed = Signal(object)  # the exception
    cancelled = Signal()
    runningChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: QThread | None = None
        self._runner: _Runner | None = None
        self._cancel: CancelFlag | None = None

    def is_running(self) -> bool:
        return self._thread is not None

    def start(self, work: JobSource) -> bool:
        """Start a job; False (and nothing started) if one is already running."""
        if self._thread is not None:
            return False
        self._cancel = CancelFlag()
        job = work(self._cancel) if callable(work) else work
        thread = QThread()
        thread.setObjectName("halgui-worker")
        runner = _Runner(job, self._cancel)
        runner.moveToThread(thread)
        thread.started.connect(runner.run)
        runner.progress.connect(self.progress)
        runner.ended.connect(self._on_ended)
        self._thread, self._runner = thread, runner
        thread.start()
        self.runningChanged.emit(True)
        return True

    def cancel(self) -> None:
        """Ask the running job to stop at its next yield (no-op when idle)."""
        if self._cancel is not None:
            self._cancel.cancel()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel any job and wait for its thread; True if nothing is left running."""
        if self._thread is None:
            return True
        self.cancel()
        self._thread.quit()
        stopped = self._thread.wait(timeout_ms)
        if stopped:
            self._release()
        return stopped

    @Slot(str, object)
    def _on_ended(self, kind: str, payload: object) -> None:
        if self._thread is None:  # shut down already
            return
        self._release()
        self.runningChanged.emit(False)
        if kind == "finished":
            self.finished.emit(payload)
        elif kind == "failed":
            self.failed.emit(payload)
        else:
            self.cancelled.emit()

    def _release(self) -> None:
        """Stop the (finished) thread and drop it and the runner; Python owns both, so they
        are deleted here, after the thread has stopped."""
        thread = self._thread
        self._thread = self._runner = self._cancel = None
        if thread is not None:
            thread.quit()
            thread.wait()
