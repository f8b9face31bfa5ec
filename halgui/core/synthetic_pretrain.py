"""Pretraining motions for SynthActions: six actions that are none of the benchmark's.

A trunk pretrained on videos of the benchmark's own classes would have seen the test's answer
in advance. These six motions share everything else with the benchmark (the same stick figures,
scenes, idle periods, distractors, camera, noise and boxes, see ``synthetic_render``) and move
other joints in other ways, so what transfers is "an actor acting, not idle" and general motion
features, not the benchmark's classes. Each one is visibly distinct in the pose channels
(``synthetic_motion.POSE_KEYS``) from the others and from the benchmark's six:

- ``kick``: in profile, one leg swings forward and up from the hip (the knee bent on the way,
  straight at the top) and back down, again and again; the arms lift a little for balance.
- ``punch``: in profile, fists up at the chin, then arms thrust straight forward and back,
  mostly alternating left and right, with a small twist of the shoulders.
- ``clap``: facing the camera, forearms forward at chest height, hands meet in the middle and
  open again at a varying rate.
- ``sidestep``: facing the camera, moves sideways: the legs spread apart and close again
  (abduction) as the body shifts; sometimes changes direction.
- ``bow``: in profile, straight-legged, the torso leans far forward, holds, and straightens.
- ``reach_up``: both arms, straight, raised forward and up overhead, held, lowered; again.

The same knobs as the benchmark's motions apply: ``speed`` scales every rate, ``speed_jitter``
varies it within an action, ``turn_prob`` is the chance that a sidestep changes direction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from halgui.core.synthetic_motion import (
    FOREARM,
    SHIN,
    SHOULDER_HW,
    TAU,
    THIGH,
    UPPER_ARM,
    Motion,
    Pose,
    _knots,
    _nearest,
    _speed_profile,
    _standing,
    _State,
)

if TYPE_CHECKING:
    from halgui.core.synthetic import SynthConfig

PRETRAIN_CLASSES: tuple[str, ...] = ("kick", "punch", "clap", "sidestep", "bow", "reach_up")
"""Pretraining-only class names in id order; none is a benchmark class."""

PRETRAIN_COLORS: tuple[str, ...] = ("#42d4f4", "#f032e6", "#bfef45", "#469990", "#9a6324",
                                    "#800000")  # fmt: skip

_TURN = 4  # frames to turn to the side or to the camera at the start of an action
# Clapping: the upper arms forward and a little out, the forearms across the chest; this forearm
# abduction (inwards) puts both hands on the body's mid-line, so they touch.
_CLAP_UA, _CLAP_UB, _CLAP_FA = 0.8, 0.22, 1.7
_CLAP_SHUT = -float(np.arcsin((SHOULDER_HW + UPPER_ARM * np.sin(_CLAP_UB)) / FOREARM))


def _profile(st: _State) -> float:
    """The profile yaw (facing +x or -x) nearest to the actor's yaw."""
    return _nearest(0.0 if np.cos(st.psi) >= 0 else np.pi, st.psi)


def _front(st: _State) -> float:
    """The yaw (pi/2 modulo 2 pi) nearest to the actor's that faces the camera; at -pi/2 the
    actor would show its back, and hands in front of the chest would be hidden."""
    return _nearest(np.pi / 2, st.psi)


def _turn(n: int, st: _State, target: float) -> np.ndarray:
    return _knots(n, [(0, st.psi), (_TURN, target)])


def _envelope(n: int) -> np.ndarray:
    """0 -> 1 over the first 3 frames, 1 -> 0 over the last 3: a held posture comes and goes."""
    return _knots(n, [(0, 0.0), (3, 1.0), (max(3, n - 4), 1.0), (n - 1, 0.0)])


