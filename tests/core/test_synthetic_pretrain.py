"""SynthActions action sets: the benchmark stays as it was; the pretraining set holds six other
motions, each doing what it claims, told apart from each other and from the benchmark's six."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from halgui.cli import build_parser
from halgui.core.progress import run_to_end
from halgui.core.project import Project
from halgui.core.synthetic import CLASSES, SynthConfig, generate, make_specs, render_video
from halgui.core.synthetic_actions import ACTION_SETS, action_set
from halgui.core.synthetic_motion import IDLE, MOTIONS, ActorPlan, Appearance, _State, plan_actors
from halgui.core.synthetic_pretrain import PRETRAIN_CLASSES, PRETRAIN_MOTIONS
from halgui.core.synthetic_render import skeleton
from tests.core.test_synthetic import check_schema

ROOT = Path(__file__).resolve().parents[2]
TINY = dict(n_videos=3, n_frames=24, width=64, height=48)
PRETRAIN = SynthConfig(n_videos=4, n_frames=32, seed=3, action_set="pretrain")
H = 50.0  # actor height in pixels for the motion tests


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


# ------------------------------------------------------------------ benchmark unchanged
# Recorded from the generator before action sets existed (numpy 2 / OpenCV 4 as pinned here):
# the ground-truth file and the raw frames of tiny datasets, and the frames and tracks of the
# first two videos of the default (benchmark) dataset.
BEFORE_TINY = {0: ("1197810af340b441", "5345d31c36e38640"),
               1: ("14f32c543631000d", "60d2d82951e617de")}  # fmt: skip
BEFORE_DEFAULT = {0: ("573dd8d6c7d404a6", "932e159e1d10ca2e"),
                  1: ("e395b2dfe42bb33f", "aef3747cddee3250")}  # fmt: skip


@pytest.mark.parametrize("seed", [0, 1])
def test_benchmark_dataset_is_byte_for_byte_unchanged(seed: int, tmp_path: Path) -> None:
    cfg = SynthConfig(seed=seed, **TINY)
    gt = run_to_end(generate(tmp_path, cfg, workers=1))
    frames = hashlib.sha256()
    for spec in make_specs(cfg):
        frames.update(render_video(spec, cfg)[0].tobytes())
    assert (sha(gt.read_bytes()), frames.hexdigest()[:16]) == BEFORE_TINY[seed]
    assert "action_set" not in json.loads(gt.read_text())["meta"]["config"]


def test_default_benchmark_videos_are_unchanged() -> None:
    cfg = SynthConfig()
    for i, expected in BEFORE_DEFAULT.items():
        frames, tracks = render_video(make_specs(cfg)[i], cfg)
        got = sha(frames.tobytes()), sha(json.dumps(tracks, separators=(",", ":")).encode())
        assert got == expected


# ------------------------------------------------------------------ the pretraining set
@pytest.fixture(scope="module")
def pretrain(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("pretrain")
    path = run_to_end(generate(out, PRETRAIN, workers=1))
    return out, json.loads(path.read_text())


def test_pretrain_dataset_has_exactly_the_six_new_classes(pretrain: tuple[Path, dict]) -> None:
    out, doc = pretrain
    check_schema(doc, out)
    names = [c["name"] for c in doc["classes"]]
    assert names == ["kick", "punch", "clap", "sidestep", "bow", "reach_up"]
    assert not set(names) & set(CLASSES)
    colours = [c["color"] for c in doc["classes"]]
    assert len(set(colours)) == 6
    assert {tr["class"] for v in doc["videos"] for tr in v["tracks"]} <= set(names)
    assert sum(len(v["tracks"]) for v in doc["videos"]) > 0
    assert doc["meta"]["config"]["action_set"] == "pretrain"
    assert SynthConfig.from_dict(doc["meta"]["config"]) == PRETRAIN


def test_every_pretrain_class_is_performed() -> None:
    """Over 24 videos' plans every new action is performed, and only new ones."""
    cfg = SynthConfig(n_videos=24, n_frames=48, seed=7, action_set="pretrain")
    seen: set[int] = set()
    for spec in make_specs(cfg):
        for plan in plan_actors(np.random.default_rng([spec.seed, 0]), cfg, PRETRAIN_MOTIONS):
            seen |= set(plan.label[plan.label != IDLE].tolist())
    assert seen == set(range(6))
    _, tracks = render_video(make_specs(cfg)[0], cfg)
    assert tracks and {tr["class"] for tr in tracks} <= set(PRETRAIN_CLASSES)


