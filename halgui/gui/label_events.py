"""One notifier every label view listens to, so an edit made anywhere refreshes everything.

Undo commands (:mod:`halgui.gui.commands`) emit on it after each redo and undo; the canvas, the
label panel, the timeline and the video list connect to it and re-read the project. The project
itself (core) knows nothing of Qt, so this QObject is the GUI's single change channel for labels.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

__all__ = ["LabelEvents"]


class LabelEvents(QObject):
    """Signals about label changes in the open project.

    ``labelsChanged(video_id, frame)``: boxes, tracks or labeled marks of ``video_id`` changed;
    ``frame`` is the frame the edit was made on. An edit can change interpolated boxes on other
    frames of the same video too (and a class change affects a whole track), so a view showing
    more than one frame should refresh all of that video.

    ``classesChanged()``: a class was added or changed (name, colour, shortcut).

    ``editFailed(message)``: an edit, undo or redo could not be applied and changed nothing;
    ``message`` is one line for the status bar.
    """

    labelsChanged = Signal(int, int)
    classesChanged = Signal()
    editFailed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        #: videos this window shows read-only (another team member has them), with the reason
        #: an edit is refused: the label commands check it
        self.read_only: dict[int, str] = {}
        #: asked inside each edit's transaction: why the video may not be edited now (another
        #: window took it over since the last look), or None
        self.edit_guard: Callable[[int], str | None] = lambda video_id: None
