"""The ActorLocalizer (algorithm.md 2): a class-agnostic actor map plus clip-level classes.

Shape of the network::

    clip (B, 3, T, S, S) -> trunk -> features (deep, skip) -> Dropout3d -> heads
                                                               map head   (B, T, S, S) logits
                                                               class head (B, C) logits
                                                               embed head (B, D)
                                     features (deep, skip) -> box head (no dropout)
                                                               centres, box edges and classes
                                                               per position, (B, ., T, S/4, S/4)

The trunk is a compact (2+1)D CNN, trained from scratch or started from a pretrained one.
Everything after the single ``nn.Dropout3d`` is cheap, so Monte Carlo dropout runs the trunk
once and only the heads R times (:func:`mc_forward`); the actor map stays the source of
uncertainty (algorithm.md 4), while the box head (boxes.py) says where each acting actor's box
is and what it does. A small registry lets a stronger trunk be plugged in later.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from halgui.core.al import kinetics


@dataclass(frozen=True)
class ModelConfig:
    """Architecture choices; defaults from algorithm.md 2."""

    n_classes: int
    clip_len: int = 8          # T frames per clip
    stride: int = 2            # raw frames between clip frames
    size: int = 112            # S: clips are S x S
    width: int = 16            # channels of the first stage; later stages double it
    embed_dim: int = 128       # D
    head_channels: int = 8     # channels of the per-pass map head (MC cost grows with it)
    #: how the class head pools the trunk: "actor" weighs positions by the predicted actor
    #: map (the actors, not the background, carry the action), "mean" is global average
    class_pooling: str = "actor"
    dropout: float = 0.5
    backbone: str = "r2plus1d-tiny"
    #: where boxes come from: "centre" (a box head: each acting actor's centre, its box edges
    #: and its classes, so close actors stay apart and boxes fit) or "components" (connected
    #: components of the actor map, the first design; checkpoints without the key are this)
    boxes: str = "centre"
    box_channels: int = 32     # channels of the box head
    #: "start": the model also keeps a frozen copy of its starting point's trunk and box-head
    #: features, and class prototypes of the labeled boxes on them (prototypes.py), which
    #: score boxes with the box head's classes; "none": the box head's classes alone
    class_prototypes: str = "none"

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


MEAN = (0.45, 0.45, 0.45)
STD = (0.225, 0.225, 0.225)


class _Conv2Plus1D(nn.Sequential):
    """A (2+1)D convolution: spatial k x k, then temporal 3, each with BN and ReLU."""

    def __init__(self, c_in: int, c_out: int, spatial_stride: int = 1) -> None:
        mid = c_out
        super().__init__(
            nn.Conv3d(c_in, mid, (1, 3, 3), (1, spatial_stride, spatial_stride), (0, 1, 1),
                      bias=False),
            nn.BatchNorm3d(mid),
            nn.ReLU(inplace=True),
            nn.Conv3d(mid, c_out, (3, 1, 1), 1, (1, 0, 0), bias=False),
            nn.BatchNorm3d(c_out),
            nn.ReLU(inplace=True),
        )


class R2Plus1DTiny(nn.Module):
    """Four (2+1)D stages at strides 2, 4, 8, 16; returns (deep features, stride-4 skip)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        w = width
        self.stage1 = _Conv2Plus1D(3, w, 2)
        self.stage2 = _Conv2Plus1D(w, 2 * w, 2)
        self.stage3 = _Conv2Plus1D(2 * w, 4 * w, 2)
        self.stage4 = _Conv2Plus1D(4 * w, 8 * w, 2)
        self.out_channels = 8 * w
        self.skip_channels = 2 * w

    def stages(self) -> list[nn.Module]:
        """Lowest first (what freezing counts, kinetics.freeze_trunk)."""
        return [self.stage1, self.stage2, self.stage3, self.stage4]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        skip = self.stage2(self.stage1(x))
        return self.stage4(self.stage3(skip)), skip


BACKBONES: dict[str, Callable[[ModelConfig], nn.Module]] = {
    "r2plus1d-tiny": lambda c: R2Plus1DTiny(c.width),
    # torchvision's, pretrained on Kinetics-400; torchvision is imported only when built
    **{name: kinetics.factory(name) for name in kinetics.KINETICS},
}


