"""Checkpoints: saved atomically, loaded with ``torch.load(weights_only=True)``.

A checkpoint holds only tensors and plain containers (no pickled classes), so loading one
cannot run code: the model's config is a dict and is rebuilt into :class:`ModelConfig`.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch

from halgui.core.al.model import ActorLocalizer, ModelConfig
from halgui.core.errors import FileProblem

FORMAT = "halgui-checkpoint"
VERSION = 1


class CheckpointError(FileProblem):
    """A checkpoint that cannot be read or was made for something else."""


@dataclass
class Checkpoint:
    model: ActorLocalizer
    classes: list[str]
    cluster: dict[str, torch.Tensor] | None
    info: dict[str, Any]


def save(path: str | Path, model: ActorLocalizer, classes: list[str],
         cluster: dict[str, torch.Tensor] | None = None,
         info: dict[str, Any] | None = None) -> Path:
    """Write a checkpoint next to ``path`` and rename it into place only once complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "model_config": model.config.to_dict(),
        "state_dict": state,
        "classes": list(classes),
        "cluster": None if cluster is None else {k: v.detach().cpu() for k, v in cluster.items()},
        "info": info or {},
    }
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load(path: str | Path, device: torch.device | str = "cpu") -> Checkpoint:
    path = Path(path)
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError as exc:
        raise CheckpointError(path, "no such checkpoint") from exc
    except Exception as exc:  # torch raises many types for a damaged or foreign file
        raise CheckpointError(path, f"cannot be loaded as a checkpoint ({exc})") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(path, "is not a halgui checkpoint")
    if payload.get("version", 0) > VERSION:
        raise CheckpointError(path, "was written by a newer halgui")
    known = {f.name for f in fields(ModelConfig)}
    config = ModelConfig(**{k: v for k, v in payload["model_config"].items() if k in known})
    model = ActorLocalizer(config)
    model.load_state_dict(payload["state_dict"])
    model.to(device)
    return Checkpoint(model, list(payload["classes"]), payload.get("cluster"),
                      dict(payload.get("info", {})))
