"""The video list model and view over a real project store."""

import numpy as np
import pytest
from PySide6.QtCore import Qt

from halgui.core.project import Project
from halgui.gui.video_list import VideoList, VideoListModel


def add_round(project, number, proposals, scores=()):
    """A fake finished round written with plain SQL, like a real round would."""
    with project.transaction() as c:
        round_id = c.execute(
            "INSERT INTO rounds (number, strategy, started_at) VALUES (?, 'test', 'now')",
            (number,),
        ).lastrowid
        c.executemany(
            "INSERT INTO proposals (round_id, video_id, frame, score, rank) VALUES (?,?,?,?,?)",
            [(round_id, v, f, 1.0 / (r + 1), r) for r, (v, f) in enumerate(proposals)],
        )
        c.executemany(
            "INSERT INTO video_scores (round_id, video_id, uncertainty, cluster, informativeness)"
            " VALUES (?,?,?,?,?)",
            [(round_id, v, None if u is None else np.asarray(u, "<f4").tobytes(), cl, inf)
             for v, cl, inf, u in scores],
        )
    return round_id


@pytest.fixture
def project(tmp_path):
    p = Project.create(tmp_path / "p")
    for name, n in (("walk", 30), ("jump", 20), ("sit", 10)):
        p.add_video(name, path=None, width=64, height=48, n_frames=n)
    yield p
    p.close()


def texts(model, column):
    return [model.index(r, column).data() for r in range(model.rowCount())]


def test_model_passes_the_model_tester(qtmodeltester, project):
    project.set_labeled(1, [0, 5])
    add_round(project, 0, [(1, 5), (1, 9), (2, 3)], [(1, 2, 0.75, None), (2, 0, 0.5, None)])
    model = VideoListModel(project)
    qtmodeltester.check(model)
    assert model.rowCount() == 3 and model.columnCount() == 6
    assert texts(model, 0) == ["walk", "jump", "sit"]
    assert texts(model, 2) == ["2", "0", "0"]
    assert texts(model, 3) == ["1/2", "0/1", "0"]
    assert texts(model, 4) == ["2", "0", ""]
    assert texts(model, 5) == ["0.750", "0.500", ""]


def test_empty_and_reset_models_pass_the_tester(qtmodeltester, project):
    model = VideoListModel(None)
    qtmodeltester.check(model)
    model.set_project(project)
    qtmodeltester.check(model)
    assert model.rowCount() == 3


def test_refresh_follows_labels_and_new_videos(qtbot, project):
    model = VideoListModel(project)
    with qtbot.waitSignal(model.dataChanged):
        project.set_labeled(2, [1, 2, 3])
        model.refresh()
    assert texts(model, 2) == ["0", "3", "0"]
    with qtbot.waitSignal(model.modelReset):
        project.add_video("run", path=None, width=64, height=48, n_frames=5)
        model.refresh()
    assert texts(model, 0)[-1] == "run"


def test_status_filter_and_numeric_sort(qtbot, project):
    project.set_labeled(1, [0])            # walk: labeled, proposal still open -> in progress
    project.set_labeled(2, [3])            # jump: its one proposal labeled -> done
    add_round(project, 0, [(1, 7), (2, 3)], [(1, 1, 0.2, None), (2, 0, 0.9, None),
                                           (3, 1, 0.4, None)])
    view = VideoList(project)
    qtbot.addWidget(view)
    shown = lambda: [view.proxy.index(r, 0).data() for r in range(view.proxy.rowCount())]  # noqa: E731
    for i, expected in ((1, ["sit"]), (2, ["walk"]), (3, ["jump"]), (0, ["jump", "sit", "walk"])):
        view.filter.setCurrentIndex(i)
        assert shown() == expected
    view.table.sortByColumn(5, Qt.SortOrder.DescendingOrder)  # informativeness
    assert shown() == ["jump", "sit", "walk"]
    view.table.sortByColumn(1, Qt.SortOrder.AscendingOrder)   # frames: 10 < 20 < 30, not text
    assert shown() == ["sit", "jump", "walk"]


def test_double_click_opens_the_video(qtbot, project):
    view = VideoList(project)
    qtbot.addWidget(view)
    with qtbot.waitExposed(view):
        view.show()
    view.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)  # jump, sit, walk
    rect = view.table.visualRect(view.proxy.index(1, 0))
    with qtbot.waitSignal(view.videoActivated) as blocker:
        qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == [3]  # "sit"


def test_videos_with_no_media_are_marked_and_filtered(qapp, tmp_path):
    from halgui.core.ingest import add_videos
    from halgui.core.progress import run_to_end
    from halgui.gui.video_list import FILE_MISSING, FILTERS, LINKED, MEDIA_ROLE, NOT_LINKED
    from tests.core.videos import write_mp4

    with Project.create(tmp_path / "p") as project:
        run_to_end(add_videos(project, [write_mp4(tmp_path / "kept.mp4"),
                                        write_mp4(tmp_path / "gone.mp4", seed=1)]))
        project.add_video("waiting", path=None, width=64, height=48, n_frames=12)
        (tmp_path / "gone.mp4").unlink()
        view = VideoList(project)
        model = view.model
        media = {model.index(r, 0).data(): model.index(r, 0).data(MEDIA_ROLE) for r in range(3)}
        assert media == {"kept": LINKED, "gone": FILE_MISSING, "waiting": NOT_LINKED}
        icons = {model.index(r, 0).data(): model.index(r, 0).data(Qt.ItemDataRole.DecorationRole)
                 for r in range(3)}
        assert icons["kept"] is None and icons["gone"] is not None and icons["waiting"] is not None
        assert "not linked" in model.index(2, 0).data(Qt.ItemDataRole.ToolTipRole)
        view.filter.setCurrentIndex(FILTERS.index("no media"))
        shown = {view.proxy.index(r, 0).data() for r in range(view.proxy.rowCount())}
        assert shown == {"gone", "waiting"}
        view.deleteLater()
