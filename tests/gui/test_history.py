"""Round history: rows from the rounds' metrics, the table, the plot (pyqtgraph, loaded only
when the panel is first shown), and a window that never imports torch itself."""

import subprocess
import sys
import textwrap
from pathlib import Path

from halgui.core.project import Project, RoundRecord
from halgui.gui.history import COLUMNS, HistoryPanel, history_rows

ROOT = Path(__file__).resolve().parents[2]


def record(number, strategy, metrics):
    return RoundRecord(number, strategy, {}, metrics, None, "then", "later")


def test_rows_take_what_each_round_measured():
    rows = history_rows([
        record(0, "cold-start", {"labeled_frames": 0, "pool_frames": 200, "keyframe_boxes": 0}),
        record(1, "claus", {"labeled_frames": 10, "pool_frames": 200, "keyframe_boxes": 14,
                            "train_loss": 0.5, "val_frame_map@0.5_voc": 0.25,
                            "val_video_map@0.5": 0.125}),
        record(2, "claus", {"labeled_frames": 20, "train_loss": float("nan"),
                            "val_frame_map@0.5_voc": None}),
    ], {1: [3, 6, 2, 4, 2]})
    assert [r.cells() for r in rows] == [
        ("0", "cold-start", "0 (0.0%)", "0", "", "", "", ""),
        ("1", "claus", "10 (5.0%)", "14", "0.5000", "0.250", "0.125", "3 6 2 4 2"),
        ("2", "claus", "20", "", "", "", "", ""),
    ]


def test_panel_table_and_plot(qtbot, tmp_path):
    with Project.create(tmp_path / "p") as project:
        for number, labeled, fmap in ((0, 0, None), (1, 12, 0.2), (2, 24, 0.35)):
            metrics = {"labeled_frames": labeled, "pool_frames": 240, "keyframe_boxes": 2 * labeled}
            if fmap is not None:
                metrics.update({"train_loss": 1.0 / number, "val_frame_map@0.5_voc": fmap})
            project.record_round(strategy="claus" if number else "cold-start", config={},
                                 metrics=metrics, checkpoint=None, started_at="now", proposals=[])
        panel = HistoryPanel()
        qtbot.addWidget(panel)
        panel.set_project(project)
        assert panel.table.rowCount() == 3 and panel.table.columnCount() == len(COLUMNS)
        assert panel.table.item(2, 2).text() == "24 (10.0%)"
        assert panel.table.item(2, 5).text() == "0.350"
        assert panel.series() == {"labeled frames": ([0, 1, 2], [0.0, 12.0, 24.0]),
                                  "val frame-mAP": ([1, 2], [0.2, 0.35])}
        assert panel.plot is None  # not before it is shown
        panel.show()
        qtbot.waitUntil(lambda: panel.plot is not None)
        x, y = panel.curves["val frame-mAP"].getData()
        assert list(x) == [1, 2] and list(y) == [0.2, 0.35]
        project.record_round(strategy="claus", config={}, started_at="now", proposals=[],
                             metrics={"labeled_frames": 30, "val_frame_map@0.5_voc": 0.5},
                             checkpoint=None)
        panel.refresh()
        assert panel.table.rowCount() == 4
        assert list(panel.curves["labeled frames"].getData()[1]) == [0, 12, 24, 30]
        panel.set_project(None)
        assert panel.table.rowCount() == 0


def test_panel_shows_each_rounds_cluster_sizes(qtbot, tmp_path):
    with Project.create(tmp_path / "p") as project:
        ids = [project.add_video(f"v{i}", path=None, width=64, height=48, n_frames=10)
               for i in range(6)]
        for clusters in ([2, 0, 0, 0, 0, 0], [0, 1, 2, 1, 0, 2]):
            project.record_round(strategy="claus", config={}, metrics={}, checkpoint=None,
                                 started_at="now", proposals=[],
                                 video_scores=[(v, None, c, None)
                                               for v, c in zip(ids, clusters, strict=True)])
        panel = HistoryPanel()
        qtbot.addWidget(panel)
        panel.set_project(project)
        column = COLUMNS.index("Cluster sizes")
        # round 0: five videos in cluster 0, one in cluster 2 (cluster 1 has none)
        assert [panel.table.item(r, column).text() for r in (0, 1)] == ["5 1", "2 2 2"]


CHILD = """
import sys
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from halgui.gui.main_window import MainWindow

app = QApplication([])
window = MainWindow(QSettings(sys.argv[2], QSettings.Format.IniFormat))
window.show()
assert window.open_project(sys.argv[1])
app.processEvents()
print("start", "torch" in sys.modules, "pyqtgraph" in sys.modules, flush=True)
window.docks["history"].raise_()
deadline = __import__("time").monotonic() + 60
while (window.history.plot is None or window.model_view.worker.is_running()
       or not window.model_view.last_error) and __import__("time").monotonic() < deadline:
    app.processEvents()
print("later", "torch" in sys.modules, "pyqtgraph" in sys.modules,
      bool(window.model_view.last_error), flush=True)
window.close()
"""


def test_the_window_never_imports_torch_and_loads_pyqtgraph_when_shown(tmp_path):
    from halgui.core.ingest import add_videos
    from halgui.core.progress import run_to_end
    from tests.core.videos import write_mp4

    folder = tmp_path / "p"
    with Project.create(folder) as project:
        project.add_class("walk")
        run_to_end(add_videos(project, [write_mp4(tmp_path / "a.mp4", n_frames=12)]))
        broken = folder / "models" / "round-001.pt"
        broken.write_bytes(b"not a checkpoint")
        project.record_round(strategy="claus", config={}, metrics={}, checkpoint=broken,
                             started_at="now", proposals=[])
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CHILD), str(folder), str(tmp_path / "s.ini")],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    lines = [line for line in result.stdout.splitlines() if line.split()[:1] in (["start"],
                                                                               ["later"])]
    assert lines == ["start False False", "later False True True"], result.stderr[-3000:]
