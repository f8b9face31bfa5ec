"""Where an export may write, and how it writes there: the one rule every format follows.

An export never deletes or replaces a file it does not write itself:

- ``OUT`` does not exist: the export is written under a temporary name beside it and renamed
  into place, so ``OUT`` appears whole or not at all (missing parent folders are created, and
  removed again if the export fails).
- ``OUT`` exists and is an empty folder (or, for a one-file format, does not exist): the export
  is written into it.
- ``OUT`` holds files (or the file exists): refused with :class:`ExportExists`, unless
  ``overwrite``; then each file the export writes replaces the one of the same name atomically
  (written in full under a temporary name in the same folder, flushed to disk, renamed over
  it), and nothing else in the folder is touched.
- ``OUT`` is a project folder or inside one, other than the project's ``exports/`` folder:
  refused, whatever ``overwrite`` says.

Every problem is one :class:`ExportError` naming the path (a file where a folder is needed, a
full disk, no permission), and a failed or cancelled export leaves no partial output.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Literal

from halgui.core.errors import FileProblem
from halgui.core.project import DB_NAME

#: What an export writes: one file (halgui JSON, ACT pickle) or a folder of files.
Kind = Literal["file", "folder"]

_STAGE = ".halgui-export-"  # temporary folders, beside OUT or inside an existing OUT
_EXPORTS = "exports"         # the one folder of a project that exports may write into


class ExportError(FileProblem):
    """An export cannot be written where asked; nothing was written."""


class ExportExists(ExportError):
    """``OUT`` already holds files (or is an existing file): ``overwrite`` would allow it."""


def check_export_target(out: str | Path, kind: Kind, overwrite: bool = False) -> Path:
    """The absolute ``OUT`` if an export of ``kind`` may write there; raise otherwise."""
    out = Path(out).expanduser().resolve()
    _check_not_in_project(out)
    if out.exists():
        if kind == "folder":
            if not out.is_dir():
                raise ExportError(out, "is a file, but this format writes a folder: choose a "
                                       "folder name")
            if not overwrite and any(out.iterdir()):
                raise ExportExists(out, "is not empty: choose a new or empty folder, or "
                                        "overwrite (--overwrite) to replace only the files "
                                        "this export writes; nothing else in it is touched")
        elif out.is_dir():
            raise ExportError(out, "is a folder, but this format writes one file: give a file "
                                   "name")
        elif not overwrite:
            raise ExportExists(out, "already exists: choose another name, or overwrite "
                                    "(--overwrite) to replace it")
        return out
    first = next(p for p in out.parents if p.exists())
    if not first.is_dir():
        raise ExportError(first, f"is a file, so {out} cannot be created in it")
    return out


def _check_not_in_project(out: Path) -> None:
    for folder in (out, *out.parents):
        if (folder / DB_NAME).is_file():
            exports = folder / _EXPORTS
            if out != exports and exports not in out.parents:
                where = "is the project folder" if out == folder else \
                    f"is inside the project folder {folder}"
                raise ExportError(out, f"{where}: export to a folder under {exports} or "
                                       "outside the project")


@contextmanager
def export_target(out: str | Path, kind: Kind, overwrite: bool = False) -> Iterator[Path]:
    """Check ``OUT`` (:func:`check_export_target`), then give the exporter an empty staging
    path to write to: a folder that exists (``kind="folder"``) or a file name (``"file"``).
    When the block ends without an error the staged output is put in place (module docstring);
    otherwise it is removed and ``OUT`` is as it was."""
    out = check_export_target(out, kind, overwrite)
    made = _make_parents(out)
    inside = kind == "folder" and out.is_dir()
    stage: Path | None = None
    try:
        stage = Path(tempfile.mkdtemp(prefix=_STAGE, suffix=".tmp",
                                      dir=out if inside else out.parent))
        target = stage if inside else stage / out.name
        if kind == "folder" and not inside:
            target.mkdir()
        yield target
        if kind == "file":
            _commit_file(target, out, overwrite)
        elif out.is_dir():  # existed (maybe since the check): move our files in one by one
            _commit_into(target, out, overwrite)
        else:
            _sync_tree(target)
            os.rename(target, out)
            _sync_dir(out.parent)
    except BaseException as exc:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)
        _remove(made)
        if isinstance(exc, OSError):
            raise ExportError(Path(exc.filename or out),
                              f"cannot be written ({exc.strerror or exc}); nothing was "
                              "exported") from exc
        raise
    shutil.rmtree(stage, ignore_errors=True)  # empty unless a format wrote nothing to move


def write_file_atomic(out: Path, data: bytes) -> None:
    """Write ``data`` to ``out`` through a temporary file beside it, flushed before it replaces
    ``out``: an existing ``out`` is replaced whole or not at all. For outputs meant to be
    replaced (predictions); exports go through :func:`export_target`."""
    out = out.expanduser().resolve()
    if out.is_dir():
        raise ExportError(out, "is a folder: give a file name")
    first = next(p for p in out.parents if p.exists())
    if not first.is_dir():
        raise ExportError(first, f"is a file, so {out} cannot be created in it")
    made = _make_parents(out)
    tmp: Path | None = None
    try:
        fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
        tmp = Path(name)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out)
        tmp = None
        _sync_dir(out.parent)
    except OSError as exc:
        _remove(made)
        raise ExportError(Path(exc.filename or out),
                          f"cannot be written ({exc.strerror or exc})") from exc
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------------- putting files in place
def _commit_file(staged: Path, out: Path, overwrite: bool) -> None:
    if not staged.is_file():
        raise ExportError(out, "the export wrote no file")  # a bug in a format, not the user's
    if out.is_dir():
        raise ExportError(out, "is a folder, but this format writes one file")
    if out.exists() and not overwrite:
        raise ExportExists(out, "was created while exporting: choose another name, or "
                                "overwrite (--overwrite) to replace it")
    _sync_file(staged)
    os.replace(staged, out)
    _sync_dir(out.parent)


def _commit_into(stage: Path, out: Path, overwrite: bool) -> None:
    """Move every staged file into the existing folder ``out``, each by one rename over the
    file of the same name. Everything is checked first, so a conflict moves nothing; should a
    rename still fail (a disk error), the files this export added are removed again."""
    folders = sorted(p.relative_to(stage) for p in stage.rglob("*") if p.is_dir())
    files = sorted(p.relative_to(stage) for p in stage.rglob("*") if not p.is_dir())
    for rel in folders:
        if (out / rel).exists() and not (out / rel).is_dir():
            raise ExportError(out / rel, "is a file where this export writes a folder: move "
                                         "it away or choose another folder")
    for rel in files:
        dest = out / rel
        if dest.is_dir():
            raise ExportError(dest, "is a folder where this export writes a file: move it "
                                    "away or choose another folder")
        if dest.exists() and not overwrite:
            raise ExportExists(out, "is not empty: choose a new or empty folder, or "
                                    "overwrite (--overwrite) to replace only the files this "
                                    "export writes")
    _sync_tree(stage)
    added: list[Path] = []
    try:
        for rel in folders:
            if not (out / rel).exists():
                (out / rel).mkdir()
                added.append(out / rel)
        for rel in files:
            dest = out / rel
            new = not dest.exists()
            os.replace(stage / rel, dest)
            if new:
                added.append(dest)
        for folder in {(out / rel).parent for rel in files}:
            _sync_dir(folder)
    except BaseException:
        _remove(added)
        raise


def _make_parents(out: Path) -> list[Path]:
    """Create the missing parent folders of ``out``; the ones created, outermost first."""
    missing = [p for p in reversed(out.parents) if not p.exists()]
    made: list[Path] = []
    try:
        for folder in missing:
            folder.mkdir()
            made.append(folder)
    except OSError as exc:
        _remove(made)
        raise ExportError(Path(exc.filename or out.parent),
                          f"cannot be created ({exc.strerror or exc})") from exc
    return made


def _remove(paths: list[Path]) -> None:
    """Undo: remove files and (empty) folders this export created, innermost first."""
    for path in reversed(paths):
        with suppress(OSError):
            path.rmdir() if path.is_dir() else path.unlink()


def _sync_tree(folder: Path) -> None:
    """Flush every file under ``folder`` to disk before it is renamed into place. One ``sync``
    where the system has it: per-file ``fsync`` costs a journal commit each (a YOLO export of
    10,000 frames is 10,000 files: about 25 s against a few ms)."""
    if hasattr(os, "sync"):
        os.sync()
        return
    for path in folder.rglob("*"):  # pragma: no cover - systems without sync (Windows)
        if path.is_file():
            _sync_file(path)


def _sync_file(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _sync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; Windows cannot open a folder to flush it)."""
    if os.name != "posix":  # pragma: no cover
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


__all__ = ["ExportError", "ExportExists", "Kind", "check_export_target", "export_target",
           "write_file_atomic"]
