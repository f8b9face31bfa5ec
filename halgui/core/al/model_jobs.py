"""The model work the app runs in child processes: a whole round, and one window of detections.

The app runs both in a process of their own (see :mod:`halgui.gui.process_job` for why), so
torch is imported there and never in the GUI process. This module imports neither Qt (it is
core) nor torch at module level: the child imports it alone.

- :func:`round_job`: open the project, report the device, run :func:`run_round` on it.
- :func:`window_view`: the latest model's detections and actor map on the frames of the one
  window (T frames at stride s, as prediction cuts a video) that holds a given frame; the
  canvas shows them, and the labeler can accept the boxes.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from halgui.core.al.rounds import RoundConfig, RoundResult
from halgui.core.error_report import RemoteBug
from halgui.core.errors import HalguiError
from halgui.core.locations import open_project
from halgui.core.progress import CancelFlag, Progress

__all__ = ["NICE", "Shown", "WindowView", "lower_priority", "model_window", "round_job",
           "window_of", "window_view"]

#: How much lower than the app's the priority of the model processes is (Unix ``nice``): the
#: labeler's clicks win the CPU over training and scoring.
NICE = 10

#: A detection as the canvas takes it: x1, y1, x2, y2 (frame pixels), class name, score.
Shown = tuple[float, float, float, float, str, float]


def round_job(folder: str, config: RoundConfig, *, cancel: CancelFlag
              ) -> Generator[Progress, None, RoundResult]:  # fmt: skip
    """One round on the project in ``folder`` (or at a shared project's URL); first a
    "starting" event whose ``extra`` has
    ``device_name`` (the GPU's name or "CPU") once torch is loaded."""
    yield Progress("starting", 0, 1, "loading the model code")
    from halgui.core.al.model import device_name, pick_device
    from halgui.core.al.rounds import run_round

    try:
        device = pick_device(config.train.device)
    except RuntimeError as exc:  # a GPU asked for that is not there
        raise HalguiError(f"{exc}; choose Auto or CPU in the round settings") from None
    name = device_name(device)
    yield Progress("starting", 1, 1, name, {"device_name": name})
    with open_project(folder) as project:
        return (yield from run_round(project, config, cancel))


def lower_priority() -> None:
    """Run this process at :data:`NICE` (where the OS has ``nice``)."""
    import contextlib
    import os

    if hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(NICE)


def window_of(frame: int, n_frames: int, clip_len: int, stride: int) -> int:
    """Index of the prediction window that holds ``frame`` (windows start every T*s frames)."""
    span = clip_len * stride
    return min(max(frame, 0) // span, (n_frames - 1) // span)


@dataclass
class WindowView:
    """The model's view of one window: per raw frame of it, detections and the actor map."""

    checkpoint: str
    window: int
    start: int                  # first raw frame of the window
    nearest: np.ndarray         # (L,) sample of each raw frame start .. start + L - 1
    detections: list[list[Shown]] = field(default_factory=list)  # per sample
    maps: np.ndarray | None = None  # (T, h, w) actor-map probabilities per sample, float16

    def covers(self, frame: int) -> bool:
        return self.start <= frame < self.start + len(self.nearest)

    def on_frame(self, frame: int) -> tuple[list[Shown], np.ndarray | None]:
        """Detections and the actor map (float32 in [0, 1]) shown on a raw frame."""
        if not self.covers(frame):
            return [], None
        t = int(self.nearest[frame - self.start])
        heat = None if self.maps is None else self.maps[t].astype(np.float32)
        return list(self.detections[t]), heat


_loaded: dict[str, Any] = {}   # checkpoint path -> (mtime, Checkpoint): the model in use
_frames: dict[tuple[str, int], np.ndarray] = {}  # (video path, size) -> clip-cache frames


def window_view(checkpoint: str, video_path: str, cache_dir: str, frame_size: tuple[int, int],
                frame: int, min_score: float = 0.05) -> WindowView:
    """:func:`model_window` for the helper process. Its errors come back as exceptions that
    always pickle: a HalguiError as a plain :class:`HalguiError` with its message, a bug as a
    :class:`~halgui.core.error_report.RemoteBug` (with its traceback, for the log)."""
    try:
        return model_window(checkpoint, video_path, cache_dir, frame_size, frame, min_score)
    except HalguiError as exc:
        raise HalguiError(str(exc)) from None
    except Exception as exc:
        raise RemoteBug.of(exc) from None


def model_window(checkpoint: str, video_path: str, cache_dir: str, frame_size: tuple[int, int],
                 frame: int, min_score: float = 0.05) -> WindowView:
    """Run the model on the window holding ``frame`` of a video's clip cache (built if missing),
    on the CPU with one thread (training may be using the rest). Each box prediction finds
    (predict.frame_boxes: a peak of the box head, or a connected component of the actor map)
    becomes one detection with its most likely class, scored as prediction scores it."""
    import torch

    from halgui.core.al.data import ClipConfig
    from halgui.core.al.predict import PredictConfig, frame_boxes, run_windows, windows

    torch.set_num_threads(1)
    model, classes = _model(checkpoint)
    cfg = model.config
    clip = ClipConfig(clip_len=cfg.clip_len, stride=cfg.stride, size=cfg.size)
    frames = _clip_frames(cache_dir, video_path, cfg.size)
    n = frames.shape[0]
    k = window_of(frame, n, clip.clip_len, clip.stride)
    start = k * clip.clip_len * clip.stride
    part = np.asarray(frames[start:start + clip.clip_len * clip.stride])
    # one window over the slice samples exactly the frames the whole video's window k does
    sampled = windows(len(part), clip)[0]
    nearest = np.abs(np.arange(len(part))[:, None] - sampled[None, :]).argmin(axis=1)
    out = next(run_windows(model, part, clip, full_size=True))
    predict = PredictConfig()
    sx, sy = frame_size[0] / clip.size, frame_size[1] / clip.size
    detections: list[list[Shown]] = []
    for t in range(len(sampled)):
        found: list[Shown] = []
        for (x1, y1, x2, y2), strength, probs in frame_boxes(out, t, predict):
            best = int(np.argmax(probs))
            score = float(probs[best]) * strength
            if score >= min_score:
                found.append((x1 * sx, y1 * sy, x2 * sx, y2 * sy, classes[best], score))
        detections.append(found)
    low = _shrink(out.maps[0], 4)
    return WindowView(checkpoint, k, start, nearest, detections, low.astype(np.float16))


def _model(path: str) -> tuple[Any, list[str]]:
    from halgui.core.al import checkpoint as ckpt

    mtime = Path(path).stat().st_mtime
    held = _loaded.get(path)
    if held is None or held[0] != mtime:
        _loaded.clear()
        loaded = ckpt.load(path, "cpu")
        loaded.model.eval()
        _loaded[path] = held = (mtime, loaded)
    return held[1].model, held[1].classes


def _clip_frames(cache_dir: str, video_path: str, size: int) -> np.ndarray:
    from halgui.core.clip_cache import ClipCache

    key = (video_path, size)
    if key not in _frames:
        if len(_frames) > 8:
            _frames.clear()
        _frames[key] = ClipCache(cache_dir).frames(video_path, size)
    return _frames[key]


def _shrink(maps: np.ndarray, factor: int) -> np.ndarray:
    """``(T, S, S)`` -> ``(T, S/f, S/f)`` by block means (the heatmap needs no more)."""
    t, h, w = maps.shape
    h2, w2 = h // factor, w // factor
    return maps[:, :h2 * factor, :w2 * factor].reshape(t, h2, factor, w2, factor).mean((2, 4))
