"""File > Link media on the imported UCF101-24 excerpt: the video list marks the videos with no
media, linking runs on the worker, the result dialog lists the problems, and the shown video
gets its frames."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, Qt

from halgui.gui.dialogs.link_media import LinkResultDialog
from halgui.gui.main_window import MainWindow
from halgui.gui.video_list import FILTERS, MEDIA_ROLE, NOT_LINKED
from tests.core.media import excerpt_frames, import_excerpt, write_frames

BASKETBALL = "Basketball/v_Basketball_g01_c01"
FENCING_2 = "Fencing/v_Fencing_g14_c02"
SALSA = "SalsaSpin/v_SalsaSpin_g23_c03"


@pytest.fixture
def results(monkeypatch) -> list[tuple[str, list[tuple[str, ...]]]]:
    """Each result dialog shown, as (summary, rows), closed at once instead of waiting."""
    shown: list[tuple[str, list[tuple[str, ...]]]] = []

    def record(dialog: LinkResultDialog) -> int:
        shown.append((dialog.summary.text(), dialog.rows()))
        return 1

    monkeypatch.setattr(LinkResultDialog, "exec", record)
    return shown


@pytest.fixture
def window(qtbot, tmp_path):
    win = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    yield win
    win.close()


def _no_media_rows(window: MainWindow) -> list[str]:
    window.video_list.filter.setCurrentIndex(FILTERS.index("no media"))
    proxy = window.video_list.proxy
    return sorted(proxy.index(r, 0).data() for r in range(proxy.rowCount()))


def test_link_media_from_the_window(qtbot, tmp_path, window, results):
    import_excerpt(tmp_path).close()
    frames = excerpt_frames()
    root = tmp_path / "rgb-images"
    for name, n in frames.items():
        if name not in (FENCING_2, SALSA):
            write_frames(root / name, n)
    write_frames(root / FENCING_2, frames[FENCING_2], size=(160, 120))
    assert window.open_project(tmp_path / "p")
    model = window.video_list.model
    assert {model.index(r, 0).data(MEDIA_ROLE) for r in range(6)} == {NOT_LINKED}
    assert all(model.index(r, 0).data(Qt.ItemDataRole.DecorationRole) is not None
               for r in range(6))
    assert len(_no_media_rows(window)) == 6
    assert window.video is not None and window.video.name == BASKETBALL
    assert window.frames is None

    with qtbot.waitSignal(window.worker.finished, timeout=30_000):
        assert window.link_media(root)
    qtbot.waitUntil(lambda: len(results) == 1, timeout=5000)
    summary, rows = results[0]
    assert "Linked 4 of 6 videos" in summary and "1 missing, 1 mismatched" in summary
    assert [(r[0], r[1]) for r in rows] == [(FENCING_2, "mismatched"), (SALSA, "missing")]
    assert "is 160x120" in rows[0][2]
    assert _no_media_rows(window) == [FENCING_2, SALSA]
    decorated = [model.index(r, 0).data() for r in range(6)
                 if model.index(r, 0).data(Qt.ItemDataRole.DecorationRole) is not None]
    assert sorted(decorated) == [FENCING_2, SALSA]
    # the video on screen now shows its frames, at the size its boxes were drawn for
    assert window.frames is not None and window.frames.info.n_frames == frames[BASKETBALL]
    assert window.canvas is not None
    assert window.frames.get(0).shape == (240, 320, 3)


def test_adding_a_folder_named_like_the_shown_video_links_it(qtbot, tmp_path, window):
    import_excerpt(tmp_path).close()
    folder = write_frames(tmp_path / "rgb-images" / BASKETBALL, excerpt_frames()[BASKETBALL])
    assert window.open_project(tmp_path / "p")
    assert window.video is not None and window.video.name == BASKETBALL and window.frames is None
    with qtbot.waitSignal(window.worker.finished, timeout=30_000):
        assert window.add_videos([folder])  # as a drop or File > Add a folder does
    qtbot.waitUntil(lambda: window.frames is not None, timeout=5000)
    assert "linked 1 to imported labels" in window.statusBar().currentMessage()
    assert window.video_list.model.rowCount() == 6
    assert window.frames.info.n_frames == excerpt_frames()[BASKETBALL]
