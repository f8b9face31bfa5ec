"""Pretrained starting points for a round's model: the trunk halgui ships, or a file.

A pretrained starting point is an ordinary halgui checkpoint (validated by
:func:`halgui.core.al.checkpoint.load`) whose classes are not the project's: every weight but the
class-dependent ones is copied into the new model (the trunk, the skip path, the class-agnostic
actor map, the embedding, the box head's centres and edges), and the class head and the box
head's class layer start fresh for the project's classes; a starting point without a box head
gives none. A starting point with a box head also becomes the model's class prototypes'
features: a frozen copy of its trunk and box-head features (model.ClassPrototypes). The
architecture
(backbone, width, head channels, embedding size, pooling) is the pretrained one's; the clip
length, stride and size are the project's (the network is convolutional in all three).

``synth`` is halgui's own trunk (package data, ``halgui/resources/weights``), pretrained with
``halgui pretrain`` on SynthActions videos of six other actions, generated from seeds no
benchmark or test uses (docs/pretrained.md says how it was made).
"""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from halgui.core.errors import HalguiError

if TYPE_CHECKING:
    from halgui.core.al.model import ActorLocalizer, ModelConfig

__all__ = ["SHIPPED", "build_from", "resolve", "shipped_path", "with_box_head"]

#: Starting points that ship with halgui: name -> file in halgui/resources/weights.
SHIPPED: dict[str, str] = {"synth": "synth-trunk.pt"}
_KEEP = ("backbone", "width", "head_channels", "embed_dim", "class_pooling", "dropout",
         "box_channels")
#: the weights that depend on the project's classes (a starting point's own prototypes too)
_FRESH = ("class_head.", "box_head.classes.", "prototypes.")
#: a starting point without a box head gives none: the project's model starts it fresh
_OPTIONAL = "box_head."


def shipped_path(name: str) -> Path:
    """Where the shipped starting point ``name`` lives (it may be missing in a checkout that
    has not built it yet)."""
    return Path(str(resources.files("halgui") / "resources" / "weights" / SHIPPED[name]))


def resolve(source: str | Path) -> Path:
    """The file of a starting point given by name (:data:`SHIPPED`) or path."""
    if isinstance(source, str) and source in SHIPPED:
        path = shipped_path(source)
        if not path.is_file():
            raise HalguiError(f"{path}: the shipped '{source}' trunk is missing from this "
                              "install; rebuild it with 'halgui pretrain' or train from scratch")
        return path
    path = Path(source)
    if not path.exists():
        raise HalguiError(f"{path}: no such pretrained model (give a checkpoint file or one of "
                          f"{', '.join(SHIPPED)})")
    return path


def build_from(source: str | Path, config: ModelConfig, *, prototypes: bool = True
               ) -> tuple[ActorLocalizer, dict[str, Any]]:
    """A new model for ``config``'s classes and clips, initialised from ``source``; returns it
    and the starting point's provenance (its checkpoint ``info``). With ``prototypes`` and a
    starting point that has a box head, the model keeps a frozen copy of the starting point's
    features for class prototypes (fitted after training, prototypes.fit)."""
    from halgui.core.al import checkpoint
    from halgui.core.al.backbones import KINETICS
    from halgui.core.al.model import ActorLocalizer

    path = resolve(source)
    start = checkpoint.load(path)
    if config.backbone in KINETICS and start.model.config.backbone != config.backbone:
        raise HalguiError(f"{path}: its model has the backbone {start.model.config.backbone}, "
                          f"not {config.backbone} (start from a checkpoint trained with "
                          f"{config.backbone}, or from its Kinetics weights)")
    kept = {name: getattr(start.model.config, name) for name in _KEEP}
    # not for a Kinetics trunk: a second frozen copy of it would double a round's largest cost
    if (prototypes and start.model.box_head is not None and config.boxes == "centre"
            and config.backbone not in KINETICS):
        kept["class_prototypes"] = "start"
    model = ActorLocalizer(dataclasses.replace(config, **kept))
    state = {k: v for k, v in start.model.state_dict().items() if not k.startswith(_FRESH)}
    missing, unexpected = model.load_state_dict(state, strict=False)
    fresh = _FRESH if start.model.box_head is not None else (*_FRESH, _OPTIONAL)
    unexpected = [k for k in unexpected if not k.startswith(_OPTIONAL)]  # project: components
    if unexpected or any(not k.startswith(fresh) for k in missing):
        raise HalguiError(f"{path}: does not fit the model (missing {sorted(missing)}, "
                          f"unexpected {sorted(unexpected)})")
    if model.prototypes is not None:
        assert start.model.box_head is not None
        model.prototypes.trunk.load_state_dict(start.model.trunk.state_dict())
        head = {k: v for k, v in start.model.box_head.state_dict().items()
                if k.startswith(("reduce.", "skip.", "mix."))}
        left, extra = model.prototypes.box_head.load_state_dict(head, strict=False)
        assert not extra and all(k.startswith(("centre.", "edges.", "classes.")) for k in left)
    return model, {**start.info, "pretrained_from": str(path),
                   "pretrained_classes": list(start.classes)}


def with_box_head(model: ActorLocalizer) -> ActorLocalizer:
    """``model`` with a fresh box head added (every other weight kept), for a model trained
    before models had one: continuing it (a round's warm start, a resumed pretraining) gives
    it the box head today's training expects."""
    from halgui.core.al.model import ActorLocalizer

    if model.box_head is not None:
        return model
    grown = ActorLocalizer(dataclasses.replace(model.config, boxes="centre"))
    missing, unexpected = grown.load_state_dict(model.state_dict(), strict=False)
    assert not unexpected and all(k.startswith(_OPTIONAL) for k in missing), (missing, unexpected)
    return grown.to(next(model.parameters()).device)
