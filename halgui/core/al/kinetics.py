"""Trunks from torchvision's video models, pretrained on Kinetics-400 (real footage).

torchvision is an optional extra (``pip install 'halgui[kinetics]'``): it is imported only when
one of these backbones is built, so the base install and the default trunk never need it.

torchvision's VideoResNets (r2plus1d_18, r3d_18, mc3_18) have a stem and four stages at spatial
strides 2, 2, 4, 8, 16, and the later stages halve the frames too (mc3_18's do not). The heads
need deep features at stride 16 and skip features at stride 4, both with every clip frame (the
actor map and the box head are per frame, model.py), so :class:`VideoResNetTrunk` returns the
last stage and the second stage, each interpolated back to the clip's frames in time only.
MViT v2 does not fit (position embeddings for 16 x 224 x 224 clips, no stride-4 map); S3D
could, cut by index inside its one ``features`` sequence, and is not offered yet.

Weights come from torchvision's weights API (its URL, downloaded once into torch's hub cache
as a progress generator, download.py) or from a file a user gives (a torchvision state dict),
for a machine offline.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from halgui.core.al.backbones import FREEZE, KINETICS, KINETICS_MEAN, KINETICS_STD
from halgui.core.errors import HalguiError
from halgui.core.progress import CancelFlag, Progress, run_to_end

if TYPE_CHECKING:
    from halgui.core.al.model import ModelConfig

__all__ = ["VideoResNetTrunk", "factory", "fetch", "freeze_trunk", "load_weights",
           "read_weights", "torchvision", "weights_source"]

def torchvision() -> Any:
    """torchvision, or a one-line error saying how to install it."""
    try:
        import torchvision as tv
    except ImportError as exc:
        raise HalguiError(f"the Kinetics backbones need torchvision, which is not installed "
                          f"({exc.msg}); install it with: pip install 'halgui[kinetics]'"
                          ) from None
    return tv


class VideoResNetTrunk(nn.Module):
    """A torchvision VideoResNet returning ``(deep, skip)`` at strides 16 and 4, every frame."""

    def __init__(self, name: str) -> None:
        super().__init__()
        video = torchvision().models.video
        net = getattr(video, KINETICS[name].builder)(weights=None)
        self.stem, self.layer1, self.layer2 = net.stem, net.layer1, net.layer2
        self.layer3, self.layer4 = net.layer3, net.layer4
        self.out_channels = 512
        self.skip_channels = 128
        self.mean, self.std = KINETICS_MEAN, KINETICS_STD

    def stages(self) -> list[nn.Module]:
        """Lowest first, as :func:`freeze_trunk` counts them."""
        return [self.stem, self.layer1, self.layer2, self.layer3, self.layer4]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        frames = x.shape[2]
        skip = self.layer2(self.layer1(self.stem(x)))
        deep = self.layer4(self.layer3(skip))
        return _to_frames(deep, frames), _to_frames(skip, frames)


def _to_frames(x: torch.Tensor, frames: int) -> torch.Tensor:
    """``(B, C, t, h, w)`` -> ``(B, C, frames, h, w)``, linear in time, space untouched."""
    if x.shape[2] == frames:
        return x
    return F.interpolate(x, size=(frames, *x.shape[3:]), mode="trilinear", align_corners=False)


def factory(name: str) -> Callable[[ModelConfig], nn.Module]:
    """The BACKBONES entry of ``name``: its architecture with random weights (a checkpoint or
    :func:`load_weights` fills them)."""
    return lambda config: VideoResNetTrunk(name)


def weights_source(name: str) -> tuple[str, Path]:
    """The URL of ``name``'s Kinetics-400 weights and where torch caches the download."""
    weights = getattr(torchvision().models.video, KINETICS[name].weights).KINETICS400_V1
    url = weights.url
    return url, Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]


