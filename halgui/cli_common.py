"""What every ``halgui`` subcommand module shares: running core work with a progress bar,
printing a report, refusing counts below one, and argparse with halgui's one-line errors.

Both :mod:`halgui.cli` and :mod:`halgui.cli_learning` import these from here, so neither imports
the other's helpers (the parser in :mod:`halgui.cli` is the only link between them).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Generator
from typing import Any, NoReturn, TypeVar

from halgui.core.errors import HalguiError
from halgui.core.progress import Progress

__all__ = ["EXIT_USAGE", "HalguiParser", "at_least_one", "drive", "output", "synth_config"]

T = TypeVar("T")
#: Exit status of a problem with the user's input (argparse's own choice for bad flags).
EXIT_USAGE = 2


def drive(work: Generator[Progress, None, T], *, quiet: bool = False,
          on_event: Callable[[Progress], None] | None = None) -> T:
    """Run a core generator to its end with a progress bar per phase on stderr;
    ``on_event`` sees every event (for results that arrive while the work goes on)."""
    from tqdm import tqdm

    bar = None
    phase = None
    try:
        while True:
            try:
                event = next(work)
            except StopIteration as stop:
                return stop.value
            if on_event is not None:
                on_event(event)
            if quiet or not sys.stderr.isatty():
                continue  # bars are for people: never in logs, pipes or --json output
            if event.phase != phase:
                if bar is not None:
                    bar.close()
                phase = event.phase
                bar = tqdm(total=event.total, desc=event.phase, unit="", file=sys.stderr,
                           leave=False, dynamic_ncols=True)
            assert bar is not None
            bar.total = event.total
            bar.n = event.done
            if event.message:
                bar.set_postfix_str(event.message, refresh=False)
            bar.refresh()
    finally:
        if bar is not None:
            bar.close()


def output(data: dict[str, Any], as_json: bool) -> None:
    """A command's result: JSON for ``--json``, otherwise aligned ``key  value`` lines."""
    if as_json:
        print(json.dumps(data, indent=2))
    else:
        width = max(len(k) for k in data) if data else 0
        for key, value in data.items():
            print(f"{key:<{width}}  {value}")


def at_least_one(args: argparse.Namespace, *names: str) -> None:
    """Refuse a count a run cannot use (a batch of 0, no epochs, clips of 0 pixels): one line
    naming the option, before anything is read or written, instead of a traceback from deep
    inside or a run that trains on nothing and still saves a model."""
    for name in names:
        value = getattr(args, name)
        if value is not None and value < 1:
            raise HalguiError(f"--{name.replace('_', '-')} must be at least 1, not {value}")


class HalguiParser(argparse.ArgumentParser):
    """argparse with halgui's one-line errors: a wrong flag is reported like any other bad
    input (``halgui: error: ...``, exit 2), with where to look instead of the whole usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"halgui: error: {message} (see '{self.prog} --help')\n")


def synth_config(base: Any, flags: dict[str, tuple[str, Any]]) -> Any:
    """``base`` (a SynthConfig) with the fields given on the command line, each in ``flags``
    as field: (flag, value) (None: not given); a value SynthConfig refuses is one line naming
    the flags, before anything is written."""
    import dataclasses

    given = {field: value for field, (_, value) in flags.items() if value is not None}
    try:
        return dataclasses.replace(base, **given)
    except ValueError as exc:
        problem = str(exc).removeprefix("SynthConfig: ")
        for field, (flag, _) in flags.items():
            problem = problem.replace(field, flag)
        shown = " ".join(f"{flag} {value}" for flag, value in flags.values()
                         if value is not None and flag in problem) or "SynthConfig"
        raise HalguiError(f"{shown}: {problem}") from exc
