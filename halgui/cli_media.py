"""``halgui link`` and the media half of ``halgui import --media``: labels meet their media.

Both run :func:`halgui.core.media_link.link_media` with a progress bar and report the same way:
the counts (linked, missing, mismatched, ambiguous) and the first problems as lines, or all of
them with ``--json``. A problem with one video is reported, not an error: the exit status is 0
even when some videos stay unlinked (``--json`` says which), 2 only for bad input.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from halgui.cli_common import drive, output
from halgui.core.errors import HalguiError
from halgui.core.locations import open_project, remember_media_root
from halgui.core.progress import CancelFlag

__all__ = ["LinkReportConfig", "cmd_link", "link_arguments", "link_into", "print_link_report"]


@dataclass(frozen=True)
class LinkReportConfig:
    """How much of a link's outcome the plain-text report shows (``--json`` shows all)."""

    problems_shown: int = 20


def cmd_link(args: argparse.Namespace) -> int:

    with open_project(args.dir, lock="halgui link", force=args.force) as project:
        if args.remember:
            if project.url is None:
                raise HalguiError("--remember is for a shared project (a folder project's "
                                  "videos are found relative to its folder)")
            remember_media_root(project, args.media_root)
        report = link_into(project, args.media_root, dry_run=args.dry_run, quiet=args.json)
    print_link_report(report, args.json)
    return 0


def link_into(project: Any, media_root: Path, *, dry_run: bool = False,
              only: set[int] | None = None, quiet: bool = False) -> dict[str, Any]:
    """Link ``project``'s videos that need media (those in ``only``) from ``media_root``,
    with a progress bar; the ``--json`` report of what happened."""
    from halgui.core.media_link import link_media

    result = drive(link_media(project, media_root, dry_run=dry_run, only=only,
                              cancel=CancelFlag()), quiet=quiet)
    return result.as_dict()


def print_link_report(report: dict[str, Any], as_json: bool,
                      config: LinkReportConfig | None = None) -> None:
    """The counts, then (as text) what a dry run would link and the first problems."""
    if as_json:
        output(report, True)
        return
    config = config or LinkReportConfig()
    verb = "would link" if report["dry_run"] else "linked"
    if report["dry_run"]:
        for link in report["links"]:
            print(f"would link {link['video']} -> {link['path']}")
    output({verb: report["linked"], "missing": report["missing"],
            "mismatched": report["mismatched"], "ambiguous": report["ambiguous"]}, False)
    problems = report["problems"]
    for problem in problems[:config.problems_shown]:
        where = f" ({problem['path']})" if "path" in problem else ""
        which = ("; candidates: " + ", ".join(problem["candidates"])
                 if problem["status"] == "ambiguous" and problem.get("candidates") else "")
        print(f"{problem['status']}: {problem['video']}{where}: {problem.get('detail', '')}"
              f"{which}", file=sys.stderr)
    if len(problems) > config.problems_shown:
        print(f"... and {len(problems) - config.problems_shown} more (--json lists them all)",
              file=sys.stderr)


def link_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``halgui link`` after DIR."""
    p.add_argument("media_root", type=Path, metavar="MEDIA_ROOT",
                   help="the folder that holds the media: NAME/ frame folders or NAME.avi "
                        "(.mp4, .mkv, .mov, .webm) files, at the names' paths or anywhere below")
    p.add_argument("--remember", action="store_true",
                   help="a shared project: MEDIA_ROOT is this computer's media root from now "
                        "on (paths under it are stored relative to it, so each member's "
                        "desktop finds the videos under its own)")
    p.add_argument("--dry-run", action="store_true",
                   help="only say what would be linked and what would not; change nothing")
