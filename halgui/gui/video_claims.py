"""The window's claims on the videos of a shared project (:mod:`halgui.core.claims`).

Opening a video for editing claims it. When another member's window has it, the labeler is
asked: open it read-only (every edit is then refused with the reason, see
:attr:`LabelEvents.read_only`), take it over, or not open it. The window renews its claim while
the video is open; each edit checks, in its transaction, that the claim is still the window's,
and a video taken over turns read-only here (the status bar says who took it at the next
renewal), so two windows never edit one video at once. Closing the video or the project gives
the claim up; a window that dies leaves a claim that expires. Folder projects need none of
this: their lock file keeps a second window read-only already.
"""

from __future__ import annotations

import contextlib
import uuid

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QWidget

from halgui.core import claims
from halgui.core.claims import ClaimConfig, Holder
from halgui.core.errors import HalguiError
from halgui.core.project import Project
from halgui.core.round_queue import member_name
from halgui.core.schema import TEAM_TABLES
from halgui.gui.label_events import LabelEvents

__all__ = ["READ_ONLY", "TAKE_OVER", "VideoClaims", "ask_about_claim"]

READ_ONLY, TAKE_OVER = "read-only", "take over"


def ask_about_claim(parent: QWidget | None, video_name: str, holder: Holder) -> str | None:
    """Ask what to do with a video another member has: :data:`READ_ONLY`, :data:`TAKE_OVER`,
    or None (do not open it)."""
    box = QMessageBox(QMessageBox.Icon.Question, "Someone is labeling this video",
                      f"{holder.member} is labeling {video_name} (seen "
                      f"{holder.age_s:.0f} s ago).\n\nOpen it read-only, or take it over (their "
                      "window then shows it read-only)?", parent=parent)
    read_only = box.addButton("Open read-only", QMessageBox.ButtonRole.AcceptRole)
    take_over = box.addButton("Take it over", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(read_only)
    box.exec()
    clicked = box.clickedButton()
    return READ_ONLY if clicked is read_only else TAKE_OVER if clicked is take_over else None


class VideoClaims(QObject):
    """Claims the video the window opens and keeps the claim while it is open."""

    message = Signal(str)  # for the status bar

    def __init__(self, events: LabelEvents, parent: QWidget,
                 config: ClaimConfig | None = None) -> None:
        super().__init__(parent)
        self.events = events
        self.config = config or ClaimConfig()
        self.session = uuid.uuid4().hex
        self.member = member_name()
        self._parent = parent
        self._project: Project | None = None
        self._video: int | None = None  # the video this window has claimed
        self._timer = QTimer(self)
        self._timer.setInterval(round(self.config.renew_s * 1000))
        self._timer.timeout.connect(self.renew)

    def watch(self, project: Project | None) -> None:
        """Claim videos of ``project`` from now on (a shared one); None: give all up."""
        self._give_up()
        self.events.read_only.clear()
        self._project = project if project is not None and project.url is not None \
            and project.schema_version >= TEAM_TABLES and not project.read_only else None
        if self._project is None:
            self._timer.stop()
        else:
            self._timer.start()
        self.events.edit_guard = self.why_not_editable

    def enter(self, video_id: int, name: str) -> bool:
        """Claim ``video_id`` before it is shown; False when the labeler chose not to open it.
        The video shown until now is given up once the new one may open."""
        if self._project is None or video_id == self._video:
            return True
        try:
            holder = claims.claim(self._project, video_id, self.member, self.session,
                                  config=self.config)
            if holder is not None:
                choice = ask_about_claim(self._parent, name, holder)
                if choice is None:
                    return False
                if choice == TAKE_OVER:
                    claims.claim(self._project, video_id, self.member, self.session,
                                 take_over=True, config=self.config)
                    holder = None
        except HalguiError as exc:  # the server is away: open it, unclaimed
            self.message.emit(f"Could not claim {name}: {exc}")
            return True
        self._give_up()
        if holder is None:
            self._video = video_id
            self.events.read_only.pop(video_id, None)
        else:
            self.events.read_only[video_id] = f"{holder.member} is labeling it"
            self.message.emit(f"{name} is open read-only: {holder.member} is labeling it")
        return True

    def why_not_editable(self, video_id: int) -> str | None:
        """Why ``video_id`` may not be edited here now, or None: read-only from the start, or
        taken over by another window since the last renewal (asked in each edit, so two
        windows never edit one video at once)."""
        if video_id in self.events.read_only:
            return self.events.read_only[video_id]
        if self._project is None or video_id != self._video:
            return None
        holder = claims.holder(self._project, video_id)
        if holder is None or holder.session == self.session:
            return None
        self.events.read_only[video_id] = f"{holder.member} took it over"
        self._video = None
        return self.events.read_only[video_id]

    @Slot()
    def renew(self) -> None:
        """Renew the claim; a video taken over meanwhile turns read-only here."""
        if self._project is None or self._video is None:
            return
        try:
            lost = claims.renew(self._project, self.session, [self._video])
        except HalguiError:  # the server is away: the next renewal tries again
            return
        if lost:
            holder = claims.holders(self._project, self.config).get(self._video)
            who = holder.member if holder is not None else "another window"
            self.events.read_only[self._video] = f"{who} took it over"
            self.message.emit(f"{who} took over the video you had open: it is read-only here "
                              "now")
            self._video = None

    def _give_up(self) -> None:
        if self._project is not None and self._video is not None:
            with contextlib.suppress(HalguiError):  # the server is away: it expires on its own
                claims.release(self._project, self.session, self._video)
        self._video = None
