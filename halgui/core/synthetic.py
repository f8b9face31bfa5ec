"""SynthActions: seeded short untrimmed videos with spatio-temporal action ground truth.

The embedded dataset of halgui's demo, tests and active-learning benchmark. Each video shows
1-3 stick-figure actors in one of several scene types (of unequal frequency) with moving
distractors, foreground occluders, camera motion, lighting changes and noise. Each actor
stands about idly for part of the video and performs one (sometimes two) of :data:`CLASSES`
for the rest; the classes differ only in how the actor moves. Only acting frames are boxed.

Everything a video holds follows from the :class:`SynthConfig` and the video's seed, itself
derived from ``SynthConfig.seed`` and the video's index, so a dataset is the same whatever the
number of worker processes. See ``docs/synthactions.md``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Generator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from halgui.core.annotations import box_iou
from halgui.core.errors import VideoError
from halgui.core.progress import CancelFlag, Progress
from halgui.core.synthetic_actions import ACTION_SETS, DEFAULT_ACTION_SET, action_set
from halgui.core.synthetic_motion import CLASSES, MIN_ACTION
from halgui.core.synthetic_render import SCENES, Rendered, render

__all__ = [
    "CLASSES",
    "SynthConfig",
    "VideoSpec",
    "generate",
    "interpolation_recall",
    "make_specs",
    "render_video",
]

GROUND_TRUTH = "ground_truth.json"
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class SynthConfig:
    """Every knob of SynthActions. The defaults make the benchmark dataset.

    Size: ``n_videos`` videos of ``n_frames`` frames, ``width`` x ``height`` pixels at ``fps``;
    ``seed`` fixes everything. ``splits`` are the train/val/test fractions, assigned by a
    seeded shuffle of the video indices.

    Content: ``scene_weights`` gives each scene type's relative frequency (unequal on purpose:
    rare scenes reward picking diverse videos). ``actor_count_weights`` are the relative odds of
    1, 2, 3... actors. ``actor_height`` is the range of an actor's standing height as a fraction
    of the frame height (before perspective: -20%..+20% from far to near). ``action_fraction``
    is the range of an action's length as a fraction of the video; ``second_action_prob`` the
    chance that an actor performs a second, different action after an idle pause.

    Difficulty: ``speed`` scales every motion; ``speed_jitter`` is the standard deviation of the
    log of the speed changes inside an action (0: constant speed); ``turn_prob`` the chance a
    walker stops and turns round. ``camera_prob`` is the chance of a panning camera (and,
    separately, of shake); ``camera_speed`` its top pan speed in pixels/frame; ``camera_shake``
    the standard deviation of the shake in pixels. ``max_distractors`` bounds the moving
    non-actor objects (0..max per video); ``occluder_prob`` is the chance of each of up to two
    foreground occluders. ``noise_std`` is the Gaussian pixel noise in grey levels (x2 at night);
    ``lighting_jitter`` the spread of per-video brightness and its drift; ``flicker`` the
    frame-to-frame brightness noise. ``min_visible_px``: an actor with fewer pixels in the frame
    is not drawn and not boxed (no boxes around slivers at the edge).

    Classes: ``action_set`` names the actions actors perform (``synthetic_actions``):
    ``"benchmark"``, the six :data:`CLASSES`, or ``"pretrain"``, six other motions for
    pretraining a trunk on data that holds none of the benchmark's classes.
    """

    n_videos: int = 200
    n_frames: int = 96
    width: int = 160
    height: int = 120
    fps: float = 25.0
    seed: int = 0
    splits: tuple[float, float, float] = (0.7, 0.1, 0.2)
    scene_weights: tuple[tuple[str, float], ...] = (
        ("grass", 0.38),
        ("indoor", 0.24),
        ("street", 0.18),
        ("sand", 0.10),
        ("night", 0.06),
        ("snow", 0.04),
    )
    actor_count_weights: tuple[float, ...] = (0.5, 0.3, 0.2)
    actor_height: tuple[float, float] = (0.30, 0.50)
    action_fraction: tuple[float, float] = (0.30, 0.75)
    second_action_prob: float = 0.2
    speed: float = 1.0
    speed_jitter: float = 0.35
    turn_prob: float = 0.5
    camera_prob: float = 0.6
    camera_speed: float = 0.8
    camera_shake: float = 0.5
    max_distractors: int = 3
    occluder_prob: float = 0.3
    noise_std: float = 6.0
    lighting_jitter: float = 0.12
    flicker: float = 0.02
    min_visible_px: int = 16
    action_set: str = DEFAULT_ACTION_SET

    def __post_init__(self) -> None:
        problems = []
        if self.n_videos < 1:
            problems.append("n_videos must be at least 1")
        if self.n_frames < 2 * MIN_ACTION:
            problems.append(f"n_frames must be at least {2 * MIN_ACTION}")
        if self.width < 32 or self.height < 32:
            problems.append("width and height must be at least 32")
        if self.width % 2 or self.height % 2:
            problems.append("width and height must be even (mp4v)")
        if not self.fps > 0:
            problems.append("fps must be positive")
        if self.seed < 0:
            problems.append("seed must be >= 0")
        if len(self.splits) != 3 or min(self.splits) < 0 or abs(sum(self.splits) - 1) > 1e-6:
            problems.append("splits must be three fractions >= 0 that sum to 1")
        unknown = [name for name, _ in self.scene_weights if name not in SCENES]
        if unknown or not self.scene_weights:
            problems.append(f"scene_weights: unknown scenes {unknown}; known: {sorted(SCENES)}")
        if any(w < 0 for _, w in self.scene_weights) or sum(w for _, w in self.scene_weights) <= 0:
            problems.append("scene_weights must be >= 0 and not all 0")
        if any(w < 0 for w in self.actor_count_weights) or sum(self.actor_count_weights) <= 0:
            problems.append("actor_count_weights must be >= 0 and not all 0")
        for name in ("actor_height", "action_fraction"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi <= 1:
                problems.append(f"{name} must satisfy 0 < low <= high <= 1")
        if self.speed <= 0:
            problems.append("speed must be positive")
        for name in ("second_action_prob", "turn_prob", "camera_prob", "occluder_prob"):
            if not 0 <= getattr(self, name) <= 1:
                problems.append(f"{name} must be in [0, 1]")
        for name in ("speed_jitter", "camera_speed", "camera_shake", "max_distractors",
                     "noise_std", "lighting_jitter", "flicker", "min_visible_px"):  # fmt: skip
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0")
        if self.action_set not in ACTION_SETS:
            problems.append(f"action_set: unknown {self.action_set!r}; known: "
                            f"{sorted(ACTION_SETS)}")  # fmt: skip
        if problems:
            raise ValueError("SynthConfig: " + "; ".join(problems))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SynthConfig:
        """Rebuild a config from ``asdict`` output or its JSON form (lists become tuples)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"SynthConfig: unknown fields {unknown}")

        def tup(v: Any) -> Any:
            return tuple(tup(x) for x in v) if isinstance(v, list | tuple) else v

        return cls(**{k: tup(v) for k, v in data.items()})

    def to_dict(self) -> dict[str, Any]:
        """Every field, for ``meta.config``, except ``action_set`` when it is the default: so
        benchmark ground truth is byte for byte what it was before there were action sets."""
        data = asdict(self)
        if self.action_set == DEFAULT_ACTION_SET:
            del data["action_set"]
        return data


