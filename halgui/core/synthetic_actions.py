"""SynthActions' action sets: the one place that says which classes a dataset holds.

``benchmark`` is the six classes the demo, the tests and the active-learning benchmark use;
``pretrain`` is six other motions for pretraining a trunk without showing it the benchmark's
classes (``synthetic_pretrain``). ``SynthConfig.action_set`` names one; its class names and
colours go into the ground truth, its motions into the actors' plans.
"""

from __future__ import annotations

from dataclasses import dataclass

from halgui.core.synthetic_motion import CLASS_COLORS, CLASSES, MOTIONS, Motion
from halgui.core.synthetic_pretrain import PRETRAIN_CLASSES, PRETRAIN_COLORS, PRETRAIN_MOTIONS


@dataclass(frozen=True)
class ActionSet:
    """Class names in id order, a display colour per class, and the motion of each class."""

    names: tuple[str, ...]
    colors: tuple[str, ...]
    motions: tuple[Motion, ...]

    def __post_init__(self) -> None:
        if not len(self.names) == len(self.colors) == len(self.motions) >= 2:
            raise ValueError("an action set needs at least two classes, each with a colour and "
                             "a motion")  # fmt: skip


ACTION_SETS: dict[str, ActionSet] = {
    "benchmark": ActionSet(CLASSES, CLASS_COLORS, MOTIONS),
    "pretrain": ActionSet(PRETRAIN_CLASSES, PRETRAIN_COLORS, PRETRAIN_MOTIONS),
}
"""Action sets by the name ``SynthConfig.action_set`` and ``halgui synth --action-set`` use."""

DEFAULT_ACTION_SET = "benchmark"


def action_set(name: str) -> ActionSet:
    """The action set called ``name``; ValueError naming the known ones otherwise."""
    try:
        return ACTION_SETS[name]
    except KeyError:
        raise ValueError(f"unknown action set {name!r}; known: {sorted(ACTION_SETS)}") from None
