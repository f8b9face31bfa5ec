"""Checkpoints: saved atomically, loaded with ``torch.load(weights_only=True)``.

A checkpoint holds only tensors and plain containers (no pickled classes), so loading one
cannot run code: the model's config is a dict and is rebuilt into :class:`ModelConfig`. A file
given by a user may hold anything, so :func:`load` checks its structure, types and tensor shapes
and says what is wrong in one line of its own (never PyTorch's text, which suggests loading a
refused file unsafely).
"""

from __future__ import annotations

import os
import pickle
import pickletools
import tempfile
import warnings
import zipfile
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any, get_type_hints

import torch

from halgui.core.al.model import BACKBONES, ActorLocalizer, ModelConfig
from halgui.core.errors import FileProblem, HalguiError
from halgui.core.names import name_problem

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
    """Read a checkpoint, or raise :class:`CheckpointError`: one line naming the file and what
    is wrong with it.

    Nothing in the file is trusted: the structure, the config's types and every tensor's name
    and shape are checked before the real model is built. The shapes are compared against a
    model built on the ``meta`` device, so a config that asks for a huge network allocates
    nothing; the real model is only as large as the tensors the file holds.
    """
    path = Path(path)
    payload = _read(path, device)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(path, "is not a halgui checkpoint (it was made by something else)")
    version = payload.get("version")
    if type(version) is not int:
        raise CheckpointError(path, f"is not a halgui checkpoint (its version {version!r} "
                                    "is not a whole number)")
    if version > VERSION:
        raise CheckpointError(path, f"was written by a newer halgui (checkpoint version "
                                    f"{version}; this version reads up to {VERSION})")
    try:
        config = _config(payload.get("model_config"))
        classes = _classes(payload.get("classes"), config.n_classes)
        state = _state_dict(payload.get("state_dict"), config)
        cluster = payload.get("cluster")
        if cluster is not None:
            cluster = _tensor_dict("cluster", cluster)
        info = payload.get("info", {})
        if not isinstance(info, dict):
            raise _not("'info'", info, "a dictionary")
    except _Bad as bad:
        raise CheckpointError(path, f"is not a usable halgui checkpoint: {bad}") from None
    except HalguiError as missing:  # a Kinetics backbone without torchvision installed
        raise CheckpointError(path, f"has the backbone {config.backbone}: {missing}") from None
    model = ActorLocalizer(config)
    model.load_state_dict(state)
    model.to(device)
    return Checkpoint(model, classes, cluster, dict(info))


class _Bad(Exception):
    """One thing wrong inside a checkpoint that loaded; :func:`load` adds the file name."""


def _read(path: Path, device: torch.device | str) -> Any:
    """``torch.load(weights_only=True)`` with every failure said in one line of our own.

    PyTorch's messages are long, multi-line and, for a file holding Python objects, suggest
    loading it with ``weights_only=False``, which would run whatever code the file holds. That
    advice must never reach a user, so none of PyTorch's text is passed on.
    """
    if path.is_dir():
        raise CheckpointError(path, "is a folder, not a checkpoint file")
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except FileNotFoundError as exc:
        raise CheckpointError(path, "no such checkpoint") from exc
    except OSError as exc:
        raise CheckpointError(path, f"cannot be read ({exc.strerror or exc})") from exc
    if not head:
        raise CheckpointError(path, "is empty (0 bytes), not a halgui checkpoint")
    archive, pickle_ = head.startswith(_ZIP), head[:1] == _PICKLE
    if not (archive or pickle_):
        raise CheckpointError(path, "is not a halgui checkpoint (not a PyTorch file)")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols on stderr
            warnings.simplefilter("ignore")
            return torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError:
        if _pickle_is_whole(path, archive):
            raise CheckpointError(path, "is not a halgui checkpoint (it holds Python objects "
                                        "that are not loaded for safety)") from None
        raise CheckpointError(path, "is damaged or truncated (not a complete PyTorch "
                                    "file)") from None
    except OSError as exc:
        raise CheckpointError(path, f"cannot be read ({exc.strerror or exc})") from None
    except Exception:  # torch raises RuntimeError, EOFError, KeyError... for a damaged file
        what = "a complete PyTorch archive" if archive else "a PyTorch file"
        raise CheckpointError(path, f"is damaged or truncated (not {what})") from None


_ZIP = b"PK\x03\x04"  # torch.save's archive format
_PICKLE = b"\x80"      # a pickle (protocol 2 or later): torch's legacy format or plain pickle


