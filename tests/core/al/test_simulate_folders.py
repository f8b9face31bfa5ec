"""The simulation removes and reuses only folders it made: a user's folder named like one of
its own is refused untouched, and a base project built from another ground truth is rebuilt."""

import json
import shutil
from pathlib import Path

import pytest

from halgui.core.al import owned
from halgui.core.al import simulate as sim
from halgui.core.al.ablation import loss_ablation
from halgui.core.al.simulate import SimulateConfig, simulate
from halgui.core.errors import HalguiError
from halgui.core.project import DB_NAME, Project
from tests.core.videos import write_mp4


def ground_truth(folder: Path, classes: list[str], splits: list[str | None]) -> Path:
    """A halgui file of len(splits) real 8-frame videos (None: no "split" field)."""
    folder.mkdir(parents=True, exist_ok=True)
    videos = []
    for i, split in enumerate(splits):
        write_mp4(folder / f"v{i}.mp4", n_frames=8, seed=i)
        video = {"name": f"v{i}", "path": f"v{i}.mp4", "width": 64, "height": 48,
                 "n_frames": 8, "fps": 25.0, "labeled_frames": [[0, 7]], "tracks": [
                     {"actor": 1, "class": classes[0], "keyframes": [
                         {"frame": 0, "box": [1, 1, 20, 20]},
                         {"frame": 7, "box": [5, 5, 25, 25]}]}]}
        if split is not None:
            video["split"] = split
        videos.append(video)
    path = folder / "gt.json"
    path.write_text(json.dumps({"format": "halgui", "version": 1,
                                "classes": [{"name": c} for c in classes], "videos": videos}))
    return path


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_users_folder_named_like_a_seed_folder_is_refused_untouched(tmp_path):
    gt = ground_truth(tmp_path / "data", ["walk"], ["train", "test"])
    mine = tmp_path / "runs" / "seed1" / "start"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("mine")
    run = simulate(tmp_path / "runs", gt, SimulateConfig(strategies=("random",), seeds=(0, 1)))
    with pytest.raises(owned.NotOurs, match=r"seed1.*not made by halgui simulate"):
        next(run)  # refused before any work, not when seed 1 comes
    assert files(tmp_path / "runs") == {"seed1/start/notes.txt": b"mine"}


def test_the_ablation_refuses_a_users_folder_too(tmp_path):
    gt = ground_truth(tmp_path / "data", ["walk"], ["train", "test"])
    mine = tmp_path / "work" / "uniform-0.1"
    mine.mkdir(parents=True)
    (mine / "model.pt").write_bytes(b"weights")
    with pytest.raises(owned.NotOurs, match=r"uniform-0\.1"):
        next(loss_ablation(tmp_path / "work", gt, fraction=0.1))
    assert files(tmp_path / "work") == {"uniform-0.1/model.pt": b"weights"}


def classes_of_base(workdir: Path, gt: Path) -> list[str]:
    """Run the simulation until its first seed starts from the base project; the base's classes."""
    shutil.rmtree(workdir / "seed0", ignore_errors=True)  # so seed0/start is this run's
    run = simulate(workdir, gt, SimulateConfig(strategies=("random",), seeds=(0,)))
    for _ in run:
        if (workdir / "seed0" / "start" / DB_NAME).exists():
            break
    run.close()
    with Project.open(workdir / "base") as project:
        return [c.name for c in project.classes()]


def test_a_base_project_of_another_ground_truth_is_rebuilt_one_of_this_one_reused(tmp_path):
    first = ground_truth(tmp_path / "a", ["walk"], ["train", "test"])
    second = ground_truth(tmp_path / "b", ["jump"], ["train", "test"])
    runs = tmp_path / "runs"
    assert classes_of_base(runs, first) == ["walk"]
    assert classes_of_base(runs, second) == ["jump"]  # not the base built from `first`
    (runs / "base" / "seen.txt").write_text("")
    assert classes_of_base(runs, second) == ["jump"]
    assert (runs / "base" / "seen.txt").exists()  # the same folder: reused, not rebuilt


def test_an_unfinished_base_or_another_key_is_not_reused(tmp_path):
    folder = tmp_path / "base"
    assert owned.reuse(folder, "a") is False  # made, marked unfinished
    (folder / "half.txt").write_text("a run stopped here")
    assert owned.reuse(folder, "a") is False and not (folder / "half.txt").exists()
    owned.finished(folder, "a")
    (folder / "done.txt").write_text("built")
    assert owned.reuse(folder, "a") is True and (folder / "done.txt").exists()
    assert owned.reuse(folder, "b") is False and not (folder / "done.txt").exists()


def test_a_video_without_split_is_train(tmp_path):
    gt = ground_truth(tmp_path / "data", ["walk"], [None, "test", None])
    _, videos = sim.read_ground_truth(gt)
    assert [v.split for v in videos] == ["train", "test", "train"]
    document = json.loads(gt.read_text())
    assert [v["name"] for v in sim.held_out_truth(gt, document)["videos"]] == ["v1"]
    no_test = ground_truth(tmp_path / "other", ["walk"], [None, None])
    for check in (lambda: sim.read_ground_truth(no_test),
                  lambda: sim.held_out_truth(no_test, json.loads(no_test.read_text()))):
        with pytest.raises(HalguiError, match="no test videos"):
            check()
