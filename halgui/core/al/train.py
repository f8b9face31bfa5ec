"""Training the ActorLocalizer with the STeW loss, as a generator of progress events.

``train`` yields a :class:`Progress` after every step (phase "training", with epoch, loss and
ETA in ``extra``) and checks the cancel flag there, so a GUI or CLI can show it and stop it. The
checkpoint is written only when training ends well; a NaN loss, running out of memory or a
cancel leave the previous checkpoint and the labels untouched.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from halgui.core.al.data import Batch, ClipConfig, VideoLabels, epoch_centres, make_batch, prefetch
from halgui.core.al.stew import StewConfig, stew_loss
from halgui.core.errors import HalguiError
from halgui.core.progress import CancelFlag, Progress

if TYPE_CHECKING:  # torch loads when training starts, not when configs are read
    import torch

    from halgui.core.al.model import ActorLocalizer


class TrainingError(HalguiError):
    """Training stopped on a fault (NaN loss, out of memory); nothing was saved."""


@dataclass(frozen=True)
class TrainConfig:
    """Training choices; defaults from algorithm.md 3.3."""

    epochs: int = 10
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    warm_start: bool = True     # start from the previous round's weights when given
    device: str = "auto"        # auto | cpu | cuda | mps
    amp: bool = True            # bf16 autocast on GPU
    width: int = 16             # model width (see ModelConfig)
    clip: ClipConfig = field(default_factory=ClipConfig)
    stew: StewConfig = field(default_factory=StewConfig)


class ClusterTerm(Protocol):
    """The deep-clustering term of the loss (algorithm.md 5.2), supplied by the caller."""

    def loss(self, embeddings: torch.Tensor) -> torch.Tensor: ...

    def update(self, embeddings: torch.Tensor) -> None: ...

    def state(self) -> dict[str, torch.Tensor]: ...


@dataclass
class TrainResult:
    checkpoint: Path
    steps: int
    final_loss: float
    losses: list[float]
    seconds: float
    device: str


def build_model(n_classes: int, config: TrainConfig) -> ActorLocalizer:
    from halgui.core.al.model import ActorLocalizer, ModelConfig

    return ActorLocalizer(ModelConfig(
        n_classes=n_classes, clip_len=config.clip.clip_len, stride=config.clip.stride,
        size=config.clip.size, width=config.width))


def train(
    videos: Sequence[VideoLabels],
    class_names: Sequence[str],
    config: TrainConfig,
    out: str | Path,
    *,
    init: str | Path | None = None,
    cluster: ClusterTerm | None = None,
    cancel: CancelFlag | None = None,
) -> Generator[Progress, None, TrainResult]:
    """Train on the given videos' labels and save a checkpoint to ``out``."""
    import torch

    from halgui.core.al import checkpoint
    from halgui.core.al.model import pick_device

    if not videos or not any(v.labeled.any() for v in videos):
        raise TrainingError("nothing to train on: no video has a labeled frame")
    device = pick_device(config.device)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    if init is not None and config.warm_start:
        model = checkpoint.load(init, device).model
    else:
        model = build_model(len(class_names), config).to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last_3d)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    autocast = device.type == "cuda" and config.amp

    plans = [epoch_centres(videos, config.clip, config.stew, rng) for _ in range(config.epochs)]
    bs = config.batch_size
    schedule = [(e, items[i:i + bs]) for e, items in enumerate(plans)
                for i in range(0, len(items), bs)]
    total = len(schedule)
    batch_rngs = [np.random.default_rng([config.seed, i]) for i in range(total)]

    def make(i: int) -> Batch:
        return make_batch(videos, schedule[i][1], config.clip, config.stew, batch_rngs[i])

    losses: list[float] = []
    start = time.perf_counter()
    model.train()
    yield Progress("training", 0, total, "starting", {"epoch": 0, "epochs": config.epochs,
                                                      "device": str(device)})
    with contextlib.closing(prefetch(make, total)) as stream:  # stops the builder thread
        for step, batch in enumerate(stream, start=1):
            if cancel is not None:
                cancel.check()
            try:
                loss = train_step(model, optimiser, batch, device, config.stew, autocast, cluster)
            except torch.OutOfMemoryError as exc:
                raise TrainingError(f"out of memory on {device} at step {step}: lower the "
                                    "batch size or use the CPU") from exc
            if not math.isfinite(loss):
                raise TrainingError(f"the loss became {loss} at step {step}; nothing was "
                                    "saved (try a lower learning rate)")
            losses.append(loss)
            elapsed = time.perf_counter() - start
            epoch = schedule[step - 1][0] + 1
            yield Progress("training", step, total,
                           f"epoch {epoch}/{config.epochs} loss {loss:.4f}",
                           {"epoch": epoch, "epochs": config.epochs, "loss": loss,
                            "eta": elapsed / step * (total - step), "device": str(device)})
    seconds = time.perf_counter() - start
    path = checkpoint.save(
        out, model, list(class_names), cluster.state() if cluster is not None else None,
        {"steps": total, "final_loss": losses[-1] if losses else float("nan"),
         "seconds": seconds, "weighting": config.stew.weighting},
    )
    return TrainResult(path, total, losses[-1] if losses else float("nan"), losses, seconds,
                       str(device))


def train_step(
    model: ActorLocalizer, optimiser: torch.optim.Optimizer, batch: Batch,
    device: torch.device, stew: StewConfig, autocast: bool, cluster: ClusterTerm | None,
) -> float:
    import torch

    clips = torch.from_numpy(batch.clips).to(device, non_blocking=True)
    masks = torch.from_numpy(batch.masks).to(device, non_blocking=True)
    weights = torch.from_numpy(batch.weights).to(device, non_blocking=True)
    classes = torch.from_numpy(batch.classes).to(device, non_blocking=True)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
        x = model.normalise(clips)
        if device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last_3d)
        out = model(x)
    parts = stew_loss(out.map_logits, masks, weights, out.class_logits, classes, stew)
    loss = parts["loss"]
    z = torch.nn.functional.normalize(out.embedding.float(), dim=1)
    if cluster is not None:
        loss = loss + stew.beta_cluster * cluster.loss(z)
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    if cluster is not None:
        cluster.update(z.detach())
    return float(loss.detach())
