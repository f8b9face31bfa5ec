"""A small, slow, independent reading of ``halgui eval`` for the tests to check against.

It imports nothing from halgui: ground truth is expanded from the format's own words
(docs/formats/halgui.md: boxes interpolated between keyframes, a track covers its first to last
visible keyframe, an ``outside`` keyframe ends it with the last visible box held up to the frame
before, a visible keyframe after it starts again), and the metrics are written out with plain
loops from metrics.md (ACT matching and trapezoid AP; VOC matching and all-point AP; ST-IoU as
the per-frame IoU summed over shared frames divided by the temporal union). Equal scores are
taken in file order. Only what the tests feed it is supported (predicted tubes are given, not
linked).
"""

from __future__ import annotations

from typing import Any

Box = tuple[float, float, float, float]
DELTAS_050_095 = [0.5 + 0.05 * i for i in range(10)]


def expand_track(keyframes: list[dict[str, Any]], n_frames: int) -> dict[int, Box]:
    """frame -> box of one GT track, by the format's rules."""
    kfs = sorted(keyframes, key=lambda k: k["frame"])
    out: dict[int, Box] = {}
    for i, k in enumerate(kfs):
        if k.get("outside", False):
            continue
        out[k["frame"]] = tuple(float(v) for v in k["box"])  # type: ignore[assignment]
        if i + 1 == len(kfs):
            break
        nxt = kfs[i + 1]
        for f in range(k["frame"] + 1, nxt["frame"]):
            if nxt.get("outside", False):
                out[f] = tuple(float(v) for v in k["box"])  # type: ignore[assignment]
            else:
                t = (f - k["frame"]) / (nxt["frame"] - k["frame"])
                out[f] = tuple(a + (b - a) * t  # type: ignore[assignment]
                               for a, b in zip(k["box"], nxt["box"], strict=True))
    return {f: b for f, b in out.items() if f < n_frames}


def gt_tubes(track: dict[str, Any], n_frames: int) -> list[dict[int, Box]]:
    """The GT tubes of a track: its expanded boxes cut where a frame has none."""
    tubes: list[dict[int, Box]] = []
    for f, box in sorted(expand_track(track["keyframes"], n_frames).items()):
        if not tubes or f - 1 not in tubes[-1]:
            tubes.append({})
        tubes[-1][f] = box
    return tubes


def labeled(video: dict[str, Any]) -> set[int]:
    return {f for a, b in video.get("labeled_frames", []) for f in range(a, b + 1)}


def iou(a: Box, b: Box, plus_one: bool = False) -> float:
    e = 1.0 if plus_one else 0.0
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]) + e)
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]) + e)
    inter = iw * ih
    union = (a[2] - a[0] + e) * (a[3] - a[1] + e) + (b[2] - b[0] + e) * (b[3] - b[1] + e) - inter
    return inter / union if union > 0 else 0.0


def trapezoid(flags: list[bool], n_gt: int) -> float:
    area, tp, r0, p0 = 0.0, 0, 0.0, 1.0
    for i, hit in enumerate(flags, start=1):
        tp += hit
        r, p = tp / n_gt, tp / i
        area += (r - r0) * (p + p0) / 2
        r0, p0 = r, p
    return area


def voc_all_point(flags: list[bool], n_gt: int) -> float:
    tp, points = 0, []
    for i, hit in enumerate(flags, start=1):
        tp += hit
        points.append((tp / n_gt, tp / i))
    area, prev_r = 0.0, 0.0
    for r, _ in points:
        if r > prev_r:  # precision at this recall level: the best at any recall >= r
            area += (r - prev_r) * max(p for rr, p in points if rr >= r)
            prev_r = r
    return area


