"""Motion plans for SynthActions: who does what, when, and how every joint moves over time.

An actor is a 2.5-D stick figure: each limb has a sagittal angle (swing forwards/backwards from
hanging down) and an abduction angle (raised sideways), and the whole body has a yaw ``psi``
(0: profile facing +x, pi: profile facing -x, +-pi/2: facing the camera). Actions differ only in
how these angles, the body lift and the ground position change over time, never in appearance.

Everything here is plain NumPy driven by one ``numpy.random.Generator``, so a plan is a pure
function of its seed and the :class:`~halgui.core.synthetic.SynthConfig`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from halgui.core.synthetic import SynthConfig

CLASSES: tuple[str, ...] = ("walk", "run_stop", "jump", "wave", "spin", "crouch")
"""Action class names in id order; each one is a motion pattern, not a look."""

CLASS_COLORS: tuple[str, ...] = ("#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4")

IDLE = -1
TAU = 2.0 * np.pi

# Body proportions, as fractions of the standing height.
THIGH, SHIN, TORSO, HEAD_UP, HEAD_R = 0.245, 0.245, 0.30, 0.12, 0.09
UPPER_ARM, FOREARM, SHOULDER_HW, HIP_HW = 0.16, 0.16, 0.12, 0.06

# Per-frame pose channels: yaw, torso lean, body lift above the ground (pixels), then for each
# arm (l, r) the upper arm's sagittal/abduction angles (ua, ub) and the forearm's (fa, fb),
# for each leg the thigh's and shin's sagittal angles, and the legs' common abduction.
POSE_KEYS = (
    "psi", "lean", "lift",
    "ua_l", "ub_l", "fa_l", "fb_l", "ua_r", "ub_r", "fa_r", "fb_r",
    "th_l", "sh_l", "th_r", "sh_r", "leg_b",
)  # fmt: skip
_BLENDED = tuple(k for k in POSE_KEYS if k not in ("psi", "lift"))
_BLEND_FRAMES = 3
MIN_ACTION = 12  # shortest action segment, frames
_GAP = 6  # fewest idle frames between two actions of one actor

Pose = dict[str, np.ndarray]


@dataclass
class Appearance:
    """How an actor looks; drawn independently of what it does."""

    skin: tuple[int, int, int]
    shirt: tuple[int, int, int]
    pants: tuple[int, int, int]
    long_sleeves: bool
    thickness: float


@dataclass
class ActorPlan:
    """One actor over the whole video, in world pixels (frame pixels when the camera is at 0)."""

    actor: int
    x: np.ndarray  # (N,) horizontal position of the body's vertical axis
    ground: np.ndarray  # (N,) y of the ground under the actor (feet, when not jumping)
    height: np.ndarray  # (N,) standing height in pixels (perspective: lower on screen = taller)
    pose: Pose
    label: np.ndarray  # (N,) class id while acting, IDLE otherwise
    look: Appearance


@dataclass
class _State:
    x: float
    ground: float
    psi: float
    height: float
    width: int

    def heading(self, rng: np.random.Generator) -> float:
        """+1 or -1: towards the middle of the frame when near an edge, else either way."""
        if self.x < 0.35 * self.width:
            return 1.0
        if self.x > 0.65 * self.width:
            return -1.0
        return 1.0 if rng.random() < 0.5 else -1.0


def _nearest(target: float, current: float) -> float:
    """The angle equal to ``target`` modulo 2 pi that is closest to ``current``."""
    return target + TAU * round((current - target) / TAU)


def _smooth(a: np.ndarray, w: int) -> np.ndarray:
    if w <= 1 or len(a) < 2:
        return a
    pad = np.pad(a, (w // 2, w - 1 - w // 2), mode="edge")
    return np.convolve(pad, np.ones(w) / w, mode="valid")


def _speed_profile(rng: np.random.Generator, n: int, jitter: float) -> np.ndarray:
    """Piecewise-constant speed multipliers exp(N(0, jitter)) over 6-18 frames, 3-frame ramps."""
    mult = np.empty(n)
    t = 0
    while t < n:
        d = int(rng.integers(6, 19))
        mult[t : t + d] = np.exp(rng.normal(0.0, jitter))
        t += d
    return _smooth(mult, 3)


def _knots(n: int, knots: list[tuple[float, float]]) -> np.ndarray:
    """Piecewise-linear curve through (frame, value) knots, held flat outside them."""
    ts, vs = zip(*knots, strict=True)
    return np.interp(np.arange(n), np.asarray(ts, float), np.asarray(vs, float))


def _standing(n: int, psi: float) -> Pose:
    p = {k: np.zeros(n) for k in (*POSE_KEYS, "vx", "vy")}
    p["psi"][:] = psi
    for side in "lr":
        p[f"ub_{side}"][:] = 0.12
        p[f"fa_{side}"][:] = 0.15
        p[f"fb_{side}"][:] = 0.10
    p["leg_b"][:] = 0.04
    return p


def _gait(p: Pose, phase: np.ndarray, amp: np.ndarray, knee: np.ndarray, arm: np.ndarray,
          elbow: np.ndarray) -> None:  # fmt: skip
    s = np.sin(phase)
    p["th_l"], p["th_r"] = amp * s, -amp * s
    p["sh_l"] = p["th_l"] - knee * np.clip(np.sin(phase + 1.2), 0, None)
    p["sh_r"] = p["th_r"] - knee * np.clip(np.sin(phase + 1.2 + np.pi), 0, None)
    p["ua_l"], p["ua_r"] = -arm * s, arm * s
    p["fa_l"], p["fa_r"] = p["ua_l"] + elbow, p["ua_r"] + elbow


def _bend(p: Pose, c: np.ndarray, arms: bool = True) -> None:
    """Knee bend (crouch) of depth ``c`` in [0, 1]: hips drop, torso leans, arms reach forward."""
    for side, asym in (("l", 1.0), ("r", 0.9)):
        p[f"th_{side}"] = p[f"th_{side}"] + 1.3 * c * asym
        p[f"sh_{side}"] = p[f"sh_{side}"] + 1.3 * c * asym - 2.3 * c
        if arms:
            p[f"ua_{side}"] = p[f"ua_{side}"] + 1.2 * c
            p[f"fa_{side}"] = p[f"fa_{side}"] + 1.4 * c
    p["lean"] = p["lean"] + 0.5 * c


def _idle(rng: np.random.Generator, n: int, st: _State, cfg: SynthConfig) -> Pose:
    """Standing about: small arm sway, weight shifts, now and then a slow look around."""
    p = _standing(n, st.psi)
    t = np.arange(n)
    sway = rng.uniform(0.04, 0.12) * np.sin(TAU * t / rng.uniform(30, 70) + rng.uniform(0, TAU))
    p["ua_l"], p["ua_r"] = sway, -0.8 * sway
    p["fa_l"], p["fa_r"] = sway + 0.15, -0.8 * sway + 0.15
    p["lean"] = 0.03 * np.sin(TAU * t / rng.uniform(40, 90))
    if n > 24 and rng.random() < 0.4:
        t0 = int(rng.integers(0, n - 20))
        d = int(rng.integers(10, 20))
        p["psi"] = st.psi + _knots(n, [(t0, 0.0), (t0 + d, rng.uniform(-0.8, 0.8))])
    offset = 0.01 * st.height * np.sin(TAU * t / rng.uniform(40, 80) + rng.uniform(0, TAU))
    p["vx"] = np.diff(offset, prepend=offset[0])
    return p


def _walk(rng: np.random.Generator, n: int, st: _State, cfg: SynthConfig) -> Pose:
    """Walking with speed changes, sometimes a stop-and-turn, sometimes towards/away in depth."""
    p = _standing(n, st.psi)
    psi0 = _nearest(0.0 if st.heading(rng) > 0 else np.pi, st.psi)
    env_k, psi_k = [(0, 0.3), (3, 1.0)], [(0, st.psi), (3, psi0)]
    if n >= 24 and rng.random() < cfg.turn_prob:
        dec, rot = int(rng.integers(3, 7)), int(rng.integers(4, 9))
        tt = int(rng.integers(max(int(0.3 * n), dec + 4), max(int(0.7 * n), dec + 5)))
        env_k += [(tt - dec, 1.0), (tt, 0.0), (tt + rot, 0.0), (tt + rot + dec, 1.0)]
        psi_k += [(tt, psi0), (tt + rot, psi0 + np.pi * rng.choice([-1.0, 1.0]))]
    env, psi = _knots(n, env_k), _knots(n, psi_k)
    base = 0.035 * st.height * cfg.speed * rng.uniform(0.7, 1.3)
    v = base * env * _speed_profile(rng, n, cfg.speed_jitter)
    p["psi"] = psi
    p["vx"] = v * np.cos(psi)
    p["vy"] = v * rng.uniform(-0.3, 0.3) * np.abs(np.cos(psi))
    phase = rng.uniform(0, TAU) + np.cumsum(TAU * v / (0.6 * st.height))
    amp = 0.45 * np.clip(env, 0, 1)
    _gait(p, phase, amp, 1.3 * amp, 0.9 * amp, 0.2 + 0.3 * amp)
    p["lean"] = 0.05 * env
    return p


def _run_stop(rng: np.random.Generator, n: int, st: _State, cfg: SynthConfig) -> Pose:
    """Bursts of running that end in an abrupt, braking stop; sometimes off the other way."""
    p = _standing(n, st.psi)
    env_k, psi_k = [(0, 0.0)], [(0, st.psi)]
    t, psi, d = 0, st.psi, st.heading(rng)
    while t < n:
        target = _nearest(0.0 if d > 0 else np.pi, psi)
        acc, stop, stand = (int(rng.integers(a, b)) for a, b in ((2, 4), (2, 5), (5, 17)))
        run = max(acc + 3, int(rng.integers(12, 29) / cfg.speed))
        psi_k += [(t + 0.5, psi), (t + 2.5, target)]
        env_k += [(t + 1, 0.0), (t + 1 + acc, 1.0), (t + run, 1.0), (t + run + stop, 0.0)]
        psi, t = target, t + run + stop + stand
        if rng.random() < 0.5:
            d = -d
    env, psi_t = np.clip(_knots(n, env_k), 0, 1), _knots(n, psi_k)
    base = 0.06 * st.height * cfg.speed * rng.uniform(0.8, 1.2)
    v = base * env * _speed_profile(rng, n, cfg.speed_jitter)
    p["psi"], p["vx"] = psi_t, v * np.cos(psi_t)
    phase = rng.uniform(0, TAU) + np.cumsum(TAU * v / (0.95 * st.height))
    _gait(p, phase, 0.75 * env, 1.6 * env, 1.0 * env, 0.15 + 1.2 * env)
    braking = np.clip(-np.gradient(env), 0, None)
    p["lean"] = 0.28 * env - 1.2 * braking
    _bend(p, np.clip(1.5 * braking, 0, 0.5), arms=False)
    return p


def _jump(rng: np.random.Generator, n: int, st: _State, cfg: SynthConfig) -> Pose:
    """Repeated jumps: crouch, take off with arms up, parabolic flight with tucked legs, land."""
    p = _standing(n, st.psi)
    crouch, tuck, arms = np.zeros(n), np.zeros(n), np.zeros(n)
    drift = 0.0
    if rng.random() < 0.4:
        drift = 0.03 * st.height * rng.uniform(0.5, 1.3) * np.cos(st.psi)
    t, jumps = int(rng.integers(0, 4)), 0
    while True:
        prep, land, rest = int(rng.integers(3, 6)), int(rng.integers(2, 5)), int(rng.integers(2, 9))
        air = max(5, round(rng.integers(6, 13) / cfg.speed))
        if jumps == 0:  # the first jump always fits: shorten it if it must
            t = min(t, max(0, n - prep - 5 - land))
            air = max(1, min(air, n - t - prep - land))
        elif t + prep + air + land > n:
            break
        jumps += 1
        c = rng.uniform(0.5, 0.8)
        b, e = t + prep, t + prep + air
        crouch[t:b] = np.linspace(c / prep, c, prep)
        arms[t:b] = np.linspace(0.0, -0.6, prep)
        u = (np.arange(air) + 1) / (air + 1)
        peak = np.clip(rng.uniform(0.15, 0.35) * (air / 9) ** 2, 0.08, 0.5) * st.height
        p["lift"][b:e] = 4 * peak * u * (1 - u)
        tuck[b:e] = np.sin(np.pi * u) * rng.uniform(0.3, 0.7)
        arms[b:e] = 2.6 * np.sin(np.pi * np.minimum(u * 1.6, 0.5))
        crouch[e : e + land] = np.linspace(0.8 * c, 0.0, land)
        p["vx"][b:e] = drift
        t = e + land + rest
    _bend(p, crouch + tuck, arms=False)
    for side in "lr":
        p[f"ua_{side}"] = p[f"ua_{side}"] + arms
        p[f"fa_{side}"] = p[f"fa_{side}"] + arms + 0.1
    return p


def _wave(rng: np.random.Generator, n: int, st: _State, cfg: SynthConfig) -> Pose:
    """Face the camera, raise one or both arms and wave the forearm at a varying rate."""
    p = _standing(n, st.psi)
    front = _nearest(np.pi / 2 if np.sin(st.psi) >= 0 else -np.pi / 2, st.psi)
    p["psi"] = _knots(n, [(0, st.psi), (4, front)]) + 0.1 * np.sin(
        TAU * np.arange(n) / rng.uniform(30, 60))
    up_t, down_t = int(rng.integers(3, 7)), int(rng.integers(3, 6))
    up = _knots(n, [(0, 0.0), (min(up_t, n // 3), 1.0), (max(n - 1 - down_t, 2 * n // 3), 1.0),
                    (n - 1, 0.0)])  # fmt: skip
    period = rng.uniform(6, 12) / cfg.speed * _speed_profile(rng, n, cfg.speed_jitter)
    phase = rng.uniform(0, TAU) + np.cumsum(TAU / period)
    amp = rng.uniform(0.45, 0.8)
    sides = ["l", "r"] if rng.random() < 0.3 else [str(rng.choice(["l", "r"]))]
    for side in sides:
        ub = 0.12 + up * (rng.uniform(2.0, 2.5) - 0.12)
        p[f"ub_{side}"] = ub
        p[f"fb_{side}"] = ub + up * (0.35 + amp * np.sin(phase))
        p[f"ua_{side}"] = p[f"fa_{side}"] = 0.1 * up
    return p


def _spin(rng: np.random.Generator, n: int, st: _State, cfg: SynthConfig) -> Pose:
    """Pirouettes: spin about the vertical axis with arms out, speeding up and slowing down."""
    p = _standing(n, st.psi)
    env = _knots(n, [(0, 0.0), (4, 1.0), (n - 5, 1.0), (n - 1, 0.0)])
    omega = rng.uniform(0.15, 0.4) * cfg.speed * rng.choice([-1.0, 1.0])
    p["psi"] = st.psi + np.cumsum(omega * env * _speed_profile(rng, n, cfg.speed_jitter))
    arms = _knots(n, [(0, 0.0), (3, 1.0), (n - 4, 1.0), (n - 1, 0.0)])
    for side in "lr":
        ub = 0.12 + arms * (rng.uniform(1.1, 1.6) - 0.12)
        p[f"ub_{side}"], p[f"fb_{side}"] = ub, ub + 0.1 * arms
    if rng.random() < 0.5:
        p["th_r"] = 0.5 * arms
        p["sh_r"] = p["th_r"] - 1.2 * arms
    return p


def _crouch(rng: np.random.Generator, n: int, st: _State, cfg: SynthConfig) -> Pose:
    """Squat down, hold, stand up, again: the body's height changes, its position does not."""
    p = _standing(n, st.psi)
    knots: list[tuple[float, float]] = [(0, 0.0)]
    t = int(rng.integers(0, 3))
    while t < n:
        down, up = (max(2, int(rng.integers(3, 8) / cfg.speed)) for _ in range(2))
        hold, stand = int(rng.integers(2, 15)), int(rng.integers(2, 9))
        depth = rng.uniform(0.6, 1.0)
        knots += [(t + 0.5, 0.0), (t + down, depth), (t + down + hold, depth),
                  (t + down + hold + up, 0.0)]  # fmt: skip
        t += down + hold + up + stand
    _bend(p, _knots(n, knots))
    return p


