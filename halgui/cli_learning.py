"""The learning commands of ``halgui``: train, predict, eval, round, simulate.

Split from :mod:`halgui.cli` to keep each module small; the parser there points here, and the
helpers both use come from :mod:`halgui.cli_common`. Every command imports torch lazily, inside
the function, so the rest of the CLI starts fast.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from halgui.cli_common import at_least_one, drive, output, synth_config
from halgui.core.errors import HalguiError
from halgui.core.locations import open_project, target
from halgui.core.progress import CancelFlag

if TYPE_CHECKING:
    from halgui.core.al.rounds import RoundConfig
    from halgui.core.project import Project


def cmd_train(args: argparse.Namespace) -> int:
    import dataclasses
    import time

    from halgui.core.al.dataset import class_names, training_set
    from halgui.core.al.distributed import check_nproc
    from halgui.core.al.stew import StewConfig
    from halgui.core.al.train import TrainConfig, prepare_backbone, train

    at_least_one(args, "epochs", "batch_size", "size", "clips_per_epoch")
    if args.minutes is not None and not args.minutes > 0:
        raise HalguiError(f"--minutes must be more than 0, not {args.minutes}")
    # a time budget alone trains until it is spent; epochs alone (or both) cap the epochs
    epochs = args.epochs if args.epochs is not None or args.minutes is not None \
        else TrainConfig.epochs
    pretrained = None if args.pretrained in (None, "none") else args.pretrained
    if pretrained is not None:
        from halgui.core.al.pretrained import resolve

        resolve(pretrained)  # a missing file is refused before any data is read
    check_nproc(args.nproc, args.device)  # as are more processes than CPUs or GPUs
    if not args.trunk_lr_scale > 0:
        raise HalguiError(f"--trunk-lr-scale must be more than 0 (to keep stages as they "
                          f"are: --freeze), not {args.trunk_lr_scale}")
    if args.backbone_weights is not None and not args.backbone_weights.is_file():
        raise HalguiError(f"{args.backbone_weights}: no such backbone weights file")
    config = TrainConfig(epochs=epochs, minutes=args.minutes, batch_size=args.batch_size,
                         pretrained=pretrained, seed=args.seed, device=args.device,
                         backbone=args.backbone or TrainConfig.backbone, freeze=args.freeze,
                         backbone_weights=None if args.backbone_weights is None
                         else str(args.backbone_weights),
                         stew=StewConfig(weighting=args.weighting), box_source=args.boxes,
                         nproc=args.nproc, trunk_lr_scale=args.trunk_lr_scale,
                         class_prototypes=not args.no_class_prototypes)
    clip = dataclasses.replace(config.clip, max_clips_per_epoch=args.clips_per_epoch)
    if args.size is not None:
        clip = dataclasses.replace(clip, size=args.size)
    if args.init is None:  # a new model: its weights, before any data work
        drive(prepare_backbone(config), quiet=args.json)
    with open_project(args.dir) as project:
        snapshot = project.snapshot()
        if args.init is not None:
            size, backbone = _check_init(args.init, class_names(snapshot), project.folder,
                                         args.size, args.backbone)
            clip = dataclasses.replace(clip, size=size)
            config = dataclasses.replace(config, backbone=backbone)
        config = dataclasses.replace(config, clip=clip)
        out = args.out or project.folder / "models" / f"train-{time.strftime('%Y%m%d-%H%M%S')}.pt"
        videos = drive(training_set(project, snapshot, config.clip, config.stew),
                       quiet=args.json)
    result = drive(train(videos, class_names(snapshot), config, out, init=args.init),
                   quiet=args.json)
    output({"checkpoint": str(result.checkpoint), "videos": len(videos), "steps": result.steps,
            "final_loss": round(result.final_loss, 5), "seconds": round(result.seconds, 1),
            "device": result.device}, args.json)
    return 0


def _check_init(path: Path, classes: list[str], folder: Path, size: int | None,
                backbone: str | None) -> tuple[int, str]:
    """Refuse a warm start before any work: a checkpoint that cannot be read, one trained for
    other classes (its class head would be matched to the wrong labels), for another clip
    size than ``--size`` or with another backbone than ``--backbone``. Returns the clip size
    and backbone to train with: the checkpoint's."""
    from halgui.core.al import checkpoint

    held = checkpoint.load(path)
    if held.classes != classes:
        raise checkpoint.CheckpointError(
            path, f"was trained for the classes {', '.join(held.classes)}, but {folder} has "
                  f"{', '.join(classes) or 'none'} (train without --init)")
    if size is not None and size != held.model.config.size:
        raise checkpoint.CheckpointError(
            path, f"was trained on {held.model.config.size}-pixel clips, not --size {size} "
                  "(leave --size out to continue at the checkpoint's)")
    if backbone is not None and backbone != held.model.config.backbone:
        raise checkpoint.CheckpointError(
            path, f"was trained with the backbone {held.model.config.backbone}, not --backbone "
                  f"{backbone} (leave --backbone out to continue it)")
    return held.model.config.size, held.model.config.backbone


