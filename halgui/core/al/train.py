"""Training the ActorLocalizer with the STeW loss, as a generator of progress events.

``train`` yields a :class:`Progress` after every step (phase "training", with epoch, loss and
ETA in ``extra``) and checks the cancel flag there, so a GUI or CLI can show it and stop it. The
checkpoint is written only when training ends well; a NaN loss, running out of memory or a
cancel leave the previous checkpoint and the labels untouched.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from halgui.core.al.boxes import BoxConfig, box_loss
from halgui.core.al.data import Batch, ClipConfig, VideoLabels, epoch_centres, make_batch, prefetch
from halgui.core.al.prototypes import fit as fit_prototypes
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

    epochs: int | None = 10     # most epochs; None: as many as ``minutes`` allows
    minutes: float | None = None  # stop after about this long (at the end of a step)
    batch_size: int = 8
    lr: float = 1e-3
    #: the trunk's trainable stages learn at ``lr`` times this (more than 0; ``freeze`` stops
    #: stages). 1: on the demo after two rounds, before class prototypes, 0.1 was worse on
    #: both seeds measured (docs/detector.md)
    trunk_lr_scale: float = 1.0
    weight_decay: float = 1e-4
    seed: int = 0
    #: a model started from a pretrained one with a box head also scores its boxes' classes
    #: with class prototypes on the starting point's features (prototypes.py)
    class_prototypes: bool = True
    warm_start: bool = True     # start from the previous round's weights when given
    #: otherwise start from this pretrained model (a name in pretrained.SHIPPED or a
    #: checkpoint file; its architecture wins over ``width``), or from scratch with None
    pretrained: str | None = None
    device: str = "auto"        # auto | cpu | cuda | mps
    amp: bool = True            # bf16 autocast on GPU
    width: int = 16             # model width (see ModelConfig)
    #: the trunk of a new model (model.BACKBONES): halgui's small one, or one of torchvision's
    #: pretrained on Kinetics-400 (kinetics.KINETICS; the Kinetics weights are its start)
    backbone: str = "r2plus1d-tiny"
    #: a Kinetics backbone's weights from this file (a torchvision state dict) instead of
    #: downloading them
    backbone_weights: str | None = None
    #: which trunk stages training leaves as they are (backbones.FREEZE): "auto" freezes a
    #: Kinetics trunk whole on a CPU (a step then costs about a forward pass) and all but its
    #: last stage on a GPU, and halgui's small trunk whole when it starts from a pretrained
    #: model, directly or through the previous round's (kinetics.freeze_trunk)
    freeze: str = "auto"
    clip: ClipConfig = field(default_factory=ClipConfig)
    stew: StewConfig = field(default_factory=StewConfig)
    boxes: BoxConfig = field(default_factory=BoxConfig)
    #: where the model's boxes come from (model.ModelConfig.boxes) when it is built here
    box_source: str = "centre"
    #: processes training data parallel (distributed.py): one per GPU, or sharing the CPU
    nproc: int = 1

    def __post_init__(self) -> None:
        if not self.trunk_lr_scale > 0:  # 0 would be a frozen trunk that still costs a step
            raise HalguiError(f"trunk_lr_scale must be more than 0 (to keep stages as they "
                              f"are: freeze), not {self.trunk_lr_scale}")


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
    """A new model for ``n_classes``: from ``config.pretrained`` if set, else from scratch.

    With a Kinetics backbone, a shipped starting point (halgui's synth trunk, made for its
    small backbone) means the backbone's Kinetics-400 weights; a checkpoint file must have
    been trained with the same backbone.
    """
    from halgui.core.al.backbones import KINETICS
    from halgui.core.al.kinetics import load_weights
    from halgui.core.al.model import BACKBONES, ActorLocalizer, ModelConfig
    from halgui.core.al.pretrained import SHIPPED

    if config.backbone not in BACKBONES:
        raise HalguiError(f"unknown backbone {config.backbone!r}; known: "
                          f"{', '.join(BACKBONES)}")
    model_config = ModelConfig(
        n_classes=n_classes, clip_len=config.clip.clip_len, stride=config.clip.stride,
        size=config.clip.size, width=config.width, boxes=config.box_source,
        backbone=config.backbone)
    kinetics = config.backbone in KINETICS
    if config.pretrained is None or (kinetics and config.pretrained in SHIPPED):
        model = ActorLocalizer(model_config)
        if kinetics and config.pretrained is not None:
            load_weights(model.trunk, config.backbone, config.backbone_weights)
        return model
    from halgui.core.al.pretrained import build_from

    return build_from(config.pretrained, model_config, prototypes=config.class_prototypes)[0]


def needs_weights(config: TrainConfig) -> bool:
    """Whether a new model would start from a Kinetics backbone's weights."""
    from halgui.core.al.backbones import KINETICS
    from halgui.core.al.pretrained import SHIPPED

    return config.backbone in KINETICS and config.pretrained in SHIPPED