Motion = Callable[[np.random.Generator, int, "_State", "SynthConfig"], Pose]
"""An action: (rng, frames, the actor's state at its start, config) -> pose channels + vx, vy."""

MOTIONS: tuple[Motion, ...] = (_walk, _run_stop, _jump, _wave, _spin, _crouch)
"""The benchmark's motions, in the order of :data:`CLASSES`."""


def _schedule(rng: np.random.Generator, cfg: SynthConfig, n: int, n_classes: int
              ) -> list[tuple[int, int, int]]:  # fmt: skip
    """Action segments (class id, first frame, last frame) of one actor, in time order."""
    lo, hi = cfg.action_fraction
    length = int(np.clip(round(rng.uniform(lo, hi) * n), min(MIN_ACTION, n), n))
    start = int(rng.integers(0, n - length + 1))
    first = int(rng.integers(n_classes))
    segments = [(first, start, start + length - 1)]
    before, after = start - _GAP, n - (start + length) - _GAP
    room = max(before, after)
    if room >= MIN_ACTION and rng.random() < cfg.second_action_prob:
        other = int(rng.choice([c for c in range(n_classes) if c != first]))
        length2 = int(rng.integers(MIN_ACTION, max(MIN_ACTION, min(room, length)) + 1))
        if before >= after:
            s2 = int(rng.integers(0, before - length2 + 1))
        else:
            s2 = int(rng.integers(start + length + _GAP, n - length2 + 1))
        segments.append((other, s2, s2 + length2 - 1))
    return sorted(segments, key=lambda s: s[1])


