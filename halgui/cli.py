"""The ``halgui`` command: the GUI by default, subcommands for headless work.

Every subcommand has ``--help``; those that report have ``--json``. Long work shows a progress
bar on stderr. A problem with the user's input (:class:`HalguiError`) prints one line,
``halgui: error: <file>: <problem>``, and exits with status 2. Heavy modules (torch, the GUI)
are imported inside the commands that need them, so ``halgui info`` starts fast.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from halgui import __version__
from halgui.cli_common import EXIT_USAGE, HalguiParser, drive, output, synth_config
from halgui.cli_media import cmd_link, link_arguments, link_into, print_link_report
from halgui.cli_proxy import add_arguments as add_proxy_arguments
from halgui.cli_proxy import cmd_proxy
from halgui.cli_shared import register as register_shared
from halgui.core.errors import HalguiError
from halgui.core.locations import create_project, open_project, target
from halgui.core.progress import CancelFlag


# ---------------------------------------------------------------------- commands
def cmd_new(args: argparse.Namespace) -> int:
    from halgui.core.errors import ProjectError
    from halgui.core.names import InvalidName, check_name

    names = [name.strip() for name in args.classes or ()]
    # Every name is checked before the folder is made: a refused one leaves no project behind.
    problem = ""
    if not all(names):
        problem = " has an empty class name"
    elif len(set(names)) != len(names):
        problem = " names a class twice"
    for name in names if not problem else ():
        try:
            check_name("class", name)
        except InvalidName as exc:
            problem = f": {exc}"
            break
    if problem:
        raise ProjectError(args.dir, f"--classes{problem}; no project was created")
    with create_project(args.dir) as project:
        for name in names:
            project.add_class(name)
        print(f"created project {project.folder if project.url is None else project.location}")
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    from halgui.cli_proxy import build_and_report
    from halgui.core.ingest import add_videos
    from halgui.core.proxy import ProxyStore, wanted_proxies

    with open_project(args.dir, lock="halgui add", force=args.force) as project:
        result = drive(add_videos(project, args.paths, split=args.split, skip_bad=args.skip_bad),
                       quiet=args.json)
        store = ProxyStore.for_project(project)
        new = [*result.added, *(v.video_id for v in result.linked)]  # linked ones need one too
        todo = [] if args.no_proxy else wanted_proxies(project, store, new)
    report = {
        "added": len(result.added),
        "linked": [{"video": v.name, "path": str(v.path)} for v in result.linked],
        "already_present": [str(p) for p in result.already_present],
        "failed": [str(e) for e in result.failed],
        **build_and_report(store, todo, quiet=args.json),
    }
    if args.json:
        output(report, True)
    else:
        print(f"added {len(result.added)} video(s)")
        for video in result.linked:
            print(f"linked {video.path} to the annotation-only video {video.name} "
                  "(not added again)")
        if report["proxies_built"]:
            print(f"built {report['proxies_built']} proxy(ies) for fast seeking")
        for path in result.already_present:
            print(f"already in the project: {path}")
        for error in result.failed:
            print(f"skipped: {error}", file=sys.stderr)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    with open_project(args.dir) as project:
        where = {"project": str(project.folder)} if project.url is None else {
            "project": str(project.location), "local_folder": str(project.folder),
            "media_root": project.media_root and str(project.media_root)}
        stats: dict[str, Any] = {**where, **project.stats()}
        if args.videos:
            stats["video_list"] = [
                {"name": v.name, "path": None if v.path is None else str(v.path),
                 "frames": v.n_frames, "size": f"{v.width}x{v.height}", "split": v.split}
                for v in project.videos()
            ]
    output(stats, args.json)
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from halgui.core.synthetic import SynthConfig, generate

    config = synth_config(SynthConfig(), {"n_videos": ("--videos", args.videos),
                                          "n_frames": ("--frames", args.frames),
                                          "seed": ("--seed", args.seed),
                                          "action_set": ("--action-set", args.action_set)})
    out = drive(generate(Path(args.out), config), quiet=args.json)
    if args.json:
        output({"ground_truth": str(out), "videos": config.n_videos}, True)
    else:
        print(f"wrote {config.n_videos} videos and {out}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from halgui.core import formats
    from halgui.core.project import DB_NAME, Project

    module = formats.get(args.format)
    if args.media is not None and not args.media.is_dir():
        raise HalguiError(f"{args.media}: --media must be a folder that holds the media")

    target = Path(args.dir)
    created = not (target / DB_NAME).exists()
    new = _new_project_paths(target) if created else ([], [])
    try:
        project = (Project.create(target) if created
                   else Project.open(target, lock="halgui import", force=args.force))
    except BaseException:
        _remove_new_project(new)
        raise
    try:
        before = {v.id for v in project.videos()}
        summary = drive(module.import_labels(project, args.path, CancelFlag()),
                        quiet=args.json)
    except BaseException:
        project.close()
        _remove_new_project(new)  # leave no empty project behind a failed import
        raise
    report: dict[str, Any] = {
        "videos": summary.videos, "linked": summary.linked, "tracks": summary.tracks,
        "keyframe_boxes": summary.keyframes, "labeled_frames": summary.labeled_frames}
    try:
        if args.media is not None:  # the imported videos only, not others waiting for media
            imported = {v.id for v in project.videos()} - before
            media = link_into(project, args.media, only=imported, quiet=args.json)
            report["linked"] += media["linked"]
    finally:
        project.close()
    if args.media is None:
        output(report, args.json)
    elif args.json:
        output({**report, "media": media}, True)
    else:
        output(report, False)
        print(f"media from {media['media_root']}:")
        print_link_report(media, False)
    return 0


def _new_project_paths(folder: Path) -> tuple[list[Path], list[Path]]:
    """What creating a project in ``folder`` would make that is not there now: the database
    files and subfolders, then the folder and its missing parents (innermost first). Only
    these may be removed when the import fails; what was there before is never touched."""
    from halgui.core.project import DB_NAME, SUBFOLDERS

    folder = folder.expanduser().resolve()  # as Project.create resolves it
    inside = [folder / name for name in (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm",
                                         *SUBFOLDERS)]
    return ([p for p in inside if not p.exists() and not p.is_symlink()],
            [p for p in (folder, *folder.parents) if not p.exists()])


def _remove_new_project(new: tuple[list[Path], list[Path]]) -> None:
    """Undo :func:`_new_project_paths`: the files and subfolders the failed create made, then
    the folders it made, each only if nothing else was put in it."""
    import shutil

    inside, folders = new
    for path in inside:
        with contextlib.suppress(OSError):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)  # made by this command, with what it wrote there
            else:
                path.unlink(missing_ok=True)
    for folder in folders:
        with contextlib.suppress(OSError):  # something else was put in it: leave it
            folder.rmdir()


def cmd_export(args: argparse.Namespace) -> int:
    from halgui.core import formats
    from halgui.core.formats.common import ExportOptions

    module = formats.get(args.format)
    options = ExportOptions(split=args.split, pseudo_labels=args.pseudo_labels,
                            human_only=args.human_only, keyframe_rate=args.keyframe_rate,
                            write_images=args.images, overwrite=args.overwrite)
    with open_project(args.dir) as project:
        snapshot = project.snapshot()
    summary = drive(module.export_labels(snapshot, args.out, options, CancelFlag()))
    print(summary.describe())  # says how many videos were left out, and why
    return 0


def need_display() -> None:
    """Refuse, before Qt starts, to open a window where there is no display (Linux without X
    or Wayland: a server, a container, ssh without -X): Qt would abort with several lines of
    its own and exit status 134. QT_QPA_PLATFORM, if set, says where to draw instead."""
    import os

    if not sys.platform.startswith("linux"):
        return
    if any(os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")):
        return
    raise HalguiError("no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY "
                      "is set); the commands that need none still work, e.g. halgui info DIR "
                      "or halgui demo --no-gui (see halgui --help)")


def cmd_open(args: argparse.Namespace) -> int:
    need_display()
    from halgui.gui.app import run

    return run(args.dir)


def cmd_demo(args: argparse.Namespace) -> int:
    from halgui.core.demo import DEMO_CONFIG, default_demo_dir, make_demo
    from halgui.core.project import DB_NAME

    if not args.no_gui:
        need_display()  # before the demo is made: it is made for the window
    folder = (args.dir or default_demo_dir()).expanduser().resolve()
    if not (folder / DB_NAME).exists():
        config = synth_config(DEMO_CONFIG, {"n_videos": ("--videos", args.videos),
                                            "n_frames": ("--frames", args.frames)})
        drive(make_demo(folder, config))
        print(f"created the demo project {folder}")
    elif args.no_gui:
        print(f"the demo project is already in {folder}")
    if args.no_gui:
        return 0
    from halgui.gui.app import run

    return run(folder)


def cmd_bench(args: argparse.Namespace) -> int:
    from importlib import import_module

    if args.what == "team" and not args.url:
        raise HalguiError("bench team needs --url postgresql://USER@HOST/DB (an empty database)")
    module, run = {
        "ui": ("ui", lambda m: m.run(frames=args.frames)),
        "video": ("video", lambda m: m.run(frames=args.frames)),
        "backbones": ("backbones", lambda m: m.run(seconds=args.seconds or 8.0)),
        "train": ("learning", lambda m: m.run_train(device=args.device)),
        "score": ("learning", lambda m: m.run_score(device=args.device)),
        "select": ("learning", lambda m: m.run_select()),
        "team": ("team", lambda m: m.run(args.url, labelers=args.labelers,
                                         seconds=args.seconds or 60.0)),
    }[args.what]
    bench = import_module(f"halgui.bench.{module}")
    result = run(bench)
    print(json.dumps(result, indent=2) if args.json else bench.format_table(result))
    return 0


# ---------------------------------------------------------------------- parser
def _format_names() -> list[str]:
    from halgui.core.formats import FORMATS

    return sorted(FORMATS)


def build_parser() -> argparse.ArgumentParser:
    from halgui.cli_learning import (
        BACKBONE_HELP,
        BACKBONE_WEIGHTS_HELP,
        FREEZE_HELP,
        NPROC_HELP,
        backbone_choices,
        cmd_diagnose,
        cmd_eval,
        cmd_predict,
        cmd_pretrain,
        cmd_round,
        cmd_simulate,
        cmd_train,
        round_arguments,
    )

    parser = HalguiParser(
        prog="halgui",
        description="Label videos for spatio-temporal action detection, with hybrid active "
                    "learning. Run with no command to open the app.",
    )
    parser.add_argument("--version", action="version", version=f"halgui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, func: Callable[[argparse.Namespace], int], help: str,
                json_flag: bool = False) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(func=func)
        if json_flag:
            p.add_argument("--json", action="store_true", help="print machine-readable JSON")
        return p

    p = command("new", cmd_new, "create an empty project in DIR, or in an empty PostgreSQL "
                "database (DIR: postgresql://USER@HOST/DB, a project the team shares)")
    p.add_argument("dir", type=target)
    p.add_argument("--classes", nargs="*", metavar="NAME", help="action classes to set up")

    p = command("add", cmd_add, "add video files or frame folders to a project", json_flag=True)
    p.add_argument("dir", type=target)
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p.add_argument("--split", default="train", choices=("train", "val", "test"))
    p.add_argument("--skip-bad", action="store_true",
                   help="add the readable videos and report the others (default: add none)")
    p.add_argument("--no-proxy", action="store_true",
                   help="do not build proxies now (the app builds them when it opens the project)")
    _force_flag(p)

    p = command("proxy", cmd_proxy, "show, build or clear a project's proxies (small copies of"
                " the videos for fast seeking) and set their disk budget", json_flag=True)
    p.add_argument("dir", type=target)
    add_proxy_arguments(p)
    _force_flag(p)

    p = command("info", cmd_info, "show what a project holds", json_flag=True)
    p.add_argument("dir", type=target)
    p.add_argument("--videos", action="store_true", help="list the videos too")

    p = command("synth", cmd_synth, "generate a SynthActions dataset (videos + ground truth)",
                json_flag=True)
    p.add_argument("out", type=Path)
    p.add_argument("--videos", type=int, default=200, help="number of videos (default 200)")
    p.add_argument("--frames", type=int, default=None, help="frames per video")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--action-set", choices=("benchmark", "pretrain"), default="benchmark",
                   help="the benchmark's six classes (default), or six other actions for "
                   "pretraining that share none of them")

    p = command("import", cmd_import, "import labels (and their videos) into a project; "
                "creates DIR if needed", json_flag=True)
    p.add_argument("dir", type=Path)
    p.add_argument("path", type=Path)
    p.add_argument("--format", required=True, choices=_format_names())
    p.add_argument("--media", type=Path, default=None, metavar="MEDIA_ROOT",
                   help="then link the imported videos to their media in this folder, by "
                        "name (as halgui link does)")
    _force_flag(p)

    p = command("link", cmd_link, "link annotation-only (or moved) videos to their media "
                "under MEDIA_ROOT, by name; each must fit its labels", json_flag=True)
    p.add_argument("dir", type=target)
    link_arguments(p)
    _force_flag(p)

    p = command("export", cmd_export, "export a project's labels")
    p.add_argument("dir", type=target)
    p.add_argument("out", type=Path)
    p.add_argument("--format", required=True, choices=_format_names())
    p.add_argument("--split", choices=("train", "val", "test"), default=None)
    p.add_argument("--pseudo-labels", action="store_true",
                   help="also write interpolated boxes (marked as such where the format can)")
    p.add_argument("--human-only", action="store_true",
                   help="only keyframes a person drew (no imported or model-accepted ones)")
    p.add_argument("--keyframe-rate", type=float, default=1.0,
                   help="AVA: keyframes per second (default 1)")
    p.add_argument("--images", action="store_true",
                   help="formats that reference frames: write the frame images too")
    p.add_argument("--overwrite", action="store_true",
                   help="OUT may exist: replace the files this export writes (nothing else)")

    p = command("train", cmd_train, "train the detector on a project's labels (no selection)",
                json_flag=True)
    p.add_argument("dir", type=target)
    p.add_argument("--epochs", type=int, default=None,
                   help="epochs to train (default 10, or no limit with --minutes)")
    p.add_argument("--minutes", type=float, default=None,
                   help="train for about this many minutes, then save the model")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--size", type=int, default=None, help="clip side S (default 112)")
    p.add_argument("--clips-per-epoch", type=int, default=None,
                   help="sample at most this many clips per epoch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument("--nproc", type=int, default=1, metavar="N", help=NPROC_HELP)
    p.add_argument("--weighting", default="stew", choices=("stew", "mgw", "pseudo", "labeled"),
                   help="stew (default), mgw (S=1), pseudo (unweighted pseudo-labels), "
                        "labeled (BCE on labeled frames only)")
    p.add_argument("--init", type=Path, default=None, help="warm start from this checkpoint")
    p.add_argument("--trunk-lr-scale", type=float, default=1.0, metavar="K",
                   help="the trunk's trained stages learn at K times the learning rate")
    p.add_argument("--no-class-prototypes", action="store_true", help="score boxes' classes "
                   "with the box head alone, not also with prototypes of the labeled boxes")
    p.add_argument("--pretrained", default="synth", metavar="NAME_OR_FILE",
                   help="start from a pretrained model, keeping all but its class head: synth "
                        "(halgui's own trunk, the default, as rounds do), a checkpoint file, "
                        "or none (from scratch)")
    p.add_argument("--backbone", default=None, choices=backbone_choices("BACKBONES"),
                   metavar="NAME", help=BACKBONE_HELP + " (%(choices)s; default: --init's, "
                   "else r2plus1d-tiny)")
    p.add_argument("--backbone-weights", type=Path, default=None, metavar="FILE",
                   help=BACKBONE_WEIGHTS_HELP)
    p.add_argument("--freeze", default="auto", choices=backbone_choices("FREEZE"),
                   help=FREEZE_HELP)
    p.add_argument("--boxes", default="centre", choices=("centre", "components"),
                   help="where a new model's boxes come from: centre (a box head finds each "
                        "acting actor's centre, box and classes; the default) or components "
                        "(connected components of the actor map)")
    p.add_argument("--out", type=Path, default=None, help="checkpoint to write")

    p = command("predict", cmd_predict, "detect actions in a project's videos",
                json_flag=True)
    p.add_argument("dir", type=target)
    p.add_argument("out", type=Path, help="predictions JSON to write")
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--videos", nargs="*", metavar="NAME", help="only these videos")
    p.add_argument("--split", choices=("train", "val", "test"), default=None)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument("--overwrite", action="store_true", help="OUT may exist: replace it")

    p = command("eval", cmd_eval, "frame-mAP and video-mAP of predictions against ground "
                "truth", json_flag=True)
    p.add_argument("gt", type=Path, help="ground truth (halgui JSON)")
    p.add_argument("pred", type=Path, help="predictions (halgui-predictions JSON)")
    p.add_argument("--iou", type=float, default=0.5, help="frame-mAP IoU threshold")
    p.add_argument("--convention", choices=("halgui", "act"), default="halgui",
                   help="halgui: continuous box IoU (default); act: ACT's and UCF101-24's +1 "
                   "pixel box IoU and per-frame NMS at 0.3 before frame-mAP")

    p = command("open", cmd_open, "open the app (on project DIR or a shared project's URL, "
                "else the last project)")
    p.add_argument("dir", type=target, nargs="?", default=None)

    p = command("demo", cmd_demo, "generate a demo project of SynthActions videos (a few frames "
                "labeled) and open it; reuses DIR if it already holds the demo")
    p.add_argument("dir", type=Path, nargs="?", default=None,
                   help="where to put it (default: the user data folder's halgui/demo)")
    p.add_argument("--no-gui", action="store_true", help="only create it")
    p.add_argument("--videos", type=int, default=24, help="number of videos (default 24)")
    p.add_argument("--frames", type=int, default=96, help="frames per video (default 96)")

    from halgui.core.al.pretrain import PretrainConfig

    p = command("pretrain", cmd_pretrain, "train halgui's own trunk on SynthActions videos of "
                "other actions (the model projects start from); resumes an interrupted run",
                json_flag=True)
    p.add_argument("out", type=Path, help="the model to write (a halgui checkpoint)")
    p.add_argument("--workdir", type=Path, default=None,
                   help="corpus, project and progress (default: OUT's name + .work)")
    pre = PretrainConfig()
    p.add_argument("--videos", type=int, default=pre.videos)
    p.add_argument("--frames", type=int, default=pre.frames)
    p.add_argument("--seed", type=int, default=pre.seed,
                   help="seed of the corpus (benchmarks and tests use seeds below 1000)")
    p.add_argument("--size", type=int, default=pre.size, help="clip side S")
    p.add_argument("--minutes", type=float, default=pre.minutes, help="training time in all")
    p.add_argument("--chunk-minutes", type=float, default=pre.chunk_minutes,
                   help="save and resume points: an interrupted run loses at most this much")

    p = command("diagnose", cmd_diagnose, "where a model fails: class-agnostic frame-AP, "
                "frame-mAP, video-mAP and top-1 on ground-truth boxes, on held-out and "
                "training videos", json_flag=True)
    p.add_argument("dir", type=target)
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--splits", nargs="+", default=["test", "train"],
                   choices=("train", "val", "test"),
                   help="splits to score (default: test train); the first is the held-out one")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))

    p = command("round", cmd_round, "one active-learning round: train, score, select "
                "(round 0: choose videos by appearance); starts from the project's Round "
                "settings, changed only by the flags given", json_flag=True)
    round_arguments(p)
    _force_flag(p)

    p = command("simulate", cmd_simulate, "benchmark the strategies with a simulated "
                "annotator (algorithm.md 7): CSV, Markdown table, PNG plot", json_flag=True)
    p.add_argument("--out", type=Path, default=Path("simulation"))
    p.add_argument("--gt", type=Path, default=None,
                   help="ground truth of a dataset with videos (default: generate SynthActions)")
    p.add_argument("--videos", type=int, default=200, help="SynthActions videos to generate")
    p.add_argument("--frames", type=int, default=None, help="SynthActions frames per video")
    p.add_argument("--data-seed", type=int, default=0)
    p.add_argument("--strategies", nargs="*", default=None, metavar="NAME")
    p.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    p.add_argument("--initial", type=float, default=0.01, help="round-0 share of frames")
    p.add_argument("--budget-fraction", type=float, default=0.01,
                   help="frames per round, as a share of the pool")
    p.add_argument("--target", type=float, default=0.10, help="stop at this share labeled")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--size", type=int, default=112, help="clip side S")
    p.add_argument("--clips-per-epoch", type=int, default=None)
    p.add_argument("--passes", type=int, default=10, help="MC-dropout passes R")
    p.add_argument("--no-reference", action="store_true")
    p.add_argument("--resume", action="store_true",
                   help="go on with an interrupted run in --out: its finished runs (a "
                        "strategy and seed that reached --target, a reference) are kept, the "
                        "rest run (a strategy cut short starts again from its round 0)")
    p.add_argument("--report-only", action="store_true",
                   help="only redraw the report from OUT/results.partial.jsonl (a finished "
                        "or interrupted run)")
    p.add_argument("--loss-ablation", type=float, default=None, metavar="FRACTION",
                   help="instead: label this share of frames evenly and compare the loss "
                        "weightings stew / labeled-only BCE / unweighted pseudo-labels")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument("--pretrained", default=None, metavar="START",
                   help="what the first model of each strategy starts from: synth (halgui's "
                        "pretrained trunk), none (scratch) or a checkpoint file (default: as "
                        "rounds do)")

    p = command("bench", cmd_bench, "measure performance against DESIGN targets", json_flag=True)
    p.add_argument("what", choices=("video", "ui", "train", "score", "select", "backbones",
                                     "team"))
    p.add_argument("--frames", type=int, default=300, help="length of the generated test video")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"),
                   help="train/score: where the model runs")
    p.add_argument("--seconds", type=float, default=None,
                   help="backbones: seconds timed per figure (default 8); team: how long the "
                        "labelers edit (default 60)")
    p.add_argument("--url", help="team: an empty PostgreSQL database to run it in")
    p.add_argument("--labelers", type=int, default=8, help="team: labelers at once")
    register_shared(command)
    return parser


def _force_flag(p: argparse.ArgumentParser) -> None:
    """Writing commands refuse a project open for editing elsewhere, unless forced."""
    p.add_argument("--force", action="store_true",
                   help="change the project even if it is open for editing elsewhere (for a "
                        "lock left by a program that is no longer running)")


def _default_to_open(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """``halgui`` and ``halgui DIR`` mean ``halgui open [DIR]``; anything else is unchanged."""
    argv = list(argv)
    commands = next(a.choices for a in parser._actions
                    if isinstance(a, argparse._SubParsersAction))
    if not argv or (not argv[0].startswith("-") and argv[0] not in commands):
        return ["open", *argv]
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    try:
        try:
            return _run(argv)
        finally:
            sys.stdout.flush()  # here, not at exit: a closed pipe is then caught below
    except BrokenPipeError:
        return _closed_pipe()


#: Exit status when the reader of stdout went away (``halgui info --json | head -1``): 128 + 13,
#: what the shell reports for ``cat``, ``grep`` and other tools that SIGPIPE ends, so a script
#: with ``set -o pipefail`` sees halgui as it sees them. Not 0: not all the output was
#: delivered; not 2: the input was not at fault.
EXIT_CLOSED_PIPE = 141


def _closed_pipe() -> int:
    """Stop quietly (stdout to devnull): no traceback, no second error when Python exits."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return EXIT_CLOSED_PIPE


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(_default_to_open(parser, sys.argv[1:] if argv is None else argv))
    try:
        return int(args.func(args))
    except HalguiError as exc:
        print(f"halgui: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("halgui: interrupted", file=sys.stderr)
        return 130
