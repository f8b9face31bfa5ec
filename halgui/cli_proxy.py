"""``halgui proxy`` and the proxies ``halgui add`` builds: small copies of the videos for
fast seeking in the app (:mod:`halgui.core.proxy`).

Builds run after the project's lock is given up: they only write to the cache folder and can
take a while (about 20 s per minute of 1080p video on 2 cores), and the app may open the
project meanwhile (it builds what is still missing itself).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from halgui.cli_common import drive, output
from halgui.core.locations import open_project

if TYPE_CHECKING:  # imported when used: ``halgui --help`` loads no video code
    from halgui.core.proxy import ProxyStore
    from halgui.core.video_source import VideoSource

__all__ = ["add_arguments", "build_and_report", "cmd_proxy"]


def build_and_report(store: ProxyStore, todo: list[tuple[str, VideoSource]], *,
                     quiet: bool) -> dict[str, Any]:
    """Build ``todo`` with a progress bar; failures go to stderr (unless ``quiet``) and into
    the returned ``{"proxies_built", "proxies_failed"}``."""
    from halgui.core.proxy import ProxyReport, build_proxies

    report = drive(build_proxies(store, todo), quiet=quiet) if todo else ProxyReport()
    if not quiet:
        for name, why in report.failed.items():
            print(f"no proxy for {name} (it works, with slower seeking): {why}", file=sys.stderr)
    return {"proxies_built": len(report.built), "proxies_failed": report.failed}


def cmd_proxy(args: argparse.Namespace) -> int:
    from halgui.core.proxy import ProxySettings, ProxyStore, wanted_proxies

    with open_project(args.dir, lock="halgui proxy", force=args.force) as project:
        settings = ProxySettings.load(project)
        if args.budget_mib is not None or args.on or args.off:
            settings = ProxySettings(
                enabled=args.on or (settings.enabled and not args.off),
                budget_mib=settings.budget_mib if args.budget_mib is None else args.budget_mib)
            settings.save(project)
        store = ProxyStore.for_project(project)
        if args.clear:
            for path, _ in store.usage():
                path.unlink(missing_ok=True)
        todo = wanted_proxies(project, store) if args.build else []
        n_videos = sum(v.path is not None for v in project.videos())
    result: dict[str, Any] = {}
    if args.build:
        result = build_and_report(store, todo, quiet=args.json)
    with open_project(args.dir, read_only=True) as project:
        missing = len(wanted_proxies(project, store)) if settings.enabled else None
    report = {
        "enabled": settings.enabled,
        "budget_mib": settings.budget_mib,
        "used_bytes": store.total_bytes(),
        "folder": str(store.folder),
        "videos": n_videos,
        "without_proxy": missing if missing is not None else "(proxies are off)",
        **result,
    }
    output(report, args.json)
    return 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``halgui proxy``."""
    p.add_argument("--build", action="store_true", help="build the proxies that are missing")
    p.add_argument("--clear", action="store_true",
                   help="delete the project's proxies (they are rebuilt on demand)")
    p.add_argument("--budget-mib", type=int, metavar="MIB",
                   help="disk the project's proxies may take (least recently used go first)")
    onoff = p.add_mutually_exclusive_group()
    onoff.add_argument("--on", action="store_true",
                       help="build proxies when videos are added or the project is opened")
    onoff.add_argument("--off", action="store_true", help="never build proxies")
