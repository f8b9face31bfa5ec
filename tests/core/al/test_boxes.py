"""The box head: its targets, loss and decoding, checked against values worked out by hand."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from halgui.core.al.boxes import HEAD_STRIDE, BoxConfig, box_loss, box_targets, decode
from halgui.core.al.model import ActorLocalizer, BoxOutput, ModelConfig
from halgui.core.al.predict import PredictConfig, WindowOutput, frame_boxes


def test_targets_of_one_box_by_hand():
    # a box 8 x 16 clip pixels -> 2 x 4 map pixels centred at map (3.0, 4.0)
    t = box_targets([np.array([[8, 8, 16, 24, 1]], np.float32)], size=32, n_classes=2)
    assert t.centre.shape == (1, 8, 8) and t.edges.shape == (4, 1, 8, 8)
    assert t.centre[0, 4, 3] == 1.0  # the cell holding the centre is exactly 1
    sx, sy = 0.5, 4 / 6  # sigma = 1/6 of width (2/6, raised to the 0.5 floor) and height
    assert t.centre[0, 4, 2] == pytest.approx(math.exp(-(0.5 - 0) ** 2 / (2 * sx * sx))
                                              * math.exp(-0.5 ** 2 / (2 * sy * sy)), rel=1e-5)
    assert (t.centre == 1.0).sum() == 1
    near = t.edge_weight[0] > 0
    assert near[4, 3] and (t.edge_weight[0][near] >= BoxConfig().edge_min_weight).all()
    for j, v in enumerate((2.0, 2.0, 4.0, 6.0)):  # x1 y1 x2 y2 in map pixels
        assert (t.edges[j, 0][near] == v).all()
    inside = np.zeros((8, 8), bool)
    inside[2:6, 2:4] = True
    assert (t.inside[0].astype(bool) == inside).all()
    assert (t.classes[1, 0].astype(bool) == inside).all() and not t.classes[0].any()


def test_a_shared_position_belongs_to_the_box_whose_bump_is_higher_there():
    big = [0, 0, 32, 32, 0]
    small = [12, 12, 20, 20, 1]   # centred on the big one's centre too, smaller
    t = box_targets([np.array([big, small], np.float32)], size=32, n_classes=2)
    # at the shared centre cell the small box is assigned (its bump is also 1 there)
    assert t.edges[:, 0, 4, 4].tolist() == [3.0, 3.0, 5.0, 5.0]
    assert t.classes[:, 0, 4, 4].tolist() == [1.0, 1.0]   # both boxes cover it
    # off the small box's narrow bump, the big one's wider bump still trains its edges
    assert t.edges[:, 0, 4, 1].tolist() == [0.0, 0.0, 8.0, 8.0]
    assert t.edge_weight[0, 4, 1] == pytest.approx(math.exp(-2.5 ** 2 / (2 * (8 / 6) ** 2))
                                                   * math.exp(-0.5 ** 2 / (2 * (8 / 6) ** 2)))
    assert t.edge_weight[0, 0, 0] == 0.0  # under edge_min_weight: not trained


def test_decode_reads_boxes_at_peaks_by_hand():
    centre = np.zeros((8, 8), np.float32)
    centre[2, 3], centre[6, 6], centre[6, 5] = 0.9, 0.6, 0.5   # (6, 5) is not a peak
    centre[0, 0] = 0.01                                           # below min_peak
    edges = np.ones((4, 8, 8), np.float32)
    edges[:, 2, 3] = (1.0, 2.0, 1.5, 0.5)
    classes = np.zeros((2, 8, 8), np.float32)
    classes[:, 2, 3] = (0.2, 0.7)
    found = decode(centre, edges, classes)
    assert [round(p, 3) for _, p, _ in found] == [0.9, 0.6]
    box, _, probs = found[0]
    # centre of cell (row 2, col 3) is (3.5, 2.5) map pixels
    assert box == pytest.approx(((3.5 - 1.0) * 4, (2.5 - 2.0) * 4, (3.5 + 1.5) * 4,
                                 (2.5 + 0.5) * 4))
    assert probs.tolist() == pytest.approx([0.2, 0.7])
    assert decode(centre, edges, classes, BoxConfig(max_per_frame=1))[0][1] == pytest.approx(0.9)


def test_a_box_reaching_past_the_clip_is_cut_at_its_edges():
    centre = np.zeros((8, 6), np.float32)   # 8 rows, 6 columns: a 24 x 32 clip
    centre[0, 5] = 0.8
    edges = np.zeros((4, 8, 6), np.float32)
    edges[:, 0, 5] = (2.0, 3.0, 4.0, 1.0)    # left, top, right, bottom in map pixels
    (box, peak, _), = decode(centre, edges, np.zeros((1, 8, 6), np.float32))
    # centre (5.5, 0.5): x from 3.5 to 9.5 -> 6 (the clip's width), y from -2.5 -> 0 to 1.5
    assert box == pytest.approx((3.5 * 4, 0.0, 6 * 4, 1.5 * 4))
    assert peak == pytest.approx(0.8)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40), st.integers(6, 24),
                          st.integers(6, 24)), min_size=1, max_size=3))
def test_perfect_maps_decode_back_to_the_boxes(rects):
    """Targets turned into the maps a perfect head would give decode back to the same boxes
    (within the map's quarter-pixel grid for the centre; edges are exact)."""
    rows = np.array([[x, y, min(x + w, 64), min(y + h, 64), 0] for x, y, w, h in rects],
                    np.float32)
    centres = {(int((r[1] + r[3]) / 2 / HEAD_STRIDE), int((r[0] + r[2]) / 2 / HEAD_STRIDE))
               for r in rows}
    if len(centres) < len(rows):
        return  # two boxes centred in one cell: one peak, by design
    t = box_targets([rows], size=64, n_classes=1)
    h = 64 // HEAD_STRIDE
    gy, gx = np.mgrid[0:h, 0:h] + 0.5
    x1, y1, x2, y2 = t.edges[:, 0]
    edges = np.stack([gx - x1, gy - y1, x2 - gx, y2 - gy])
    found = decode(t.centre[0], edges, t.classes[:, 0])
    got = sorted(tuple(round(v, 3) for v in b) for b, p, _ in found if p == 1.0)
    peaks_at_one = sorted({(int(iy), int(ix)) for iy, ix in np.argwhere(t.centre[0] == 1.0)})
    assert len(peaks_at_one) == len(rows)
    for (iy, ix) in peaks_at_one:
        assigned = tuple(round(float(v) * HEAD_STRIDE, 3) for v in t.edges[:, 0, iy, ix])
        assert assigned in got


def test_box_loss_is_small_for_right_maps_and_large_for_wrong_ones():
    rows = np.array([[8, 8, 24, 40, 1]], np.float32)
    t = box_targets([rows, rows], size=64, n_classes=2)
    targets = {k: torch.from_numpy(v)[None] for k, v in vars(t).items()}
    h = 64 // HEAD_STRIDE
    gy, gx = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(h) + 0.5, indexing="ij")
    e = targets["edges"][0]
    right_edges = torch.stack([gx - e[0], gy - e[1], e[2] - gx, e[3] - gy])[None]
    logit = torch.logit(targets["centre"].clamp(1e-4, 1 - 1e-4))
    right = BoxOutput(logit, right_edges, torch.where(targets["classes"] > 0, 9.0, -9.0))
    wrong = BoxOutput(-logit, right_edges.flip(1), -right.class_logits)
    phi = torch.ones(1, 2, 64, 64)
    good, bad = box_loss(right, targets, phi), box_loss(wrong, targets, phi)
    assert good["edges"] == pytest.approx(0.0, abs=1e-5)
    assert good["box_classes"] < 1e-3 < bad["box_classes"]
    assert good["centre"] < 0.1 * bad["centre"] and good["box_loss"] < bad["box_loss"]
    # weights of zero (untrusted frames) take a term out entirely
    none = box_loss(wrong, targets, torch.zeros_like(phi))
    assert float(none["edges"]) == 0.0 and float(none["box_classes"]) == 0.0


