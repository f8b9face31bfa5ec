"""Drawing for SynthActions: scenes, actors, distractors, occluders, light and noise.

The world is a background texture a margin larger than the frame; the camera's offset picks
the frame out of it (sub-pixel, so panning is smooth). Everything is drawn with OpenCV into
NumPy arrays; an actor is first drawn alone into a part-label canvas, whose tight bounding box
is its ground-truth box, then pasted into the frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from halgui.core.synthetic_actions import action_set
from halgui.core.synthetic_motion import (
    CLASSES,
    FOREARM,
    HEAD_R,
    HEAD_UP,
    HIP_HW,
    IDLE,
    SHIN,
    SHOULDER_HW,
    TAU,
    THIGH,
    TORSO,
    UPPER_ARM,
    ActorPlan,
    camera_path,
    plan_actors,
)

if TYPE_CHECKING:
    from halgui.core.synthetic import SynthConfig, VideoSpec

_SHIFT = 4  # OpenCV drawing with 1/16-pixel precision
_ONE = 1 << _SHIFT
_AA = cv2.LINE_AA


@dataclass(frozen=True)
class Scene:
    """The look of one scene type: palette, texture, light. Frequencies live in SynthConfig."""

    sky: tuple[int, int, int]
    ground: tuple[int, int, int]
    horizon: tuple[float, float]  # fraction of the frame height where the ground starts
    gain: float  # overall brightness
    noise: float  # multiplies SynthConfig.noise_std
    tint: tuple[float, float, float]


SCENES: dict[str, Scene] = {
    "grass": Scene((150, 190, 235), (70, 135, 55), (0.30, 0.45), 1.00, 1.0, (1.0, 1.0, 0.95)),
    "indoor": Scene((200, 185, 160), (150, 110, 75), (0.45, 0.60), 0.90, 1.0, (1.05, 0.98, 0.88)),
    "street": Scene((170, 195, 220), (95, 95, 100), (0.30, 0.45), 0.95, 1.0, (1.0, 1.0, 1.0)),
    "sand": Scene((160, 205, 240), (215, 190, 140), (0.30, 0.40), 1.10, 1.0, (1.05, 1.0, 0.92)),
    "night": Scene((20, 25, 55), (35, 40, 45), (0.35, 0.50), 0.45, 2.0, (0.85, 0.9, 1.15)),
    "snow": Scene((205, 215, 230), (235, 238, 245), (0.30, 0.45), 1.05, 1.0, (0.95, 1.0, 1.05)),
}


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: int) -> np.ndarray:
    """Smooth noise in about [-1, 1] with features ``cell`` pixels wide."""
    small = rng.uniform(-1, 1, (h // cell + 3, w // cell + 3)).astype(np.float32)
    big = cv2.resize(small, ((w // cell + 3) * cell, (h // cell + 3) * cell), cv2.INTER_CUBIC)
    return big[cell : cell + h, cell : cell + w]


def _rand_colour(rng: np.random.Generator, lo: int = 40, hi: int = 230) -> tuple[int, int, int]:
    r, g, b = rng.integers(lo, hi, 3)
    return int(r), int(g), int(b)


def background(rng: np.random.Generator, name: str, h: int, w: int, frame_h: int
               ) -> tuple[np.ndarray, float]:  # fmt: skip
    """An (h, w, 3) uint8 RGB world texture and the y of its horizon."""
    sc = SCENES[name]
    hz = int(rng.uniform(*sc.horizon) * frame_h + (h - frame_h) / 2)
    img = np.empty((h, w, 3), np.float32)
    ramp = np.linspace(-0.15, 0.1, hz, dtype=np.float32)[:, None, None]
    img[:hz] = np.asarray(sc.sky, np.float32) * (1 + ramp)
    img[:hz] += 12 * _smooth_noise(rng, hz, w, 24)[..., None]
    img[hz:] = np.asarray(sc.ground, np.float32) * (1 + 0.15 * _smooth_noise(rng, h - hz, w, 20)
                                                     )[..., None]  # fmt: skip
    img[hz:] += 10 * _smooth_noise(rng, h - hz, w, 3)[..., None]
    if name == "grass":
        for _ in range(int(rng.integers(10, 40))):
            c = (int(rng.integers(0, w)), int(rng.integers(hz, h)))
            cv2.circle(img, c, 1, _rand_colour(rng, 150, 255), -1, _AA)
    elif name == "indoor":
        panel = int(rng.integers(14, 30))
        img[:hz, ::panel] *= 0.75
        tile = int(rng.integers(10, 20))
        yy, xx = np.mgrid[0 : h - hz, 0:w]
        img[hz:] *= (1 + 0.12 * (((yy // tile) + (xx // tile)) % 2))[..., None]
        x0 = int(rng.integers(0, w - 30))
        cv2.rectangle(img, (x0, hz // 4), (x0 + 28, hz // 2 + 8), (235, 240, 250), -1)
    elif name == "street":
        x = 0
        while x < w:
            bw, bh = int(rng.integers(14, 40)), int(rng.integers(hz // 3, hz))
            col = np.asarray(_rand_colour(rng, 60, 190), np.float32)
            img[hz - bh : hz, x : x + bw] = col
            img[hz - bh + 3 : hz - 2 : 6, x + 2 : x + bw - 2 : 5] = col * 0.55 + 90
            x += bw + int(rng.integers(0, 8))
        lane = int(hz + 0.45 * (h - hz))
        for x in range(0, w, 20):
            cv2.line(img, (x, lane), (x + 10, lane), (220, 220, 200), 2)
    elif name == "sand":
        band = int(rng.integers(4, 10))
        img[hz : hz + band] = (60, 110, 170)
        yy = np.arange(h - hz - band, dtype=np.float32)[:, None]
        wobble = 3 * _smooth_noise(rng, h - hz - band, w, 16)
        img[hz + band :] *= (1 + 0.06 * np.sin(yy * 0.9 + wobble))[..., None]
    elif name == "night":
        for _ in range(int(rng.integers(3, 8))):
            c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.circle(img, c, int(rng.integers(6, 16)), (90, 85, 60), -1, _AA)
        img = cv2.GaussianBlur(img, (0, 0), 4)
    elif name == "snow":
        shade = np.abs(_smooth_noise(rng, h - hz, w, 30))[..., None]
        img[hz:] -= 18 * shade * np.float32([1, 0.7, 0])
    return np.clip(img, 0, 255).astype(np.uint8), float(hz)


@dataclass
class Thing:
    """A distractor or occluder: moves (or not) in world pixels, is never boxed."""

    kind: str
    front: bool
    pos: np.ndarray  # (N, 2) world position
    angle: np.ndarray  # (N,) wing / blade / swing angle, radians
    size: float
    colour: tuple[int, int, int]


def _bounce(rng: np.random.Generator, n: int, x0: float, floor: float, lo: float, hi: float
            ) -> np.ndarray:  # fmt: skip
    """A ball's (N, 2) path: gravity, bounces that lose energy, kicked up again when spent."""
    pos = np.empty((n, 2))
    x, y = x0, floor - rng.uniform(0, 20)
    vx, vy, g = rng.uniform(-2, 2), rng.uniform(-3, 0), rng.uniform(0.25, 0.5)
    keep = rng.uniform(0.7, 0.9)
    for t in range(n):
        vy += g
        x, y = x + vx, y + vy
        if y > floor:
            y, vy = floor, -vy * keep
            if abs(vy) < 1.0:
                vy = -rng.uniform(3, 6)
        if not lo <= x <= hi:
            vx = -vx
            x = float(np.clip(x, lo, hi))
        pos[t] = x, y
    return pos