def test_same_scenes_and_seeds_as_the_benchmark_only_the_motions_differ() -> None:
    """Everything but the actions is shared: a pretrained trunk sees the same kind of video."""
    bench, pre = SynthConfig(n_videos=5, n_frames=24), SynthConfig(n_videos=5, n_frames=24,
                                                                   action_set="pretrain")
    assert make_specs(bench) == make_specs(pre)
    spec = make_specs(pre)[0]
    a, b = render_video(spec, bench)[0], render_video(spec, pre)[0]
    assert a.shape == b.shape and not np.array_equal(a, b)
    assert np.abs(a[0].astype(int) - b[0].astype(int)).mean() < 10  # same scene, same light


def test_an_unknown_action_set_is_refused() -> None:
    with pytest.raises(ValueError, match=r"kinetics.*benchmark.*pretrain"):
        SynthConfig(action_set="kinetics")
    with pytest.raises(ValueError, match="known"):
        action_set("kinetics")
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    flag = next(a for a in sub.choices["synth"]._actions if a.dest == "action_set")
    assert set(flag.choices) == set(ACTION_SETS) and flag.default == "benchmark"


def test_cli_writes_a_pretrain_dataset_that_imports(tmp_path: Path) -> None:
    def halgui(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "halgui", *map(str, args)], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)  # fmt: skip

    data = tmp_path / "data"
    made = halgui("synth", data, "--videos", 4, "--frames", 32, "--seed", 9,
                  "--action-set", "pretrain")  # fmt: skip
    assert made.returncode == 0, made.stderr
    doc = json.loads((data / "ground_truth.json").read_text())
    assert [c["name"] for c in doc["classes"]] == list(PRETRAIN_CLASSES)
    done = halgui("import", tmp_path / "proj", data / "ground_truth.json", "--format", "halgui")
    assert done.returncode == 0, done.stderr
    with Project.open(tmp_path / "proj", read_only=True) as project:
        assert [c.name for c in project.classes()] == list(PRETRAIN_CLASSES)
        videos = project.videos()
        assert len(videos) == 4
        tracks = [t for v in videos for t in project.tracks(v.id)]
        assert len(tracks) == sum(len(v["tracks"]) for v in doc["videos"]) > 0
        boxes = sum(len(t.keyframes) for t in tracks)
        assert boxes == sum(len(tr["keyframes"]) for v in doc["videos"] for tr in v["tracks"])
    bad = halgui("synth", tmp_path / "x", "--action-set", "kinetics")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------ each motion does what it says
def perform(motion: int, seed: int = 0, n: int = 48, psi: float = 0.3, speed: float = 1.0,
            motions: tuple = PRETRAIN_MOTIONS) -> tuple[dict, dict]:
    """One action alone: its pose channels (with ``x``) and its joints, in pixels."""
    cfg = SynthConfig(speed=speed, action_set="pretrain")
    rng = np.random.default_rng([seed, motion])
    st = _State(x=80.0, ground=100.0, psi=psi, height=H, width=160)
    pose = motions[motion](rng, n, st, cfg)
    x = 80.0 + np.concatenate([[0.0], np.cumsum(pose.pop("vx"))[:-1]])
    pose.pop("vy")
    look = Appearance((0, 0, 0), (0, 0, 0), (0, 0, 0), False, 1.0)
    plan = ActorPlan(1, x, np.full(n, 100.0), np.full(n, H), pose, np.zeros(n, int), look)
    return {**pose, "x": x}, skeleton(plan)


KICK, PUNCH, CLAP, SIDESTEP, BOW, REACH_UP = range(6)
SEEDS = range(5)