def register_backbone(name: str, factory: Callable[[ModelConfig], nn.Module]) -> None:
    """Make a trunk available by name. It must return ``(deep, skip)`` features and expose
    ``out_channels`` and ``skip_channels``."""
    BACKBONES[name] = factory


@dataclass
class BoxOutput:
    """The box head's maps, all at a quarter of the clip size (h = w = S/4)."""

    centre_logits: torch.Tensor  # (B, T, h, w): is an acting actor's centre here
    edges: torch.Tensor          # (B, 4, T, h, w): distances to the box's left, top, right,
    #                              bottom edges, in map pixels (>= 0)
    class_logits: torch.Tensor   # (B, C, T, h, w): the classes of the actor here


@dataclass
class Output:
    map_logits: torch.Tensor    # (B, T, S, S) from forward(), (B, T, S/4, S/4) from heads()
    class_logits: torch.Tensor  # (B, C)
    embedding: torch.Tensor     # (B, D), not normalised
    boxes: BoxOutput | None = None  # from forward() when the model has a box head


#: the centre logit's starting bias: sigmoid(-2.19) = 0.1, so the rare centres do not drown
#: the first steps' loss (as CenterNet starts its heatmaps)
_CENTRE_PRIOR = -2.19
#: edge distances are predicted as softplus(raw) * this many map pixels
_EDGE_SCALE = 4.0


