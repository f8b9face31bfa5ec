"""Training on several processes at once (data parallel, ``torch.distributed``): the launch.

``train(..., TrainConfig(nproc=N))`` comes here. The caller's process starts N ``spawn``
processes, one per rank (never ``fork``: the caller may be a GUI with threads, or a frozen app
whose entry point calls ``multiprocessing.freeze_support``), and stays the one generator the
caller pulls: rank 0 sends its progress events here and this process yields them; the caller's
cancel flag reaches rank 0 through a pipe, and the ranks agree to stop at the same step
(:mod:`halgui.core.al.distributed_rank`). Ranks meet through a file store in a temporary
folder, so no network port is chosen or held. On the CPU the ranks use Gloo and share the
cores (cores / N torch threads each); with CUDA each rank has its own GPU and uses NCCL.

Only rank 0 writes the checkpoint, in the format :func:`checkpoint.save` always writes. On an
error in any rank, or a cancel, every rank is stopped (asked first, killed after a grace
period) and nothing is saved.

On a CPU this is mainly for testing the parallel path: the ranks share the same cores, so it
is not faster than one process (docs/training.md has the figures).
"""

from __future__ import annotations

import contextlib
import dataclasses
import mmap
import os
import queue as queue_mod
import tempfile
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from halgui.core.error_report import RemoteBug
from halgui.core.errors import Cancelled, HalguiError
from halgui.core.progress import CancelFlag, Progress

if TYPE_CHECKING:
    from halgui.core.al.data import VideoLabels
    from halgui.core.al.train import ClusterTerm, TrainConfig, TrainResult


class NprocError(HalguiError):
    """``--nproc`` asks for more processes than this machine can give (or for none)."""


@dataclass(frozen=True)
class ParallelConfig:
    """Timing of the launch; the numbers are choices, not limits of torch."""

    poll_s: float = 0.05        # how often the caller's process looks at its cancel flag
    stop_grace_s: float = 30.0  # how long ranks may take to stop cleanly before they are killed
    #: after a rank failed the others may wait in a collective for ever: kill them sooner
    error_grace_s: float = 2.0
    last_word_s: float = 1.0    # how long to wait for the message of a rank that has exited


@dataclass(frozen=True)
class Launch:
    """What every rank needs to join the others."""

    world: int
    backend: str        # "gloo" or "nccl"
    device_type: str    # "cpu" or "cuda"
    store: str          # the file the ranks meet through
    threads: int        # torch threads per rank on the CPU


