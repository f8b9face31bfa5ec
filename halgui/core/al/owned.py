"""Folders the simulation made, and the only ones it removes or reuses.

``halgui simulate`` keeps its work under ``--out``: generated data, a base project, one folder
per seed. A re-run removes the seed folders and reuses the base project, so a folder of that
name that the user made (or one built from another ground truth) must never be taken for it.
Each folder the simulation makes gets a marker file, written first, naming what it was made
from (a key: a hash of the ground truth, or of the data's config) and whether it was finished:

- a folder with the marker is the simulation's: it may be removed, and reused when its key
  matches and it was finished;
- a folder without it is the user's: it is refused with one line, never removed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from halgui.core.errors import FileProblem

MARKER = ".halgui-simulate"  # JSON: {"written_by", "key", "finished"}
_WRITTEN_BY = "halgui simulate"


class NotOurs(FileProblem):
    """A folder the simulation would remove or reuse was not made by it; nothing was changed."""


def key_of(*parts: Any) -> str:
    """A key for what a folder is made from: files (by path and content) and JSON values."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            digest.update(str(part.resolve()).encode())
            digest.update(part.read_bytes())
        else:
            digest.update(json.dumps(part, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def marker(folder: Path) -> dict[str, Any] | None:
    """The folder's marker, or None when the simulation did not make it."""
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("written_by") == _WRITTEN_BY else None


def check(folder: Path) -> None:
    """Refuse a ``folder`` that exists and that the simulation did not make."""
    if folder.is_symlink() or (folder.exists() and marker(folder) is None):
        raise NotOurs(folder, "exists and was not made by halgui simulate; it is left as it "
                              "is: move it away or choose a new --out")


def fresh(folder: Path, key: str = "") -> None:
    """Make ``folder`` new and empty but for its marker (unfinished): one the simulation made
    before is removed first; one it did not make is refused (:func:`check`)."""
    check(folder)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    _write(folder, key, finished=False)


def reuse(folder: Path, key: str) -> bool:
    """Whether ``folder`` is the simulation's, finished, and made from ``key``; otherwise it
    is made :func:`fresh` (to be filled, then marked :func:`finished`) and False returned."""
    if is_finished(folder, key):
        return True
    fresh(folder, key)
    return False


def is_finished(folder: Path, key: str) -> bool:
    """Whether ``folder`` is the simulation's, made from ``key`` and finished."""
    found = marker(folder)
    return found is not None and found.get("key") == key and found.get("finished") is True


def mark(folder: Path, key: str) -> None:
    """Mark a folder the simulation has just made (and not finished) as its own."""
    _write(folder, key, finished=False)


def finished(folder: Path, key: str) -> None:
    """Mark ``folder`` complete: from now on :func:`reuse` may take it for ``key``."""
    _write(folder, key, finished=True)


def claim(out: Path) -> None:
    """Take ``out`` as the simulation's output folder: a new or empty folder is marked; one a
    previous run marked is taken as it is; one holding anything else is refused."""
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise NotOurs(out, "is a file: --out needs a folder")
        if marker(out) is not None:
            return
        if any(out.iterdir()):
            raise NotOurs(out, "holds files that halgui simulate did not write; they are left "
                               "as they are: choose a new or empty --out")
    out.mkdir(parents=True, exist_ok=True)
    _write(out, "", finished=True)


def _write(folder: Path, key: str, *, finished: bool) -> None:
    path = folder / MARKER
    part = path.with_name(MARKER + ".part")
    part.write_text(json.dumps({"written_by": _WRITTEN_BY, "key": key, "finished": finished}),
                    encoding="utf-8")
    part.replace(path)
