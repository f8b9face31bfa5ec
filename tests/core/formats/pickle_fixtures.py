"""Shared helpers for the AVA, UCF101-24 and ACT format tests: a small project to export, the
comparisons of a round trip, and hypothesis mutations of files."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from halgui.core.annotations import Box, Keyframe, track_boxes
from halgui.core.errors import FormatError
from halgui.core.progress import run_to_end
from halgui.core.project import LabelSnapshot, Project

CLASSES = ("walk", "run", "wave", "idle")  # idle: a class no track uses


def make_project(folder: Path, *, fully_labeled: bool = True) -> Project:
    """Three videos. Keyframes sit on the 1 Hz keyframe frames (AVA keeps only those).

    clip_a 160x120 25 fps 125 frames (train): actor 1 walks (keyframes 0, 25, 50, gone at 75,
    back at 100) and also runs at 25 and 50 with the same boxes (two actions, one person);
    actor 2 waves on 0 and 25 (human and model-accepted keyframes).
    Class/clip_b 320x240 30 fps 90 frames (test): actor 3 walks at 0, 30, 60.
    clip_c 64x48 10 fps 40 frames (val): no one (a negative video).
    With ``fully_labeled=False`` clip_a's frames 81.. are not labeled.
    """
    p = Project.create(folder)
    ids = {name: p.add_class(name) for name in CLASSES}
    a = p.add_video("clip_a", path=None, width=160, height=120, fps=25.0, n_frames=125)
    b = p.add_video("Class/clip_b", path=None, width=320, height=240, fps=30.0, n_frames=90,
                    split="test")
    c = p.add_video("clip_c", path=None, width=64, height=48, fps=10.0, n_frames=40,
                    split="val")
    walk = p.add_track(a, ids["walk"], 1)
    p.set_keyframes(walk, [
        Keyframe(0, Box(10.5, 20.25, 50.0, 100.0), source="human"),
        Keyframe(25, Box(20.0, 22.0, 60.0, 101.5), source="human"),
        Keyframe(50, Box(30.0, 24.0, 70.0, 103.0), source="imported"),
        Keyframe(75, Box(30.0, 24.0, 70.0, 103.0), outside=True, source="human"),
        Keyframe(100, Box(100.0, 30.0, 159.0, 119.0), source="human"),
    ])
    run = p.add_track(a, ids["run"], 1)
    p.set_keyframes(run, [
        Keyframe(25, Box(20.0, 22.0, 60.0, 101.5), source="human"),
        Keyframe(50, Box(30.0, 24.0, 70.0, 103.0), source="human"),
    ])
    wave = p.add_track(a, ids["wave"], 2)
    p.set_keyframes(wave, [
        Keyframe(0, Box(0.0, 0.0, 16.0, 12.0), source="human"),
        Keyframe(25, Box(4.0, 2.0, 20.0, 14.0), source="model-accepted"),
    ])
    walk_b = p.add_track(b, ids["walk"], 3)
    p.set_keyframes(walk_b, [
        Keyframe(0, Box(33.3, 44.4, 155.5, 230.1), source="human"),
        Keyframe(30, Box(40.0, 50.0, 160.0, 239.0), source="human"),
        Keyframe(60, Box(41.0, 51.0, 161.0, 240.0), source="human"),
    ])
    p.set_labeled(a, range(125 if fully_labeled else 81))
    p.set_labeled(b, range(90))
    p.set_labeled(c, range(40))
    return p


def import_into(module, path: Path, folder: Path) -> tuple[Project, LabelSnapshot]:
    project = Project.create(folder)
    run_to_end(module.import_labels(project, path))
    return project, project.snapshot()


def tracks_by_key(snapshot: LabelSnapshot) -> dict[tuple[str, int, str], list]:
    """``(video name, actor, class name) -> [track, ...]``."""
    names = {c.id: c.name for c in snapshot.classes}
    out: dict[tuple[str, int, str], list] = {}
    for video in snapshot.videos:
        for track in snapshot.tracks.get(video.id, ()):
            out.setdefault((video.name, track.actor, names[track.class_id]), []).append(track)
    return out


def per_frame_boxes(snapshot: LabelSnapshot) -> dict[tuple[str, int, str], dict]:
    """Every track's box on every frame it covers (what a tube format keeps)."""
    n = {v.name: v.n_frames for v in snapshot.videos}
    out = {}
    for key, tracks in tracks_by_key(snapshot).items():
        assert len(tracks) == 1, key
        out[key] = track_boxes(tracks[0].keyframes, n[key[0]])
    return out


def assert_boxes_close(a: dict, b: dict, tol: float) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].keys() == b[key].keys(), key
        for f in a[key]:
            assert max(abs(x - y) for x, y in zip(a[key][f], b[key][f], strict=True)) <= tol, \
                (key, f, a[key][f], b[key][f])


# ---------------------------------------------------------------------- fuzzing
def mutations(data: bytes) -> st.SearchStrategy[bytes]:
    """Corrupted versions of ``data``: bytes replaced, cut off, inserted or deleted."""
    n = len(data)

    def replace(edits: list[tuple[int, int]]) -> bytes:
        out = bytearray(data)
        for i, v in edits:
            out[i % n] = v
        return bytes(out)

    byte = st.integers(0, 255)
    return st.one_of(
        st.lists(st.tuples(st.integers(0, n - 1), byte), min_size=1, max_size=8).map(replace),
        st.integers(0, n - 1).map(lambda i: data[:i]),
        st.tuples(st.integers(0, n), st.binary(min_size=1, max_size=8)).map(
            lambda t: data[:t[0]] + t[1] + data[t[0]:]),
        st.tuples(st.integers(0, n - 1), st.integers(1, 16)).map(
            lambda t: data[:t[0]] + data[t[0] + t[1]:]),
    )


def check_import_or_format_error(module, import_path: Path,
                                 allowed_paths: Callable[[Path], bool]) -> None:
    """Import into a new project: it succeeds, or raises a FormatError naming a file that
    ``allowed_paths`` accepts and leaves the project empty (never half an import)."""
    with tempfile.TemporaryDirectory() as tmp:
        project = Project.create(Path(tmp) / "p")
        try:
            run_to_end(module.import_labels(project, import_path))
        except FormatError as exc:
            assert allowed_paths(exc.path), exc
            assert str(exc).startswith(str(exc.path))
            stats = project.stats()
            assert (stats["videos"], stats["tracks"], stats["keyframe_boxes"],
                    stats["labeled_frames"], stats["classes"]) == (0, 0, 0, 0, 0)
        finally:
            project.close()


def check_corruptions(module, file: Path, import_path: Path,
                      allowed_paths: Callable[[Path], bool], max_examples: int = 60) -> None:
    """Corrupt ``file`` in the ways :func:`mutations` draws and import ``import_path`` after
    each: see :func:`check_import_or_format_error`."""
    original = file.read_bytes()

    @settings(max_examples=max_examples, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(mutations(original))
    def check(data):
        file.write_bytes(data)
        check_import_or_format_error(module, import_path, allowed_paths)

    check()