def cpu_cores() -> int:
    """The cores this process may run on (the affinity mask where there is one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def check_nproc(nproc: int, device: str) -> tuple[str, str]:
    """``(device type, backend)`` for ``nproc`` ranks on ``device`` (auto | cpu | cuda | mps),
    or :class:`NprocError` with a one-line reason. One process needs nothing: ``("", "")``."""
    if nproc < 1:
        raise NprocError(f"--nproc must be at least 1, not {nproc}")
    if nproc == 1:
        return "", ""
    import torch

    if not torch.distributed.is_available():
        raise NprocError("--nproc needs torch.distributed, which this torch build lacks")
    if device in ("mps",):
        raise NprocError(f"--nproc {nproc} trains on CUDA GPUs or on the CPU, not on {device}")
    cuda = device in ("cuda", "gpu") or (device == "auto" and torch.cuda.is_available())
    if cuda:
        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if nproc > gpus:
            raise NprocError(f"--nproc {nproc} is more than the {gpus} CUDA GPU(s) here "
                             "(one process per GPU)")
        if not torch.distributed.is_nccl_available():
            raise NprocError("--nproc on CUDA needs NCCL, which this torch build lacks")
        return "cuda", "nccl"
    cores = cpu_cores()
    if nproc > cores:
        raise NprocError(f"--nproc {nproc} is more than the {cores} CPU cores here")
    return "cpu", "gloo"


@dataclass(frozen=True)
class MappedFrames:
    """A clip cache's memmap, sent to a rank as its file name rather than its bytes (a
    memmap pickles as a full in-memory copy); the rank maps the same file read-only."""

    filename: str
    dtype: str
    shape: tuple[int, ...]
    offset: int
    order: str

    def open(self) -> np.ndarray:
        return np.memmap(self.filename, dtype=np.dtype(self.dtype), mode="r",
                         offset=self.offset, shape=self.shape, order=self.order)


def portable(video: VideoLabels) -> VideoLabels:
    """``video`` with its frames as a :class:`MappedFrames` when they are a whole-file memmap
    (a view of one has the file's offset, not its own, so it travels as bytes)."""
    frames = video.frames
    if (isinstance(frames, np.memmap) and frames.filename is not None
            and isinstance(frames.base, mmap.mmap)):
        ref = MappedFrames(str(frames.filename), frames.dtype.str, tuple(frames.shape),
                           int(frames.offset), "F" if np.isfortran(frames) else "C")
        return dataclasses.replace(video, frames=ref)  # type: ignore[arg-type]
    return video


@dataclass
class Job:
    """The training a rank runs: train()'s arguments, picklable."""

    videos: list[VideoLabels]
    class_names: list[str]
    config: TrainConfig
    out: Path
    init: Path | None
    cluster: ClusterTerm | None


def train_parallel(
    videos: Sequence[VideoLabels], class_names: Sequence[str], config: TrainConfig,
    out: str | Path, *, init: str | Path | None = None, cluster: ClusterTerm | None = None,
    cancel: CancelFlag | None = None, timing: ParallelConfig = ParallelConfig(),
) -> Generator[Progress, None, TrainResult]:
    """:func:`halgui.core.al.train.train` on ``config.nproc`` processes: same events, same
    result, same checkpoint."""
    import torch.multiprocessing as tmp

    from halgui.core.al.distributed_rank import rank_main

    device_type, backend = check_nproc(config.nproc, config.device)
    world = config.nproc
    job = Job([portable(v) for v in videos], list(class_names), config, Path(out),
              None if init is None else Path(init), cluster)
    ctx = tmp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="halgui-ranks-") as folder:
        launch = Launch(world, backend, device_type, str(Path(folder) / "store"),
                        max(1, cpu_cores() // world))
        messages = ctx.Queue()
        # "stop" is a message on a pipe, not an Event: a rank that exits while it waits on an
        # Event's condition would leave the caller's Event.set() blocked (as in process_job)
        stop_reader, stop_writer = ctx.Pipe(duplex=False)
        ranks = [ctx.Process(target=rank_main, name=f"halgui-rank-{rank}", daemon=True,
                             args=(rank, launch, job, messages,
                                   stop_reader if rank == 0 else None))
                 for rank in range(world)]
        for process in ranks:
            process.start()
        stop_reader.close()
        failed = True
        try:
            result = yield from _relay(ranks, messages, cancel, stop_writer, timing)
            failed = False
            return result
        except Cancelled:
            failed = False
            raise
        finally:
            with contextlib.suppress(OSError, ValueError):  # rank 0 may be gone already
                stop_writer.send(True)
            _wait(ranks, messages, timing.error_grace_s if failed else timing.stop_grace_s,
                  timing.poll_s)
            stop_writer.close()
            messages.close()
            messages.cancel_join_thread()


def _relay(ranks: list[Any], messages: Any, cancel: CancelFlag | None, stop: Any,
           timing: ParallelConfig) -> Generator[Progress, None, TrainResult]:
    """Yield rank 0's events until one rank says it is done, failed or was cancelled."""
    asked = False
    while True:
        if cancel is not None and cancel.cancelled and not asked:
            asked = True
            with contextlib.suppress(OSError, ValueError):
                stop.send(True)
        try:
            message = messages.get(timeout=timing.poll_s)
        except queue_mod.Empty:
            ended = [(i, p.exitcode) for i, p in enumerate(ranks) if not p.is_alive()]
            gone = [(i, code) for i, code in ended if code != 0]
            if not gone and len(ended) < len(ranks):
                continue
            try:  # it may have said its last word just before it exited
                message = messages.get(timeout=timing.last_word_s)
            except queue_mod.Empty:
                rank, code = (gone or ended)[0]
                raise HalguiError(f"training process {rank} of {len(ranks)} stopped "
                                  f"unexpectedly (exit code {code}); nothing was saved") from None
        kind = message[0]
        if kind == "progress":
            yield message[1]
        elif kind == "done":
            return message[1]  # type: ignore[no-any-return]
        elif kind == "cancelled":
            raise Cancelled("cancelled")
        else:
            _, rank, user_error, type_name, text, trace = message
            if user_error:
                raise _user_error(type_name, text)
            raise RemoteBug(type_name, f"training process {rank}: {text}", trace)


def _user_error(type_name: str, text: str) -> HalguiError:
    """A rank's HalguiError as the caller knows it: a TrainingError stays one."""
    from halgui.core.al.train import TrainingError

    return TrainingError(text) if type_name == "TrainingError" else HalguiError(text)


def _wait(ranks: list[Any], messages: Any, grace_s: float, poll_s: float) -> None:
    """Wait for every rank to exit, draining what they still send so none blocks on a full
    pipe; kill those still running after ``grace_s``."""
    deadline = time.monotonic() + grace_s
    while any(p.is_alive() for p in ranks) and time.monotonic() < deadline:
        try:
            messages.get(timeout=poll_s)
        except queue_mod.Empty:
            pass
        except (EOFError, OSError, ValueError):
            time.sleep(poll_s)
    for process in ranks:
        if process.is_alive():
            process.kill()
        process.join(5.0)
