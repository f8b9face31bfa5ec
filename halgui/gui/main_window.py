"""The main window: layout and wiring only.

The canvas sits in the centre (the start page when no project is open), the video list in a
dock on the left, the label panel on the right, the timeline at the bottom. Views take core
objects (the open :class:`Project`, a :class:`FrameCache`) plus the shared undo stack and
:class:`LabelEvents`; this class connects their signals, owns the menus and the status bar, and
runs long work (adding videos, import, export, the demo) through the one :class:`Worker`.
Rounds run in the background through :class:`RoundController` (progress in the status bar,
history in a dock); :class:`ModelOverlay` puts the latest model's output on the canvas.

The window holds the project's lock file while the project is open (:mod:`halgui.core.lock`).
A project open for editing elsewhere is offered read-only (view, export, no edits); so is one in a
folder that cannot be written, with the reason in the status bar. An edit that cannot be applied
says so in the status bar (:attr:`LabelEvents.editFailed`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QUrl, Slot
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QUndoStack
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QStackedWidget, QWidget

from halgui.core import proposals
from halgui.core.connection import ReadOnlyProject
from halgui.core.errors import HalguiError
from halgui.core.frame_cache import FrameCache
from halgui.core.labels import class_keys
from halgui.core.locations import database_name, is_url, open_project, remember_media_root
from halgui.core.lock import ProjectInUse
from halgui.core.project import Project, VideoRecord
from halgui.gui import commands, menus
from halgui.gui.canvas import Canvas
from halgui.gui.dialogs import files
from halgui.gui.dialogs.help import ShortcutsDialog
from halgui.gui.dialogs.messages import show_error
from halgui.gui.dialogs.progress import JobProgress
from halgui.gui.dialogs.project_in_use import InUseChoice, ask_project_in_use
from halgui.gui.full_frame import source_frames
from halgui.gui.history import HistoryPanel
from halgui.gui.label_events import LabelEvents
from halgui.gui.label_panel import LabelPanel
from halgui.gui.live_edits import LiveEdits
from halgui.gui.model_view import ModelOverlay
from halgui.gui.proxies import ProxyController
from halgui.gui.round_panel import RoundController
from halgui.gui.start_page import StartPage, add_recent, fill_recent_menu, recent_projects
from halgui.gui.timeline import TimelinePanel
from halgui.gui.video_claims import VideoClaims
from halgui.gui.video_list import VideoList
from halgui.gui.worker import JobSource, Worker

__all__ = ["APP_LOCK", "MainWindow"]

#: How the app names itself in a project's lock file (what another program is told).
APP_LOCK = "the halgui app"


class MainWindow(QMainWindow):
    """halgui's window; :meth:`open_project` and :meth:`open_video` are what the app calls."""

    def __init__(self, settings: QSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings if settings is not None else QSettings()
        self.project: Project | None = None
        self.video: VideoRecord | None = None
        self.frames: FrameCache | None = None
        self.canvas: Canvas | None = None
        self.label_panel: LabelPanel | None = None
        self.undo_stack = QUndoStack(self)
        self.events = LabelEvents(self)
        self.worker = Worker(self)
        self._job: tuple[str, Callable[[object], object]] = ("", lambda _: None)
        self.worker.finished.connect(lambda result: self._job_ended("finished", result))
        self.worker.failed.connect(lambda error: self._job_ended("failed", error))
        self.worker.cancelled.connect(lambda: self._job_ended("cancelled"))
        self.setWindowTitle("halgui")
        self.setAcceptDrops(True)

        self.start_page = StartPage()
        self.center = QStackedWidget()
        self.center.addWidget(self.start_page)
        self.setCentralWidget(self.center)
        self.video_list = VideoList()
        self.timeline = TimelinePanel()
        self.history = HistoryPanel()
        self.rounds = RoundController(self)
        self.live_edits = LiveEdits(self.events, self)
        self.claims = VideoClaims(self.events, self)
        self.model_view = ModelOverlay(self)
        self.docks = {
            "videos": self._dock("Videos", self.video_list, Qt.DockWidgetArea.LeftDockWidgetArea),
            "labels": self._dock("Labels", QWidget(), Qt.DockWidgetArea.RightDockWidgetArea),
            "history": self._dock("Round history", self.history,
                                  Qt.DockWidgetArea.RightDockWidgetArea),
            "timeline": self._dock("Timeline", self.timeline,
                                   Qt.DockWidgetArea.BottomDockWidgetArea),
        }
        self.tabifyDockWidget(self.docks["labels"], self.docks["history"])
        self.docks["labels"].raise_()
        self.status = {name: QLabel()
                       for name in ("access", "frame", "time", "zoom", "device")}
        self.proxies = ProxyController(self)
        self.statusBar().addPermanentWidget(self.rounds.progress)
        self.statusBar().addPermanentWidget(self.rounds.shared.label)
        self.statusBar().addPermanentWidget(self.proxies.widget)
        for label in self.status.values():
            self.statusBar().addPermanentWidget(label)
        self.status["device"].setToolTip("Where training and scoring run")
        handles = menus.build(self)
        self.toolbar, self.recent_menu = handles.toolbar, handles.recent
        self.class_menu, self.retrain_action = handles.classes, handles.retrain
        self.recent_menu.aboutToShow.connect(
            lambda: fill_recent_menu(self.recent_menu, self.settings, self.open_project))
        self._fill_class_menu()

        self.start_page.newRequested.connect(self.new_project)
        self.start_page.openRequested.connect(self.open_project_dialog)
        self.start_page.sharedRequested.connect(lambda: self.open_project_dialog(shared=True))
        self.start_page.demoRequested.connect(self.open_demo)
        self.start_page.recentChosen.connect(self.open_project)
        self.video_list.videoActivated.connect(self.open_video)
        self.timeline.player.frameRequested.connect(self._request_frame)
        self.events.labelsChanged.connect(self._labels_changed)
        self.events.classesChanged.connect(self._fill_class_menu)
        self.events.editFailed.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.rounds.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.claims.message.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.rounds.runningChanged.connect(lambda _: self._enable_actions())
        self.rounds.ended.connect(self._round_ended)
        self.proxies.message.connect(lambda text: self.statusBar().showMessage(text, 15000))
        self.proxies.built.connect(self._proxies_built)
        self._show_project_widgets(False)
        self._restore_window()

    # ------------------------------------------------------------------ building
    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{title.lower()}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _fill_class_menu(self) -> None:
        classes = self.project.classes() if self.project is not None else []
        menus.fill_class_menu(self, self.class_menu, class_keys(classes))
        self._enable_actions()

    # ------------------------------------------------------------------ projects
    @Slot(object)
    def open_project(self, folder: Path | str, read_only: bool = False) -> bool:
        """Open a project folder (closing any open one); False and a message if it fails, or
        if it is open elsewhere and the user chose not to open it."""
        shared = is_url(folder)  # a PostgreSQL URL: a project the team shares
        if self.project is not None and (self.project.url == folder if shared
                                         else self.project.folder == Path(folder).resolve()):
            self.close_project()  # the lock is this window's: open it afresh
        try:
            project = self._open(folder if shared else Path(folder), read_only)
        except HalguiError as exc:
            show_error(self, "Cannot open the project", exc)
            return False
        if project is None:
            return False
        self.close_project()
        self.project = project
        self.canvas = Canvas(project, self.undo_stack, self.events)
        self.label_panel = LabelPanel(project, self.undo_stack, self.events)
        self.center.addWidget(self.canvas)
        self.docks["labels"].setWidget(self.label_panel)
        self.canvas.frameChanged.connect(self._frame_changed)
        self.canvas.zoomChanged.connect(lambda z: self.status["zoom"].setText(f"{z:.0%}"))
        self.label_panel.classChosen.connect(self.canvas.set_current_class)
        self.label_panel.boxChosen.connect(self.canvas.select_track)
        self.canvas.currentClassChanged.connect(self.label_panel.set_current_class)
        self.canvas.selectionChanged.connect(self.label_panel.set_selected_track)
        self.video_list.set_project(project)
        self.history.set_project(project)
        self.model_view.set_project(project, self.canvas)
        self.rounds.watch(project)
        self.live_edits.watch(project)
        self.claims.watch(project)
        add_recent(self.settings, project.url or project.folder)
        if project.url is None:  # the app reopens the last folder, not a server
            self.settings.setValue("recent/last", str(project.folder))
        access = f" (read-only: {project.read_only_reason})" if project.read_only else ""
        name = project.folder.name if project.url is None else database_name(project.url)
        self.setWindowTitle(f"{name}{' (read-only)' if access else ''} - halgui")
        self.status["access"].setText("Read-only" if access else "")
        self.status["access"].setToolTip(f"Opened{access}: view and export, no edits"
                                         if access else "")
        self._show_project_widgets(True)
        state = self.settings.value("window/state")
        if state is None or not self.restoreState(state):  # else: as the user left it
            self.resizeDocks([self.docks["videos"], self.docks["labels"]], [495, 250],
                             Qt.Orientation.Horizontal)
        self._fill_class_menu()
        self.proxies.set_project(project)
        videos = project.videos()
        todo = proposals.open_proposals(project)
        if todo:  # start where the active learner asks first
            self.open_video(todo[0][0])
            self.timeline.player.request(todo[0][1])
        elif videos:
            self.open_video(videos[0].id)
        elif not access:
            self.statusBar().showMessage("Add videos: File > Add videos, or drop them here")
        if access:
            self.statusBar().showMessage(f"Opened{access}: edits are not saved", 15000)
        self.proxies.update()
        return True

    def _open(self, folder: Path | str, read_only: bool) -> Project | None:
        """Open for editing under this window's lock; when another program holds the lock, ask
        (read-only, take over, or not at all); where the folder cannot be written, read-only.
        A shared project (a URL) has no lock file: its server arbitrates the writes."""
        if isinstance(folder, str):
            return open_project(folder, read_only=read_only)
        if read_only:
            return Project.open(folder, read_only=True)
        try:
            return Project.open(folder, lock=APP_LOCK)
        except ReadOnlyProject as exc:
            return Project.open(folder, read_only=exc.why)
        except ProjectInUse as exc:
            choice = ask_project_in_use(self, exc)
            if choice is InUseChoice.READ_ONLY:
                why = f"open for editing in {exc.owner.describe()}"
                return Project.open(folder, read_only=why)
            if choice is InUseChoice.TAKE_OVER:
                return Project.open(folder, lock=APP_LOCK, force=True)
            return None

    @Slot()
    def close_project(self) -> None:
        if self.project is None:
            return
        self.timeline.player.pause()
        self.worker.shutdown()
        self.rounds.shutdown()
        self.live_edits.watch(None)
        self.claims.watch(None)
        self.proxies.shutdown()
        self.model_view.set_project(None)
        self._close_video()
        self.undo_stack.clear()
        for widget in (self.canvas, self.label_panel):
            if widget is not None:
                widget.setParent(None)
                widget.deleteLater()
        self.canvas = self.label_panel = None
        self.docks["labels"].setWidget(QWidget())
        self.project.close()  # gives up the lock file
        self.project = None
        self.status["access"].setText("")
        self.video_list.set_project(None)
        self.history.set_project(None)
        self.timeline.load(None, None)
        self.setWindowTitle("halgui")
        self._show_project_widgets(False)
        self._fill_class_menu()

    def open_last_or_start(self) -> None:
        last = self.settings.value("recent/last", "")
        if last and Path(str(last)) in recent_projects(self.settings):
            self.open_project(Path(str(last)))

    @Slot()
    def new_project(self) -> None:
        from halgui.gui.dialogs.new_project import NewProjectDialog

        dialog = NewProjectDialog(self)
        if not dialog.exec():
            return
        folder, classes = dialog.values()
        try:
            with Project.create(folder) as project:
                for c in classes:
                    project.add_class(c.name, c.color, c.shortcut)
        except HalguiError as exc:
            show_error(self, "Cannot create the project", exc)
            return
        self.open_project(folder)

    @Slot()
    def open_project_dialog(self, shared: bool = False) -> None:
        """Ask for a project folder, or for a shared project's URL, and open it."""
        where = files.ask_shared_url(self) if shared else files.ask_project_folder(self)
        if where is not None:
            self.open_project(where)

    @Slot()
    def open_demo(self) -> None:
        from halgui.core.demo import default_demo_dir, make_demo
        from halgui.core.project import DB_NAME

        folder = default_demo_dir()
        if (folder / DB_NAME).is_file():
            self.open_project(folder)
        else:
            self.run_job("Making the demo project", lambda c: make_demo(folder, cancel=c),
                         self.open_project)

    # ------------------------------------------------------------------ videos
    @Slot(int)
    def open_video(self, video_id: int) -> None:
        if self.project is None or self.canvas is None:
            return
        video = self.project.video(video_id)
        if not self.claims.enter(video_id, video.name):  # someone else has it: not opened
            if self.video is not None:
                self.video_list.select_video(self.video.id)
            return
        self.timeline.player.pause()
        self._close_video()
        self.video = video
        if video.path is not None:
            try:
                self.frames = FrameCache.for_record(video, proxies=self.proxies.store)
            except HalguiError as exc:
                show_error(self, f"Cannot show video {video.name}", exc)
        else:
            self.statusBar().showMessage(f"{video.name} is not linked to a video file yet: "
                                         "File > Link media (Ctrl+L)")
        self.canvas.set_video(video, self.frames, source_frames(video))
        self.model_view.set_video(video)
        self.timeline.load(self.project, video.id, video.fps)
        self.video_list.select_video(video.id)
        self._frame_changed(0)
        self.canvas.setFocus()

    def _proxies_built(self, names: list[str]) -> None:
        """Switch the video on screen to its proxy if it just got one."""
        video, old = self.video, self.frames
        if video is None or old is None or old.proxy or video.name not in names \
                or self.canvas is None:
            return
        try:
            new = FrameCache.for_record(video, proxies=self.proxies.store)
        except HalguiError:
            return  # keep showing the source
        self.frames = new
        self.canvas.replace_frames(new, source_frames(video))
        old.close()

    def _close_video(self) -> None:
        if self.canvas is not None:
            self.canvas.set_video(None, None)
        if self.frames is not None:
            self.frames.close()
        self.frames = self.video = None

    def add_videos(self, paths: list[Path]) -> bool:
        """Add files or folders in the background; readable ones are added, others reported."""
        from halgui.core.ingest import add_videos

        project = self.project
        if project is None or not paths:
            return False

        def done(result: object) -> None:
            self.video_list.refresh()
            failed = getattr(result, "failed", [])
            added = len(getattr(result, "added", []))
            linked = len(getattr(result, "linked", []))
            also = f"; linked {linked} to imported labels of the same name" if linked else ""
            self.statusBar().showMessage(f"Added {added} video(s){also}", 5000)
            if linked and self.video is not None and self.frames is None:
                self.open_video(self.video.id)  # it may be one of them: show its frames
            if failed:
                show_error(self, "Some videos were not added", "\n".join(map(str, failed)))
            if added and self.video is None:
                self.open_video(result.added[0])  # type: ignore[attr-defined]
            self.proxies.update()

        return self.run_job("Adding videos",
                            lambda c: add_videos(project, paths, skip_bad=True, cancel=c), done)

    @Slot()
    def link_media_dialog(self) -> None:
        from halgui.gui.dialogs.link_media import ask_media_folder

        if self.project is not None and (folder := ask_media_folder(self)) is not None:
            self.link_media(folder)

    def link_media(self, folder: Path) -> bool:
        """Link the videos that need media to what ``folder`` holds, by name, in the
        background (:func:`halgui.core.media_link.link_media`); the outcome in a dialog."""
        from halgui.core.media_link import link_media
        from halgui.gui.dialogs.link_media import show_link_result

        project = self.project
        if project is None:
            return False
        remember_media_root(project, folder)  # a shared project: this computer's from now on

        def done(result: object) -> None:
            self.video_list.refresh()
            if self.video is not None and self.frames is None:  # it may have frames now
                self.open_video(self.video.id)
            show_link_result(self, result)  # type: ignore[arg-type]

        return self.run_job("Linking media",
                            lambda c: link_media(project, folder, cancel=c), done)

    # ------------------------------------------------------------------ import and export
    @Slot()
    def import_dialog(self) -> None:
        from halgui.gui.dialogs.import_export import ask_import

        if self.project is not None and (job := ask_import(self, self.project)) is not None:
            self.run_job("Importing labels", job, lambda _: self._reload_project())

    @Slot()
    def export_dialog(self) -> None:
        from halgui.gui.dialogs.import_export import ask_export

        if self.project is not None and (job := ask_export(self, self.project)) is not None:
            self.run_job("Exporting labels", job, self._exported)

    def _exported(self, result: object) -> None:
        """Say where the export went; videos a format left out are worth a dialog."""
        from halgui.core.formats.common import ExportSummary

        summary = result if isinstance(result, ExportSummary) else None
        text = summary.describe() if summary is not None else f"wrote {result}"
        self.statusBar().showMessage(text[:1].upper() + text[1:], 8000)
        if summary is not None and summary.skipped:
            show_error(self, "Some videos were not exported", text)

    def _reload_project(self) -> None:
        self.video_list.refresh()
        self.events.classesChanged.emit()
        if self.video is not None:
            self.events.labelsChanged.emit(self.video.id, self.timeline.timeline.frame)

    # ------------------------------------------------------------------ background work
    def run_job(self, title: str, work: JobSource, on_done: Callable[[object], object]) -> bool:
        """Run core work on the worker with a progress dialog; errors become a message."""
        if self.worker.is_running():
            self.statusBar().showMessage("Busy: wait for the current job or cancel it", 5000)
            return False
        self._job = (title, on_done)
        JobProgress(self.worker, title, self)
        return self.worker.start(work)

    def _job_ended(self, kind: str, payload: object = None) -> None:
        title, on_done = self._job
        if kind == "finished":
            on_done(payload)
        elif kind == "failed":
            assert isinstance(payload, BaseException)  # Worker.failed carries the exception
            show_error(self, title, payload)
        else:
            self.statusBar().showMessage(f"{title}: cancelled", 5000)

    # ------------------------------------------------------------------ active learning
    def round_settings(self) -> None:
        from halgui.gui.dialogs.round_settings import ask_round_settings

        if self.project is not None and ask_round_settings(self, self.project):
            self.statusBar().showMessage("Round settings saved: the next round uses them", 5000)

    def proxy_settings(self) -> None:
        self.proxies.edit_settings(self)

    def accept_model_boxes(self) -> None:
        """The model's boxes on the shown frame become keyframe boxes (one undo step)."""
        if self.canvas is not None:
            count = self.model_view.accept(self.undo_stack, self.events)
            self.statusBar().showMessage(f"Accepted {count} model box(es)", 3000)

    @Slot()
    def _round_ended(self) -> None:
        """A round ended (however): ranks, curves, marks, history and the model shown."""
        self.video_list.refresh()
        self.history.refresh()
        self.model_view.reload()
        if self.video is not None:
            self.timeline.refresh(self.project, self.video.id)

    # ------------------------------------------------------------------ wiring
    @Slot(int)
    def _request_frame(self, frame: int) -> None:
        if self.canvas is not None:
            self.canvas.set_frame(frame)

    @Slot(int)
    def _frame_changed(self, frame: int) -> None:
        video = self.video
        self.timeline.show_frame(frame)
        self.model_view.show_frame(frame)
        if self.label_panel is not None:
            self.label_panel.set_frame(None if video is None else video.id, frame)
        if video is None:
            self.status["frame"].setText("")
            self.status["time"].setText("")
            return
        seconds = frame / video.fps
        self.status["frame"].setText(f"Frame {frame + 1} / {video.n_frames}")
        self.status["time"].setText(f"{int(seconds // 60):02d}:{seconds % 60:05.2f}")

    @Slot(int, int)
    def _labels_changed(self, video_id: int, frame: int) -> None:
        self.video_list.model.refresh()
        if self.video is not None and video_id == self.video.id:
            self.timeline.refresh(self.project, video_id)

    @Slot()
    def next_proposal(self) -> None:
        """The next proposed frame of this video, or else the first open proposal of another
        video in the round's rank order."""
        if self.timeline.player.next_proposal() or self.project is None:
            return
        current = self.video.id if self.video is not None else None
        todo = [(v, f) for v, f in proposals.open_proposals(self.project) if v != current]
        if not todo:
            self.statusBar().showMessage("No open proposal left in this round: retrain "
                                         "(Ctrl+R) for new ones", 4000)
            return
        self.open_video(todo[0][0])
        self.timeline.player.request(todo[0][1])

    def choose_class(self, digit: int) -> None:
        """Number key: the selected box takes the class; with none selected, new boxes do."""
        if self.project is None or self.canvas is None or self.video is None:
            return
        chosen = class_keys(self.project.classes()).get(digit)
        track_id = self.canvas.selected_track()
        if chosen is None:
            return
        if track_id is None:
            self.canvas.set_current_class(chosen.id)
        elif self.project.track(track_id).class_id != chosen.id:
            self.undo_stack.push(commands.SetBoxClass(
                self.project, self.events, self.video.id, self.canvas.current_frame(), track_id,
                chosen.id))

    def paste_previous(self) -> None:
        if self.canvas is not None:
            count = self.canvas.paste_previous()
            self.statusBar().showMessage(f"Copied {count} box(es)", 3000)

    def zoom(self, factor: float | None) -> None:
        """Zoom the canvas by ``factor`` (None: actual size)."""
        if self.canvas is not None:
            self.canvas.set_zoom(1.0 if factor is None else self.canvas.zoom() * factor)

    def set_device_text(self, text: str) -> None:
        self.status["device"].setText(text)

    def show_shortcuts(self) -> None:
        ShortcutsDialog(self.actions(), self).exec()

    def _show_project_widgets(self, on: bool) -> None:
        self.center.setCurrentWidget(self.canvas if on and self.canvas else self.start_page)
        for dock in self.docks.values():
            dock.setVisible(on)
        if not on:
            self.start_page.set_recent(recent_projects(self.settings))
            for name in ("frame", "time", "zoom"):
                self.status[name].setText("")
        self._enable_actions()

    def _enable_actions(self) -> None:
        for action in self.actions():
            if action.property("needs_project"):
                action.setEnabled(self.project is not None)
        writable = self.project is not None and not self.project.read_only
        self.retrain_action.setEnabled(writable and not self.rounds.is_running())

    # ------------------------------------------------------------------ window
    def _restore_window(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1280, 800)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        if self.project is not None:
            self.settings.setValue("window/state", self.saveState())
        self.close_project()
        self.worker.shutdown()
        super().closeEvent(event)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self.project is not None and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        urls: list[QUrl] = event.mimeData().urls()
        paths = [Path(u.toLocalFile()) for u in urls if u.isLocalFile()]
        if paths and self.add_videos(paths):
            event.acceptProposedAction()
