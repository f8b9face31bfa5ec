"""From a model's actor map to the boxes the canvas draws, in original-frame pixels.

A real ActorLocalizer, saved as a round's checkpoint, whose weights are set by hand so that its
actor map is known: the trunk passes the mean brightness of every fourth pixel through, the map
head turns it into a logit ``10 v - 5``, and the class head always says "run" with probability
sigmoid(1). The video (written by OpenCV) is dark noise with one white rectangle, so the model
finds exactly that rectangle; the test follows it through the model view's helper job, the
overlay and the canvas, without a subprocess.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PySide6.QtGui import QUndoStack

from halgui.core.al import checkpoint
from halgui.core.al.model import ActorLocalizer, ModelConfig
from halgui.core.frame_cache import FrameCache
from halgui.core.ingest import add_videos
from halgui.core.progress import run_to_end
from halgui.core.project import Project
from halgui.gui.box_item import DetectionItem
from halgui.gui.canvas import Canvas
from halgui.gui.label_events import LabelEvents
from halgui.gui.model_view import ModelOverlay

SIZE = 32                        # S: the model sees 32 x 32 frames
FRAME = (128, 96)                # the video: 4 x 3 original pixels per model pixel
RECT = (32, 24, 96, 60)          # the white rectangle, original pixels: model x 8..24, y 8..20


def write_video(path: Path) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, FRAME)
    rng = np.random.default_rng(0)
    x1, y1, x2, y2 = RECT
    for _ in range(20):
        frame = rng.integers(0, 40, (FRAME[1], FRAME[0], 3), dtype=np.uint8)
        frame[y1:y2, x1:x2] = 255
        writer.write(frame)
    writer.release()
    return path


def hand_set_model() -> ActorLocalizer:
    """Map logit = 10 * relu(mean brightness, normalised) - 5 at model pixel (4j + 2, 4i + 2)
    of low-resolution cell (i, j): stage 1 (stride 2) takes its centre tap, stage 2 (stride 2)
    the tap one pixel right and down; BatchNorm is the identity; every other weight is 0.
    Its boxes are the actor map's components (tests/core/al/test_boxes.py checks the box
    head's decoding by hand)."""
    model = ActorLocalizer(ModelConfig(n_classes=2, clip_len=4, stride=2, size=SIZE, width=4,
                                       boxes="components"))
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm3d):
                m.weight.fill_(1.0)
                m.running_mean.zero_()
                m.running_var.fill_(1.0)
        t = model.trunk
        t.stage1[0].weight[0, :, 0, 1, 1] = 1 / 3   # mean of R, G, B at the centre tap
        t.stage1[3].weight[0, 0, 1, 0, 0] = 1.0     # temporal: the frame itself
        t.stage2[0].weight[0, 0, 0, 2, 2] = 1.0     # one pixel right and down
        t.stage2[3].weight[0, 0, 1, 0, 0] = 1.0
        model.skip_proj[0].weight[0, 0, 0, 1, 1] = 1.0
        model.skip_proj[2].weight[0, 0] = 1.0
        model.map_head.weight[0, 0] = 10.0
        model.map_head.bias.fill_(-5.0)
        model.class_head.bias.copy_(torch.tensor([-2.0, 1.0]))
    return model.eval()


@pytest.fixture
def threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)  # the model job runs on one thread


def test_model_boxes_are_drawn_in_original_frame_pixels(qtbot, tmp_path, threads, monkeypatch):
    project = Project.create(tmp_path / "proj")
    run_to_end(add_videos(project, [write_video(tmp_path / "rect.mp4")]))
    project.add_class("walk", "#1f77b4", "1")
    project.add_class("run", "#d62728", "2")
    video = project.videos()[0]
    ckpt = checkpoint.save(project.folder / "models" / "round-001.pt", hand_set_model(),
                           ["walk", "run"])
    project.record_round(strategy="claus", config={}, metrics={}, checkpoint=ckpt,
                         started_at="2026-01-01T00:00:00Z", proposals=[])
    frames = FrameCache(video.path)
    canvas = Canvas(project, QUndoStack(), LabelEvents())
    qtbot.addWidget(canvas)
    canvas.resize(400, 300)
    canvas.show()
    canvas.set_video(video, frames)
    overlay = ModelOverlay()
    pool = cf.ThreadPoolExecutor(max_workers=1)  # the helper process's job, in a thread
    monkeypatch.setattr(overlay, "_executor", lambda: pool)
    overlay.set_project(project, canvas)
    overlay.set_video(video)
    try:
        with qtbot.waitSignal(overlay.changed, timeout=60_000):
            overlay.show_frame(5)
        items = [i for i in canvas.scene().items() if isinstance(i, DetectionItem)]
        assert len(items) == 1
        rect = items[0].rect()
        assert (rect.left(), rect.top(), rect.right(), rect.bottom()) == pytest.approx(RECT)
        # score = p(run) x mean map probability inside the box; bilinear upsampling of a
        # 4-pixel cell gives weights .625 .875 1 ... 1 .875 .625 along each side of the box
        p_in, p_out = 1 / (1 + math.exp(-19.4)), 1 / (1 + math.exp(5.0))
        wx, wy = (2 * (.625 + .875) + 12) / 16, (2 * (.625 + .875) + 8) / 12
        inside = p_out + (p_in - p_out) * wx * wy
        score = 1 / (1 + math.exp(-1.0)) * inside
        (shown,) = overlay.detections()
        assert shown[4] == "run" and shown[5] == pytest.approx(score, abs=0.01)
        assert items[0].childItems()[0]._text == f"run {score:.2f}"
    finally:
        overlay.shutdown()
        pool.shutdown(wait=True)
        frames.close()
        project.close()
