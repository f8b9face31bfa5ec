"""The box head's targets, loss and decoding (instance-aware outputs, algorithm.md 2).

Boxes from connected components of one actor map merge close actors into one box and take the
map's blur into the box's extent. The box head instead predicts, per frame at a quarter of the
clip size, where each acting actor's centre is (a heatmap with a Gaussian bump per box, as
CenterNet and MOC-detector do), the distances from each position near a centre to the four
edges of its box (trained at every position of the bump, weighted by it, with a GIoU loss, as
TTFNet does, which needs far fewer steps than regressing at the centre alone), and the classes of
the actor there. Decoding takes the local maxima of the heatmap.

Targets and weights follow STeW: the per-pixel weights phi of the actor map, averaged down to the
head's resolution, weigh every term, so pseudo-labeled frames count as much as they are trusted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

    from halgui.core.al.model import BoxOutput

#: the box head's maps are this many times smaller than the clip (the trunk's skip stride)
HEAD_STRIDE = 4


@dataclass(frozen=True)
class BoxConfig:
    """Choices of the box head's targets, loss and decoding."""

    sigma_fraction: float = 1 / 6   # a bump's sigma: this fraction of the box's width/height
    min_sigma: float = 0.5          # ... but at least this many map pixels
    focal_alpha: float = 2.0        # the heatmap's focal loss (CenterNet's alpha and beta)
    focal_beta: float = 4.0
    edge_min_weight: float = 0.05   # edges are trained where the bump is at least this
    lambda_centre: float = 1.0
    lambda_edges: float = 1.0
    lambda_classes: float = 1.0
    min_peak: float = 0.05          # decoding: heatmap peaks below this are not boxes
    max_per_frame: int = 10         # decoding: at most this many boxes per frame


@dataclass
class BoxTargets:
    """One clip's targets at the head's resolution (h = w = S / HEAD_STRIDE)."""

    centre: np.ndarray     # (T, h, w) float32 Gaussian bumps, exactly 1 at each box's centre
    edges: np.ndarray      # (4, T, h, w) float32 the assigned box in map pixels (x1, y1, x2, y2)
    edge_weight: np.ndarray  # (T, h, w) float32 bump value of the assigned box, 0 elsewhere
    classes: np.ndarray    # (C, T, h, w) float32 multi-hot classes of the boxes over a position
    inside: np.ndarray     # (T, h, w) float32 1 inside some box


def box_targets(frame_boxes: Sequence[np.ndarray], size: int, n_classes: int,
                config: BoxConfig = BoxConfig()) -> BoxTargets:
    """Rasterise each frame's boxes ``(k, 5)`` rows ``x1, y1, x2, y2, class`` in clip pixels
    (after augmentation) into the head's targets."""
    h = w = size // HEAD_STRIDE
    t_len = len(frame_boxes)
    centre = np.zeros((t_len, h, w), np.float32)
    edges = np.zeros((4, t_len, h, w), np.float32)
    edge_weight = np.zeros((t_len, h, w), np.float32)
    classes = np.zeros((n_classes, t_len, h, w), np.float32)
    inside = np.zeros((t_len, h, w), np.float32)
    ys, xs = (np.arange(h, dtype=np.float32) + 0.5), (np.arange(w, dtype=np.float32) + 0.5)
    for t, boxes in enumerate(frame_boxes):
        # larger boxes first, so a smaller (nearer-to-its-centre) one wins the positions it shares
        order = np.argsort(-(boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])) \
            if len(boxes) else []
        for k in order:
            x1, y1, x2, y2 = boxes[k, :4] / HEAD_STRIDE
            if x2 <= x1 or y2 <= y1:
                continue
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            sx = max((x2 - x1) * config.sigma_fraction, config.min_sigma)
            sy = max((y2 - y1) * config.sigma_fraction, config.min_sigma)
            bump = (np.exp(-((ys[:, None] - cy) ** 2) / (2 * sy * sy))
                    * np.exp(-((xs[None, :] - cx) ** 2) / (2 * sx * sx)))
            iy, ix = min(int(cy), h - 1), min(int(cx), w - 1)
            bump[iy, ix] = 1.0
            centre[t] = np.maximum(centre[t], bump)
            take = (bump >= config.edge_min_weight) & (bump >= edge_weight[t])
            edge_weight[t][take] = bump[take]
            for j, v in enumerate((x1, y1, x2, y2)):
                edges[j, t][take] = v
            box = (slice(max(int(np.floor(y1)), 0), min(int(np.ceil(y2)), h)),
                   slice(max(int(np.floor(x1)), 0), min(int(np.ceil(x2)), w)))
            classes[int(boxes[k, 4]), t][box] = 1.0
            inside[t][box] = 1.0
    return BoxTargets(centre, edges, edge_weight, classes, inside)