class BoxHead(nn.Module):
    """Instance-aware outputs (anchor-free, as CenterNet/MOC-detector): a centre heatmap per
    frame, the four edge distances of the box around each position, and per-position classes.

    It fuses the deep features (upsampled) with the stride-4 skip features, mixes them over
    3 x 3 space and 3 frames, and has no dropout: it runs once per clip, also in MC mode.
    """

    def __init__(self, deep_channels: int, skip_channels: int, n_classes: int,
                 width: int) -> None:
        super().__init__()
        self.reduce = nn.Conv3d(deep_channels, width, 1)
        self.skip = nn.Conv3d(skip_channels, width, (1, 3, 3), padding=(0, 1, 1))
        self.mix = _Conv2Plus1D(width, width)
        self.centre = nn.Conv3d(width, 1, 1)
        self.edges = nn.Conv3d(width, 4, 1)
        self.classes = nn.Conv3d(width, n_classes, 1)
        nn.init.constant_(self.centre.bias, _CENTRE_PRIOR)

    def fuse(self, deep: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """The head's features ``(B, width, T, S/4, S/4)``, before its three outputs."""
        x = _upsample_to(_pointwise(self.reduce, deep), skip.shape[3:])
        return self.mix(F.relu(x + self.skip(skip)))

    def forward(self, deep: torch.Tensor, skip: torch.Tensor) -> BoxOutput:
        x = self.fuse(deep, skip)
        edges = F.softplus(_pointwise(self.edges, x).float()) * _EDGE_SCALE
        return BoxOutput(_pointwise(self.centre, x)[:, 0], edges, _pointwise(self.classes, x))


def _upsample_to(x: torch.Tensor, size: torch.Size | tuple[int, int]) -> torch.Tensor:
    """Bilinear upsampling of ``(B, C, T, h, w)`` features frame by frame (time is kept)."""
    b, c, t = x.shape[:3]
    up = F.interpolate(x.transpose(1, 2).reshape(b * t, c, *x.shape[3:]), size=tuple(size),
                       mode="bilinear", align_corners=False)
    return up.view(b, t, c, *up.shape[2:]).transpose(1, 2)


class ClassPrototypes(nn.Module):
    """A frozen copy of a starting point's trunk and box-head features, and one prototype per
    class on them: the mean of the labeled boxes' features (prototypes.py fits them).

    Fine-tuning on a few dozen boxes makes the trunk's features worse at telling the
    project's classes apart than the pretrained ones they started from (docs/detector.md),
    so the prototypes are taken on the features as they were, kept here.
    """

    def __init__(self, config: ModelConfig, trunk: nn.Module) -> None:
        super().__init__()
        self.trunk = trunk
        self.box_head = BoxHead(trunk.out_channels, trunk.skip_channels, 1, config.box_channels)
        d = config.box_channels
        self.register_buffer("mean", torch.zeros(d))
        self.register_buffer("std", torch.ones(d))
        self.register_buffer("vectors", torch.zeros(config.n_classes, d))  # unit length
        self.register_buffer("present", torch.zeros(config.n_classes))     # 1: has one
        self.requires_grad_(False)
        self.eval()

    @property
    def fitted(self) -> bool:
        return bool(self.present.any())

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised clips ``(B, 3, T, S, S)`` -> features ``(B, width, T, S/4, S/4)``."""
        return self.box_head.fuse(*self.trunk(x))

    def train(self, mode: bool = True) -> ClassPrototypes:
        return super().train(False)  # frozen: BatchNorm keeps the starting point's statistics


class ActorLocalizer(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.backbone not in BACKBONES:
            raise ValueError(f"unknown backbone {config.backbone!r}; known: {sorted(BACKBONES)}")
        self.config = config
        self.trunk = BACKBONES[config.backbone](config)
        c, s, h = self.trunk.out_channels, self.trunk.skip_channels, config.head_channels
        self.dropout = nn.Dropout3d(config.dropout)
        # The skip path sees no dropout, so its spatial convolution runs once per clip, with the
        # trunk; the per-pass map head is only 1x1 convolutions on the upsampled deep features.
        self.skip_proj = nn.Sequential(
            nn.Conv3d(s, s, (1, 3, 3), padding=(0, 1, 1)),
            nn.ReLU(inplace=True),
            nn.Conv3d(s, h, 1),
        )
        self.map_reduce = nn.Conv3d(c, h, 1)
        self.map_head = nn.Conv3d(h, 1, 1)
        self.class_head = nn.Linear(c, config.n_classes)
        self.embed_head = nn.Linear(c, config.embed_dim)
        if config.boxes not in ("centre", "components"):
            raise ValueError(f"unknown box source {config.boxes!r}; known: centre, components")
        self.box_head = (BoxHead(c, s, config.n_classes, config.box_channels)
                         if config.boxes == "centre" else None)
        # the trunk's own normalisation (a Kinetics trunk's is Kinetics-400's), else halgui's
        mean, std = getattr(self.trunk, "mean", MEAN), getattr(self.trunk, "std", STD)
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1, 1), persistent=False)
        if config.class_prototypes not in ("none", "start"):
            raise ValueError(f"unknown class_prototypes {config.class_prototypes!r}; known: "
                             "none, start")
        self.prototypes = (ClassPrototypes(config, BACKBONES[config.backbone](config))
                           if config.class_prototypes == "start" and self.box_head is not None
                           else None)
        #: trunk stages training leaves as they are (kinetics.freeze_trunk): always in eval mode
        self.frozen: list[nn.Module] = []

    def train(self, mode: bool = True) -> ActorLocalizer:
        """As nn.Module's, but frozen stages stay in eval mode (their BatchNorm statistics
        are the pretrained ones)."""
        super().train(mode)
        for stage in self.frozen:
            stage.eval()
        return self

    def normalise(self, clips: torch.Tensor) -> torch.Tensor:
        """uint8 ``(B, T, S, S, 3)`` clips -> normalised float ``(B, 3, T, S, S)``."""
        x = clips.permute(0, 4, 1, 2, 3).float().div_(255.0)
        return (x - self.mean) / self.std

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The trunk and the skip projection: run once per clip, also in MC mode."""
        deep, skip = self.trunk(x)
        return deep, self.skip_proj(skip)

    def features_and_boxes(self, x: torch.Tensor
                           ) -> tuple[torch.Tensor, torch.Tensor, BoxOutput | None]:
        """:meth:`features` and, from the same trunk pass, the box head's maps (None without
        a box head)."""
        deep, skip = self.trunk(x)
        boxes = self.box_head(deep, skip) if self.box_head is not None else None
        return deep, self.skip_proj(skip), boxes

    def heads(self, deep: torch.Tensor, skip: torch.Tensor) -> Output:
        """Dropout and the three heads: what MC dropout repeats R times.

        The map logits come out at a quarter of the clip size; :meth:`upsample` brings them to
        S x S.
        """
        deep = self.dropout(deep)
        pooled = deep.mean(dim=(2, 3, 4))
        # (B, h, T, s, s): time is never strided
        up = _upsample_to(_pointwise(self.map_reduce, deep), skip.shape[3:])
        low = _pointwise(self.map_head, F.relu(up + skip))[:, 0]  # (B, T, S/4, S/4)
        cls_in = self._actor_pool(deep, low) if self.config.class_pooling == "actor" else pooled
        return Output(low, self.class_head(cls_in), self.embed_head(pooled))

    @staticmethod
    def _actor_pool(deep: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
        """Average the trunk features with weights from the actor map (not back-propagated
        into the map, which its own loss trains), plus a small floor so a clip without actors
        still averages everything."""
        hh, ww = deep.shape[-2:]
        att = F.adaptive_avg_pool2d(torch.sigmoid(low.detach().float()), (hh, ww))
        att = att.to(deep.dtype) + 0.05                       # (B, T, h, w)
        att = att / att.sum(dim=(1, 2, 3), keepdim=True)
        return (deep * att[:, None]).sum(dim=(2, 3, 4))

    def upsample(self, low: torch.Tensor) -> torch.Tensor:
        """Map logits or probabilities ``(B, T, h, w)`` -> ``(B, T, S, S)``, bilinear."""
        size = self.config.size
        return F.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)

    def forward(self, x: torch.Tensor) -> Output:
        deep, skip, boxes = self.features_and_boxes(x)
        out = self.heads(deep, skip)
        return Output(self.upsample(out.map_logits), out.class_logits, out.embedding, boxes)