@dataclass(frozen=True)
class VideoSpec:
    """What one video is: its place in the dataset, its own seed, scene type and split."""

    index: int
    name: str
    seed: int
    scene: str
    split: str


def video_seed(config: SynthConfig, index: int) -> int:
    """The seed of video ``index``: depends on the base seed and the index only."""
    return int(np.random.SeedSequence([config.seed, 0, index]).generate_state(1)[0])


def make_specs(config: SynthConfig) -> list[VideoSpec]:
    """One spec per video: seeds, scenes (drawn by ``scene_weights``) and a seeded split."""
    n = config.n_videos
    names = [name for name, _ in config.scene_weights]
    weights = np.asarray([w for _, w in config.scene_weights], float)
    order = np.random.default_rng([config.seed, 1]).permutation(n)
    n_train = round(n * config.splits[0])
    n_val = min(n - n_train, round(n * config.splits[1]))
    split_of = np.empty(n, dtype=object)
    split_of[order[:n_train]] = "train"
    split_of[order[n_train : n_train + n_val]] = "val"
    split_of[order[n_train + n_val :]] = "test"
    specs = []
    for i in range(n):
        seed = video_seed(config, i)
        pick = np.random.default_rng([seed, 1]).choice(len(names), p=weights / weights.sum())
        scene = names[int(pick)]
        specs.append(VideoSpec(i, f"synth_{i:04d}", seed, scene, str(split_of[i])))
    return specs


def render_video(spec: VideoSpec, config: SynthConfig) -> tuple[np.ndarray, list[dict]]:
    """(N, H, W, 3) uint8 RGB frames and the ground-truth tracks of one video, in memory."""
    out: Rendered = render(spec, config)
    return out.frames, out.tracks


def write_mp4(path: Path, frames: np.ndarray, fps: float) -> None:
    """Write RGB frames as an mp4v .mp4; raise VideoError if OpenCV cannot."""
    h, w = frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise VideoError(path, "OpenCV could not open an mp4v writer for this file")
    try:
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    if not path.is_file() or path.stat().st_size == 0:
        raise VideoError(path, "OpenCV wrote nothing")


def _render_one(job: tuple[VideoSpec, SynthConfig, str]) -> tuple[int, list[dict]]:
    """Worker: render one video, write it into ``folder``, return its tracks."""
    spec, config, folder = job
    frames, tracks = render_video(spec, config)
    write_mp4(Path(folder) / f"{spec.name}.mp4", frames, config.fps)
    return spec.index, tracks


def _video_entry(spec: VideoSpec, config: SynthConfig, tracks: list[dict]) -> dict[str, Any]:
    return {
        "name": spec.name,
        "path": f"videos/{spec.name}.mp4",
        "width": config.width,
        "height": config.height,
        "fps": float(config.fps),
        "n_frames": config.n_frames,
        "split": spec.split,
        "labeled_frames": [[0, config.n_frames - 1]],
        "tracks": tracks,
        "meta": {"scene": spec.scene, "seed": spec.seed},
    }