def load_weights(trunk: VideoResNetTrunk, name: str, path: str | Path | None = None) -> str:
    """Fill ``trunk`` with Kinetics-400 weights: from ``path`` (a torchvision state dict) or
    downloaded once into torch's cache. Returns where they came from; a one-line
    :class:`HalguiError` when they cannot be had."""
    state, where = read_weights(name, path)
    expected = trunk.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        raise HalguiError(f"{where}: not the weights of torchvision's {name} ("
                          f"{len(missing)} tensor(s) missing, {len(unexpected)} unexpected, "
                          f"{len(wrong)} of another shape, e.g. "
                          f"{(missing + unexpected + wrong)[0]})")
    trunk.load_state_dict(state)
    return where


def read_weights(name: str, path: str | Path | None = None
                 ) -> tuple[dict[str, torch.Tensor], str]:
    """``name``'s Kinetics-400 weights without its Kinetics class layer, and where they came
    from: the file ``path``, or torch's cache (downloaded there first if missing: callers
    that can show progress run :func:`fetch` before)."""
    if path is None:
        path = run_to_end(fetch(name))
    state = _read_state(Path(path))
    return {k: v for k, v in state.items() if not k.startswith("fc.")}, str(path)  # fc: classes


def fetch(name: str, cancel: CancelFlag | None = None) -> Generator[Progress, None, Path]:
    """Download ``name``'s Kinetics-400 weights into torch's cache unless they are there (a
    "fetching weights" phase in MiB); a one-line :class:`HalguiError` naming the backbone,
    the URL and the cache path when that fails."""
    from halgui.core.al.download import DownloadError, download  # network code: when used

    url, cached = weights_source(name)
    try:
        return (yield from download(url, cached, "fetching weights", cancel))
    except DownloadError as exc:
        raise HalguiError(
            f"backbone {name}: cannot download its Kinetics-400 weights from {url} to "
            f"{cached} ({exc}); offline, download that file elsewhere and put it there, or "
            f"give it with --backbone-weights FILE") from None


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    """A state dict file, read safely (tensors only), or a one-line error naming it."""
    if not path.is_file():
        raise HalguiError(f"{path}: no such backbone weights file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # torch's own text suggests unsafe loading: never passed on
        raise HalguiError(f"{path}: not a PyTorch state dict of tensors") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor)
                                              for v in state.values()):
        raise HalguiError(f"{path}: not a PyTorch state dict of tensors")
    return state


def freeze_trunk(model: nn.Module, freeze: str, device: str = "cpu",
                 pretrained: bool = False) -> list[nn.Module]:
    """Stop training the trunk's lower stages (``"lower"``), all of it (``"all"``) or none.

    ``"auto"``: a Kinetics trunk (pretrained on real video) is frozen whole on a CPU, where a
    training step then costs about a forward pass (measured 1.5-2.1 times faster than training
    its last stage too, docs/backbones.md), and all but its last stage on a GPU, where adapting
    that stage to the project's actors is cheap. halgui's small trunk is frozen whole when it
    comes from a pretrained starting point (``pretrained``): with class prototypes, measured
    as good or better with 35-43 labeled boxes on 6 of 6 runs and, with every frame of 34
    videos labeled, better in 8 CPU minutes (it takes twice the steps), docs/detector.md;
    trained from scratch it is left free. Frozen stages keep their weights and their BatchNorm
    statistics (they stay in eval mode: the model's ``train()`` honours that). Returns the
    frozen stages.
    """
    if freeze not in FREEZE:
        raise HalguiError(f"unknown freeze choice {freeze!r}; known: {', '.join(FREEZE)}")
    trunk = model.trunk  # type: ignore[attr-defined]
    if freeze == "auto":
        kinetics = isinstance(trunk, VideoResNetTrunk)
        freeze = ("all" if device == "cpu" else "lower") if kinetics \
            else "all" if pretrained else "none"
    stages = trunk.stages()
    frozen = {"none": [], "lower": stages[:-1], "all": stages}[freeze]
    for stage in frozen:
        stage.requires_grad_(False)
        stage.eval()
    model.frozen = frozen  # type: ignore[attr-defined]
    return frozen