def make_things(rng: np.random.Generator, cfg: SynthConfig, margin: tuple[int, int],
                horizon: float) -> list[Thing]:  # fmt: skip
    """Distractors (0..max_distractors, each moving) and static foreground occluders."""
    n, w, h = cfg.n_frames, cfg.width, cfg.height
    mx, my = margin
    t = np.arange(n)
    zero = np.zeros(n)
    things = []
    kinds = ("ball", "car", "bird", "spinner", "flag")
    for _ in range(int(rng.integers(0, cfg.max_distractors + 1))):
        kind = str(rng.choice(kinds))
        x0 = rng.uniform(-mx, w + mx)
        y0 = rng.uniform(0.6 * h, 0.98 * h)
        colour = _rand_colour(rng)
        if kind == "ball":
            pos = _bounce(rng, n, x0, y0, -mx, w + mx)
            things.append(Thing(kind, bool(rng.random() < 0.5), pos, zero, rng.uniform(2.5, 5),
                                colour))  # fmt: skip
        elif kind == "car":
            v = rng.uniform(0.5, 2.5) * rng.choice([-1, 1]) * np.exp(
                np.repeat(rng.normal(0, cfg.speed_jitter, n // 12 + 1), 12)[:n])
            x = (x0 + np.cumsum(v) + mx + 40) % (w + 2 * mx + 80) - mx - 40
            pos = np.stack([x, np.full(n, y0)], axis=1)
            things.append(Thing(kind, False, pos, zero, rng.uniform(16, 32), colour))
        elif kind == "bird":
            y = rng.uniform(0.1, 0.5) * h + 6 * np.sin(TAU * t / rng.uniform(20, 50))
            x = x0 + rng.uniform(-2.5, 2.5) * t
            flap = 0.7 * np.sin(TAU * t / rng.uniform(4, 9))
            things.append(Thing(kind, True, np.stack([x, y], 1), flap, rng.uniform(4, 8),
                                (40, 40, 45)))  # fmt: skip
        elif kind == "spinner":
            pos = np.tile([x0, y0], (n, 1))
            spin = rng.uniform(0, TAU) + rng.uniform(-0.4, 0.4) * t
            things.append(Thing(kind, False, pos, spin, rng.uniform(8, 15), colour))
        else:
            pos = np.tile([x0, y0], (n, 1))
            swing = 0.6 * np.sin(TAU * t / rng.uniform(10, 25))
            things.append(Thing(kind, False, pos, swing, rng.uniform(8, 14), colour))
    for _ in range(2):
        if rng.random() >= cfg.occluder_prob:
            continue
        x0 = rng.uniform(0.05 * w, 0.95 * w)
        if rng.random() < 0.5:
            top = rng.uniform(-my, horizon - my)
            pos = np.tile([x0, top], (n, 1))
            things.append(Thing("pillar", True, pos, zero, rng.uniform(5, 14),
                                _rand_colour(rng, 60, 200)))  # fmt: skip
        else:
            pos = np.tile([x0, rng.uniform(0.85, 1.0) * h], (n, 1))
            r, g, b = (int(rng.integers(lo, hi)) for lo, hi in ((30, 80), (90, 150), (20, 60)))
            green = (r, g, b)
            things.append(Thing("bush", True, pos, zero, rng.uniform(18, 36), green))
    return things


def _pt(x: float, y: float) -> tuple[int, int]:
    return round(x * _ONE), round(y * _ONE)


def draw_thing(img: np.ndarray, th: Thing, t: int, cam: np.ndarray, solid: int | None = None
               ) -> None:  # fmt: skip
    """Draw ``th`` as seen at frame ``t``; ``solid`` draws it in one value (for debug masks)."""
    x, y = th.pos[t] - cam
    a, s = th.angle[t], th.size
    col = th.colour if solid is None else solid
    dark = tuple(int(0.6 * c) for c in th.colour) if solid is None else solid
    if th.kind == "ball":
        cv2.circle(img, _pt(x, y - s), round(s * _ONE), col, -1, _AA, _SHIFT)
    elif th.kind == "car":
        bh = 0.4 * s
        cv2.rectangle(img, _pt(x - s / 2, y - bh - 3), _pt(x + s / 2, y - 3), col, -1, _AA, _SHIFT)
        cv2.rectangle(img, _pt(x - s / 4, y - 1.8 * bh - 3), _pt(x + s / 4, y - bh - 3), dark, -1,
                      _AA, _SHIFT)  # fmt: skip
        tyre = 20 if solid is None else solid
        for wx in (x - s / 3, x + s / 3):
            cv2.circle(img, _pt(wx, y - 3), 3 * _ONE, tyre, -1, _AA, _SHIFT)
    elif th.kind == "bird":
        for sgn in (-1, 1):
            tip = (x + sgn * s * np.cos(a), y - s * np.sin(a))
            cv2.line(img, _pt(x, y), _pt(*tip), col, 2, _AA, _SHIFT)
    elif th.kind == "spinner":
        cv2.line(img, _pt(x, y), _pt(x, y - 2.5 * s), dark, 2, _AA, _SHIFT)
        for k in range(3):
            b = a + k * TAU / 3
            cv2.line(img, _pt(x, y - 2.5 * s), _pt(x + s * np.cos(b), y - 2.5 * s + s * np.sin(b)),
                     col, 2, _AA, _SHIFT)  # fmt: skip
    elif th.kind == "flag":
        top = (x, y - 3.5 * s)
        cv2.line(img, _pt(x, y), _pt(*top), dark, 2, _AA, _SHIFT)
        tip = (x + s * np.cos(a), top[1] + s * np.sin(a))
        quad = np.array([_pt(*top), _pt(*tip), _pt(tip[0], tip[1] + 0.6 * s),
                         _pt(x, top[1] + 0.6 * s)], np.int32)  # fmt: skip
        cv2.fillConvexPoly(img, quad, col, _AA, _SHIFT)
    elif th.kind == "pillar":
        cv2.rectangle(img, _pt(x - s / 2, y), _pt(x + s / 2, img.shape[0] + 2), col, -1, _AA,
                      _SHIFT)  # fmt: skip
    elif th.kind == "bush":
        for k in range(4):
            cx = x + (k - 1.5) * s / 4
            cv2.ellipse(img, _pt(cx, y - s / 4), (round(s / 3 * _ONE), round(s / 4 * _ONE)),
                        0, 0, 360, col if k % 2 else dark, -1, _AA, _SHIFT)  # fmt: skip


def _limb_dir(a: np.ndarray, b: np.ndarray, side: float) -> np.ndarray:
    """(N, 3) unit vectors (forward, side, up) of limbs at sagittal ``a``, abduction ``b``."""
    return np.stack([np.sin(a) * np.cos(b), side * np.sin(b), -np.cos(a) * np.cos(b)], axis=-1)


def skeleton(plan: ActorPlan) -> dict[str, np.ndarray]:
    """Joint name -> (N, 3) array of world (x, y, depth); depth > 0 is nearer the camera."""
    p, n = plan.pose, len(plan.x)
    zero, one = np.zeros(n), np.ones(n)
    body: dict[str, np.ndarray] = {}
    for side, sg in (("l", 1.0), ("r", -1.0)):
        hip = np.stack([zero, sg * HIP_HW * one, zero], axis=-1)
        body[f"hip_{side}"] = hip
        body[f"knee_{side}"] = hip + THIGH * _limb_dir(p[f"th_{side}"], p["leg_b"], sg)
        body[f"foot_{side}"] = body[f"knee_{side}"] + SHIN * _limb_dir(p[f"sh_{side}"], p["leg_b"],
                                                                        sg)  # fmt: skip
    up = np.stack([np.sin(p["lean"]), zero, np.cos(p["lean"])], axis=-1)
    body["hip_c"] = np.zeros((n, 3))
    body["neck"] = TORSO * up
    body["head"] = body["neck"] + HEAD_UP * up
    for side, sg in (("l", 1.0), ("r", -1.0)):
        sh = body["neck"] + np.array([0.0, sg * SHOULDER_HW, -0.02])
        body[f"shoulder_{side}"] = sh
        body[f"elbow_{side}"] = sh + UPPER_ARM * _limb_dir(p[f"ua_{side}"], p[f"ub_{side}"], sg)
        body[f"hand_{side}"] = body[f"elbow_{side}"] + FOREARM * _limb_dir(
            p[f"fa_{side}"], p[f"fb_{side}"], sg)
    hip_up = np.maximum(-body["foot_l"][:, 2], -body["foot_r"][:, 2]) + p["lift"] / plan.height
    c, s = np.cos(p["psi"]), np.sin(p["psi"])
    out = {}
    for name, v in body.items():
        f, sd, u = v[:, 0], v[:, 1], v[:, 2] + hip_up
        out[name] = np.stack([plan.x + plan.height * (f * c + sd * s),
                              plan.ground - plan.height * u, f * s - sd * c], axis=-1)  # fmt: skip
    return out


def actor_palette(plan: ActorPlan) -> np.ndarray:
    """(7, 3) uint8: 0 unused, 1-3 skin/shirt/pants, 4-6 the same in shade (far side)."""
    lk = plan.look
    base = np.array([lk.skin, lk.shirt, lk.pants], np.float32)
    return np.concatenate([[[0, 0, 0]], base, 0.72 * base]).astype(np.uint8)


def draw_actor(lab: np.ndarray, sk: dict[str, np.ndarray], plan: ActorPlan, t: int,
               cam: np.ndarray) -> None:  # fmt: skip
    """Draw actor ``plan`` at frame ``t`` into the part-label canvas ``lab`` (values 1-6)."""
    h = plan.height[t]
    lw = max(2, round(0.08 * h * plan.look.thickness))
    tw = max(3, round(0.17 * h * plan.look.thickness))

    def p(name: str) -> tuple[int, int]:
        x, y, _ = sk[name][t]
        return _pt(x - cam[0], y - cam[1])

    def depth(*names: str) -> float:
        return float(np.mean([sk[nm][t, 2] for nm in names]))

    parts = []
    for side in "lr":
        dl = depth(f"hip_{side}", f"knee_{side}", f"foot_{side}")
        parts.append((dl, "leg", side, 3 if dl > -0.01 else 6))
        da = depth(f"shoulder_{side}", f"elbow_{side}", f"hand_{side}")
        parts.append((da, "arm", side, 0 if da > -0.01 else 3))
    parts += [(0.0, "torso", "", 2), (0.001, "head", "", 1)]
    for _, kind, side, v in sorted(parts, key=lambda q: q[0]):
        if kind == "leg":
            cv2.line(lab, p(f"hip_{side}"), p(f"knee_{side}"), v, lw, cv2.LINE_8, _SHIFT)
            cv2.line(lab, p(f"knee_{side}"), p(f"foot_{side}"), v, lw, cv2.LINE_8, _SHIFT)
        elif kind == "arm":
            sleeve, skin = 2 + v, (2 if plan.look.long_sleeves else 1) + v
            cv2.line(lab, p(f"shoulder_{side}"), p(f"elbow_{side}"), sleeve, lw, cv2.LINE_8, _SHIFT)
            cv2.line(lab, p(f"elbow_{side}"), p(f"hand_{side}"), skin, lw, cv2.LINE_8, _SHIFT)
            cv2.circle(lab, p(f"hand_{side}"), round(0.6 * lw * _ONE), 1 + v, -1, cv2.LINE_8,
                       _SHIFT)  # fmt: skip
        elif kind == "torso":
            quad = np.array([p("shoulder_l"), p("shoulder_r"), p("hip_r"), p("hip_l")], np.int32)
            cv2.fillConvexPoly(lab, quad, v, cv2.LINE_8, _SHIFT)
            cv2.line(lab, p("hip_c"), p("neck"), v, tw, cv2.LINE_8, _SHIFT)
        else:
            cv2.circle(lab, p("head"), round(HEAD_R * h * _ONE), v, -1, cv2.LINE_8, _SHIFT)


def _light_and_noise(frames: np.ndarray, rng: np.random.Generator, scene: Scene,
                     cfg: SynthConfig) -> np.ndarray:  # fmt: skip
    """Per-video gain and tint, a spatial light gradient, flicker, then Gaussian noise."""
    n, h, w, _ = frames.shape
    gain = scene.gain * np.exp(rng.normal(0, cfg.lighting_jitter))
    drift = np.linspace(0, rng.normal(0, cfg.lighting_jitter), n)
    flicker = cfg.flicker * rng.normal(0, 1, n)
    per_frame = (gain * (1 + drift + flicker)).astype(np.float32)
    theta = rng.uniform(0, TAU)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ramp = (xx / w - 0.5) * np.cos(theta) + (yy / h - 0.5) * np.sin(theta)
    tint = np.asarray(scene.tint, np.float32) * (1 + rng.normal(0, 0.03, 3)).astype(np.float32)
    space = (1 + rng.uniform(0, 0.5) * ramp)[..., None] * tint
    out = frames.astype(np.float32)
    out *= space
    out *= per_frame[:, None, None, None]
    sigma = np.float32(cfg.noise_std * scene.noise)
    if sigma > 0:
        out += rng.standard_normal(out.shape, dtype=np.float32) * sigma
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)


@dataclass
class Rendered:
    """A rendered video: RGB frames, ground-truth tracks, and what the tests look at."""

    frames: np.ndarray  # (N, H, W, 3) uint8 RGB
    tracks: list[dict]  # the JSON "tracks" of this video
    plans: list[ActorPlan]
    boxes: list[list[tuple[int, int, int, int] | None]]  # per actor, per frame (even when idle)
    visible: np.ndarray | None  # (N, H, W) uint8 actor id of each visible pixel (debug only)


def render(spec: VideoSpec, cfg: SynthConfig, debug: bool = False) -> Rendered:
    """Render one video from its spec; ``debug`` also returns which actor owns each pixel."""
    n, w, h = cfg.n_frames, cfg.width, cfg.height
    motion_rng = np.random.default_rng([spec.seed, 0])
    look_rng = np.random.default_rng([spec.seed, 2])
    margin = (round(0.3 * w), round(0.2 * h))
    actions = action_set(cfg.action_set)
    plans = plan_actors(motion_rng, cfg, actions.motions)
    camera = camera_path(motion_rng, cfg, margin)
    world, horizon = background(look_rng, spec.scene, h + 2 * margin[1], w + 2 * margin[0], h)
    things = make_things(look_rng, cfg, margin, horizon)
    skels = [skeleton(p) for p in plans]
    palettes = [actor_palette(p) for p in plans]
    frames = np.empty((n, h, w, 3), np.uint8)
    visible = np.zeros((n, h, w), np.uint8) if debug else None
    boxes: list[list[tuple[int, int, int, int] | None]] = [[None] * n for _ in plans]
    lab = np.zeros((h, w), np.uint8)
    for t in range(n):
        cam = camera[t]
        shift = np.float32([[1, 0, margin[0] + cam[0]], [0, 1, margin[1] + cam[1]]])
        frame = cv2.warpAffine(world, shift, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        for th in things:
            if not th.front:
                draw_thing(frame, th, t, cam)
        for a in sorted(range(len(plans)), key=lambda i: plans[i].ground[t]):
            lab[:] = 0
            draw_actor(lab, skels[a], plans[a], t, cam)
            if cv2.countNonZero(lab) < cfg.min_visible_px:
                continue  # a sliver at the edge is neither drawn nor boxed
            x, y, bw, bh = cv2.boundingRect(lab)
            boxes[a][t] = (x, y, x + bw, y + bh)
            mask = lab > 0
            frame[mask] = palettes[a][lab[mask]]
            if visible is not None:
                visible[t][mask] = plans[a].actor
        for th in things:
            if th.front:
                draw_thing(frame, th, t, cam)
                if visible is not None:
                    draw_thing(visible[t], th, t, cam, solid=0)
        frames[t] = frame
    frames = _light_and_noise(frames, look_rng, SCENES[spec.scene], cfg)
    return Rendered(frames, tracks_of(plans, boxes, actions.names), plans, boxes, visible)


def tracks_of(plans: list[ActorPlan], boxes: list[list[tuple[int, int, int, int] | None]],
              names: tuple[str, ...] = CLASSES) -> list[dict]:  # fmt: skip
    """Maximal runs of frames where an actor is acting and in view, one track each; class id
    ``i`` is called ``names[i]`` (the action set's names)."""
    tracks = []
    for plan, bx in zip(plans, boxes, strict=True):
        n, t = len(bx), 0
        while t < n:
            cls = int(plan.label[t])
            if cls == IDLE or bx[t] is None:
                t += 1
                continue
            start = t
            while t < n and plan.label[t] == cls and bx[t] is not None:
                t += 1
            keys = [{"frame": f, "box": [round(float(v), 2) for v in box]}
                    for f, box in enumerate(bx[start:t], start) if box is not None]  # fmt: skip
            tracks.append({"actor": plan.actor, "class": names[cls], "keyframes": keys})
    return tracks
