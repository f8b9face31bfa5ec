"""Other members' label edits, shown without reopening.

Every label edit moves its video's edit count (:mod:`halgui.core.edit_counts`). The window
reads the counts every :attr:`LiveEditsConfig.poll_s` (one small query) and announces each
video whose count moved since it last looked through :attr:`LabelEvents.labelsChanged`, the
signal the window's own edits use, so every view re-reads that video as after an undo. The
window's own edits move the counts too: after each one it takes the counts as seen. (The
canvas re-reads a video changed during a drag when the drag ends, so a box is never pulled
from under the pointer.)
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Slot

from halgui.core.edit_counts import edit_counts
from halgui.core.errors import HalguiError
from halgui.core.project import Project
from halgui.gui.label_events import LabelEvents

__all__ = ["LiveEdits", "LiveEditsConfig"]


@dataclass(frozen=True)
class LiveEditsConfig:
    """How often a window looks for others' edits (the goal: seen within 2 s)."""

    poll_s: float = 1.0


class LiveEdits(QObject):
    """Reloads the views of videos that another window, member or command edited."""

    def __init__(self, events: LabelEvents, parent: QObject | None = None,
                 config: LiveEditsConfig | None = None) -> None:
        super().__init__(parent)
        self.events = events
        self.config = config or LiveEditsConfig()
        self._project: Project | None = None
        self._seen: dict[int, int] = {}
        self._announcing = False
        self._timer = QTimer(self)
        self._timer.setInterval(round(self.config.poll_s * 1000))
        self._timer.timeout.connect(self.poll)
        events.labelsChanged.connect(self._edited_here)

    def watch(self, project: Project | None) -> None:
        """Follow ``project``'s edits (None: stop)."""
        self._project = project
        self._seen = self._counts() or {}
        if project is None:
            self._timer.stop()
        else:
            self._timer.start()

    @Slot()
    def poll(self) -> None:
        """Look once; announce each video whose count moved."""
        if self._project is None:
            return
        counts = self._counts()
        if counts is None:
            return
        moved = sorted(v for v, n in counts.items() if self._seen.get(v) != n)
        self._seen = counts
        self._announcing = True
        try:
            for video_id in moved:
                self.events.labelsChanged.emit(video_id, -1)
        finally:
            self._announcing = False

    @Slot(int, int)
    def _edited_here(self, video_id: int, frame: int) -> None:
        if not self._announcing and self._project is not None:
            self._seen = self._counts() or self._seen

    def _counts(self) -> dict[int, int] | None:
        if self._project is None:
            return None
        try:
            return edit_counts(self._project)
        except HalguiError:  # the server is away: the next look tries again
            return None
