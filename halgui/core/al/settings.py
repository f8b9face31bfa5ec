"""Round settings: the choices a labeler makes for the next rounds, remembered per project.

One definition for the app's Round settings dialog and ``halgui round``: the fields, their
defaults (taken from the core configs, which follow algorithm.md), their valid values, how they
are stored (:meth:`Project.set_setting` under ``"round"``) and how they change a
:class:`RoundConfig`. The dialog edits them; the CLI starts from them and applies only the flags
given, so the two run the same round.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from halgui.core.al.backbones import FREEZE, KINETICS
from halgui.core.al.rounds import RoundConfig
from halgui.core.al.strategies import STRATEGIES, SelectionConfig
from halgui.core.al.train import TrainConfig
from halgui.core.errors import ProjectError
from halgui.core.project import Project

__all__ = ["BACKBONES", "CPU_CLIPS_PER_S", "DEVICES", "FIELDS", "FREEZE", "KEY", "RANGES",
           "STARTS", "STRATEGY_NAMES", "RoundSettings", "cost", "expected", "from_text"]

#: Where a round may train and score, with what the dialog shows for each; every value is one
#: that :func:`halgui.core.al.model.pick_device` accepts ("auto": CUDA, else Apple MPS, else CPU).
DEVICES: dict[str, str] = {
    "auto": "Auto (the GPU if there is one)",
    "cpu": "CPU",
    "cuda": "GPU (CUDA)",
    "mps": "Apple GPU (MPS)",
}
#: What a round's model starts from when it does not warm-start from the previous round's:
#: halgui's pretrained trunk (algorithm.md 2; with a Kinetics backbone, its Kinetics-400
#: weights), or random weights ("none"), with what the dialog shows for each.
STARTS: dict[str, str] = {
    "synth": "Pretrained (halgui's trunk, or a Kinetics backbone's weights)",
    "none": "Random weights (from scratch)",
}
#: The trunks a round's model can have, with what the dialog shows for each: halgui's small
#: one (its start is "Start from") or torchvision's, pretrained on Kinetics-400 (real footage;
#: they start from those weights, and need the kinetics extra).
BACKBONES: dict[str, str] = {
    "r2plus1d-tiny": "halgui's small trunk (fast)",
    **{name: spec.description for name, spec in KINETICS.items()},
}
#: Measured clips/s of each backbone on a CPU (``halgui bench backbones``, 8 x 112 x 112
#: clips, batch 2, 2 x86-64 cores and nothing else running; docs/backbones.md): a training
#: step with the default freezing (each trunk from its pretrained start: frozen whole on a
#: CPU), and a forward pass (scoring). What :func:`cost` says.
CPU_CLIPS_PER_S: dict[str, tuple[float, float]] = {
    "r2plus1d-tiny": (113.0, 157.0),
    "r2plus1d_18": (5.41, 5.26),
    "r3d_18": (6.27, 7.04),
    "mc3_18": (5.89, 3.95),
}
#: the training clips :func:`cost` counts an epoch as (a project with a few labeled videos)
COST_CLIPS = 100


def cost(backbone: str, epochs: int) -> str:
    """What a round with ``backbone`` costs on a CPU, from the measured rates (for the app)."""
    train, infer = CPU_CLIPS_PER_S[backbone]
    minutes = epochs * COST_CLIPS / train / 60
    return (f"On a 2-core CPU: about {train:.2g} clips/s training, {infer:.2g} clips/s "
            f"scoring; {epochs} epoch(s) of {COST_CLIPS} clips train in about "
            f"{minutes:.0f} min. A GPU is far faster.")


#: The strategies a round can use: the one registry of algorithm.md 5.4.
STRATEGY_NAMES: tuple[str, ...] = tuple(STRATEGIES)
#: Inclusive bounds of the numeric settings (budget: None, "automatic", is allowed too).
RANGES: dict[str, tuple[float, float]] = {
    "budget": (1, 1_000_000),
    "alpha": (0.0, 1.0),
    "epochs": (1, 1000),
    "minutes": (0.1, 24 * 60.0),
}
KEY = "round"  # the project setting they are stored under


@dataclass(frozen=True)
class RoundSettings:
    """The choices a labeler makes for the next rounds; defaults from the core configs."""

    budget: int | None = SelectionConfig.budget       # frames per round; None: automatic
    alpha: float = SelectionConfig.alpha               # share of the budget for new videos
    epochs: int = TrainConfig.epochs  # type: ignore[assignment]  # a number, never None here
    device: str = TrainConfig.device
    warm_start: bool = TrainConfig.warm_start
    strategy: str = RoundConfig.strategy
    minutes: float | None = TrainConfig.minutes        # train for about this long; None: no limit
    pretrained: str = RoundConfig().train.pretrained or "none"  # a key of STARTS
    backbone: str = TrainConfig.backbone                # a key of BACKBONES
    backbone_weights: str | None = None  # a Kinetics backbone's weights file; None: download
    freeze: str = TrainConfig.freeze                    # one of FREEZE

    def __post_init__(self) -> None:
        for name in FIELDS:
            problem = expected(name, getattr(self, name))
            if problem is not None:
                raise ValueError(f"round setting {name}: {problem}")

    @classmethod
    def load(cls, project: Project) -> RoundSettings:
        """The project's settings, for the app: unknown keys are ignored and a value that is
        not valid is replaced by its default (the dialog shows what will be used)."""
        stored = project.get_setting(KEY, {})
        if not isinstance(stored, dict):
            return cls()
        return cls(**{name: stored[name] for name in FIELDS
                      if name in stored and expected(name, stored[name]) is None})

    @classmethod
    def resolve(cls, project: Project, given: Mapping[str, Any]) -> RoundSettings:
        """The project's settings with ``given`` (field name -> value, only what was asked
        for) over them; a saved value that is not valid and not replaced is an error naming
        the project file, never silently a default."""
        stored = project.get_setting(KEY, {})
        if not isinstance(stored, dict):
            raise ProjectError(project.location,
                               f"the saved round settings are not a table of values: {stored!r}")
        values: dict[str, Any] = {}
        for name in FIELDS:
            if name in given:
                values[name] = given[name]
            elif name in stored:
                problem = expected(name, stored[name])
                if problem is not None:
                    raise ProjectError(
                        project.location, f"the saved round setting {name} is {stored[name]!r},"
                        f" not {problem}; change it in the app's Round settings or override it"
                        " with a flag")
                values[name] = stored[name]
        return cls(**values)

    def save(self, project: Project) -> None:
        project.set_setting(KEY, dataclasses.asdict(self))

    def apply(self, base: RoundConfig) -> RoundConfig:
        """``base`` with these choices in it (everything else as ``base`` has it)."""
        return dataclasses.replace(
            base, strategy=self.strategy,
            train=dataclasses.replace(base.train, epochs=self.epochs, minutes=self.minutes,
                                      device=self.device, warm_start=self.warm_start,
                                      backbone=self.backbone, freeze=self.freeze,
                                      backbone_weights=self.backbone_weights,
                                      pretrained=None if self.pretrained == "none"
                                      else self.pretrained),
            selection=dataclasses.replace(base.selection, budget=self.budget, alpha=self.alpha),
        )


FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(RoundSettings))


def expected(name: str, value: object) -> str | None:
    """None if ``value`` is valid for setting ``name``, else what it should be (for messages)."""
    if name == "device":
        return None if value in DEVICES else f"one of {', '.join(DEVICES)}"
    if name == "strategy":
        return None if value in STRATEGIES else f"one of {', '.join(STRATEGY_NAMES)}"
    if name == "pretrained":
        return None if value in STARTS else f"one of {', '.join(STARTS)}"
    if name == "backbone":
        return None if value in BACKBONES else f"one of {', '.join(BACKBONES)}"
    if name == "freeze":
        return None if value in FREEZE else f"one of {', '.join(FREEZE)}"
    if name == "backbone_weights":
        return None if value is None or (isinstance(value, str) and value) else \
            "a file name, or none (download the weights)"
    if name == "warm_start":
        return None if isinstance(value, bool) else "true or false"
    if name in ("budget", "minutes") and value is None:
        return None
    low, high = RANGES[name]
    kinds: tuple[type, ...] = (int, float) if name in ("alpha", "minutes") else (int,)
    ok = (isinstance(value, kinds) and not isinstance(value, bool)
          and math.isfinite(value) and low <= value <= high)
    if ok:
        return None
    if name == "alpha":
        return f"a share from {low:g} to {high:g}"
    if name == "minutes":
        return f"minutes from {low:g} to {high:g}, or none (no time limit)"
    extra = ", or automatic" if name == "budget" else ""
    return f"a whole number from {low} to {high}{extra}"


def from_text(name: str, text: str) -> Any:
    """The value of setting ``name`` written as ``text`` (a command-line flag); ValueError
    with what it should be. ``auto`` is the automatic budget, ``none`` no time limit."""
    value: Any = text
    try:
        if text.strip().lower() == {"budget": "auto", "minutes": "none",
                                    "backbone_weights": "none"}.get(name):
            value = None
        elif name in ("budget", "epochs"):
            value = int(text)
        elif name in ("alpha", "minutes"):
            value = float(text)
    except ValueError:
        value = text
    problem = expected(name, value)
    if problem is not None:
        raise ValueError(f"{text!r} is not {problem}")
    return value
