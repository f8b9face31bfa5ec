"""Who is editing a project: a lock file in its folder, naming the host and process.

SQLite keeps two writers from corrupting the database, not two people from editing the same
labels at once: each window's undo stack would then rewrite the other's work. The app, and every
command that writes, holds ``project.lock`` while the project is open; what only reads (a
window opened read-only, ``info``, ``export``, ``predict``) never takes it.

The file is made whole before it appears (written under a private name, then hard-linked into
place, which fails if the lock exists, on network file systems too), so a reader never sees half
of it. It is removed on close. A process that died (a crash, a kill) leaves it behind: a lock
whose process is gone from this host is stale and taken over without asking. A lock from another
host cannot be checked from here; it is taken over only when asked to (``force``).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from halgui.core.errors import ProjectError

__all__ = ["LOCK_NAME", "LockOwner", "ProjectInUse", "ProjectLock", "acquire", "read_owner"]

LOCK_NAME = "project.lock"
#: A lock file that cannot be read is taken for one being written for this long (seconds), then
#: for stale: only a file system without hard links writes it in place.
UNREADABLE_GRACE_S = 10.0
_TAKE_OVER_TRIES = 5


@dataclass(frozen=True)
class LockOwner:
    """What a lock file says: the program (``what``), its host and pid, since when (UTC), and a
    token telling apart two holders in one process (two windows)."""

    what: str
    host: str
    pid: int
    since: str
    token: str = ""

    @classmethod
    def this_process(cls, what: str) -> LockOwner:
        return cls(what, socket.gethostname(), os.getpid(),
                   time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), os.urandom(8).hex())

    def describe(self) -> str:
        return f"{self.what} (pid {self.pid} on {self.host}, since {self.since})"

    def is_this_process(self) -> bool:
        return self.host == socket.gethostname() and self.pid == os.getpid()

    def is_stale(self) -> bool:
        """True when the process is known to be gone: same host, no such pid."""
        return self.pid == 0 or (self.host == socket.gethostname() and not _alive(self.pid))


class ProjectInUse(ProjectError):
    """Another process holds the project's lock; ``owner`` says which."""

    def __init__(self, folder: Path, owner: LockOwner) -> None:
        self.owner = owner
        super().__init__(folder, f"is open for editing elsewhere: {owner.describe()}; close it "
                                 "there, or if that program is no longer running, use --force")


class ProjectLock:
    """A held lock; :meth:`release` removes the file if it is still this lock's."""

    def __init__(self, path: Path, owner: LockOwner) -> None:
        self.path = path
        self.owner = owner

    def release(self) -> None:
        with contextlib.suppress(OSError):
            if read_owner(self.path.parent) == self.owner:
                self.path.unlink()


def acquire(folder: Path, what: str, *, force: bool = False) -> ProjectLock:
    """Take the lock of the project in ``folder`` for ``what`` (shown to whoever else tries).

    Raises :class:`ProjectInUse` when a live process holds it (unless ``force``), and
    :class:`ProjectError` when the lock file cannot be written."""
    path = folder / LOCK_NAME
    owner = LockOwner.this_process(what)
    for _ in range(_TAKE_OVER_TRIES):
        try:
            _create(path, owner)
            return ProjectLock(path, owner)
        except FileExistsError:
            pass
        except OSError as exc:
            raise ProjectError(path, f"cannot create the lock file ({exc.strerror})") from exc
        current = _read(path)
        if current is None:  # released in between: try again
            continue
        held, text, being_written = current
        if not force and (being_written or not held.is_stale()):
            raise ProjectInUse(folder, held)
        _take_over(path, text)
    raise ProjectError(path, "cannot take the lock: other programs keep taking it")


def read_owner(folder: Path) -> LockOwner | None:
    """Who holds the lock of the project in ``folder`` (None: nobody)."""
    current = _read(folder / LOCK_NAME)
    return None if current is None else current[0]


# ---------------------------------------------------------------------- helpers
def _create(path: Path, owner: LockOwner) -> None:
    """Make the lock file whole, atomically; FileExistsError if there already is one."""
    data = json.dumps(asdict(owner)).encode()
    private = path.with_name(f"{LOCK_NAME}.{owner.host}.{owner.pid}.tmp")
    with open(private, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(private, path)
    except FileExistsError:
        raise
    except OSError:  # no hard links here (some FAT or SMB mounts): exclusive create instead
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    finally:
        private.unlink(missing_ok=True)


def _read(path: Path) -> tuple[LockOwner, str, bool] | None:
    """The lock's owner, the file's text, and whether it may still be being written (an
    unreadable file younger than :data:`UNREADABLE_GRACE_S`); None when there is no lock."""
    try:
        text = path.read_text(encoding="utf-8")
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        text, age = "", UNREADABLE_GRACE_S
    try:
        raw = json.loads(text)
        owner = LockOwner(str(raw["what"]), str(raw["host"]), int(raw["pid"]), str(raw["since"]),
                          str(raw.get("token", "")))
        return owner, text, False
    except (ValueError, KeyError, TypeError):  # damaged, or written in place (see _create)
        unknown = LockOwner(f"an unreadable lock file ({path})", "an unknown host", 0, "?")
        return unknown, text, age < UNREADABLE_GRACE_S


def _take_over(path: Path, expected: str) -> None:
    """Remove a stale lock, unless it was replaced meanwhile by a live one (then put back)."""
    aside = path.with_name(f"{LOCK_NAME}.{os.getpid()}.stale")
    try:
        os.replace(path, aside)
    except FileNotFoundError:
        return
    try:
        if aside.read_text(encoding="utf-8", errors="replace") != expected:
            with contextlib.suppress(OSError):
                os.link(aside, path)  # someone else's fresh lock: theirs again
    finally:
        aside.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    """Whether a process with this id runs on this host."""
    if pid <= 0:
        return False
    if sys.platform == "win32":  # os.kill(pid, 0) would terminate it there
        import ctypes

        kernel = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        kernel.GetExitCodeProcess(handle, ctypes.byref(code))
        kernel.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