def _perspective(ground: np.ndarray, height: int) -> np.ndarray:
    """Scale factor for an actor standing at ``ground``: nearer (lower) is bigger."""
    return 0.8 + 0.4 * (ground - 0.6 * height) / (0.38 * height)


def _appearance(rng: np.random.Generator) -> Appearance:
    skins = ((224, 172, 140), (198, 134, 96), (141, 85, 54), (90, 56, 37), (241, 194, 160))

    def colour(value: tuple[float, float]) -> tuple[int, int, int]:
        hsv = np.array([[[rng.integers(0, 180), rng.integers(40, 256), rng.integers(*value)]]],
                       dtype=np.uint8)
        r, g, b = (int(v) for v in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])
        return r, g, b

    skin = skins[int(rng.integers(len(skins)))]
    return Appearance(skin, colour((70, 255)), colour((40, 200)), bool(rng.random() < 0.5),
                      float(rng.uniform(0.9, 1.25)))  # fmt: skip


def plan_actors(rng: np.random.Generator, cfg: SynthConfig,
                motions: tuple[Motion, ...] = MOTIONS) -> list[ActorPlan]:  # fmt: skip
    """1-3 actors, each idle except during its action segment(s); class id i moves by
    ``motions[i]`` (the action set's motions: the benchmark's by default)."""
    n, width, height = cfg.n_frames, cfg.width, cfg.height
    weights = np.asarray(cfg.actor_count_weights, float)
    count = int(rng.choice(len(weights), p=weights / weights.sum())) + 1
    slots = rng.permutation(count)
    plans = []
    for a in range(count):
        look = _appearance(rng)
        ground0 = rng.uniform(0.62, 0.97) * height
        h_base = rng.uniform(*cfg.actor_height) * height
        st = _State(x=(slots[a] + rng.uniform(0.2, 0.8)) / count * width, ground=ground0,
                    psi=float(rng.choice([0.0, np.pi, np.pi / 2, -np.pi / 2]) + rng.normal(0, 0.3)),
                    height=h_base, width=width)  # fmt: skip
        x0 = st.x
        label = np.full(n, IDLE)
        pieces: list[Pose] = []
        cursor = 0
        for cls, s, e in [*_schedule(rng, cfg, n, len(motions)), (IDLE, n, n - 1)]:
            for kind, a0, a1 in ((IDLE, cursor, s), (cls, s, e + 1)):
                if a1 <= a0:
                    continue
                make = _idle if kind == IDLE else motions[kind]
                st.height = h_base * float(_perspective(np.asarray(st.ground), height))
                piece = make(rng, a1 - a0, st, cfg)
                pieces.append(piece)
                label[a0:a1] = kind
                st.x += float(piece["vx"].sum())
                st.ground = float(np.clip(st.ground + piece["vy"].sum(), 0.6 * height,
                                          0.98 * height))  # fmt: skip
                st.psi = float(piece["psi"][-1])
            cursor = e + 1
        pose = {k: np.concatenate([pc[k] for pc in pieces]) for k in pieces[0]}
        starts = np.cumsum([len(pc["psi"]) for pc in pieces])[:-1]
        for b in starts:
            for j in range(min(_BLEND_FRAMES, n - b)):
                w = (j + 1) / (_BLEND_FRAMES + 1)
                for k in _BLENDED:
                    pose[k][b + j] = (1 - w) * pose[k][b - 1] + w * pose[k][b + j]
        x = x0 + np.concatenate([[0.0], np.cumsum(pose.pop("vx"))[:-1]])
        ground = np.clip(ground0 + np.concatenate([[0.0], np.cumsum(pose.pop("vy"))[:-1]]),
                         0.6 * height, 0.98 * height)  # fmt: skip
        plans.append(ActorPlan(a + 1, x, ground, h_base * _perspective(ground, height), pose,
                               label, look))  # fmt: skip
    return plans


