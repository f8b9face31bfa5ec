"""The main window's menus, toolbar and keyboard shortcuts, in one place.

Every entry is a QAction added to the window as well as to its menu, so its shortcut works
wherever the focus is in the window. Entries marked ``project=True`` are enabled only while a
project is open (:meth:`MainWindow._enable_actions`). Help > Keyboard shortcuts lists them all.
:func:`build` returns the few handles the window wires later (:class:`Menus`); it sets nothing
on the window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QToolBar

from halgui.core.project import ClassRecord
from halgui.gui import icons
from halgui.gui.dialogs import files
from halgui.gui.dialogs.help import show_about

if TYPE_CHECKING:
    from halgui.gui.main_window import MainWindow

__all__ = ["Menus", "build", "fill_class_menu"]

Key = QKeySequence.StandardKey


@dataclass(frozen=True)
class Menus:
    """What the window wires after :func:`build`: the toolbar, the menus it fills as the
    project changes, and the action it enables only while no round runs."""

    toolbar: QToolBar
    recent: QMenu    # File > Open recent, filled each time it opens
    classes: QMenu   # Label > Class of the box, one entry per number key
    retrain: QAction


def action(w: MainWindow, menu: QMenu, text: str, slot: Callable[..., object],
           shortcuts: tuple[QKeySequence | Key | str, ...] = (), *, checkable: bool = False,
           project: bool = True, icon: str | None = None,
           toolbar: QToolBar | None = None) -> QAction:
    act = QAction(text, w)
    act.setShortcuts([QKeySequence(s) for s in shortcuts])
    act.setCheckable(checkable)
    act.setChecked(checkable)
    act.setProperty("needs_project", project)
    if icon is not None:
        act.setIcon(icons.icon(icon))
    (act.toggled if checkable else act.triggered).connect(slot)
    menu.addAction(act)
    w.addAction(act)  # the shortcut works wherever the focus is in the window
    if toolbar is not None:
        toolbar.addAction(act)
    return act


def build(w: MainWindow) -> Menus:
    """Menus File, Edit, View, Go, Label, Model, Help, the toolbar, and the timeline's
    transport."""
    bar = w.menuBar()
    toolbar = w.addToolBar("Main")
    toolbar.setObjectName("toolbar-main")
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)

    def a(menu: QMenu, *args: object, tool: bool = False, **kwargs: object) -> QAction:
        return action(w, menu, *args, toolbar=toolbar if tool else None,  # type: ignore[arg-type]
                      **kwargs)

    m = bar.addMenu("&File")
    a(m, "&New project…", w.new_project, (Key.New,), project=False, icon="new-project")
    a(m, "&Open project…", w.open_project_dialog, (Key.Open,), project=False,
      icon="open", tool=True)
    a(m, "Open &shared project…", lambda: w.open_project_dialog(shared=True), project=False)
    recent = m.addMenu("Open &recent")
    a(m, "Open the &demo", w.open_demo, project=False)
    m.addSeparator()
    a(m, "&Add videos…", lambda: w.add_videos(files.ask_video_files(w)), ("Ctrl+Shift+A",),
      icon="add-video", tool=True)
    a(m, "Add a &folder of videos…", lambda: w.add_videos(files.ask_video_folder(w)))
    a(m, "&Import labels…", w.import_dialog, ("Ctrl+I",), icon="import")
    a(m, "&Link media…", w.link_media_dialog, ("Ctrl+L",), icon="link-media")
    a(m, "&Export labels…", w.export_dialog, ("Ctrl+E",), icon="export")
    m.addSeparator()
    a(m, "&Close project", w.close_project, (Key.Close,))
    a(m, "&Quit", w.close, ("Ctrl+Q",), project=False)

    m = bar.addMenu("&Edit")
    toolbar.addSeparator()
    for act, keys, name in ((w.undo_stack.createUndoAction(w, "&Undo"), Key.Undo, "undo"),
                            (w.undo_stack.createRedoAction(w, "&Redo"), Key.Redo, "redo")):
        act.setShortcuts(keys)
        act.setIcon(icons.icon(name))
        m.addAction(act)
        w.addAction(act)
        toolbar.addAction(act)
    a(m, "&Delete box", lambda: w.canvas and w.canvas.delete_selected(), (Key.Delete,),
      icon="delete")

    m = bar.addMenu("&View")
    toolbar.addSeparator()
    a(m, "Zoom &in", lambda: w.zoom(1.25), (Key.ZoomIn, "Ctrl+="), icon="zoom-in")
    a(m, "Zoom &out", lambda: w.zoom(0.8), (Key.ZoomOut,), icon="zoom-out")
    a(m, "&Actual size", lambda: w.zoom(None), ("Ctrl+0",))
    a(m, "&Fit to window", lambda: w.canvas and w.canvas.fit_to_window(), ("Ctrl+F",),
      tool=True, icon="fit")
    m.addSeparator()
    a(m, "Show &detections", lambda on: w.canvas and w.canvas.set_show_detections(on), ("D",),
      checkable=True)
    a(m, "Show uncertainty &heatmap", lambda on: w.canvas and w.canvas.set_show_heatmap(on),
      ("H",), checkable=True)
    a(m, "&Proxy settings…", w.proxy_settings)
    m.addSeparator()
    for dock in w.docks.values():
        m.addAction(dock.toggleViewAction())

    m = bar.addMenu("&Go")
    p = w.timeline.player
    go = [a(m, "&Previous proposal", p.previous_proposal, ("P",), icon="previous-proposal"),
          a(m, "Pre&vious frame", p.previous_frame, ("Left", ","), icon="step-back"),
          a(m, "&Play / pause", p.toggle, ("Space",), icon="play"),
          a(m, "&Next frame", p.next_frame, ("Right", "."), icon="step-forward"),
          a(m, "Next pro&posal", w.next_proposal, ("N",), icon="next-proposal")]
    play, pause = icons.icon("play"), icons.icon("pause")
    p.playingChanged.connect(lambda on: go[2].setIcon(pause if on else play))
    w.timeline.add_transport(go)

    m = bar.addMenu("&Label")
    toolbar.addSeparator()
    a(m, "Mark frame &labeled", lambda: w.label_panel and w.label_panel.mark_labeled(), ("L",),
      icon="mark-labeled", tool=True)
    a(m, "&Copy boxes from the previous labeled frame", w.paste_previous, ("Ctrl+Shift+V",),
      tool=True, icon="copy-previous")
    classes = m.addMenu("&Class of the box")

    m = bar.addMenu("&Model")
    toolbar.addSeparator()
    retrain = a(m, "&Retrain", lambda: w.rounds.start(w.project), ("Ctrl+R",), icon="retrain",
                tool=True)
    retrain.setToolTip("Train on the labels so far and propose the next frames, in "
                                "the background (Ctrl+R)")
    a(m, "&Cancel the round", w.rounds.cancel, icon="cancel")
    a(m, "Round &settings…", w.round_settings, ("Ctrl+Shift+R",))
    m.addSeparator()
    a(m, "&Accept the model's boxes", w.accept_model_boxes, ("A",))

    m = bar.addMenu("&Help")
    a(m, "&Keyboard shortcuts", w.show_shortcuts, ("F1",), project=False)
    a(m, "&About halgui", lambda: show_about(w), project=False)
    return Menus(toolbar, recent, classes, retrain)


def fill_class_menu(w: MainWindow, menu: QMenu, keys: dict[int, ClassRecord]) -> None:
    """One entry per number key 1..9 and the class it picks."""
    for old in menu.actions():
        w.removeAction(old)
        old.deleteLater()
    menu.clear()
    for digit, cls in keys.items():
        action(w, menu, f"{digit}: {cls.name}", lambda _=False, d=digit: w.choose_class(d),
               (str(digit),))
