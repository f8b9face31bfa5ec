"""Prediction: actor maps over a whole video, boxes per frame, tubes per video.

A video is covered by back-to-back clips of T frames at stride s (16 raw frames each); a raw
frame takes the prediction of its nearest sampled frame (algorithm.md 4). A model with a box head
(boxes.py) gives each frame's boxes from the peaks of its centre heatmap, scored per class by
``peak x the class probability of the actor at the peak`` (or of the clip, ``box_classes``);
a model with class prototypes blends that probability with the prototypes' for the box
(prototypes.py).
A model without one takes them from the mean actor map: threshold at 0.5, connected components,
a tight box per component, and a score per class of ``clip class probability x mean map
probability inside the box`` (algorithm.md 2).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from halgui.core.al.boxes import HEAD_STRIDE as BOX_STRIDE
from halgui.core.al.boxes import BoxConfig, decode
from halgui.core.al.data import ClipConfig
from halgui.core.al.model import ActorLocalizer, mc_forward
from halgui.core.al.prototypes import PrototypeSet, box_feature
from halgui.core.metrics_tubes import Detection, Tube, link_detections
from halgui.core.progress import CancelFlag, Progress


@dataclass(frozen=True)
class PredictConfig:
    """Choices of box extraction; defaults from algorithm.md 2."""

    threshold: float = 0.5        # on the mean actor map
    min_score: float = 0.01       # detections scored lower are not reported
    min_area: int = 4             # components smaller than this (model pixels) are noise
    batch_size: int = 8           # clips per forward pass
    #: with a box head, whose class probabilities score a box: "actor" (the box head's, at
    #: the box's centre: close actors doing different things get different classes) or
    #: "clip" (the clip's class head, as boxes from the actor map are scored)
    box_classes: str = "actor"
    boxes: BoxConfig = field(default_factory=BoxConfig)


def windows(n_frames: int, clip: ClipConfig) -> list[np.ndarray]:
    """Back-to-back clips covering every frame: starts 0, T*s, 2*T*s, ... clamped at the end."""
    span = clip.clip_len * clip.stride
    return [np.minimum(start + clip.stride * np.arange(clip.clip_len), n_frames - 1)
            for start in range(0, n_frames, span)]


def nearest_sampled(n_frames: int, clip: ClipConfig) -> np.ndarray:
    """For each raw frame, the flat index (window * T + t) of its nearest sampled frame; ties
    go to the earlier one."""
    sampled = np.concatenate(windows(n_frames, clip))
    frames = np.arange(n_frames)
    distance = np.abs(frames[:, None] - sampled[None, :])
    return np.argmin(distance, axis=1)  # argmin takes the first of equal distances


@dataclass
class WindowOutput:
    frames: np.ndarray        # (T,) sampled frame indices
    maps: np.ndarray          # (R, T, h, w) map probabilities of R passes (R = 1: no dropout)
    classes: np.ndarray       # (R, C) class probabilities
    embedding: np.ndarray     # (D,)
    #: the box head's maps (centre probabilities (T, h, w), edges (4, T, h, w), class
    #: probabilities (C, T, h, w)) from the deterministic pass of a model with a box head
    box_maps: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    #: with fitted class prototypes: their features (D, T, h, w) and the prototypes, which
    #: score each box's classes together with the box head's
    features: np.ndarray | None = None
    prototypes: PrototypeSet | None = None


@torch.no_grad()
def run_windows(
    model: ActorLocalizer, frames: np.ndarray, clip: ClipConfig, *, passes: int = 0,
    batch_size: int = 8, full_size: bool = False,
) -> Iterator[WindowOutput]:
    """Run the model over a video's clip-cache frames, window by window.

    ``passes=0`` is the deterministic forward pass (eval mode); ``passes=R`` runs R Monte
    Carlo dropout passes on one trunk pass. Maps are at the heads' resolution unless
    ``full_size`` upsamples them to S x S.
    """
    device = next(model.parameters()).device
    model.eval()
    protos = PrototypeSet.of(model) if not passes else None
    wins = windows(frames.shape[0], clip)
    for i in range(0, len(wins), batch_size):
        chunk = wins[i:i + batch_size]
        x = torch.from_numpy(np.stack([np.asarray(frames[w]) for w in chunk])).to(device)
        x = model.normalise(x)
        box_np = features = None
        if protos is not None:
            assert model.prototypes is not None
            features = model.prototypes.features(x).float().cpu().numpy()
        if passes:
            maps, classes, embedding = mc_forward(model, x, passes)  # (R, B, ...)
        else:
            deep, skip, boxes = model.features_and_boxes(x)
            out = model.heads(deep, skip)
            maps = torch.sigmoid(out.map_logits.float())[None]
            classes = torch.sigmoid(out.class_logits.float())[None]
            embedding = out.embedding.float()
            if boxes is not None:
                box_np = (torch.sigmoid(boxes.centre_logits.float()).cpu().numpy(),
                          boxes.edges.float().cpu().numpy(),
                          torch.sigmoid(boxes.class_logits.float()).cpu().numpy())
        if full_size:
            r, b = maps.shape[:2]
            maps = model.upsample(maps.flatten(0, 1)).view(r, b, *maps.shape[2:3],
                                                           clip.size, clip.size)
        maps_np, classes_np = maps.cpu().numpy(), classes.cpu().numpy()
        emb_np = embedding.cpu().numpy()
        for j, w in enumerate(chunk):
            yield WindowOutput(w, maps_np[:, j], classes_np[:, j], emb_np[j],
                               None if box_np is None else tuple(a[j] for a in box_np),
                               None if features is None else features[j], protos)


def boxes_from_map(prob: np.ndarray, threshold: float, min_area: int
                   ) -> list[tuple[tuple[int, int, int, int], float]]:
    """Tight boxes ``(x1, y1, x2, y2)`` (exclusive ends, map pixels) of the connected
    components of ``prob > threshold``, each with the mean probability inside its box."""
    binary = (prob > threshold).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    out = []
    for k in range(1, count):
        x, y, w, h, area = stats[k]
        if area < min_area:
            continue
        box = (int(x), int(y), int(x + w), int(y + h))
        out.append((box, float(prob[y:y + h, x:x + w].mean())))
    return out


def detect_video(
    model: ActorLocalizer, name: str, frames: np.ndarray, frame_size: tuple[int, int],
    class_names: Sequence[str], clip: ClipConfig, config: PredictConfig = PredictConfig(),
    cancel: CancelFlag | None = None,
) -> Generator[Progress, None, list[Detection]]:
    """Per-frame detections of one video, in original-frame pixels."""
    detections, _ = yield from detect_video_and_classes(model, name, frames, frame_size,
                                                        class_names, clip, config, cancel)
    return detections


@dataclass
class FrameClasses:
    """The class probabilities a model gives each raw frame of a video (those of its nearest
    sampled frame): its clip's and, with a box head, the actor's at each position."""

    clip: np.ndarray                # (n_frames, C)
    actor: np.ndarray | None        # (n_sampled, C, h, w), or None without a box head
    nearest: np.ndarray             # (n_frames,) index into the sampled frames
    scale: tuple[float, float]      # original-frame pixels per map pixel (x, y)
    #: with class prototypes: their features of each sampled frame (n_sampled, D, h, w)
    features: np.ndarray | None = None
    prototypes: PrototypeSet | None = None

    def of_box(self, frame: int, box: Sequence[float]) -> np.ndarray:
        """The probabilities that would score a box on ``frame`` (original pixels): the
        actor's at the box's centre with a box head (blended with the class prototypes'
        when the model has them), else the clip's."""
        if self.actor is None:
            return self.clip[frame]
        h, w = self.actor.shape[-2:]
        x = min(max(int((box[0] + box[2]) / 2 / self.scale[0]), 0), w - 1)
        y = min(max(int((box[1] + box[3]) / 2 / self.scale[1]), 0), h - 1)
        probs = self.actor[self.nearest[frame], :, y, x]
        if self.prototypes is None or self.features is None:
            return probs
        sx, sy = self.scale[0] / BOX_STRIDE, self.scale[1] / BOX_STRIDE  # per clip pixel
        clip_box = (box[0] / sx, box[1] / sy, box[2] / sx, box[3] / sy)
        feature = box_feature(self.features[self.nearest[frame]].astype(np.float32), clip_box)
        return self.prototypes.blend(probs.astype(np.float32), feature)