def camera_path(rng: np.random.Generator, cfg: SynthConfig, margin: tuple[float, float]
                ) -> np.ndarray:  # fmt: skip
    """(N, 2) camera offset (x, y) in pixels: still, or panning with changes of speed and shake."""
    n = cfg.n_frames
    path = np.zeros((n, 2))
    if rng.random() < cfg.camera_prob:
        vel = np.zeros((n, 2))
        t = 0
        while t < n:
            d = int(rng.integers(10, 41))
            vel[t : t + d] = rng.uniform(-1, 1, 2) * cfg.camera_speed * np.array([1.0, 0.3])
            t += d
        vel = np.stack([_smooth(vel[:, i], 5) for i in range(2)], axis=1)
        pos = np.zeros(2)
        for t in range(n):  # bounce off the edges of the world texture
            pos = pos + vel[t]
            for i in range(2):
                if abs(pos[i]) > margin[i] - 2:
                    vel[t:, i] *= -1
                    pos[i] = np.clip(pos[i], -(margin[i] - 2), margin[i] - 2)
            path[t] = pos
    if cfg.camera_shake > 0 and rng.random() < cfg.camera_prob:
        shake = rng.normal(0, cfg.camera_shake, (n, 2))
        limit = np.asarray(margin) - 1
        path = np.clip(path + shake, -limit, limit)
    return path
