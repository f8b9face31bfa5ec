"""The latest model on the canvas: its boxes and actor map on the shown frame, and accepting
its boxes as keyframes.

:class:`ModelOverlay` asks a helper process (one, kept while the project is open, so torch and
the model load once; CPU, low priority) for the model's view of the prediction window that
holds the shown frame (:func:`halgui.core.al.model_jobs.window_view`, T frames at stride s), through
the one :class:`Worker` adapter, and keeps the windows it got. The canvas shows the frame's
detections (thin boxes, toggle D) and the actor map as its heatmap (toggle H). A round that
ends calls :meth:`ModelOverlay.reload`, which switches to the new checkpoint.

:class:`AcceptBoxes` turns the detections of a frame into keyframe boxes with source
``"model-accepted"``, in one undo step: it is the same add-box commands as drawn boxes
(:class:`~halgui.gui.commands.AddBoxes`), so each continues the nearest track of its class as a
drawn box does; which detections are taken is :func:`halgui.core.labels.boxes_to_accept` (a
detection that overlaps a box already on the frame is left out). The boxes are then edited like
any other.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
from collections import OrderedDict
from collections.abc import Generator
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QUndoStack

from halgui.core.al import model_jobs
from halgui.core.al.model_jobs import Shown, WindowView
from halgui.core.al.rounds import latest_checkpoint
from halgui.core.error_report import describe_error
from halgui.core.errors import Cancelled
from halgui.core.labels import VideoTracks, boxes_to_accept
from halgui.core.progress import CancelFlag, Progress
from halgui.core.project import Project, VideoRecord
from halgui.gui.commands import AddBox, AddBoxes
from halgui.gui.label_events import LabelEvents
from halgui.gui.worker import Worker

__all__ = ["AcceptBoxes", "ModelOverlay"]

_KEEP_WINDOWS = 64   # windows of model output kept per video (a few KB each)
_POLL_S = 0.05


class ModelOverlay(QObject):
    """Detections and the actor map of the latest model on the shown frame."""

    #: the shown frame's model output arrived or changed (detections may differ)
    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = Worker(self)
        self.worker.finished.connect(self._arrived)
        self.worker.failed.connect(self._failed)
        self._pool: cf.ProcessPoolExecutor | None = None
        self._project: Project | None = None
        self._canvas: Any = None
        self._video: VideoRecord | None = None
        self._checkpoint: str | None = None
        self._frame = 0
        self._views: OrderedDict[int, WindowView] = OrderedDict()  # window -> its view
        self._broken: set[tuple[str, int]] = set()  # (checkpoint, video) that failed once
        self.last_error = ""

    # ------------------------------------------------------------------ what is shown
    def set_project(self, project: Project | None, canvas: Any = None) -> None:
        """Show ``project``'s latest model on ``canvas`` (None: stop the helper process)."""
        self.shutdown()
        self._project, self._canvas, self._video = project, canvas, None
        self._views.clear()
        self._checkpoint = self._latest()

    def set_video(self, video: VideoRecord | None) -> None:
        """A video is opened: its first frame comes through :meth:`show_frame`."""
        self._video, self._frame = video, 0
        self._views.clear()

    def reload(self) -> None:
        """Use the newest checkpoint (after a round); forget what the old model said."""
        latest = self._latest()
        if latest != self._checkpoint:
            self._checkpoint = latest
            self._views.clear()
            self.show_frame(self._frame)

    def has_model(self) -> bool:
        return self._checkpoint is not None

    @Slot(int)
    def show_frame(self, frame: int) -> None:
        """Put the model's output for ``frame`` on the canvas (asking for it if needed)."""
        self._frame = frame
        view = self._view_for(frame)
        if view is not None:
            self._show(view)
        else:
            self._request()

    def detections(self) -> list[Shown]:
        """The model's detections on the shown frame, if they have arrived."""
        view = self._view_for(self._frame)
        return view.on_frame(self._frame)[0] if view is not None else []

    def accept(self, undo_stack: QUndoStack, events: LabelEvents) -> int:
        """Accept the shown frame's detections (:class:`AcceptBoxes` on ``undo_stack``);
        returns how many boxes were added."""
        if self._project is None or self._video is None:
            return 0
        cmd = AcceptBoxes(self._project, events, self._video, self._frame, self.detections())
        if cmd.count:
            undo_stack.push(cmd)
        return cmd.count

    def shutdown(self) -> None:
        """Stop the request in flight and the helper process (closing a project or the app)."""
        self.worker.shutdown()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    # ------------------------------------------------------------------ requests
    def _latest(self) -> str | None:
        if self._project is None:
            return None
        path = latest_checkpoint(self._project)
        return None if path is None else str(path)

    def _view_for(self, frame: int) -> WindowView | None:
        return next((v for v in self._views.values() if v.covers(frame)), None)

    def _request(self) -> None:
        video, checkpoint, project = self._video, self._checkpoint, self._project
        if (video is None or video.path is None or checkpoint is None or project is None
                or (checkpoint, video.id) in self._broken or self.worker.is_running()):
            return
        args = (checkpoint, str(video.path), str(project.clip_cache_dir),
                (video.width, video.height), self._frame)
        pool = self._executor()
        self.worker.start(lambda cancel: _fetch(pool, video.id, args, cancel))

    def _executor(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = cf.ProcessPoolExecutor(max_workers=1,
                                                mp_context=mp.get_context("spawn"),
                                                initializer=model_jobs.lower_priority)
        return self._pool

    @Slot(object)
    def _arrived(self, result: object) -> None:
        video_id, view = result  # type: ignore[misc]
        if (self._video is None or video_id != self._video.id
                or view.checkpoint != self._checkpoint):
            self._request()  # it was for another video or model: ask again for this one
            return
        self._views[view.window] = view
        while len(self._views) > _KEEP_WINDOWS:
            self._views.popitem(last=False)
        self.show_frame(self._frame)

    @Slot(object)
    def _failed(self, error: BaseException) -> None:
        if self._video is not None and self._checkpoint is not None:
            self._broken.add((self._checkpoint, self._video.id))
        self.last_error = describe_error(error)[0]

    def _show(self, view: WindowView) -> None:
        if self._canvas is None:
            return
        dets, heat = view.on_frame(self._frame)
        self._canvas.set_detections(dets)
        self._canvas.set_heatmap(heat)
        self.changed.emit()


def _fetch(pool: cf.ProcessPoolExecutor, video_id: int, args: tuple[Any, ...],
           cancel: CancelFlag) -> Generator[Progress, None, tuple[int, WindowView]]:
    """One window from the helper process; the worker thread waits here, not the GUI."""
    future = pool.submit(model_jobs.window_view, *args)
    yield Progress("predicting", 0, 1)
    while True:
        try:
            return video_id, future.result(timeout=_POLL_S)
        except cf.TimeoutError:
            if cancel.cancelled:
                future.cancel()
                raise Cancelled("cancelled") from None


# ---------------------------------------------------------------------- accepting
class AcceptBoxes(AddBoxes):
    """The model's detections on a frame become keyframe boxes (source "model-accepted"), in
    one undo step of :class:`AddBox` parts, as a paste is.

    Detections of a class the project does not have, that do not fit the frame, or that
    overlap a box already on the frame are left out; :attr:`count` is how many are taken.
    With none, the command is obsolete (the stack drops it).
    """

    def __init__(self, project: Project, events: LabelEvents, video: VideoRecord, frame: int,
                 detections: list[Shown]) -> None:
        taken = [s.box for s in VideoTracks(project, video.id).on_frame(frame)]
        boxes = boxes_to_accept(detections, project.classes(), taken, video.width, video.height)
        parts = [AddBox(project, events, video.id, frame, class_id, box,
                        source="model-accepted", announce=False) for class_id, box in boxes]
        n = len(parts)
        super().__init__(project, events, video.id, frame,
                         f"Accept {n} model box{'es' if n != 1 else ''}", parts)
        self.video = video
        self.boxes = boxes