def _pointwise(conv: nn.Conv3d, x: torch.Tensor) -> torch.Tensor:
    """A 1x1x1 convolution as one matrix product: with few channels, oneDNN's conv3d is
    several times slower than this, and these run R times per clip in MC dropout."""
    weight = conv.weight.view(conv.out_channels, conv.in_channels)
    out = torch.einsum("bcthw,oc->bothw", x, weight)
    return out if conv.bias is None else out + conv.bias.view(1, -1, 1, 1, 1)


def dropout_modules(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]


@contextmanager
def mc_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Evaluation mode with only the dropout modules sampling (never ``model.train()``: that
    would move BatchNorm statistics). Restores the previous modes on exit."""
    previous = {m: m.training for m in model.modules()}
    model.eval()
    for m in dropout_modules(model):
        m.train()
    try:
        yield model
    finally:
        for m, mode in previous.items():
            m.train(mode)


@torch.no_grad()
def mc_forward(model: ActorLocalizer, x: torch.Tensor, passes: int,
               chunk: int = 64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """R Monte Carlo passes sharing one trunk pass.

    Returns map probabilities at the heads' resolution ``(R, B, T, S/4, S/4)``, class
    probabilities ``(R, B, C)`` and the mean embedding ``(B, D)``. Features are replicated
    along the batch in chunks of at most ``chunk`` samples so memory stays bounded.
    """
    with mc_mode(model):
        deep, skip = model.features(x)
        b = x.shape[0]
        maps, classes, embeds = [], [], []
        reps_per_chunk = max(1, chunk // b)
        done = 0
        while done < passes:
            r = min(reps_per_chunk, passes - done)
            out = model.heads(deep.repeat(r, 1, 1, 1, 1), skip.repeat(r, 1, 1, 1, 1))
            maps.append(torch.sigmoid(out.map_logits.float()).view(r, b, *out.map_logits.shape[1:]))
            classes.append(torch.sigmoid(out.class_logits.float()).view(r, b, -1))
            embeds.append(out.embedding.float().view(r, b, -1))
            done += r
    return torch.cat(maps), torch.cat(classes), torch.cat(embeds).mean(0)


def pick_device(preference: str = "auto") -> torch.device:
    """CUDA if present, else Apple MPS, else CPU; ``preference`` may force "cpu" or "cuda"."""
    if preference == "cpu":
        return torch.device("cpu")
    if preference in ("auto", "cuda", "gpu") and torch.cuda.is_available():
        return torch.device("cuda")
    if preference in ("auto", "mps") and torch.backends.mps.is_available():
        return torch.device("mps")
    if preference in ("cuda", "gpu", "mps"):
        raise RuntimeError(f"device {preference!r} was asked for but is not available")
    return torch.device("cpu")


def device_name(device: torch.device) -> str:
    """What the GUI's status bar shows: the GPU's name, or "CPU"."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return "Apple GPU (MPS)" if device.type == "mps" else "CPU"