def nms(dets: list[dict[str, Any]], threshold: float, plus_one: bool) -> list[dict[str, Any]]:
    """Greedy hard NMS per (video, frame, class); file order kept, equal scores: first wins."""
    kept: list[dict[str, Any]] = []
    for d in sorted(dets, key=lambda d: -d["score"]):
        if all(iou(d["box"], k["box"], plus_one) <= threshold for k in kept
               if (k["video"], k["frame"], k["class"]) == (d["video"], d["frame"], d["class"])):
            kept.append(d)
    ids = {id(d) for d in kept}
    return [d for d in dets if id(d) in ids]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def frame_map(gt: dict[str, Any], pred: dict[str, Any], *, matching: str = "act",
              plus_one: bool = False, nms_at: float | None = None, th: float = 0.5
              ) -> float | None:
    """Frame-mAP over labeled frames (background frames count), mean over classes with GT."""
    videos = {v["name"]: v for v in gt["videos"]}
    dets = [{"video": v["name"], **d} for v in pred["videos"] if v["name"] in videos
            for d in v.get("detections", [])]
    dets = [d for d in dets if d["frame"] in labeled(videos[d["video"]])]
    if nms_at is not None:
        dets = nms(dets, nms_at, plus_one)
    aps = []
    for c in [c["name"] for c in gt["classes"]]:
        boxes: dict[tuple[str, int], list[Box]] = {}
        for v in gt["videos"]:
            for t in (t for t in v["tracks"] if t["class"] == c):
                for f, b in expand_track(t["keyframes"], v["n_frames"]).items():
                    if f in labeled(v):
                        boxes.setdefault((v["name"], f), []).append(b)
        n_gt = sum(len(b) for b in boxes.values())
        if n_gt == 0:
            continue
        used = {k: [False] * len(b) for k, b in boxes.items()}
        flags = []
        for d in sorted((d for d in dets if d["class"] == c), key=lambda d: -d["score"]):
            key = (d["video"], d["frame"])
            best, best_j = -1.0, None
            for j, g in enumerate(boxes.get(key, [])):
                if matching == "act" and used[key][j]:
                    continue
                o = iou(g, d["box"], plus_one)
                if o > best:
                    best, best_j = o, j
            hit = best_j is not None and best >= th and not used[key][best_j]
            if hit:
                used[key][best_j] = True
            flags.append(hit)
        aps.append(trapezoid(flags, n_gt) if matching == "act" else voc_all_point(flags, n_gt))
    return _mean(aps)


def st_iou(a: dict[int, Box], b: dict[int, Box], plus_one: bool = False) -> float:
    shared = set(a) & set(b)
    if not shared:
        return 0.0
    union = max(max(a), max(b)) - min(min(a), min(b)) + 1
    return sum(iou(a[f], b[f], plus_one) for f in shared) / union


def video_aps(gt: dict[str, Any], pred: dict[str, Any], *, plus_one: bool = False,
              tube_nms: float = 0.3) -> dict[float, dict[str, float]]:
    """Per δ (0.2, 0.5, 0.75 and 0.5..0.95), per class with GT: video-AP on the fully labeled
    videos, from the predicted tubes (ACT matching, trapezoid AP, tube NMS per video and class)."""
    full = [v for v in gt["videos"] if labeled(v) >= set(range(v["n_frames"]))]
    tubes = {v["name"]: v.get("tubes", []) for v in pred["videos"]}
    out: dict[float, dict[str, float]] = {}
    for c in [c["name"] for c in gt["classes"]]:
        gts = {v["name"]: [g for t in v["tracks"] if t["class"] == c
                           for g in gt_tubes(t, v["n_frames"])] for v in full}
        n_gt = sum(len(g) for g in gts.values())
        if n_gt == 0:
            continue
        dets = []
        for v in full:
            mine = [(t["score"], {int(f): tuple(b) for f, b in t["boxes"].items()})
                    for t in tubes.get(v["name"], []) if t["class"] == c]
            kept: list[tuple[float, dict[int, Box]]] = []
            for score, boxes in sorted(mine, key=lambda t: -t[0]):
                if all(st_iou(boxes, k, plus_one) <= tube_nms for _, k in kept):
                    kept.append((score, boxes))
            dets += [(v["name"], s, b) for s, b in kept]
        dets.sort(key=lambda d: -d[1])
        for delta in [0.2, 0.5, 0.75, *DELTAS_050_095]:
            used = {v: [False] * len(g) for v, g in gts.items()}
            flags = []
            for v, _, boxes in dets:
                best, j = -1.0, None
                for k, g in enumerate(gts[v]):
                    o = st_iou(g, boxes, plus_one)
                    if not used[v][k] and o > best:
                        best, j = o, k
                hit = j is not None and best >= delta
                if hit:
                    used[v][j] = True
                flags.append(hit)
            out.setdefault(round(delta, 2), {})[c] = trapezoid(flags, n_gt)
    return out


def summary(gt: dict[str, Any], pred: dict[str, Any], convention: str = "halgui"
            ) -> dict[str, float | None]:
    """``halgui eval``'s summary, by this reading."""
    act = convention == "act"
    kw = {"plus_one": act, "nms_at": 0.3 if act else None}
    aps = video_aps(gt, pred, plus_one=act)
    classes = sorted({c for per in aps.values() for c in per})
    video = {f"video_map@{d:g}": _mean(list(aps.get(d, {}).values())) for d in (0.2, 0.5, 0.75)}
    video["video_map@0.5:0.95"] = _mean([
        sum(aps[round(d, 2)][c] for d in DELTAS_050_095) / 10 for c in classes])
    return {"frame_map@0.5_act": frame_map(gt, pred, matching="act", **kw),
            "frame_map@0.5_voc": frame_map(gt, pred, matching="voc", **kw), **video}
