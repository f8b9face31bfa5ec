"""The commands of a team's shared project: ``halgui worker`` (runs the rounds members ask
for, on the machine with the GPU) and ``halgui migrate`` (a folder project into a database).
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from halgui.cli_common import drive, output
from halgui.core.errors import Cancelled
from halgui.core.locations import target
from halgui.core.postgres_sql import label
from halgui.core.progress import CancelFlag, Progress

__all__ = ["cmd_migrate", "cmd_worker", "register"]

#: the worker's lines: a request taken and how it ended (training progress is a bar)
_SAID = ("request", "recorded", "failed", "lost")


def cmd_worker(args: argparse.Namespace) -> int:
    from halgui.core.al.rounds import RoundConfig
    from halgui.core.round_worker import serve

    cancel = CancelFlag()

    def stop(signum: int, frame: FrameType | None) -> None:
        print("halgui worker: stopping after this step; the request goes back to the queue",
              file=sys.stderr, flush=True)
        cancel.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    print(f"halgui worker: taking round requests of {label(args.dir)} "
          f"(device {args.device or 'from the Round settings'}); Ctrl-C stops", flush=True)

    def say(event: Progress) -> None:
        if event.phase in _SAID:
            print(event.message, flush=True)

    try:
        rounds = drive(serve(args.dir, RoundConfig(), cancel, device=args.device, once=args.once),
                       on_event=say)
    except Cancelled:
        return 130
    print(f"halgui worker: {rounds} round(s) recorded", flush=True)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from halgui.core.migrate import migrate

    report = drive(migrate(args.dir, args.url, CancelFlag()), quiet=args.json)
    output({"copied": report.counts,
            "checkpoints": report.checkpoints, "local_folder": str(report.local_folder)},
           args.json)
    return 0


def register(command: Callable[..., argparse.ArgumentParser]) -> None:
    """Add the shared-project commands to ``halgui``'s parser (``command`` as in
    :func:`halgui.cli.build_parser`)."""
    p = command("worker", cmd_worker, "run the rounds a shared project's members ask for "
                "(Retrain queues one) on this machine, one at a time, until stopped")
    p.add_argument("dir", type=_url, metavar="URL",
                   help="the shared project (postgresql://USER@HOST/DB)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default=None,
                   help="where rounds train (default: the project's Round settings)")
    p.add_argument("--once", action="store_true",
                   help="stop when no request waits instead of waiting for the next")

    p = command("migrate", cmd_migrate, "copy a folder project into an empty PostgreSQL "
                "database and check that every table's count matches", json_flag=True)
    p.add_argument("dir", type=Path, help="the folder project (left as it is)")
    p.add_argument("url", type=_url, metavar="URL", help="postgresql://USER@HOST/DB")


def _url(text: str) -> str:
    """A shared project's URL (argparse ``type``): a folder has no members to serve."""
    where = target(text)
    if not isinstance(where, str):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a shared project's URL (postgresql://USER@HOST/DB); a folder "
            "project's rounds run in its app")
    return where