def _checkpoint_and_clips(path: Path, device: str) -> tuple[Any, Any]:
    """A checkpoint to detect with, and the clips its model was made for."""
    from halgui.core.al import checkpoint
    from halgui.core.al.data import ClipConfig
    from halgui.core.al.model import pick_device

    ckpt = checkpoint.load(path, pick_device(device))
    mc = ckpt.model.config
    return ckpt, ClipConfig(clip_len=mc.clip_len, stride=mc.stride, size=mc.size)


def cmd_predict(args: argparse.Namespace) -> int:
    from halgui.core.al.dataset import cached_frames, clip_cache
    from halgui.core.al.predict import detect_video, predictions_json, write_predictions
    from halgui.core.formats.target import check_export_target

    # the export rule, checked before any work: an existing OUT.json only with --overwrite,
    # never a file of a project's folder (its database) but under its exports/
    check_export_target(args.out, "file", overwrite=args.overwrite)
    ckpt, clip = _checkpoint_and_clips(args.checkpoint, args.device)
    with open_project(args.dir) as project:
        videos = [v for v in project.videos()
                  if (not args.videos or v.name in args.videos)
                  and (args.split is None or v.split == args.split)]
        if args.videos and len(videos) != len(set(args.videos)):
            missing = sorted(set(args.videos) - {v.name for v in videos})
            raise HalguiError(f"{project.folder}: no video named {', '.join(missing)}")
        frames = drive(cached_frames(clip_cache(project), videos, clip.size),
                       quiet=args.json)
    results = []
    for video in videos:
        detections = drive(detect_video(ckpt.model, video.name, frames[video.id],
                                        (video.width, video.height), ckpt.classes, clip),
                           quiet=args.json)
        results.append((video.name, video.n_frames, detections))
    out = write_predictions(args.out, predictions_json(ckpt.classes, results))
    output({"predictions": str(out), "videos": len(results),
            "detections": sum(len(d) for _, _, d in results)}, args.json)
    return 0


def cmd_pretrain(args: argparse.Namespace) -> int:
    from halgui.core.al.pretrain import PretrainConfig, pretrain

    at_least_one(args, "videos", "frames", "size")
    if not args.minutes > 0 or not args.chunk_minutes > 0:
        raise HalguiError("--minutes and --chunk-minutes must be more than 0")
    config = PretrainConfig(videos=args.videos, frames=args.frames, seed=args.seed,
                            size=args.size, minutes=args.minutes,
                            chunk_minutes=args.chunk_minutes)
    workdir = args.workdir or args.out.with_name(args.out.stem + ".work")
    result = drive(pretrain(workdir, args.out, config), quiet=args.json)
    output({"model": str(result.path), "minutes": round(result.minutes, 2),
            "steps": result.steps, "final_loss": round(result.final_loss, 5),
            "classes": ", ".join(result.classes), "workdir": str(workdir)}, args.json)
    return 0


