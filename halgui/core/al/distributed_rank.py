"""One rank of data-parallel training: joining the group, the shared step, the gathered
cluster update. Runs in a process :mod:`halgui.core.al.distributed` started.

How the work is split, so that N ranks see what one process sees:

* every rank plans the same schedule (same seed), and each step's clips are cut into N
  contiguous shards whose sizes differ by at most one (lower ranks take the extra); the global
  batch, the steps and the clips seen per epoch are those of the single-process run. A rank
  left without a clip (a last batch smaller than N) trains on a copy of the step's first clip
  with weight 0, so that it still takes part in every collective.
* gradients: after ``backward`` every rank's gradient, weighted by its number of clips, is
  summed over the ranks in one all-reduce and divided by the step's clips (:class:`GradSync`).
  Each rank's loss is normalised over its own shard (as under DistributedDataParallel), so the
  result is the clip-weighted mean of the shards' gradients, not exactly the full batch's.
  The optimiser wrapper was chosen over DistributedDataParallel because it needs no change to
  ``train_step`` or the model (DDP would hide ``normalise`` behind ``.module`` and refuse the
  parameters a step leaves unused, like the box head without box targets); with models of a few
  MB the one all-reduce per step costs little even without overlapping the backward pass.
* BatchNorm is plain, per rank: each normalises over its own shard, and rank 0's running
  statistics are the ones saved.
* the cluster term's loss uses the rank's shard, but its centre update sees the embeddings of
  every rank, gathered in rank order (the single-process batch order), so every rank's centres
  stay equal to each other.
* after every step one small all-reduce carries the step's loss, its clips, and rank 0's
  "stop" (a cancel from the caller, or the time budget spent), so all ranks stop at the same
  step; a NaN on any rank is a NaN for all.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import sys
import threading
import time
from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from halgui.core.al.data import Batch, VideoLabels, make_batch, prefetch
from halgui.core.al.distributed import Job, Launch, MappedFrames
from halgui.core.error_report import format_traceback
from halgui.core.errors import Cancelled, HalguiError
from halgui.core.progress import CancelFlag, Progress, Throttle

if TYPE_CHECKING:
    import torch

    from halgui.core.al.train import ClusterTerm, TrainResult


def shard_sizes(n: int, world: int) -> list[int]:
    """Clips of each rank for a step of ``n`` clips: contiguous, lower ranks take the extra."""
    return [n // world + (1 if r < n % world else 0) for r in range(world)]


def shard(items: Sequence[Any], sizes: Sequence[int], rank: int) -> list[Any]:
    """This rank's part of a step's clips (the step's first clip when it has none)."""
    start = sum(sizes[:rank])
    return list(items[start:start + sizes[rank]]) or list(items[:1])


def join(rank: int, launch: Launch) -> torch.device:
    """Join the process group; the device this rank trains on."""
    from pathlib import Path

    import torch
    import torch.distributed as dist

    if launch.device_type == "cuda":
        torch.cuda.set_device(rank)
        device = torch.device("cuda", rank)
    else:
        torch.set_num_threads(launch.threads)
        device = torch.device("cpu")
    dist.init_process_group(launch.backend, init_method=Path(launch.store).as_uri(),
                            rank=rank, world_size=launch.world)
    return device


def same_start(model: torch.nn.Module) -> None:
    """Every rank starts from rank 0's weights and buffers."""
    import torch.distributed as dist

    for tensor in [*model.parameters(), *model.buffers()]:
        dist.broadcast(tensor.data, src=0)


def average_gradients(params: Sequence[torch.nn.Parameter], sizes: Sequence[int], rank: int,
                      device: torch.device) -> None:
    """Each parameter's gradient becomes the clip-weighted mean of the ranks' gradients; one
    that no rank has stays None (as in one process, the optimiser then skips it)."""
    import torch
    import torch.distributed as dist

    mine, total = sizes[rank], sum(sizes)
    parts, present = [], []
    for p in params:
        has = p.grad is not None and mine > 0
        parts.append(p.grad.detach().reshape(-1).float() * mine if has and p.grad is not None
                     else torch.zeros(p.numel(), device=device))
        present.append(1.0 if has else 0.0)
    flat = torch.cat([*parts, torch.tensor(present, device=device)])
    dist.all_reduce(flat)
    offset = 0
    for p, count in zip(params, flat[-len(params):].tolist(), strict=True):
        n = p.numel()
        p.grad = (flat[offset:offset + n] / total).view(p.shape).to(p.dtype) if count else None
        offset += n


class GradSync:
    """The optimiser as ``train_step`` sees it: :meth:`step` first averages the gradients over
    the ranks (:func:`average_gradients`), weighted by :attr:`sizes`, the step's shards."""

    def __init__(self, optimiser: torch.optim.Optimizer, rank: int, world: int,
                 device: torch.device) -> None:
        self.optimiser, self.rank, self.device = optimiser, rank, device
        self.sizes = [1] * world

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return self.optimiser.param_groups

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimiser.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        params = [p for group in self.optimiser.param_groups for p in group["params"]]
        average_gradients(params, self.sizes, self.rank, self.device)
        self.optimiser.step()


class GatheredCluster:
    """A cluster term whose centre update sees the clips of every rank, in batch order."""

    def __init__(self, inner: ClusterTerm, rank: int, world: int) -> None:
        self.inner, self.rank = inner, rank
        self.sizes = [1] * world

    def loss(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.inner.loss(embeddings)

    def update(self, embeddings: torch.Tensor) -> None:
        import torch
        import torch.distributed as dist

        rows = max(self.sizes)
        mine = embeddings[:self.sizes[self.rank]]
        padded = torch.zeros((rows, *embeddings.shape[1:]), dtype=embeddings.dtype,
                             device=embeddings.device)
        padded[:len(mine)] = mine
        gathered = [torch.empty_like(padded) for _ in self.sizes]
        dist.all_gather(gathered, padded)
        self.inner.update(torch.cat([g[:n] for g, n in zip(gathered, self.sizes, strict=True)]))

    def state(self) -> dict[str, torch.Tensor]:
        return self.inner.state()


def opened(video: VideoLabels) -> VideoLabels:
    """``video`` with memmapped frames mapped again in this process."""
    if isinstance(video.frames, MappedFrames):
        return dataclasses.replace(video, frames=video.frames.open())
    return video


def train_rank(rank: int, world: int, device: torch.device, job: Job,
               stop: CancelFlag | None) -> Generator[Progress, None, TrainResult]:
    """``train()``'s loop on one rank (the same steps, pieces and messages); only rank 0
    saves. ``stop`` is rank 0's view of the caller's cancel flag."""
    import torch
    import torch.distributed as dist

    from halgui.core.al import checkpoint
    from halgui.core.al.prototypes import fit as fit_prototypes
    from halgui.core.al.train import (
        TrainingError,
        TrainResult,
        _Schedule,
        initial_model,
        make_optimiser,
        step_progress,
        train_step,
    )

    config = job.config
    videos = [opened(v) for v in job.videos]
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = initial_model(len(job.class_names), config, job.init, device)
    same_start(model)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last_3d)
    # dropout masks differ between ranks, as they differ between the clips of one batch
    torch.manual_seed(int(np.random.SeedSequence([config.seed, rank]).generate_state(1)[0]))
    sync = GradSync(make_optimiser(model, config), rank, world, device)
    cluster = None if job.cluster is None else GatheredCluster(job.cluster, rank, world)
    autocast = device.type == "cuda" and config.amp
    plan = _Schedule(videos, config, rng)

    def make(i: int) -> tuple[list[int], Batch]:
        items = plan.items(i)
        sizes = shard_sizes(len(items), world)
        return sizes, make_batch(videos, shard(items, sizes, rank), config.clip, config.stew,
                                 np.random.default_rng([config.seed, i, rank]), config.boxes)

    losses: list[float] = []
    samples = 0
    start = time.perf_counter()
    total = plan.total
    model.train()
    extra = {"device": f"{device.type} x{world}", "processes": world}
    yield Progress("training", 0, total, "starting", {"epoch": 0, "epochs": config.epochs,
                                                      **extra})
    steps = plan.total_steps if plan.total_steps is not None else sys.maxsize
    with contextlib.closing(prefetch(make, steps)) as stream:
        for step, (sizes, batch) in enumerate(stream, start=1):
            sync.sizes = sizes
            if cluster is not None:
                cluster.sizes = sizes
            try:
                loss = train_step(model, sync, batch, device, config.stew,  # type: ignore[arg-type]
                                  autocast, cluster, config.boxes)
            except torch.OutOfMemoryError as exc:
                raise TrainingError(f"out of memory on {device} at step {step}: lower the "
                                    "batch size or use fewer processes") from exc
            mine = sizes[rank]
            spent = plan.budget_s is not None and time.perf_counter() - start >= plan.budget_s
            agreed = torch.tensor([loss * mine if mine else 0.0, mine,
                                   float(rank == 0 and stop is not None and stop.cancelled),
                                   float(rank == 0 and spent)], dtype=torch.float64,
                                  device=device)
            dist.all_reduce(agreed)
            loss_sum, clips, cancelled, budget_spent = agreed.tolist()
            loss, samples = loss_sum / clips, samples + round(clips)
            event = step_progress(plan, config, step, loss, time.perf_counter() - start,
                                  {"samples": samples, **extra})  # a NaN ends it first
            if cancelled:
                raise Cancelled("cancelled")
            losses.append(loss)
            yield event
            if budget_spent:
                break
    if not losses:
        raise TrainingError("no training step ran (no clip to train on)")
    seconds = time.perf_counter() - start
    path = job.out
    if rank == 0:  # the class prototypes as train() fits them, then the one checkpoint
        yield from fit_prototypes(model, videos, config.clip, cancel=stop)
        path = checkpoint.save(
            job.out, model, job.class_names, cluster.state() if cluster is not None else None,
            {"steps": len(losses), "final_loss": losses[-1], "seconds": seconds,
             "weighting": config.stew.weighting, "processes": world, "samples": samples})
    return TrainResult(path, len(losses), losses[-1], losses, seconds, extra["device"])


def rank_main(rank: int, launch: Launch, job: Job, messages: Any, stop: Any) -> None:
    """A rank's process: join, train, and tell the caller's process how it ended (rank 0
    also sends the progress events, throttled)."""
    import torch.distributed as dist

    # Ctrl+C is for the caller's process, which then stops the ranks through rank 0; a rank
    # that took it too would die mid-collective with a traceback of its own
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    flag = None
    if stop is not None:
        flag = CancelFlag()
        threading.Thread(target=_watch, args=(stop, flag), name="halgui-stop-watch",
                         daemon=True).start()
    try:
        work = train_rank(rank, launch.world, join(rank, launch), job, flag)
        _send(rank, work, messages)
    except Cancelled:
        if rank == 0:
            messages.put(("cancelled",))
    except Exception as exc:  # the caller's process raises it again
        messages.put(("failed", rank, isinstance(exc, HalguiError), type(exc).__name__,
                      str(exc), format_traceback(exc)))
    finally:
        if dist.is_initialized():
            with contextlib.suppress(Exception):
                dist.destroy_process_group()
        messages.close()
        messages.join_thread()


def _send(rank: int, work: Generator[Progress, None, TrainResult], messages: Any) -> None:
    throttle = Throttle()
    while True:
        try:
            event = next(work)
        except StopIteration as end:
            if rank == 0:
                for held in throttle.flush():
                    messages.put(("progress", held))
                messages.put(("done", end.value))
            return
        if rank == 0 and throttle.passes(event):
            messages.put(("progress", event))


def _watch(stop: Any, flag: CancelFlag) -> None:
    """Set rank 0's cancel flag when the caller asks, or when the caller is gone."""
    with contextlib.suppress(EOFError, OSError):
        stop.recv()
    flag.cancel()