def _cycles(rng: np.random.Generator, n: int, cfg: SynthConfig, go: tuple[int, int],
            hold: tuple[int, int], back: tuple[int, int], rest: tuple[int, int]) -> np.ndarray:
    """A curve in [0, 1]: rise over ``go`` frames, hold, fall over ``back``, rest, repeat.

    Durations are drawn in the given ranges and divided by ``speed`` times a per-cycle factor
    ``exp(N(0, speed_jitter))``, so the knobs change the pace as they do the benchmark's."""
    knots: list[tuple[float, float]] = [(0, 0.0)]
    t = int(rng.integers(0, 3))
    while t < n:
        pace = cfg.speed * np.exp(rng.normal(0.0, cfg.speed_jitter))
        up, down = (max(2, round(rng.integers(*r) / pace)) for r in (go, back))
        held, still = (round(rng.integers(*r) / pace) for r in (hold, rest))
        knots += [(t + 0.5, 0.0), (t + up, 1.0), (t + up + held, 1.0),
                  (t + up + held + down, 0.0)]  # fmt: skip
        t += up + held + down + still
    return _knots(n, knots)


def _kick(rng: np.random.Generator, n: int, st: _State, cfg: SynthConfig) -> Pose:
    """One leg swings up in front (knee bent on the way, straight at the top) and back."""
    p = _standing(n, st.psi)
    p["psi"] = _turn(n, st, _profile(st))
    u = _cycles(rng, n, cfg, go=(2, 5), hold=(0, 3), back=(3, 7), rest=(2, 9))
    kick, stand = ("l", "r") if rng.random() < 0.5 else ("r", "l")
    p[f"th_{kick}"] = rng.uniform(1.1, 1.6) * u
    p[f"sh_{kick}"] = p[f"th_{kick}"] - 0.9 * np.sin(np.pi * u)
    p[f"th_{stand}"], p[f"sh_{stand}"] = 0.08 * u, -0.08 * u
    p[f"ua_{stand}"] = 0.5 * u  # the opposite arm forward for balance
    p[f"ua_{kick}"] = -0.3 * u
    for side in "lr":
        p[f"ub_{side}"] = p[f"ub_{side}"] + 0.35 * u
        p[f"fa_{side}"] = p[f"ua_{side}"] + 0.3
    p["lean"] = -0.15 * u
    return p


def _punch(rng: np.random.Generator, n: int, st: _State, cfg: SynthConfig) -> Pose:
    """Fists up at the chin, then straight-arm thrusts forward, mostly alternating sides."""
    p = _standing(n, st.psi)
    guard = _envelope(n)
    out = {"l": np.zeros(n), "r": np.zeros(n)}
    side = "l" if rng.random() < 0.5 else "r"
    t = int(rng.integers(3, 6))
    while t < n - 2:
        pace = cfg.speed * np.exp(rng.normal(0.0, cfg.speed_jitter))
        go, held, back, gap = (round(rng.integers(*r) / pace) for r in ((2, 4), (0, 3), (2, 5),
                                                                          (1, 6)))  # fmt: skip
        go, back = max(1, go), max(2, back)
        thrust = [(t, 0.0), (t + go, 1.0), (t + go + held, 1.0), (t + go + held + back, 0.0)]
        out[side] = np.maximum(out[side], _knots(n, thrust))
        t += go + held + back + max(1, gap)
        if rng.random() < 0.75:
            side = "r" if side == "l" else "l"
    # rest -> guard (upper arm down-forward, forearm up to the chin) -> arm straight forward
    for s in "lr":
        x = out[s] * guard
        p[f"ua_{s}"] = 0.45 * guard + (1.5 - 0.45) * x
        p[f"fa_{s}"] = 0.15 + (2.4 - 0.15) * guard + (1.5 - 2.4) * x
        p[f"ub_{s}"] = 0.12 + 0.1 * guard - 0.17 * x
        p[f"fb_{s}"] = 0.10 - 0.1 * guard
    p["psi"] = _turn(n, st, _profile(st)) + 0.2 * guard * (out["r"] - out["l"])
    p["lean"] = 0.1 * guard
    return p


