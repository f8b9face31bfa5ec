"""The backbones halgui offers besides its own, as plain data (no torch import): what the
Round settings, the CLI's choices and the docs list. kinetics.py builds them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FREEZE", "KINETICS", "KINETICS_MEAN", "KINETICS_STD", "KineticsSpec"]

#: Kinetics-400's normalisation, as torchvision's video weights' transforms use it
KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)


@dataclass(frozen=True)
class KineticsSpec:
    """One torchvision video model offered as a backbone."""

    builder: str        # the function in torchvision.models.video
    weights: str        # its weights enum in torchvision.models.video
    description: str    # what the app and the docs say about it


KINETICS: dict[str, KineticsSpec] = {
    "r2plus1d_18": KineticsSpec("r2plus1d_18", "R2Plus1D_18_Weights",
                                "R(2+1)D-18, Kinetics-400"),
    "r3d_18": KineticsSpec("r3d_18", "R3D_18_Weights", "R3D-18, Kinetics-400"),
    "mc3_18": KineticsSpec("mc3_18", "MC3_18_Weights", "MC3-18, Kinetics-400"),
}

#: How much of a trunk training leaves as it is: "auto" (a Kinetics trunk whole on a CPU and
#: all but its last stage on a GPU, nothing of halgui's small one), "none", "lower" (every
#: stage but the last) or "all" (kinetics.freeze_trunk).
FREEZE: tuple[str, ...] = ("auto", "none", "lower", "all")
