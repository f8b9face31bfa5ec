"""Code that runs inside the ranks started by tests/core/al/test_distributed.py (a module of
its own: ``spawn`` processes import their target by name)."""

from pathlib import Path

import torch

from halgui.core.al.clustering import DeepClusters

#: the step's clips (video, centre frame) and how they are shared: 2 clips on rank 0, 1 on rank 1
ITEMS = [(0, 8), (1, 12), (0, 16)]
SIZES = [2, 1]


def setup():
    """The same start in every process: a tiny model in eval mode (BatchNorm uses its running
    statistics, dropout is off, so one process can compute what the ranks should get), its
    optimiser, a cluster term, and the batch of any of the step's clips (no augmentation)."""
    from halgui.core.al.data import make_batch
    from halgui.core.al.model import ActorLocalizer, ModelConfig
    from halgui.core.al.train import TrainConfig
    from tests.core.al.toy import CLIP, toy_video

    config = TrainConfig(width=4, clip=CLIP)
    videos = [toy_video(0, seed=0), toy_video(1, seed=1)]
    torch.manual_seed(3)
    model = ActorLocalizer(ModelConfig(n_classes=2, clip_len=CLIP.clip_len, stride=CLIP.stride,
                                       size=CLIP.size, width=4)).eval()
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=1e-2)
    centres = torch.nn.functional.normalize(torch.randn(3, 128), dim=1)
    cluster = DeepClusters(centres, torch.full((3,), 2.0))

    def batch_of(indices):
        return make_batch(videos, [ITEMS[i] for i in indices], CLIP, config.stew, None,
                          config.boxes)

    return model, optimiser, cluster, batch_of, SIZES, config


def one_step(rank: int, world: int, store: str, out: str) -> None:
    """One shared training step of :func:`setup`'s model and shards; writes this rank's
    weights, gradients and cluster state to ``out/rank<k>.pt``."""
    from halgui.core.al.distributed import Launch
    from halgui.core.al.distributed_rank import GatheredCluster, GradSync, join, shard
    from halgui.core.al.train import train_step

    device = join(rank, Launch(world, "gloo", "cpu", store, 1))
    try:
        model, optimiser, cluster, batch_of, sizes, config = setup()
        sync = GradSync(optimiser, rank, world, device)
        gathered = GatheredCluster(cluster, rank, world)
        sync.sizes = gathered.sizes = sizes
        train_step(model, sync, batch_of(shard(range(sum(sizes)), sizes, rank)), device,
                   config.stew, False, gathered, config.boxes)
        torch.save({"weights": {k: v.detach().clone() for k, v in model.named_parameters()},
                    "grads": {k: v.grad for k, v in model.named_parameters()},
                    "cluster": cluster.state()}, Path(out) / f"rank{rank}.pt")
    finally:
        torch.distributed.destroy_process_group()


class NanOnRankOne(DeepClusters):
    """A cluster term whose loss is NaN on rank 1 only (rank 0 alone would train on)."""

    def __init__(self) -> None:
        super().__init__(torch.eye(2, 128), torch.full((2,), 100.0))

    def loss(self, z: torch.Tensor) -> torch.Tensor:
        scale = float("nan") if torch.distributed.get_rank() == 1 else 0.0
        return z.sum() * scale