def cmd_diagnose(args: argparse.Namespace) -> int:
    from halgui.core.al.diagnose import DiagnoseConfig, diagnose, verdict

    ckpt, clip = _checkpoint_and_clips(args.checkpoint, args.device)
    config = DiagnoseConfig(splits=tuple(args.splits))
    with open_project(args.dir) as project:
        snapshot = project.snapshot()
        report = drive(diagnose(project, snapshot, ckpt.model, ckpt.classes, clip, config),
                       quiet=args.json)
    lines = verdict(report, config)
    if args.json:
        print(json.dumps({"checkpoint": str(args.checkpoint),
                          "splits": {k: v.to_json() for k, v in report.items()},
                          "verdict": lines}, indent=2))
        return 0
    rows = [("split", "videos", "boxes", "agnostic AP", "frame-mAP", "top-1 GT", "mAP on GT",
             "v-mAP@0.2", "v-mAP@0.5")]
    for d in report.values():
        rows.append((d.split, str(d.videos), str(d.gt_boxes), *(
            "-" if x is None else f"{x:.3f}" for x in (
                d.agnostic_ap, d.frame_map, d.top1_gt, d.gt_box_map, d.video_map_02,
                d.video_map_05))))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.rjust(w) for cell, w in zip(r, widths, strict=True)))
    for line in lines:
        print(f"- {line}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from halgui.core.metrics import EvalInputError, evaluate

    def read(path: Path) -> Any:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise HalguiError(f"{path}: cannot be read ({exc.strerror})") from exc
        except json.JSONDecodeError as exc:
            raise HalguiError(f"{path}: line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc

    try:
        result = evaluate(read(args.gt), read(args.pred), iou=args.iou,
                          convention=args.convention)
    except EvalInputError as exc:  # the readers say "ground truth ..." or name a prediction
        path = args.gt if str(exc).startswith("ground truth") else args.pred
        raise HalguiError(f"{path}: {exc}") from exc
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        convention = result["convention"]
        output({"convention": f"{convention['name']}: {convention['description']}",
                **{k: ("n/a" if v is None else f"{v:.4f}") for k, v in result["summary"].items()}},
               False)
    return 0


def cmd_round(args: argparse.Namespace) -> int:
    from halgui.core.al.distributed import check_nproc
    from halgui.core.al.rounds import run_round

    at_least_one(args, "clips_per_epoch")  # epochs and budget: checked by their flags' types
    with open_project(args.dir, lock="halgui round", force=args.force) as project:
        config = round_config(project, args)
        check_nproc(config.train.nproc, config.train.device)
        # a Kinetics backbone's weights: the round's first phase, before any data work
        result = drive(run_round(project, config, CancelFlag()), quiet=args.json)
    output({"round": result.number, "proposals": result.proposals,
            "checkpoint": None if result.checkpoint is None else str(result.checkpoint),
            "seconds": round(result.seconds, 1),
            **{k: v for k, v in result.metrics.items() if not isinstance(v, dict)}}, args.json)
    return 0


def round_config(project: Project, args: argparse.Namespace) -> RoundConfig:
    """The round ``halgui round`` runs: the project's saved Round settings (what the app's
    dialog shows), with only the flags given over them, so the app and the CLI agree."""
    import dataclasses

    from halgui.core.al.rounds import RoundConfig
    from halgui.core.al.settings import FIELDS, RoundSettings

    given = {name: getattr(args, name) for name in FIELDS if getattr(args, name) is not None}
    for name in ("budget", "minutes", "backbone_weights"):
        if given.get(name) == _AUTO:
            given[name] = None
    base = RoundConfig()
    if args.seed is not None:
        base = dataclasses.replace(base, seed=args.seed)
    if args.clips_per_epoch is not None:
        base = dataclasses.replace(base, train=dataclasses.replace(
            base.train, clip=dataclasses.replace(base.train.clip,
                                                 max_clips_per_epoch=args.clips_per_epoch)))
    if args.nproc != 1:  # how this run trains, not a saved setting of the project
        base = dataclasses.replace(base, train=dataclasses.replace(base.train, nproc=args.nproc))
    return RoundSettings.resolve(project, given).apply(base)


#: the help of ``--nproc`` (train and round)
NPROC_HELP = ("train data parallel on N processes: one per CUDA GPU, or sharing the CPU "
              "(default 1; see docs/training.md)")

#: the help of the backbone flags (train and round)
BACKBONE_HELP = ("the model's trunk: r2plus1d-tiny (halgui's, fast) or one of torchvision's "
                 "pretrained on Kinetics-400 (needs halgui[kinetics]; slow on a CPU; "
                 "docs/backbones.md)")
BACKBONE_WEIGHTS_HELP = ("a Kinetics backbone's weights from this file (a torchvision state "
                         "dict) instead of downloading them")
FREEZE_HELP = ("trunk stages training leaves as they are: auto (a Kinetics trunk whole on a "
               "CPU, all but its last stage on a GPU; none of halgui's), none, lower (all but "
               "the last) or all")

_AUTO = "auto"  # --budget auto / --minutes none: no number, whatever the project saved


class _Choices(Sequence[str]):
    """Choices read from core when argparse first needs them (to check a value or print
    help), so that building the parser for every command imports no learning module."""

    def __init__(self, name: str) -> None:
        self._name = name

    def _items(self) -> tuple[str, ...]:
        from halgui.core.al import settings

        return tuple(getattr(settings, self._name))

    def __getitem__(self, index: Any) -> Any:
        return self._items()[index]

    def __len__(self) -> int:
        return len(self._items())

    def __contains__(self, value: object) -> bool:
        return value in self._items()


def backbone_choices(name: str) -> Sequence[str]:
    """``halgui train``'s choices of Round setting list ``name`` (BACKBONES, FREEZE), read
    lazily as ``halgui round``'s are."""
    return _Choices(name)


def _setting(name: str) -> Callable[[str], Any]:
    """An argparse ``type`` that reads a flag as Round setting ``name`` (with its checks)."""

    def parse(text: str) -> Any:
        from halgui.core.al.settings import from_text

        try:
            value = from_text(name, text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return _AUTO if value is None else value

    return parse


def round_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``halgui round``: each Round setting (default None: the saved one)."""
    p.add_argument("dir", type=target)
    p.add_argument("--strategy", default=None, choices=_Choices("STRATEGY_NAMES"),
                   metavar="NAME", help="one of: %(choices)s")
    p.add_argument("--epochs", type=_setting("epochs"), default=None,
                   help="most epochs to train")
    p.add_argument("--minutes", type=_setting("minutes"), default=None,
                   help="train for about this many minutes (stops at the epochs if sooner), "
                        "or none")
    p.add_argument("--budget", type=_setting("budget"), default=None, metavar="FRAMES",
                   help="frames to propose, or auto (a share of the pool's frames)")
    p.add_argument("--alpha", type=_setting("alpha"), default=None,
                   help="share of the budget for new videos")
    start = p.add_mutually_exclusive_group()
    start.add_argument("--warm-start", dest="warm_start", action="store_const", const=True,
                       default=None, help="start from the previous round's weights")
    start.add_argument("--from-scratch", dest="warm_start", action="store_const", const=False,
                       help="do not start from the previous round's weights")
    p.add_argument("--device", default=None, choices=_Choices("DEVICES"), metavar="DEVICE",
                   help="one of: %(choices)s")
    p.add_argument("--pretrained", default=None, choices=_Choices("STARTS"), metavar="START",
                   help="what a model that does not warm-start starts from, one of: "
                        "%(choices)s (synth: halgui's pretrained trunk)")
    p.add_argument("--backbone", default=None, choices=_Choices("BACKBONES"), metavar="NAME",
                   help=BACKBONE_HELP + " (%(choices)s)")
    p.add_argument("--backbone-weights", type=_setting("backbone_weights"), default=None,
                   metavar="FILE", help=BACKBONE_WEIGHTS_HELP + ", or none (download them)")
    p.add_argument("--freeze", default=None, choices=_Choices("FREEZE"), help=FREEZE_HELP)
    p.add_argument("--clips-per-epoch", type=int, default=None)
    p.add_argument("--seed", type=int, default=None,
                   help="seed of the round's training and selection")
    p.add_argument("--nproc", type=int, default=1, metavar="N", help=NPROC_HELP)
    p.epilog = ("Flags not given keep the project's Round settings (the app's Round settings "
                "dialog), or their defaults if none were saved. Round 0 (no labeled frame yet) "
                "ignores them: it trains nothing and chooses videos by appearance.")


def cmd_simulate(args: argparse.Namespace) -> int:
    import dataclasses
    import time

    from halgui.core.al import owned, report
    from halgui.core.al.data import ClipConfig
    from halgui.core.al.rounds import RoundConfig
    from halgui.core.al.simulate import SimulateConfig, read_ground_truth, simulate
    from halgui.core.al.strategies import STRATEGIES
    from halgui.core.al.train import TrainConfig
    from halgui.core.al.uncertainty import UncertaintyConfig
    from halgui.core.synthetic import SynthConfig, generate

    at_least_one(args, "videos", "frames", "epochs", "size", "clips_per_epoch", "passes")
    pretrained = RoundConfig().train.pretrained if args.pretrained is None \
        else None if args.pretrained == "none" else args.pretrained
    if pretrained is not None:
        from halgui.core.al.pretrained import resolve

        resolve(pretrained)  # a missing one is refused before anything is written
    out = Path(args.out)
    gt = args.gt
    synth = None
    if gt is None:
        gt = out / "data" / "ground_truth.json"
        synth = synth_config(SynthConfig(), {"n_videos": ("--videos", args.videos),
                                             "n_frames": ("--frames", args.frames),
                                             "seed": ("--data-seed", args.data_seed)})
    elif not args.report_only:
        read_ground_truth(gt)  # a file simulate cannot use: one line naming it, nothing written
    if not args.report_only:  # which only reads its rows and redraws the results
        owned.claim(out)  # new, empty or an earlier run's: never a folder of the user's
    if synth is not None and not args.report_only:
        key = owned.key_of(dataclasses.asdict(synth))  # data of another config is not reused
        if not owned.reuse(out / "data", key):
            drive(generate(out / "data", synth), quiet=args.json)
            owned.finished(out / "data", key)
    strategies = tuple(args.strategies or STRATEGIES)
    clip = ClipConfig(size=args.size, max_clips_per_epoch=args.clips_per_epoch)
    train = TrainConfig(epochs=args.epochs, clip=clip, device=args.device,
                        pretrained=pretrained)
    config = SimulateConfig(
        strategies=strategies, seeds=tuple(args.seeds), target_fraction=args.target,
        budget_fraction=args.budget_fraction, initial_fraction=args.initial,
        reference=not args.no_reference,
        round=RoundConfig(train=train, uncertainty=UncertaintyConfig(passes=args.passes)))
    start = time.perf_counter()
    if args.loss_ablation is not None:
        from halgui.core.al.ablation import loss_ablation

        rows = drive(loss_ablation(out / "ablation", gt, fraction=args.loss_ablation,
                                   seeds=tuple(args.seeds), config=train, cancel=CancelFlag()),
                     quiet=args.json)
        points = report.aggregate(rows)
        report.write_csv(rows, out / "ablation.csv")
        text = [f"# Loss ablation: {args.loss_ablation:.0%} of frames, evenly spaced", "",
                f"Ground truth `{gt}`; {(time.perf_counter() - start) / 60:.1f} minutes; "
                f"training `{json.dumps(dataclasses.asdict(train))}`", "",
                report.markdown(points)]
        (out / "ablation.md").write_text("\n".join(text) + "\n", encoding="utf-8")
        print("\n".join(text))
        return 0
    partial = out / "results.partial.jsonl"  # rows as they come: a long run can be read early
    config_file = out / "config.json"
    if args.report_only:
        rows = _read_rows(partial)
        header = f"rows of {partial} (drawn with --report-only)"
        run_config = json.loads(config_file.read_text()) if config_file.exists() else None
    else:
        run_config = {"ground_truth": str(gt), **dataclasses.asdict(config)}
        done = _resumable(partial, config_file, run_config, config) if args.resume else {}
        kept = [r for got in done.values() for r in got]
        started = []

        def keep(event: Any) -> None:
            if not started:  # the simulation took its folders: an earlier run's are replaced
                started.append(True)  # (a resumed run keeps the rows of its finished runs)
                partial.write_text("".join(json.dumps(r.flat()) + "\n" for r in kept),
                                   encoding="utf-8")
                config_file.write_text(json.dumps(run_config, indent=1), encoding="utf-8")
            if "row" in event.extra:
                with open(partial, "a", encoding="utf-8") as f:
                    f.write(json.dumps(event.extra["row"].flat()) + "\n")

        rows = drive(simulate(out / "runs", gt, config, CancelFlag(), done=done),
                     quiet=args.json, on_event=keep)
        header = f"{(time.perf_counter() - start) / 60:.1f} minutes"
        if done:
            header += (f" (resumed: {len(done)} finished runs of an earlier start kept, "
                       f"{len(kept)} rows)")
    points = report.aggregate(rows)
    report.write_csv(rows, out / "results.csv")
    report.plot(points, out / "results.png")
    claims = report.claims(points)
    verdict = {True: "holds", False: "does not hold", None: "not measured"}
    seeds = sorted({r.seed for r in rows})
    text = [f"# halgui simulate: {len({r.strategy for r in rows} - {'reference'})} strategies x "
            f"{len(seeds)} seeds", "", f"Ground truth: `{gt}`; {header}.", "",
            f"Config: `{json.dumps(run_config)}`", "",
            report.markdown(points), "", "## Claims (algorithm.md 7)", ""]
    text += [f"- {s}: **{verdict[ok]}** ({detail})" for s, ok, detail in claims]
    (out / "results.md").write_text("\n".join(text) + "\n", encoding="utf-8")
    summary = {"results": str(out / "results.md"), "csv": str(out / "results.csv"),
               "plot": str(out / "results.png"),
               "claims": [{"claim": s, "holds": ok, "detail": d} for s, ok, d in claims]}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print("\n".join(text[6:]))
        print(f"\nwrote {out / 'results.md'}, {out / 'results.csv'}, {out / 'results.png'}")
    return 0


def _resumable(partial: Path, config_file: Path, run_config: dict[str, Any],
               config: Any) -> dict[tuple[int, str], list[Any]]:
    """The finished runs of an interrupted simulation in the same folder, if it was made with
    the same protocol (strategies and seeds may differ); one line otherwise."""
    from halgui.core.al.simulate import finished_runs

    if not partial.exists() or not config_file.exists():
        raise HalguiError(f"{partial.parent}: nothing to resume (no results.partial.jsonl or "
                          "config.json); run without --resume")
    try:
        before = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise HalguiError(f"{config_file}: cannot be read ({exc})") from exc
    now = json.loads(json.dumps(run_config))
    differs = sorted(k for k in now.keys() | before.keys()
                     if k not in ("strategies", "seeds") and now.get(k) != before.get(k))
    if differs:
        raise HalguiError(f"{config_file}: the interrupted run used other settings "
                          f"({', '.join(differs)}); resume with the same options, or run "
                          "without --resume to start over")
    return finished_runs(_read_rows(partial), config)


def _read_rows(path: Path) -> list[Any]:
    """Rows a simulation streamed to ``results.partial.jsonl``."""
    from halgui.core.al.simulate import METRICS, Row

    if not path.exists():
        raise HalguiError(f"{path}: no such file; run halgui simulate with this --out first")
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            rows.append(Row(d["strategy"], d["seed"], d["round"], d["frames_pct"],
                            d["boxes_pct"], {m: d.get(m) for m in METRICS}, d["seconds"],
                            tuple(int(x) for x in str(d.get("clusters") or "").split())))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise HalguiError(f"{path}: line {n}: not a simulation row ({exc})") from exc
    return rows