def ground_truth(config: SynthConfig, specs: list[VideoSpec], tracks: dict[int, list[dict]]
                 ) -> dict[str, Any]:  # fmt: skip
    """The ground-truth document (the ``halgui`` import format) for rendered videos: the
    classes are those of ``config.action_set``."""
    actions = action_set(config.action_set)
    classes = zip(actions.names, actions.colors, strict=True)
    return {
        "format": "halgui",
        "version": 1,
        "classes": [{"name": n, "color": c} for n, c in classes],
        "videos": [_video_entry(s, config, tracks[s.index]) for s in specs],
        "meta": {"generator": "SynthActions", "config": config.to_dict()},
    }


def _auto_workers(workers: int | None, n_videos: int) -> int:
    if workers is not None:
        return max(1, workers)
    if n_videos < 24:  # starting processes costs more than it saves
        return 1
    if not _main_is_importable():
        return 1
    return max(1, min(2, os.cpu_count() or 1))


def _main_is_importable() -> bool:
    """Spawned workers re-import ``__main__`` from its file; a script read from standard input
    or typed at a prompt has none, and the workers would die at start-up while the pool waits."""
    import sys

    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return path is None or os.path.exists(path)


def generate(out_dir: Path, config: SynthConfig = SynthConfig(), cancel: CancelFlag | None = None,
             *, workers: int | None = None) -> Generator[Progress, None, Path]:  # fmt: skip
    """Write ``out_dir/videos/<name>.mp4`` and, last, ``out_dir/ground_truth.json``.

    Yields one Progress per video (phase ``"synth"``) and returns the JSON path. Videos are
    rendered into a temporary folder inside ``out_dir`` and moved into ``videos/`` only when all
    are done; the JSON goes to a temp file that is renamed into place at the very end. A cancel
    (raises :class:`~halgui.core.errors.Cancelled`) or error leaves ``out_dir`` as it was.
    ``workers`` processes render in parallel (default: 2 if there are enough videos and cores);
    the output does not depend on it.
    """
    out_dir = Path(out_dir)
    specs = make_specs(config)
    n_workers = _auto_workers(workers, len(specs))
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".synth-", dir=out_dir))
    pool = None
    try:
        if cancel is not None:
            cancel.check()
        yield Progress("synth", 0, len(specs), "rendering videos")
        jobs = [(s, config, str(tmp)) for s in specs]
        if n_workers > 1:
            pool = multiprocessing.get_context("spawn").Pool(n_workers)
            results = pool.imap(_render_one, jobs)
        else:
            results = map(_render_one, jobs)
        tracks: dict[int, list[dict]] = {}
        for done, (index, video_tracks) in enumerate(results, 1):
            tracks[index] = video_tracks
            yield Progress("synth", done, len(specs), specs[index].name)
            if cancel is not None:
                cancel.check()
        videos = out_dir / "videos"
        videos.mkdir(exist_ok=True)
        for spec in specs:
            os.replace(tmp / f"{spec.name}.mp4", videos / f"{spec.name}.mp4")
        target = out_dir / GROUND_TRUTH
        part = tmp / (GROUND_TRUTH + ".part")
        part.write_text(json.dumps(ground_truth(config, specs, tracks), separators=(",", ":")))
        os.replace(part, target)
        return target
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
        shutil.rmtree(tmp, ignore_errors=True)


def interpolation_recall(ground_truth: dict, every: int, iou: float = 0.5) -> float:
    """Fraction of ground-truth boxes that linear interpolation of sparse keyframes recovers.

    For each track, keep the boxes on frames ``first, first + every, first + 2 every, ...`` and
    the track's last frame, interpolate x1, y1, x2, y2 linearly in between (algorithm.md 3.1),
    and count the track's boxes whose IoU with the interpolated box is >= ``iou``. Kept boxes
    count as recovered. Keyframes marked ``"outside"`` are not boxes and are skipped. Returns
    1.0 when there are no boxes. (On UCF101-24: 0.955 at every=16, 0.990 at every=8.)
    """
    if every < 1:
        raise ValueError("every must be >= 1")
    hit = total = 0
    for video in ground_truth["videos"]:
        for track in video["tracks"]:
            kfs = sorted((k for k in track["keyframes"] if not k.get("outside")),
                         key=lambda k: k["frame"])  # fmt: skip
            if not kfs:
                continue
            frames = np.array([k["frame"] for k in kfs])
            boxes = np.array([k["box"] for k in kfs], float)
            keep = (frames - frames[0]) % every == 0
            keep[-1] = True
            est = np.stack([np.interp(frames, frames[keep], boxes[keep, i]) for i in range(4)], 1)
            recovered = box_iou(est, boxes, pairwise=False) >= iou - 1e-9
            hit += int(np.count_nonzero(recovered | keep))  # kept boxes, even empty ones
            total += len(frames)
    return hit / total if total else 1.0
