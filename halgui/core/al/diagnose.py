"""Where a model fails: finding actors, telling classes apart, or generalising.

frame-mAP alone mixes three failures. This module scores one checkpoint on a project's splits
in ways that pull them apart (``halgui diagnose``):

- **class-agnostic frame-AP**: every class is one "actor" class; a detection's score is its best
  class score. Low: the actor map does not find the acting actors (localisation).
- **top-1 on ground-truth boxes**: for each ground-truth box on a labeled frame, is the highest
  of the class probabilities that would score a box there (the box head's at the box's centre;
  without one, the clip's) the box's class? Low: classification.
- **frame-mAP on ground-truth boxes**: the ground-truth boxes themselves, each scored with those
  class probabilities; the frame-mAP a perfect localiser would get with this classifier.
- the same on the training videos: the memorisation gap (train minus held-out).

All frame numbers are VOC frame-AP@``iou`` over the labeled frames (background frames count);
video-mAP is :func:`halgui.core.metrics.evaluate`'s.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Generator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from halgui.core.metrics_tubes import Detection, Tube, VideoGT
from halgui.core.progress import CancelFlag, Progress

if TYPE_CHECKING:
    from halgui.core.al.data import ClipConfig
    from halgui.core.al.model import ActorLocalizer
    from halgui.core.al.predict import FrameClasses
    from halgui.core.project import LabelSnapshot, Project

__all__ = ["DiagnoseConfig", "SplitDiagnosis", "diagnose", "score_split", "verdict"]

AGNOSTIC = "actor"


@dataclass(frozen=True)
class DiagnoseConfig:
    """Choices of the diagnosis."""

    iou: float = 0.5                 # box IoU of a match
    splits: tuple[str, ...] = ("test", "train")
    memorisation_gap: float = 0.15   # train minus held-out frame-mAP above this: memorises


@dataclass(frozen=True)
class SplitDiagnosis:
    """One split's numbers (None where the split has no ground-truth box)."""

    split: str
    videos: int
    labeled_frames: int
    gt_boxes: int
    frame_map: float | None          # frame-mAP@iou, VOC
    agnostic_ap: float | None        # class-agnostic frame-AP@iou, VOC
    top1_gt: float | None            # share of GT boxes whose clip's top class is theirs
    gt_box_map: float | None         # frame-mAP@iou of the GT boxes scored by the classifier
    video_map_02: float | None = None
    video_map_05: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _mean(result: Any) -> float | None:
    value = result.mean
    return None if value is None or not np.isfinite(value) else float(value)


def score_split(
    split: str, gt: Mapping[str, VideoGT], detections: Sequence[Detection],
    class_probs: Mapping[str, np.ndarray | FrameClasses], classes: Sequence[str],
    iou: float = 0.5,
) -> SplitDiagnosis:
    """The frame numbers of one split from its ground truth, the model's detections and its
    class probabilities per video: :class:`~halgui.core.al.predict.FrameClasses`, or
    ``(n_frames, C)``, the probabilities of the clip each frame was seen in."""
    from halgui.core.metrics import frame_map

    def voc(g: Mapping[str, VideoGT], d: Sequence[Detection], labels: Sequence[str]):
        return _mean(frame_map(g, d, iou, "voc", "voc", classes=list(labels)))

    evaluated = {video: vgt.evaluated_frames() for video, vgt in gt.items()}
    boxes = [(video, f, tube.label, box) for video, vgt in gt.items()
             for tube in vgt.tubes
             for f, box in zip(tube.frames.tolist(), tube.coords, strict=True)
             if f in evaluated[video]]
    labeled = sum(len(frames) for frames in evaluated.values())
    if not boxes:
        return SplitDiagnosis(split, len(gt), labeled, 0, None, None, None, None)
    index = {c: i for i, c in enumerate(classes)}

    def probs_of(video: str, frame: int, box: Sequence[float]) -> np.ndarray:
        source = class_probs[video]
        return source[frame] if isinstance(source, np.ndarray) else source.of_box(frame, box)

    scored = [(v, f, label, box, probs_of(v, f, box)) for v, f, label, box in boxes]
    top1 = np.mean([int(np.argmax(p)) == index[label] for _, _, label, _, p in scored])
    on_gt = [Detection(v, f, c, float(p[k]), *map(float, box))
             for v, f, _, box, p in scored for c, k in index.items()]
    agnostic_gt = {v: VideoGT(g.n_frames, [Tube(AGNOSTIC, t.boxes) for t in g.tubes],
                              g.labeled_frames) for v, g in gt.items()}
    best: dict[tuple, float] = defaultdict(float)  # one box per class: keep its best score
    for d in detections:
        key = (d.video, d.frame, d.x1, d.y1, d.x2, d.y2)
        best[key] = max(best[key], d.score)
    agnostic = [Detection(v, f, AGNOSTIC, s, x1, y1, x2, y2)
                for (v, f, x1, y1, x2, y2), s in best.items()]
    return SplitDiagnosis(
        split, len(gt), labeled, len(boxes),
        frame_map=voc(gt, detections, classes),
        agnostic_ap=voc(agnostic_gt, agnostic, [AGNOSTIC]),
        top1_gt=float(top1),
        gt_box_map=voc(gt, on_gt, classes),
    )