def prepare_backbone(config: TrainConfig, cancel: CancelFlag | None = None
                     ) -> Generator[Progress, None, None]:
    """Have a Kinetics backbone's weights before any data work, when a new model would start
    from them: the given file read, or downloaded once into torch's cache (with progress). A
    machine offline or a bad file fails here, in one line, with nothing written."""
    if not needs_weights(config):
        return
    from halgui.core.al.kinetics import fetch, read_weights

    if config.backbone_weights is not None:
        read_weights(config.backbone, config.backbone_weights)
    else:
        yield from fetch(config.backbone, cancel)


def initial_model(n_classes: int, config: TrainConfig, init: str | Path | None,
                  device: torch.device) -> ActorLocalizer:
    """What training starts from: ``init`` (the previous round's model) when warm-starting
    and it has the chosen backbone (a new backbone starts over), else :func:`build_model`;
    with ``config.freeze``'s trunk stages frozen."""
    from halgui.core.al.kinetics import freeze_trunk

    model = None
    if init is not None and config.warm_start:
        from halgui.core.al import checkpoint

        model = checkpoint.load(init, device).model
        if model.config.backbone != config.backbone:
            model = None
        elif config.box_source == "centre":
            from halgui.core.al.pretrained import with_box_head

            model = with_box_head(model)  # one trained before models had a box head
    if model is None:
        model = build_model(n_classes, config).to(device)
    freeze_trunk(model, config.freeze, device.type, pretrained=config.pretrained is not None)
    return model


def trainable(model: ActorLocalizer) -> list[torch.nn.Parameter]:
    """The parameters training changes (a frozen stage's are left out)."""
    return [p for p in model.parameters() if p.requires_grad]