def _clap(rng: np.random.Generator, n: int, st: _State, cfg: SynthConfig) -> Pose:
    """Facing the camera, forearms across the chest: the hands meet on the mid-line and part."""
    p = _standing(n, st.psi)
    p["psi"] = _turn(n, st, _front(st)) + 0.05 * np.sin(TAU * np.arange(n) / rng.uniform(30, 60))
    up = _envelope(n)
    period = rng.uniform(6, 11) / cfg.speed * _speed_profile(rng, n, cfg.speed_jitter)
    phase = rng.uniform(0, TAU) + np.cumsum(TAU / period)
    apart = np.clip(0.5 + 0.65 * np.cos(phase), 0, 1)  # dwells a moment at 0: hands together
    spread = rng.uniform(0.1, 0.5)
    for side in "lr":
        p[f"ua_{side}"] = _CLAP_UA * up
        p[f"ub_{side}"] = 0.12 + (_CLAP_UB - 0.12) * up
        p[f"fa_{side}"] = 0.15 + (_CLAP_FA - 0.15) * up
        p[f"fb_{side}"] = 0.10 * (1 - up) + up * (_CLAP_SHUT + (spread - _CLAP_SHUT) * apart)
    return p


def _sidestep(rng: np.random.Generator, n: int, st: _State, cfg: SynthConfig) -> Pose:
    """Facing the camera, shuffle sideways: legs spread and close as the body shifts."""
    p = _standing(n, st.psi)
    p["psi"] = _turn(n, st, _front(st))
    period = rng.uniform(8, 14) / cfg.speed * _speed_profile(rng, n, cfg.speed_jitter)
    spread = _envelope(n) * (0.5 - 0.5 * np.cos(np.cumsum(TAU / period)))
    amp = rng.uniform(0.25, 0.45)
    p["leg_b"] = 0.04 + amp * spread
    direction = np.full(n, st.heading(rng))
    if n >= 24 and rng.random() < cfg.turn_prob:
        direction[int(rng.integers(int(0.35 * n), int(0.65 * n))):] *= -1
    # Step-close: while the legs spread the trailing foot stays put, while they close the
    # leading one does, so the body moves by half of each change in the feet's distance.
    feet = 2 * (THIGH + SHIN) * np.sin(p["leg_b"]) * st.height
    p["vx"] = direction * 0.5 * np.abs(np.diff(feet, append=feet[-1]))
    for side in "lr":
        p[f"ub_{side}"] = 0.12 + 0.25 * spread
    return p


def _bow(rng: np.random.Generator, n: int, st: _State, cfg: SynthConfig) -> Pose:
    """In profile, legs straight: the torso leans far forward, holds, and straightens."""
    p = _standing(n, st.psi)
    p["psi"] = _turn(n, st, _profile(st))
    u = _cycles(rng, n, cfg, go=(3, 8), hold=(2, 11), back=(3, 8), rest=(3, 10))
    p["lean"] = rng.uniform(0.8, 1.3) * u
    for side in "lr":
        p[f"ua_{side}"] = 0.25 * u
        p[f"fa_{side}"] = 0.15 + 0.35 * u
    return p


def _reach_up(rng: np.random.Generator, n: int, st: _State, cfg: SynthConfig) -> Pose:
    """Both arms, straight, raised forward and up overhead, held, lowered; again."""
    p = _standing(n, st.psi)
    u = _cycles(rng, n, cfg, go=(3, 7), hold=(2, 9), back=(3, 7), rest=(2, 8))
    top = rng.uniform(2.6, 3.0)
    for side, lag in (("l", 1.0), ("r", rng.uniform(0.9, 1.0))):
        p[f"ua_{side}"] = top * lag * u
        p[f"fa_{side}"] = p[f"ua_{side}"] + 0.15 * (1 - u)
        p[f"ub_{side}"] = 0.12 + 0.1 * u
    p["lean"] = -0.1 * u
    return p


PRETRAIN_MOTIONS: tuple[Motion, ...] = (_kick, _punch, _clap, _sidestep, _bow, _reach_up)
"""The pretraining motions, in the order of :data:`PRETRAIN_CLASSES`."""
