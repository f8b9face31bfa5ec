"""SynthActions: determinism, the ground-truth schema, boxes, untrimmed actions, difficulty."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from halgui.core.errors import Cancelled, VideoError
from halgui.core.progress import CancelFlag, run_to_end
from halgui.core.synthetic import (
    CLASSES,
    SynthConfig,
    generate,
    interpolation_recall,
    make_specs,
    render_video,
    write_mp4,
)
from halgui.core.synthetic_render import render

SMALL = SynthConfig(n_videos=6, n_frames=48)
MODEST = SynthConfig(n_videos=24, n_frames=48, seed=7)


def check_schema(doc: dict, root: Path | None = None) -> None:
    """Fail with a precise message unless ``doc`` is a valid halgui ground-truth document."""
    assert doc["format"] == "halgui" and doc["version"] == 1
    assert set(doc) == {"format", "version", "classes", "videos", "meta"}
    names = [c["name"] for c in doc["classes"]]
    assert len(set(names)) == len(names) and names
    for c in doc["classes"]:
        assert set(c) == {"name", "color"}
        assert len(c["color"]) == 7 and c["color"][0] == "#" and int(c["color"][1:], 16) >= 0
    assert doc["meta"]["generator"] == "SynthActions"
    config = SynthConfig.from_dict(doc["meta"]["config"])  # known fields, valid values
    as_json = json.loads(json.dumps(doc["meta"]["config"]))
    assert as_json == json.loads(json.dumps(config.to_dict())), "fields missing"
    seen = set()
    for v in doc["videos"]:
        keys = {"name", "path", "width", "height", "fps", "n_frames", "split", "labeled_frames",
                "tracks", "meta"}  # fmt: skip
        assert set(v) == keys, v.keys()
        assert v["name"] not in seen
        seen.add(v["name"])
        assert v["path"] == f"videos/{v['name']}.mp4"
        if root is not None:
            assert (root / v["path"]).is_file()
        w, h, n = v["width"], v["height"], v["n_frames"]
        assert isinstance(w, int) and isinstance(h, int) and isinstance(n, int)
        assert isinstance(v["fps"], float) and v["fps"] > 0
        assert v["split"] in ("train", "val", "test")
        assert v["labeled_frames"] == [[0, n - 1]]
        assert set(v["meta"]) == {"scene", "seed"} and isinstance(v["meta"]["seed"], int)
        for tr in v["tracks"]:
            assert set(tr) == {"actor", "class", "keyframes"}
            assert isinstance(tr["actor"], int) and tr["actor"] >= 1
            assert tr["class"] in names
            frames = [k["frame"] for k in tr["keyframes"]]
            assert frames == list(range(frames[0], frames[0] + len(frames))), "not contiguous"
            assert frames[0] >= 0 and frames[-1] < n
            for k in tr["keyframes"]:
                assert set(k) == {"frame", "box"}
                x1, y1, x2, y2 = k["box"]
                assert all(isinstance(c, float) and round(c, 2) == c for c in k["box"])
                assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h, k
        # one actor is in at most one track per frame
        spans = sorted((tr["actor"], k["frame"]) for tr in v["tracks"] for k in tr["keyframes"])
        assert len(spans) == len(set(spans))


def decode(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), path
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("small")
    path = run_to_end(generate(out, SMALL, workers=1))
    assert path == out / "ground_truth.json"
    return out, json.loads(path.read_text())


@pytest.fixture(scope="module")
def modest() -> dict:
    """24 videos rendered in memory (no files), as a ground-truth document."""
    videos = []
    for spec in make_specs(MODEST):
        _, tracks = render_video(spec, MODEST)
        videos.append({"name": spec.name, "n_frames": MODEST.n_frames, "tracks": tracks,
                       "scene": spec.scene})  # fmt: skip
    return {"videos": videos}


def test_written_dataset_matches_schema(small: tuple[Path, dict]) -> None:
    out, doc = small
    check_schema(doc, out)
    assert [c["name"] for c in doc["classes"]] == list(CLASSES)
    assert len(doc["videos"]) == SMALL.n_videos
    assert SynthConfig.from_dict(doc["meta"]["config"]) == SMALL
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]


def test_videos_decode_to_every_frame(small: tuple[Path, dict]) -> None:
    out, doc = small
    for v in doc["videos"]:
        frames = decode(out / v["path"])
        assert len(frames) == SMALL.n_frames
        assert frames[0].shape == (SMALL.height, SMALL.width, 3)


def test_same_seed_same_dataset_whatever_the_workers(small: tuple[Path, dict],
                                                     tmp_path: Path) -> None:  # fmt: skip
    out, doc = small
    again = run_to_end(generate(tmp_path, SMALL, workers=2))
    assert again.read_text() == (out / "ground_truth.json").read_text()
    for v in doc["videos"]:
        a, b = decode(out / v["path"]), decode(tmp_path / v["path"])
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[-1], b[-1])


def test_other_seed_other_dataset(small: tuple[Path, dict], tmp_path: Path) -> None:
    out, doc = small
    other = SynthConfig(n_videos=6, n_frames=48, seed=1)
    path = run_to_end(generate(tmp_path, other, workers=1))
    doc2 = json.loads(path.read_text())
    assert doc2["videos"] != doc["videos"]
    first = doc["videos"][0]["path"]
    assert not np.array_equal(decode(out / first)[0], decode(tmp_path / first)[0])


def test_in_memory_render_is_deterministic() -> None:
    spec = make_specs(SMALL)[3]
    f1, t1 = render_video(spec, SMALL)
    f2, t2 = render_video(spec, SMALL)
    assert f1.shape == (48, 120, 160, 3) and f1.dtype == np.uint8
    assert np.array_equal(f1, f2) and t1 == t2


def test_boxes_are_tight_around_the_actor() -> None:
    cfg = SynthConfig(n_videos=8, n_frames=48, seed=3)
    checked = exact = idle_visible = 0
    for spec in make_specs(cfg):
        r = render(spec, cfg, debug=True)
        assert r.visible is not None
        for tr in r.tracks:
            for k in tr["keyframes"]:
                f, (x1, y1, x2, y2) = k["frame"], map(int, k["box"])
                ys, xs = np.nonzero(r.visible[f] == tr["actor"])
                checked += 1
                if len(xs) == 0:
                    continue  # fully hidden behind an occluder: box stays where the actor is
                # every visible pixel of the actor lies inside its box...
                assert x1 <= xs.min() and xs.max() < x2 and y1 <= ys.min() and ys.max() < y2
                # ...and, unless something covers part of it, the box is the tight one
                exact += (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (x1, y1, x2, y2)
        tracked = {(tr["actor"], k["frame"]) for tr in r.tracks for k in tr["keyframes"]}
        for plan in r.plans:
            for f in range(cfg.n_frames):
                if (plan.actor, f) not in tracked and (r.visible[f] == plan.actor).any():
                    idle_visible += 1
    assert checked > 200
    assert exact / checked > 0.8
    assert idle_visible > 50, "actors must be visible (and unboxed) outside their actions"


def test_box_pixels_differ_from_their_surroundings() -> None:
    cfg = SynthConfig(n_videos=4, n_frames=48, seed=5)
    inside = []
    for spec in make_specs(cfg):
        r = render(spec, cfg, debug=True)
        assert r.visible is not None
        for tr in r.tracks:
            for k in tr["keyframes"][::4]:
                f = k["frame"]
                mask = r.visible[f] == tr["actor"]
                if mask.sum() < 30:
                    continue
                frame = r.frames[f].astype(float)
                near = cv2.dilate(mask.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
                border = near & (r.visible[f] == 0)
                inside.append(np.abs(frame[mask].mean(0) - frame[border].mean(0)).sum())
    assert len(inside) > 20
    assert np.median(inside) > 30


def test_every_class_occurs(modest: dict) -> None:
    found = {tr["class"] for v in modest["videos"] for tr in v["tracks"]}
    assert found == set(CLASSES)
    assert len(CLASSES) >= 5


def test_actions_are_untrimmed(modest: dict) -> None:
    n = MODEST.n_frames
    partial = with_gap = 0
    for v in modest["videos"]:
        covered = {k["frame"] for tr in v["tracks"] for k in tr["keyframes"]}
        with_gap += len(covered) < n
        partial += all(len(tr["keyframes"]) < n for tr in v["tracks"])
    assert partial / len(modest["videos"]) > 0.8
    assert with_gap / len(modest["videos"]) > 0.5


def test_some_videos_hold_several_actors(modest: dict) -> None:
    counts = [len({tr["actor"] for tr in v["tracks"]}) for v in modest["videos"]]
    assert max(counts) >= 2 and min(counts) <= 1


def test_scene_frequencies_are_unequal() -> None:
    specs = make_specs(SynthConfig(n_videos=400))
    counts = {name: 0 for name, _ in SynthConfig().scene_weights}
    for s in specs:
        counts[s.scene] += 1
    assert min(counts.values()) > 0
    assert min(counts.values()) * 4 < max(counts.values())
    only = make_specs(SynthConfig(n_videos=10, scene_weights=(("snow", 1.0),)))
    assert {s.scene for s in only} == {"snow"}


def test_splits_are_seeded_and_proportional() -> None:
    specs = make_specs(SynthConfig())
    splits = [s.split for s in specs]
    assert (splits.count("train"), splits.count("val"), splits.count("test")) == (140, 20, 40)
    assert splits == [s.split for s in make_specs(SynthConfig())]
    assert splits != [s.split for s in make_specs(SynthConfig(seed=1))]
    assert len({s.seed for s in specs}) == len(specs)


def test_linear_interpolation_misses_some_boxes(modest: dict) -> None:
    r16 = interpolation_recall(modest, every=16)
    r8 = interpolation_recall(modest, every=8)
    assert 0.5 < r16 < 0.99
    assert r16 <= r8 < 1.0
    assert interpolation_recall(modest, every=1) == 1.0


boxes = st.tuples(
    st.floats(0, 100), st.floats(0, 100), st.floats(1, 50), st.floats(1, 50)
).map(lambda b: [round(b[0], 2), round(b[1], 2), round(b[0] + b[2], 2), round(b[1] + b[3], 2)])


@st.composite
def documents(draw: st.DrawFn) -> dict:
    tracks = []
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, 50))
        bxs = draw(st.lists(boxes, min_size=1, max_size=40))
        tracks.append({"keyframes": [{"frame": start + i, "box": b} for i, b in enumerate(bxs)]})
    return {"videos": [{"tracks": tracks}]}


@settings(max_examples=60, deadline=None)
@given(documents(), st.integers(1, 20))
def test_interpolation_recall_properties(doc: dict, every: int) -> None:
    assert interpolation_recall(doc, every=1) == 1.0
    assert 0.0 <= interpolation_recall(doc, every=every) <= 1.0


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 60), st.integers(1, 30), st.floats(-3, 3), st.floats(-3, 3),
       st.floats(-0.2, 0.2))  # fmt: skip
def test_linear_motion_is_fully_recovered(n: int, every: int, vx: float, vy: float,
                                          grow: float) -> None:  # fmt: skip
    kfs = [{"frame": f, "box": [100 + vx * f, 80 + vy * f, 130 + vx * f + grow * f,
                                140 + vy * f + grow * f]} for f in range(n)]  # fmt: skip
    assert interpolation_recall({"videos": [{"tracks": [{"keyframes": kfs}]}]}, every) == 1.0


def test_interpolation_recall_rejects_bad_step() -> None:
    with pytest.raises(ValueError):
        interpolation_recall({"videos": []}, every=0)
    assert interpolation_recall({"videos": []}, every=4) == 1.0


def test_cancel_leaves_no_ground_truth(tmp_path: Path) -> None:
    flag = CancelFlag()
    work = generate(tmp_path, SMALL, flag, workers=1)
    seen = []
    with pytest.raises(Cancelled):
        for p in work:
            seen.append(p)
            if p.done == 2:
                flag.cancel()
    assert seen[-1].done == 2 and seen[-1].total == SMALL.n_videos
    assert list(tmp_path.iterdir()) == []


def test_abandoned_generator_cleans_up(tmp_path: Path) -> None:
    work = generate(tmp_path, SMALL, workers=1)
    next(work)
    next(work)
    work.close()
    assert list(tmp_path.iterdir()) == []


def test_unwritable_video_is_a_video_error(tmp_path: Path) -> None:
    frames = np.zeros((2, 32, 32, 3), np.uint8)
    with pytest.raises(VideoError):
        write_mp4(tmp_path / "missing" / "x.mp4", frames, 25.0)


def test_bad_configs_are_refused() -> None:
    for bad in ({"n_videos": 0}, {"n_frames": 5}, {"width": 31}, {"splits": (0.5, 0.2, 0.2)},
                {"scene_weights": (("mars", 1.0),)}, {"turn_prob": 1.5}, {"noise_std": -1},
                {"action_fraction": (0.8, 0.2)}, {"seed": -1}):  # fmt: skip
        with pytest.raises(ValueError):
            SynthConfig(**bad)
    cfg = SynthConfig(noise_std=2.0, scene_weights=(("night", 1.0), ("snow", 2.0)))
    assert SynthConfig.from_dict(json.loads(json.dumps(asdict(cfg)))) == cfg
    with pytest.raises(ValueError):
        SynthConfig.from_dict({"colour": "red"})


def test_default_size_video_renders() -> None:
    """One video at the default size (no timing): frames, and boxes inside the frame."""
    cfg = SynthConfig()
    frames, tracks = render_video(make_specs(cfg)[0], cfg)
    assert frames.shape == (96, 120, 160, 3)
    check_schema({"format": "halgui", "version": 1, "classes": [{"name": c, "color": "#000000"}
                  for c in CLASSES], "videos": [{"name": "v", "path": "videos/v.mp4",
                  "width": 160, "height": 120, "fps": 25.0, "n_frames": 96, "split": "train",
                  "labeled_frames": [[0, 95]], "tracks": tracks,
                  "meta": {"scene": "grass", "seed": 1}}],
                  "meta": {"generator": "SynthActions", "config": cfg.to_dict()}})  # fmt: skip
