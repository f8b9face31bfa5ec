"""The loss ablation: same evenly spaced labels, one model per weighting."""

import pytest

from halgui.core.al.ablation import loss_ablation
from halgui.core.al.data import ClipConfig
from halgui.core.al.train import TrainConfig
from halgui.core.progress import run_to_end
from halgui.core.synthetic import SynthConfig, generate


def test_each_weighting_trains_on_the_same_labels(tmp_path):
    gt = run_to_end(generate(tmp_path / "data", SynthConfig(n_videos=8, n_frames=40, width=64,
                                                             height=48, seed=2), workers=1))
    config = TrainConfig(epochs=1, batch_size=4, width=4, clip=ClipConfig(clip_len=4, size=32))
    rows = run_to_end(loss_ablation(tmp_path / "work", gt, fraction=0.1, config=config))
    assert [r.strategy for r in rows] == ["stew", "labeled", "pseudo"]
    assert len({(r.frames_pct, r.boxes_pct) for r in rows}) == 1  # the very same labels
    assert rows[0].frames_pct == pytest.approx(10.0)  # 4 evenly spaced frames of 40
    for r in rows:
        assert 0 <= (r.metrics["frame_map@0.5_voc"] or 0) <= 1
