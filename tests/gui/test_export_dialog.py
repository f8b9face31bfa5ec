"""The export dialog: a new dated folder under the project's exports/ by default, a question
naming the files an export would replace, and an error for the project folder itself."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from PySide6.QtWidgets import QMessageBox

from halgui.core import formats
from halgui.core.annotations import Box, Keyframe
from halgui.core.formats.common import ExportSummary
from halgui.core.progress import CancelFlag, run_to_end
from halgui.gui.dialogs import import_export
from halgui.gui.dialogs.import_export import ExportDialog, ask_export, default_export_path


@pytest.fixture
def labeled(project, video):
    """The GUI test project with one track, so exports hold something."""
    walk = project.classes()[0].id
    project.set_keyframes(project.add_track(video.id, walk, 1),
                          [Keyframe(0, Box(1, 2, 30, 40), source="human")])
    project.set_labeled(video.id, range(video.n_frames))
    return project


@pytest.fixture
def questions(monkeypatch):
    """Every question box shown (title, text); answered with ``questions.answer``."""
    class Recorder(list):
        answer = QMessageBox.StandardButton.Cancel

    shown = Recorder()

    def record(box):
        shown.append((box.windowTitle(), box.text()))
        return shown.answer

    monkeypatch.setattr(QMessageBox, "exec", record)
    return shown


@pytest.fixture
def errors(monkeypatch):
    shown = []
    monkeypatch.setattr(import_export, "show_error",
                        lambda parent, title, error: shown.append(str(error)))
    return shown


def dialog_for(qtbot, project, fmt="halgui", start=""):
    dialog = ExportDialog(start=start, exports=project.folder / "exports",
                          snapshot=project.snapshot)
    qtbot.addWidget(dialog)
    dialog.format.setCurrentIndex(dialog.format.findData(fmt))
    return dialog


def test_the_path_starts_as_a_new_dated_folder_that_follows_the_format(qtbot, labeled):
    exports = labeled.folder / "exports"
    dialog = dialog_for(qtbot, labeled)
    stamp = r"\d{4}-\d\d-\d\d_\d{4}"
    assert re.fullmatch(rf"{re.escape(str(exports))}/{stamp}-halgui\.json", dialog.path.text())
    dialog.format.setCurrentIndex(dialog.format.findData("coco"))
    assert re.fullmatch(rf"{re.escape(str(exports))}/{stamp}-coco", dialog.path.text())
    dialog.format.setCurrentIndex(dialog.format.findData("act"))
    assert dialog.path.text().endswith("-act.pkl")
    dialog.path.setText(str(exports / "mine"))  # the user's own choice is kept
    dialog.format.setCurrentIndex(dialog.format.findData("yolo"))
    assert dialog.chosen_path() == exports / "mine"

    now = datetime(2026, 12, 3, 15, 30)
    assert default_export_path(exports, "coco", now) == exports / "2026-12-03_1530-coco"
    (exports / "2026-12-03_1530-coco").mkdir()
    assert default_export_path(exports, "coco", now) == exports / "2026-12-03_1530-coco-2"
    assert default_export_path(exports, "halgui", now) == exports / "2026-12-03_1530-halgui.json"


def test_a_new_folder_needs_no_question(qtbot, labeled, questions, errors):
    dialog = dialog_for(qtbot, labeled, "coco")
    dialog.accept()
    assert dialog.result() == 1 and not questions and not errors
    assert dialog.overwrite is False and dialog.options().overwrite is False


def test_overwriting_asks_and_names_the_files_it_replaces(qtbot, labeled, questions, errors,
                                                          monkeypatch):
    out = labeled.folder / "exports" / "earlier"
    run_to_end(formats.get("coco").export_labels(labeled.snapshot(), out))
    (out / "notes.txt").write_text("mine")
    dialog = dialog_for(qtbot, labeled, "coco", start=str(out))

    dialog.accept()  # answered Cancel: the dialog stays open, nothing is chosen
    assert dialog.result() == 0 and dialog.overwrite is False
    ((title, text),) = questions
    assert title == "Replace files?"
    assert f"{out} is not empty" in text
    assert "replaces these 1 file(s)" in text and "  annotations/instances_train.json" in text
    assert "notes.txt" not in text and "Nothing else in the folder is touched" in text

    questions.answer = QMessageBox.StandardButton.Yes
    dialog.accept()
    assert dialog.result() == 1 and dialog.overwrite and dialog.options().overwrite
    assert not errors

    # through ask_export, as the menu runs it: the user's file survives the export
    def run_dialog(self):
        self.format.setCurrentIndex(self.format.findData("coco"))
        self.path.setText(str(out))
        self.accept()
        return self.result()

    monkeypatch.setattr(ExportDialog, "exec", run_dialog)
    job = ask_export(None, labeled)
    summary = run_to_end(job(CancelFlag()))
    assert summary == ExportSummary(out, 1)
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in out.iterdir()) == ["annotations", "images", "notes.txt"]


def test_a_folder_of_other_files_asks_too_and_says_nothing_is_replaced(qtbot, labeled,
                                                                     questions, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    dialog = dialog_for(qtbot, labeled, "yolo", start=str(out))
    dialog.images.setChecked(True)
    dialog.accept()
    ((_, text),) = questions
    assert "adds its files there and replaces none" in text
    assert "Frame images of the same names are replaced too" in text


def test_an_existing_file_asks_before_it_is_replaced(qtbot, labeled, questions, tmp_path):
    out = tmp_path / "labels.json"
    out.write_text("{}")
    dialog = dialog_for(qtbot, labeled, "halgui", start=str(out))
    dialog.accept()
    ((_, text),) = questions
    assert text.startswith(f"{out} exists.") and dialog.result() == 0
    assert out.read_text() == "{}"


@pytest.mark.parametrize("where", ["", "models"])
def test_the_project_folder_is_an_error_not_a_question(qtbot, labeled, questions, errors,
                                                      where):
    out = labeled.folder / where if where else labeled.folder
    dialog = dialog_for(qtbot, labeled, "coco", start=str(out))
    dialog.accept()
    assert dialog.result() == 0 and not questions
    (error,) = errors
    assert "project folder" in error and str(labeled.folder / "exports") in error


def test_the_window_says_which_videos_an_export_left_out(qtbot, tmp_path, monkeypatch):
    from PySide6.QtCore import QSettings

    from halgui.gui import main_window as mw

    shown = []
    monkeypatch.setattr(mw, "show_error", lambda parent, title, error: shown.append(
        (title, str(error))))
    window = mw.MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window._exported(ExportSummary(tmp_path / "u", 2))
    assert window.statusBar().currentMessage() == f"Wrote {tmp_path / 'u'} (2 videos)"
    assert shown == []
    window._exported(ExportSummary(tmp_path / "u", 2, ("a", "b"), "not labeled on every frame"))
    assert shown == [("Some videos were not exported", f"wrote {tmp_path / 'u'} (2 videos; "
                                                       "skipped 2 (not labeled on every "
                                                       "frame): a, b)")]