def box_loss(out: BoxOutput, targets: dict[str, torch.Tensor], phi: torch.Tensor,
             config: BoxConfig = BoxConfig()) -> dict[str, torch.Tensor]:
    """Focal loss on the centre heatmap, GIoU on the boxes decoded near centres, BCE on the
    classes inside boxes; each weighted by ``phi`` ``(B, T, S, S)`` averaged to the head's size
    and normalised by its weight. ``targets`` holds the batched fields of :class:`BoxTargets`."""
    import torch
    import torch.nn.functional as F

    b, t, size = phi.shape[0], phi.shape[1], phi.shape[-1]
    low = F.avg_pool2d(phi.float().reshape(b * t, 1, size, size), HEAD_STRIDE)
    weight = low.view(b, t, *low.shape[2:])
    # focal loss on the heatmap (CenterNet), positives where the target is exactly 1
    logits = out.centre_logits.float()
    p = torch.sigmoid(logits)
    gt = targets["centre"]
    pos = (gt >= 1.0).float()
    log_p, log_not_p = F.logsigmoid(logits), F.logsigmoid(-logits)
    pos_term = -((1 - p) ** config.focal_alpha) * log_p * pos
    neg_term = -((1 - gt) ** config.focal_beta) * (p ** config.focal_alpha) * log_not_p * (1 - pos)
    n_pos = torch.clamp((pos * weight).sum(), min=1.0)
    centre = ((pos_term + neg_term) * weight).sum() / n_pos
    # GIoU of the box decoded at each position near a centre against its assigned box
    h, w = logits.shape[-2:]
    gy = torch.arange(h, device=logits.device, dtype=torch.float32).view(1, 1, h, 1) + 0.5
    gx = torch.arange(w, device=logits.device, dtype=torch.float32).view(1, 1, 1, w) + 0.5
    e = out.edges.float()
    pred = torch.stack((gx - e[:, 0], gy - e[:, 1], gx + e[:, 2], gy + e[:, 3]))
    tgt = targets["edges"].transpose(0, 1)  # (4, B, T, h, w)
    ew = targets["edge_weight"] * weight
    edges = ((1 - _giou(pred, tgt)) * ew).sum() / torch.clamp(ew.sum(), min=1e-6)
    # classes of the actor at each position inside a box
    cw = targets["inside"] * weight
    bce = F.binary_cross_entropy_with_logits(out.class_logits.float(), targets["classes"],
                                             reduction="none").mean(dim=1)
    classes = (bce * cw).sum() / torch.clamp(cw.sum(), min=1e-6)
    total = (config.lambda_centre * centre + config.lambda_edges * edges
             + config.lambda_classes * classes)
    return {"box_loss": total, "centre": centre.detach(), "edges": edges.detach(),
            "box_classes": classes.detach()}


def _giou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Generalised IoU of boxes stacked on dim 0 as (x1, y1, x2, y2)."""
    import torch

    iw = torch.clamp(torch.minimum(a[2], b[2]) - torch.maximum(a[0], b[0]), min=0)
    ih = torch.clamp(torch.minimum(a[3], b[3]) - torch.maximum(a[1], b[1]), min=0)
    inter = iw * ih
    area_a = (a[2] - a[0]).clamp(min=0) * (a[3] - a[1]).clamp(min=0)
    area_b = (b[2] - b[0]).clamp(min=0) * (b[3] - b[1]).clamp(min=0)
    union = area_a + area_b - inter
    hull = ((torch.maximum(a[2], b[2]) - torch.minimum(a[0], b[0]))
            * (torch.maximum(a[3], b[3]) - torch.minimum(a[1], b[1])))
    iou = inter / union.clamp(min=1e-6)
    return iou - (hull - union) / hull.clamp(min=1e-6)


def decode(centre_prob: np.ndarray, edges: np.ndarray, class_prob: np.ndarray,
           config: BoxConfig = BoxConfig()
           ) -> list[tuple[tuple[float, float, float, float], float, np.ndarray]]:
    """One frame's boxes from the head's maps: ``centre_prob`` ``(h, w)``, ``edges``
    ``(4, h, w)``, ``class_prob`` ``(C, h, w)``. Each is ``(box in clip pixels, peak, class
    probabilities at the peak)``, strongest first; a peak is a position no lower than its eight
    neighbours. Boxes are cut at the clip's edges: an actor half out of view is boxed where it
    is seen, as a labeler boxes it."""
    h, w = centre_prob.shape
    padded = np.pad(centre_prob, 1, constant_values=-1.0)
    neighbours = np.max(np.stack([padded[dy:dy + h, dx:dx + w] for dy in range(3)
                                  for dx in range(3)]), axis=0)
    peaks = np.argwhere((centre_prob >= neighbours) & (centre_prob >= config.min_peak))
    values = centre_prob[peaks[:, 0], peaks[:, 1]]
    out = []
    for k in np.argsort(-values, kind="stable")[:config.max_per_frame]:
        y, x = peaks[k]
        left, top, right, bottom = edges[:, y, x]
        box = (max(x + 0.5 - left, 0.0) * HEAD_STRIDE, max(y + 0.5 - top, 0.0) * HEAD_STRIDE,
               min(x + 0.5 + right, w) * HEAD_STRIDE, min(y + 0.5 + bottom, h) * HEAD_STRIDE)
        out.append((tuple(float(v) for v in box), float(values[k]), class_prob[:, y, x]))
    return out
