"""``halgui pretrain``: halgui's own trunk, trained once on videos no benchmark uses.

The corpus is SynthActions with the *pretrain* action set (six actions none of which is one of
the benchmark's six; :mod:`halgui.core.synthetic`) from seeds of its own, every frame labeled.
A model learns there what transfers to any project: where actors are, which of them are acting
in which frames (the class-agnostic actor map), where each acting actor's box is (the box head's
centres and edges), and motion features; its class-dependent layers are dropped when a project
starts from it (:mod:`halgui.core.al.pretrained`).

Training runs in chunks of ``chunk_minutes``, each warm-starting from the last, with the minutes
done kept in ``state.json`` in the work folder: an interrupted run (a crash, a closed laptop)
resumes where its last chunk ended when the same command is run again.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
from collections.abc import Generator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from halgui.core.errors import HalguiError
from halgui.core.progress import CancelFlag, Progress

__all__ = ["PretrainConfig", "PretrainResult", "pretrain"]


@dataclass(frozen=True)
class PretrainConfig:
    """What the shipped trunk is trained on and for how long."""

    videos: int = 300
    frames: int = 96
    seed: int = 9001            # benchmarks, tests and the demo use seeds below 1000
    size: int = 112             # clip side S the trunk is trained at
    minutes: float = 60.0       # training time in all
    chunk_minutes: float = 5.0  # a resumed run loses at most this much
    batch_size: int = 8
    lr: float = 1e-3
    width: int = 16


@dataclass(frozen=True)
class PretrainResult:
    path: Path
    minutes: float
    steps: int
    final_loss: float
    classes: list[str]


def _state(workdir: Path) -> dict[str, Any]:
    path = workdir / "state.json"
    return json.loads(path.read_text()) if path.exists() else {"minutes": 0.0, "steps": 0,
                                                               "chunks": 0}


def _save_state(workdir: Path, state: dict[str, Any]) -> None:
    tmp = workdir / "state.json.tmp"
    tmp.write_text(json.dumps(state, indent=2))
    os.replace(tmp, workdir / "state.json")


def pretrain(workdir: str | Path, out: str | Path, config: PretrainConfig = PretrainConfig(),
             cancel: CancelFlag | None = None) -> Generator[Progress, None, PretrainResult]:
    """Generate (once) the pretraining corpus in ``workdir``, train on it for
    ``config.minutes`` in all (resuming what ``workdir`` already holds), and write the model
    to ``out`` as a halgui checkpoint whose ``info`` says how it was made."""
    from halgui.core.al import checkpoint
    from halgui.core.al.data import ClipConfig
    from halgui.core.al.dataset import class_names, training_set
    from halgui.core.al.stew import StewConfig
    from halgui.core.al.train import TrainConfig, train
    from halgui.core.formats import halgui_json
    from halgui.core.project import DB_NAME, Project
    from halgui.core.synthetic import SynthConfig, generate

    workdir, out = Path(workdir), Path(out)
    saved = workdir / "config.json"
    if workdir.is_dir() and any(workdir.iterdir()) and not saved.exists():
        raise HalguiError(f"{workdir}: holds files that halgui pretrain did not write; choose "
                          "a new or empty --workdir (nothing was changed)")
    workdir.mkdir(parents=True, exist_ok=True)
    if saved.exists() and json.loads(saved.read_text()) != asdict(config) | {"minutes": None}:
        raise HalguiError(f"{workdir}: holds a pretraining run with other settings "
                          f"({saved.name}); use another folder")
    saved.write_text(json.dumps(asdict(config) | {"minutes": None}, indent=2))
    synth = SynthConfig(n_videos=config.videos, n_frames=config.frames, seed=config.seed,
                        splits=(1.0, 0.0, 0.0), action_set="pretrain")
    data = workdir / "data"
    if not (data / "ground_truth.json").exists():
        yield from generate(data, synth, cancel)
    folder = workdir / "project"
    if not (folder / DB_NAME).exists():
        shutil.rmtree(folder, ignore_errors=True)  # a half-made project of this run only
        with Project.create(folder) as project:
            yield from halgui_json.import_labels(project, data / "ground_truth.json", cancel)
    clip = ClipConfig(size=config.size)
    stew = StewConfig()
    with Project.open(folder) as project:
        snapshot = project.snapshot()
        videos = yield from training_set(project, snapshot, clip, stew, cancel=cancel)
    names = class_names(snapshot)
    state = _state(workdir)
    last = workdir / "last.pt"
    while state["minutes"] < config.minutes - 1e-6:
        chunk = min(config.chunk_minutes, config.minutes - state["minutes"])
        train_config = TrainConfig(epochs=None, minutes=chunk, batch_size=config.batch_size,
                                   lr=config.lr, width=config.width, clip=clip, stew=stew,
                                   seed=config.seed + state["chunks"], device="auto")
        work = train(videos, names, train_config, workdir / "chunk.pt",
                     init=last if last.exists() else None, cancel=cancel)
        while True:
            try:
                event = next(work)
            except StopIteration as stop:
                result = stop.value
                break
            yield Progress("pretraining", round(state["minutes"] * 60 + event.done * chunk
                                                * 60 / max(event.total, 1)),
                           round(config.minutes * 60), event.message, event.extra)
        os.replace(workdir / "chunk.pt", last)
        state = {"minutes": state["minutes"] + result.seconds / 60, "steps":
                 state["steps"] + result.steps, "chunks": state["chunks"] + 1}
        _save_state(workdir, state)
    trained = checkpoint.load(last)  # the last chunk's own record holds its final loss
    model = trained.model
    loss = float(trained.info.get("final_loss", float("nan")))
    info = {
        "pretrain": asdict(config), "classes_seen": names, "action_set": "pretrain",
        "data": f"SynthActions, {config.videos} videos x {config.frames} frames, seed "
                f"{config.seed}, every frame labeled", "minutes": round(state["minutes"], 2),
        "steps": state["steps"], "final_loss": loss,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
        "made": time.strftime("%Y-%m-%d"),
        "command": (f"halgui pretrain OUT --videos {config.videos} --frames {config.frames} "
                    f"--seed {config.seed} --size {config.size} --minutes {config.minutes:g}"),
    }
    path = checkpoint.save(out, model, names, None, info)
    return PretrainResult(path, state["minutes"], state["steps"], loss, names)