def detect_video_and_classes(
    model: ActorLocalizer, name: str, frames: np.ndarray, frame_size: tuple[int, int],
    class_names: Sequence[str], clip: ClipConfig, config: PredictConfig = PredictConfig(),
    cancel: CancelFlag | None = None,
) -> Generator[Progress, None, tuple[list[Detection], FrameClasses]]:
    """:func:`detect_video`, and from the same pass each raw frame's class probabilities
    (:class:`FrameClasses`): those that score its boxes."""
    n = frames.shape[0]
    width, height = frame_size
    sx, sy = width / clip.size, height / clip.size
    per_sample: list[list[Detection]] = []  # detections of each sampled frame, frame unset
    per_window: list[np.ndarray] = []  # class probabilities of each window
    actor: list[np.ndarray] = []  # the box head's class maps of each sampled frame
    features: list[np.ndarray] = []  # the class prototypes' features of each sampled frame
    protos = None
    wins = windows(n, clip)
    for k, out in enumerate(run_windows(model, frames, clip, batch_size=config.batch_size,
                                        full_size=model.box_head is None)):
        if cancel is not None:
            cancel.check()
        class_prob = out.classes[0]
        per_window.append(class_prob)
        if out.box_maps is not None:
            actor.extend(out.box_maps[2].transpose(1, 0, 2, 3).astype(np.float16))
        if out.features is not None:
            features.extend(out.features.transpose(1, 0, 2, 3).astype(np.float16))
            protos = out.prototypes
        for t in range(len(out.frames)):
            found = []
            for (x1, y1, x2, y2), strength, probs in frame_boxes(out, t, config):
                for c, p in enumerate(probs):
                    score = float(p) * strength
                    if score >= config.min_score:
                        found.append(Detection(name, -1, class_names[c], score, x1 * sx,
                                               y1 * sy, x2 * sx, y2 * sy))
            per_sample.append(found)
        yield Progress("predicting", k + 1, len(wins), name)
    nearest = nearest_sampled(n, clip)
    detections = [d._replace(frame=f) for f in range(n) for d in per_sample[nearest[f]]]
    scale = (sx * BOX_STRIDE, sy * BOX_STRIDE)
    return detections, FrameClasses(np.stack(per_window)[nearest // clip.clip_len],
                                    np.stack(actor) if actor else None, nearest, scale,
                                    np.stack(features) if features else None, protos)


def frame_boxes(out: WindowOutput, t: int, config: PredictConfig
                 ) -> list[tuple[tuple[float, float, float, float], float, np.ndarray]]:
    """Frame ``t`` of a window: its boxes (clip pixels), their strength and the class
    probabilities that score them."""
    if out.box_maps is None:
        return [(box, inside, out.classes[0])
                for box, inside in boxes_from_map(out.maps[0, t], config.threshold,
                                                  config.min_area)]
    centre, edges, classes = out.box_maps
    found = decode(centre[t], edges[:, t], classes[:, t], config.boxes)
    if config.box_classes == "clip":
        return [(box, peak, out.classes[0]) for box, peak, _ in found]
    if out.prototypes is not None and out.features is not None:
        return [(box, peak, out.prototypes.blend(probs, box_feature(out.features[:, t], box)))
                for box, peak, probs in found]
    return found


def predictions_json(
    class_names: Sequence[str], videos: Sequence[tuple[str, int, list[Detection]]],
    *, link: bool = True,
) -> dict[str, Any]:
    """The ``halgui-predictions`` document that ``halgui eval`` reads: per-frame detections
    and, with ``link``, tubes linked from them (metrics.md 4)."""
    out_videos = []
    for name, n_frames, detections in videos:
        entry: dict[str, Any] = {
            "name": name, "n_frames": n_frames,
            "detections": [{"frame": d.frame, "class": d.label, "score": round(d.score, 5),
                            "box": [round(v, 2) for v in (d.x1, d.y1, d.x2, d.y2)]}
                           for d in detections],
        }
        if link:
            tubes: list[Tube] = link_detections(detections, {name: n_frames}).get(name, [])
            entry["tubes"] = [{"class": t.label, "score": round(float(t.score), 5),
                               "boxes": {str(int(f)): [round(float(v), 2) for v in c]
                                         for f, c in zip(t.frames, t.coords, strict=True)}}
                              for t in tubes]
        out_videos.append(entry)
    return {"format": "halgui-predictions", "version": 1, "classes": list(class_names),
            "videos": out_videos}


def write_predictions(path: str | Path, document: dict[str, Any]) -> Path:
    from halgui.core.formats.common import write_json_atomic

    path = Path(path)
    write_json_atomic(path, document)
    return path