@pytest.mark.parametrize("seed", SEEDS)
def test_kick_swings_one_leg_up_and_back(seed: int) -> None:
    p, j = perform(KICK, seed, n=72)
    kick = "l" if p["th_l"].max() > p["th_r"].max() else "r"
    stand = "r" if kick == "l" else "l"
    th = p[f"th_{kick}"]
    assert th.max() > 1.0 and th.min() < 0.1
    assert np.count_nonzero(np.diff((th > 0.8).astype(int)) == 1) >= 2  # again and again
    assert np.abs(p[f"th_{stand}"]).max() < 0.2  # the other leg stands
    top = int(th.argmax())
    assert j[f"foot_{kick}"][top, 1] < j[f"knee_{stand}"][top, 1]  # foot above knee height
    assert np.ptp(p["x"]) < 0.05 * H and abs(np.cos(p["psi"][-1])) > 0.99  # on the spot, profile


@pytest.mark.parametrize("seed", SEEDS)
def test_punch_thrusts_straight_arms_forward_from_a_guard(seed: int) -> None:
    p, j = perform(PUNCH, seed, n=60)
    thrusts = 0
    for s in "lr":
        out = (p[f"ua_{s}"] > 1.3) & (np.abs(p[f"fa_{s}"] - p[f"ua_{s}"]) < 0.3)
        thrusts += int(out.any())
        guard = p[f"fa_{s}"] - p[f"ua_{s}"] > 1.5  # forearm folded up to the chin
        assert guard.sum() > 10
        if out.any():
            t = int(np.argmax(p[f"ua_{s}"]))
            reach = np.hypot(*(j[f"hand_{s}"][t, :2] - j[f"shoulder_{s}"][t, :2]))
            assert reach > 0.28 * H  # the arm is nearly straight (0.32 H long)
            assert abs(j[f"hand_{s}"][t, 1] - j[f"shoulder_{s}"][t, 1]) < 0.1 * H  # horizontal
    assert thrusts == 2, "punches alternate arms"


@pytest.mark.parametrize("seed", SEEDS)
def test_clap_brings_the_hands_together_in_front_of_the_chest(seed: int) -> None:
    p, j = perform(CLAP, seed, psi=-1.4)
    assert abs(np.sin(p["psi"][-1]) - 1) < 0.01  # faces the camera (not its back to it)
    held = slice(4, -4)  # the arms are up (they rise over the first frames, fall at the end)
    hand, neck = j["hand_l"][held], j["neck"][held]
    gap = np.abs(hand[:, 0] - j["hand_r"][held, 0])
    shut = gap < 0.02 * H
    assert shut.sum() >= 3 and gap.max() > 0.2 * H
    assert np.count_nonzero(np.diff(shut.astype(int)) == 1) >= 2  # they meet again and again
    chest = hand[shut, 1] - neck[shut, 1]
    assert (chest > 0).all() and (chest < 0.2 * H).all()  # below the neck, above the waist
    assert (hand[shut, 2] > neck[shut, 2]).all()  # in front of the body


@pytest.mark.parametrize("seed", SEEDS)
def test_sidestep_moves_sideways_facing_the_camera_with_legs_spreading(seed: int) -> None:
    p, j = perform(SIDESTEP, seed, psi=2.9)
    assert abs(np.sin(p["psi"][-1]) - 1) < 0.01
    assert np.abs(np.diff(p["x"])).sum() > 0.5 * H  # the body travels ...
    feet = np.abs(j["foot_l"][:, 0] - j["foot_r"][:, 0])  # ... as the legs spread and close
    slide = np.minimum(*(np.abs(np.diff(j[f"foot_{s}"][5:, 0])) for s in "lr"))
    assert slide.max() < 0.01 * H  # ... one foot planted at a time: step-close, not a glide
    apart = int(np.argmax(feet > 0.35 * H))
    assert feet[apart] > 0.35 * H and (feet[apart:] < 0.2 * H).any()
    assert np.abs(p["th_l"]).max() < 0.05 and np.abs(p["th_r"]).max() < 0.05  # no forward step


