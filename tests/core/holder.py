"""Start and stop :mod:`tests.core.hold_project` (a real second process holding a project)."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def holding(folder: Path) -> Iterator[subprocess.Popen[str]]:
    """A child process that holds ``folder``'s project lock while the block runs."""
    child = subprocess.Popen([sys.executable, str(ROOT / "tests" / "core" / "hold_project.py"),
                              str(folder)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True, cwd=ROOT)
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line == f"holding {child.pid}\n", line
    try:
        yield child
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
        child.communicate(timeout=30)