def diagnose(
    project: Project, snapshot: LabelSnapshot, model: ActorLocalizer,
    classes: Sequence[str], clip: ClipConfig, config: DiagnoseConfig = DiagnoseConfig(),
    cancel: CancelFlag | None = None,
) -> Generator[Progress, None, dict[str, SplitDiagnosis]]:
    """Score ``model`` on each split of ``config.splits`` (its linked videos with labeled
    frames) and return the numbers per split."""
    from halgui.core.al.dataset import cached_frames, clip_cache
    from halgui.core.al.predict import detect_video_and_classes, predictions_json
    from halgui.core.formats.halgui_json import to_dict
    from halgui.core.metrics import evaluate, gt_from_json

    folder = project.folder
    out: dict[str, SplitDiagnosis] = {}
    for split in config.splits:
        videos = [v for v in snapshot.videos if v.split == split and v.path is not None
                  and snapshot.labeled.get(v.id)]
        document = to_dict(snapshot, folder, split=split)
        names = {v.name for v in videos}
        document["videos"] = [v for v in document["videos"] if v["name"] in names]
        _, gt = gt_from_json(document)
        frames = yield from cached_frames(clip_cache(project), videos, clip.size, cancel)
        detections: list[Detection] = []
        probs: dict[str, FrameClasses] = {}
        results = []
        for i, video in enumerate(videos):
            yield Progress(f"diagnosing {split}", i, len(videos), video.name)
            found, probs[video.name] = yield from detect_video_and_classes(
                model, video.name, frames[video.id], (video.width, video.height), classes,
                clip, cancel=cancel)
            detections.extend(found)
            results.append((video.name, video.n_frames, found))
        numbers = score_split(split, gt, detections, probs, classes, config.iou)
        if videos:
            summary = evaluate(document, predictions_json(classes, results),
                               iou=config.iou)["summary"]
            numbers = SplitDiagnosis(**{**numbers.to_json(),
                                        "video_map_02": summary["video_map@0.2"],
                                        "video_map_05": summary["video_map@0.5"]})
        out[split] = numbers
    return out


def verdict(report: Mapping[str, SplitDiagnosis], config: DiagnoseConfig = DiagnoseConfig()
            ) -> list[str]:
    """Plain sentences on what holds the model back, from the numbers of :func:`diagnose`."""
    held = next((report[s] for s in report if s != "train" and report[s].gt_boxes), None)
    lines: list[str] = []
    if held is None:
        return ["no held-out split with labeled boxes: nothing to judge on"]
    if held.agnostic_ap is not None and held.gt_box_map is not None:
        if held.agnostic_ap < held.gt_box_map:
            lines.append(f"finding the acting actors is the weaker half on {held.split}: "
                         f"class-agnostic AP {held.agnostic_ap:.3f} < frame-mAP on "
                         f"ground-truth boxes {held.gt_box_map:.3f}")
        else:
            lines.append(f"telling the classes apart is the weaker half on {held.split}: "
                         f"frame-mAP on ground-truth boxes {held.gt_box_map:.3f} <= "
                         f"class-agnostic AP {held.agnostic_ap:.3f}")
    train = report.get("train")
    if train is not None and train.frame_map is not None and held.frame_map is not None:
        gap = train.frame_map - held.frame_map
        if gap > config.memorisation_gap:
            lines.append(f"it memorises its training videos: frame-mAP {train.frame_map:.3f} "
                         f"on train vs {held.frame_map:.3f} on {held.split} (gap {gap:.3f})")
        else:
            lines.append(f"no large memorisation gap: train {train.frame_map:.3f} vs "
                         f"{held.split} {held.frame_map:.3f}")
    return lines