@pytest.mark.parametrize("seed", SEEDS)
def test_bow_leans_the_torso_far_forward_with_straight_legs(seed: int) -> None:
    p, j = perform(BOW, seed)
    assert p["lean"].max() > 0.75 and p["lean"].min() < 0.05
    low = int(p["lean"].argmax())
    assert j["head"][low, 1] - j["head"][0, 1] > 0.1 * H  # the head drops ...
    assert abs(j["head"][low, 0] - j["head"][0, 0]) > 0.25 * H  # ... far forward
    for s in "lr":
        assert np.abs(p[f"th_{s}"]).max() < 0.01 and np.abs(p[f"sh_{s}"]).max() < 0.01
    assert np.ptp(p["x"]) < 1e-9


@pytest.mark.parametrize("seed", SEEDS)
def test_reach_up_raises_both_arms_overhead_and_lowers_them(seed: int) -> None:
    p, j = perform(REACH_UP, seed)
    over = (j["hand_l"][:, 1] < j["head"][:, 1]) & (j["hand_r"][:, 1] < j["head"][:, 1])
    assert over.sum() >= 3
    assert (~over).sum() >= 3 and min(p["ua_l"].min(), p["ua_r"].min()) < 0.2  # and lowered
    assert p["lift"].max() == 0 and np.ptp(p["x"]) < 1e-9  # no jump, no travel


@pytest.mark.parametrize("motion", range(6))
def test_speed_knob_speeds_up_every_pretrain_motion(motion: int) -> None:
    def change(speed: float) -> float:
        total = 0.0
        for seed in range(6):
            p, _ = perform(motion, seed, speed=speed)
            keys = ("lean", "leg_b", "ua_l", "ua_r", "fb_l", "fb_r", "th_l", "th_r")
            total += sum(np.abs(np.diff(p[k][6:])).mean() for k in keys)
        return total

    assert change(2.0) > 1.3 * change(0.7)


# ------------------------------------------------------------------ told apart by their poses
def signature(p: dict) -> np.ndarray:
    """Per action: range of lean, top lift, turning, travel, leg spread, the two thighs' and
    upper arms' ranges (sorted: side does not matter), highest arm, widest arm, forearm swing."""
    def pair(k: str) -> list[float]:
        return sorted([np.ptp(p[f"{k}_l"]), np.ptp(p[f"{k}_r"])])

    return np.array([np.ptp(p["lean"]), p["lift"].max() / H,
                     np.abs(np.diff(p["psi"])).mean(), np.abs(np.diff(p["x"])).mean() / H,
                     np.ptp(p["leg_b"]), *pair("th"), *pair("ua"),
                     max(p["ua_l"].max(), p["ua_r"].max()),
                     max(p["ub_l"].max(), p["ub_r"].max()), *pair("fb")])  # fmt: skip


def test_the_twelve_actions_are_told_apart_by_a_pose_signature() -> None:
    """Nearest class mean of a 13-number pose signature, leave one out, over the benchmark's six
    and the six new ones from varied starts and lengths: every new action is recognised, and
    no benchmark action is taken for a new one (nor the reverse)."""
    motions = MOTIONS + PRETRAIN_MOTIONS
    x, y = [], []
    for c in range(12):
        for seed in range(10):
            rng = np.random.default_rng([seed, 99])
            n = int(rng.integers(24, 72))
            psi = float(rng.choice([0, np.pi, np.pi / 2, -np.pi / 2]) + rng.normal(0, 0.3))
            x.append(signature(perform(c, seed, n=n, psi=psi, motions=motions)[0]))
            y.append(c)
    xs, ys = np.array(x), np.array(y)
    z = (xs - xs.mean(0)) / xs.std(0)
    confusion = np.zeros((12, 12), int)
    for i in range(len(z)):
        rest = np.arange(len(z)) != i
        means = np.array([z[rest & (ys == c)].mean(0) for c in range(12)])
        confusion[ys[i], int(np.argmin(((means - z[i]) ** 2).sum(1)))] += 1
    new = slice(6, 12)
    assert np.array_equal(np.diag(confusion)[new], [10] * 6), confusion
    assert confusion[:6, new].sum() == 0 and confusion[new, :6].sum() == 0, confusion