def _pickle_is_whole(path: Path, archive: bool) -> bool:
    """Whether the file's pickle is complete and well formed (read, never run), which tells a
    file the safe loader refused for what it holds from one that is cut short."""
    try:
        if archive:
            with zipfile.ZipFile(path) as z:
                name = next(n for n in z.namelist() if n.endswith("/data.pkl"))
                data = z.read(name)
        else:
            data = path.read_bytes()
        for _ in pickletools.genops(data):
            pass
    except Exception:  # a bad zip, no data.pkl, a cut or garbled pickle stream
        return False
    return True


def _not(what: str, value: object, wanted: str) -> _Bad:
    """``what is missing`` or ``what is a list, not <wanted>``."""
    if value is None:
        return _Bad(f"{what} is missing")
    kind = type(value).__name__
    return _Bad(f"{what} is {'an' if kind[0] in 'aeiou' else 'a'} {kind}, not {wanted}")


#: what a checkpoint written before a key existed means by its absence (not the key's default)
_BEFORE_THE_KEY: dict[str, Any] = {"boxes": "components"}


def _config(raw: object) -> ModelConfig:
    """The model's config from its dict; unknown keys (from a later version) are ignored and
    absent ones take their defaults, but every present value must have its field's type."""
    if not isinstance(raw, dict):
        raise _not("'model_config'", raw, "a dictionary")
    hints = get_type_hints(ModelConfig)
    values: dict[str, Any] = {}
    for f in fields(ModelConfig):
        if f.name not in raw:
            if f.name in _BEFORE_THE_KEY:
                values[f.name] = _BEFORE_THE_KEY[f.name]
            elif f.default is MISSING:
                raise _Bad(f"'model_config' has no {f.name!r}")
            continue
        value, want = raw[f.name], hints[f.name]
        if want is int:
            ok = type(value) is int and value >= 1
        elif want is float:
            ok = type(value) in (int, float) and 0.0 <= value < 1.0
        else:
            ok = isinstance(value, str)
        if not ok:
            need = {int: "a whole number of at least 1", float: "a number in [0, 1)"}
            raise _Bad(f"model_config {f.name!r} is {value!r}; it must be "
                       f"{need.get(want, 'text')}")
        values[f.name] = value
    config = ModelConfig(**values)
    if config.backbone not in BACKBONES:
        raise _Bad(f"model_config backbone {config.backbone!r} is unknown "
                   f"(known: {', '.join(sorted(BACKBONES))})")
    return config


def _classes(raw: object, n_classes: int) -> list[str]:
    if not isinstance(raw, list):
        raise _not("'classes'", raw, "a list of class names")
    for i, name in enumerate(raw):
        problem = name_problem(name)
        if problem is not None:
            raise _Bad(f"classes[{i}]: {problem}")
    if len(set(raw)) != len(raw):
        raise _Bad("'classes' names a class twice")
    if len(raw) != n_classes:
        raise _Bad(f"it names {len(raw)} class(es) but its model has {n_classes}")
    return list(raw)


def _tensor_dict(name: str, raw: object) -> dict[str, torch.Tensor]:
    if not isinstance(raw, dict):
        raise _not(repr(name), raw, "a dictionary of tensors")
    for key, value in raw.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise _not(f"{name}[{key!r}]", value, "a tensor")
    return raw


def _state_dict(raw: object, config: ModelConfig) -> dict[str, torch.Tensor]:
    """The weights, checked name by name and shape by shape against the model the config
    describes (built on the meta device: no memory)."""
    state = _tensor_dict("state_dict", raw)
    with torch.device("meta"):
        expected = ActorLocalizer(config).state_dict()
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"lacks {len(missing)} tensor(s) of the model ({_few(missing)})")
        if extra:
            parts.append(f"has {len(extra)} tensor(s) the model does not ({_few(extra)})")
        raise _Bad(f"its weights do not fit its model_config: {'; '.join(parts)}")
    for key, want in expected.items():
        got = state[key]
        if got.shape != want.shape:
            raise _Bad(f"tensor {key!r} has shape {tuple(got.shape)} but the model needs "
                       f"{tuple(want.shape)}")
        if got.is_complex() or got.dtype.is_floating_point != want.dtype.is_floating_point:
            raise _Bad(f"tensor {key!r} holds {got.dtype} values, the model needs {want.dtype}")
        if got.dtype.is_floating_point and not bool(torch.isfinite(got).all()):
            raise _Bad(f"tensor {key!r} holds values that are not finite (NaN or infinity)")
    return state


def _few(names: list[str], shown: int = 3) -> str:
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")