def test_frame_boxes_scores_by_the_actor_or_the_clip():
    centre = np.zeros((1, 8, 8), np.float32)
    centre[0, 2, 2] = 0.8
    edges = np.ones((4, 1, 8, 8), np.float32)
    actor = np.zeros((2, 1, 8, 8), np.float32)
    actor[:, 0, 2, 2] = (0.1, 0.9)
    out = WindowOutput(np.array([0]), np.zeros((1, 1, 8, 8)), np.array([[0.7, 0.2]]),
                       np.zeros(4), (centre, edges, actor))
    (_, peak, probs), = frame_boxes(out, 0, PredictConfig())
    assert peak == pytest.approx(0.8) and probs.tolist() == pytest.approx([0.1, 0.9])
    (_, _, clip_probs), = frame_boxes(out, 0, PredictConfig(box_classes="clip"))
    assert clip_probs.tolist() == pytest.approx([0.7, 0.2])


def test_model_box_head_shapes_and_no_dropout():
    torch.manual_seed(0)
    m = ActorLocalizer(ModelConfig(n_classes=3, clip_len=4, size=32, width=4, embed_dim=8))
    x = torch.randn(2, 3, 4, 32, 32)
    out = m(x)
    assert out.boxes.centre_logits.shape == (2, 4, 8, 8)
    assert out.boxes.edges.shape == (2, 4, 4, 8, 8) and (out.boxes.edges >= 0).all()
    assert out.boxes.class_logits.shape == (2, 3, 4, 8, 8)
    m.eval()
    with torch.no_grad():
        a = m.features_and_boxes(x)[2].centre_logits
        m.dropout.train()  # MC mode: the box head must not change between passes
        b = m.features_and_boxes(x)[2].centre_logits
    assert torch.equal(a, b)
    assert ActorLocalizer(ModelConfig(n_classes=3, boxes="components")).box_head is None
    with pytest.raises(ValueError, match="unknown box source"):
        ActorLocalizer(ModelConfig(n_classes=3, boxes="anchors"))