def make_optimiser(model: ActorLocalizer, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW on the :func:`trainable` parameters, the trunk's at ``config.trunk_lr_scale``
    times the learning rate."""
    import torch

    trunk = {id(p) for p in model.trunk.parameters()}
    params = trainable(model)
    groups: list[dict[str, object]] = [{"params": [p for p in params if id(p) not in trunk]}]
    lower = [p for p in params if id(p) in trunk]
    if lower:
        groups.append({"params": lower, "lr": config.lr * config.trunk_lr_scale})
    return torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)


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
    if config.nproc != 1:
        from halgui.core.al.distributed import train_parallel

        return (yield from train_parallel(videos, class_names, config, out, init=init,
                                          cluster=cluster, cancel=cancel))
    device = pick_device(config.device)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = initial_model(len(class_names), config, init, device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last_3d)
    optimiser = make_optimiser(model, config)
    autocast = device.type == "cuda" and config.amp

    if config.epochs is None and config.minutes is None:
        raise TrainingError("give a number of epochs or a time budget in minutes")
    plan = _Schedule(videos, config, rng)

    def make(i: int) -> Batch:
        return make_batch(videos, plan.items(i), config.clip, config.stew,
                          np.random.default_rng([config.seed, i]), config.boxes)

    losses: list[float] = []
    start = time.perf_counter()
    total = plan.total  # steps, or the budget's seconds when only time bounds the run
    model.train()
    yield Progress("training", 0, total, "starting", {"epoch": 0, "epochs": config.epochs,
                                                      "device": str(device)})
    steps = plan.total_steps if plan.total_steps is not None else sys.maxsize
    with contextlib.closing(prefetch(make, steps)) as stream:  # stops the builder thread
        for step, batch in enumerate(stream, start=1):
            if cancel is not None:
                cancel.check()
            try:
                loss = train_step(model, optimiser, batch, device, config.stew, autocast, cluster,
                                  config.boxes)
            except torch.OutOfMemoryError as exc:
                raise TrainingError(f"out of memory on {device} at step {step}: lower the "
                                    "batch size or use the CPU") from exc
            losses.append(loss)
            elapsed = time.perf_counter() - start
            yield step_progress(plan, config, step, loss, elapsed, {"device": str(device)})
            if plan.budget_s is not None and elapsed >= plan.budget_s:
                break  # the time budget is spent: save what was learned so far
    if not losses:
        raise TrainingError("no training step ran (no clip to train on)")
    total = len(losses)
    seconds = time.perf_counter() - start
    yield from fit_prototypes(model, videos, config.clip, cancel=cancel)
    path = checkpoint.save(
        out, model, list(class_names), cluster.state() if cluster is not None else None,
        {"steps": total, "final_loss": losses[-1] if losses else float("nan"),
         "seconds": seconds, "weighting": config.stew.weighting},
    )
    return TrainResult(path, total, losses[-1] if losses else float("nan"), losses, seconds,
                       str(device))


def step_progress(plan: _Schedule, config: TrainConfig, step: int, loss: float,
                  elapsed: float, extra: dict[str, object]) -> Progress:
    """The event a training loop yields after ``step``; a loss that is not finite ends the
    run (nothing is saved)."""
    if not math.isfinite(loss):
        raise TrainingError(f"the loss became {loss} at step {step}; nothing was "
                            "saved (try a lower learning rate)")
    epoch = plan.epoch_of(step - 1) + 1
    done, eta = plan.progress(step, elapsed)
    return Progress("training", done, plan.total,
                    f"epoch {epoch}/{config.epochs or '-'} loss {loss:.4f}",
                    {"epoch": epoch, "epochs": config.epochs, "loss": loss, "eta": eta,
                     **extra})


class _Schedule:
    """Which clips each step trains on, planned one epoch at a time as steps ask for them, so
    that a run bounded only by time plans no more than it uses. Called from the batch builder
    thread alone, in step order."""

    def __init__(self, videos: Sequence[VideoLabels], config: TrainConfig,
                 rng: np.random.Generator) -> None:
        self.videos, self.config, self.rng = videos, config, rng
        self.steps: list[tuple[int, list[tuple[int, int]]]] = []
        self.epochs_planned = 0
        self.budget_s = None if config.minutes is None else 60.0 * config.minutes
        if config.epochs is not None:  # plan everything now: the step count is known
            while self.epochs_planned < config.epochs:
                self._plan_epoch()
        else:
            self._plan_epoch()

    def _plan_epoch(self) -> None:
        items = epoch_centres(self.videos, self.config.clip, self.config.stew, self.rng)
        if not items:
            raise TrainingError("nothing to train on: no clip has a label or a pseudo-label")
        bs = self.config.batch_size
        self.steps.extend((self.epochs_planned, items[i:i + bs])
                          for i in range(0, len(items), bs))
        self.epochs_planned += 1

    @property
    def total_steps(self) -> int | None:
        """Steps in the whole run; None when only time bounds it."""
        return len(self.steps) if self.config.epochs is not None else None

    @property
    def total(self) -> int:
        """What progress counts up to: steps, or the time budget in seconds when there is one
        (whichever bound ends the run first, the bar reaches its end then)."""
        if self.budget_s is None:
            assert self.total_steps is not None
            return self.total_steps
        return max(math.ceil(self.budget_s), 1)

    def progress(self, step: int, elapsed: float) -> tuple[int, float]:
        """Progress done (in :attr:`total`'s unit) and seconds left after ``step`` steps."""
        by_steps = (math.inf if self.total_steps is None
                    else elapsed / step * (self.total_steps - step))
        if self.budget_s is None:
            return step, by_steps
        left = max(min(by_steps, self.budget_s - elapsed), 0.0)
        return min(round(self.total * (1.0 - left / (elapsed + left or 1.0))), self.total), left

    def items(self, step: int) -> list[tuple[int, int]]:
        while step >= len(self.steps):
            self._plan_epoch()
        return self.steps[step][1]

    def epoch_of(self, step: int) -> int:
        return self.steps[min(step, len(self.steps) - 1)][0]


def train_step(
    model: ActorLocalizer, optimiser: torch.optim.Optimizer, batch: Batch,
    device: torch.device, stew: StewConfig, autocast: bool, cluster: ClusterTerm | None,
    box_config: BoxConfig | None = None,
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
    if out.boxes is not None and batch.boxes is not None:
        targets = {k: torch.from_numpy(v).to(device, non_blocking=True)
                   for k, v in batch.boxes.items()}
        loss = loss + box_loss(out.boxes, targets, weights, box_config or BoxConfig())["box_loss"]
    z = torch.nn.functional.normalize(out.embedding.float(), dim=1)
    if cluster is not None:
        loss = loss + stew.beta_cluster * cluster.loss(z)
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    if cluster is not None:
        cluster.update(z.detach())
    return float(loss.detach())
