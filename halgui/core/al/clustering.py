"""Deep clustering of video embeddings (DCN, as CLAUS uses it; algorithm.md 5.2).

At the start of training, k-means on the labeled videos' embeddings gives K centres. The loss
pulls each clip embedding towards its nearest centre (``1/2 ||h - mu||^2``), and after every
batch each centre moves towards the embeddings assigned to it with a step of 1/n_k (per-cluster
counts starting at 100). After training every pool video goes to its nearest centre.

Where the clustering happens: ``h = normalise(z - m)``, the direction of an L2-normalised
embedding from a reference mean ``m``, and centres are kept on that unit sphere. Measured on the
demo (docs/clusters.md): the embeddings of a barely trained model all point the same way (cosine
0.99 between any two videos) and the whole cloud drifts as the trunk trains, so in the raw space
the centres chosen before training end up far from every embedding and one of them is nearest
to all (17 of 17 pool videos in one cluster after one round). Subtracting the mean removes the
shared direction and the drift; the reference follows training as a running mean of the batch
means, and the pool is compared around its own mean. A centre that no pool video is nearest to
is re-seeded at the video furthest from its centre, so K centres give K non-empty clusters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported where the loss is used, not by selection code
    import torch


@dataclass(frozen=True)
class ClusterConfig:
    """Choices of the clustering; defaults from algorithm.md 5.2 (beta is in StewConfig)."""

    k: int = 5
    n_init: int = 10
    seed: int = 0
    initial_count: int = 100
    #: share of each batch's mean embedding in the running reference mean: the embeddings drift
    #: as the trunk trains, and a slow mean (0.1) left the centres behind it (docs/clusters.md)
    mean_momentum: float = 0.5


def kmeans(features: np.ndarray, k: int, n_init: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded k-means: ``(centres (k', D), labels (n,))`` with k' = min(k, distinct rows)."""
    from sklearn.cluster import KMeans

    x = np.asarray(features, dtype=np.float64)
    k = max(1, min(k, len(np.unique(x, axis=0))))
    model = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(x)
    return model.cluster_centers_, model.labels_


def normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def centred(x: np.ndarray, mean: np.ndarray | None = None) -> np.ndarray:
    """``normalise(normalise(x) - mean)``: where the clustering compares embeddings; ``mean``
    defaults to the rows' own mean (of their normalised values)."""
    x = normalise(x)
    return normalise(x - (x.mean(axis=0) if mean is None else np.asarray(mean, np.float64)))


def assign(embeddings: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest centre (Euclidean) of each embedding; ties: the lowest index."""
    e, c = np.asarray(embeddings, np.float64), np.asarray(centres, np.float64)
    d = ((e[:, None, :] - c[None, :, :]) ** 2).sum(-1)
    return np.argmin(d, axis=1)


def reseed_empty(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Nearest-centre labels where no centre is left without points while any cluster has two:
    each empty centre in turn (lowest index first) moves onto the point furthest from its own
    centre among clusters of two or more, and all points are assigned again."""
    x, c = np.asarray(points, np.float64), np.array(centres, dtype=np.float64)
    labels = assign(x, c)
    for _ in range(len(c)):
        sizes = np.bincount(labels, minlength=len(c))
        empty = np.flatnonzero(sizes == 0)
        if empty.size == 0:
            break
        d = np.where(sizes[labels] >= 2, ((x - c[labels]) ** 2).sum(-1), -np.inf)
        far = int(np.argmax(d))
        if not np.isfinite(d[far]):
            break  # every point has a cluster of its own: nothing to spread
        c[empty[0]] = x[far]
        labels = assign(x, c)
    return labels


class DeepClusters:
    """The cluster term of the training loss, with its online centre updates."""

    def __init__(self, centres: np.ndarray | torch.Tensor, counts: np.ndarray | torch.Tensor,
                 mean: np.ndarray | torch.Tensor | None = None, momentum: float = 0.5) -> None:
        import torch

        self.centres = torch.as_tensor(np.asarray(centres), dtype=torch.float32).clone()
        self.counts = torch.as_tensor(np.asarray(counts), dtype=torch.float32).clone()
        self.mean = (torch.zeros(self.centres.shape[1]) if mean is None else
                     torch.as_tensor(np.asarray(mean), dtype=torch.float32).clone())
        self.momentum = float(momentum)

    @classmethod
    def from_embeddings(cls, embeddings: np.ndarray, config: ClusterConfig) -> DeepClusters:
        """Initialise by k-means on the labeled videos' centred embeddings (unit centres)."""
        x = normalise(embeddings)
        centres, _ = kmeans(centred(x), config.k, config.n_init, config.seed)
        return cls(normalise(centres), np.full(len(centres), float(config.initial_count)),
                   x.mean(axis=0), config.mean_momentum)

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor]) -> DeepClusters:
        momentum = state.get("momentum")
        return cls(state["centres"], state["counts"], state.get("mean"),
                   0.5 if momentum is None else float(momentum))

    def state(self) -> dict[str, torch.Tensor]:
        import torch

        return {"centres": self.centres.clone(), "counts": self.counts.clone(),
                "mean": self.mean.clone(), "momentum": torch.tensor(self.momentum)}

    def _reference(self, z: torch.Tensor) -> torch.Tensor:
        """The mean this batch is centred on: ``(1 - a) m + a mean(z)`` (a constant)."""
        batch = z.detach().float().mean(dim=0)
        return (1 - self.momentum) * self.mean.to(z.device) + self.momentum * batch

    def project(self, z: torch.Tensor) -> torch.Tensor:
        """``h = normalise(z - m)`` with this batch's reference ``m`` (differentiable in z)."""
        import torch

        return torch.nn.functional.normalize(z - self._reference(z), dim=1, eps=1e-12)

    def _nearest(self, h: torch.Tensor) -> torch.Tensor:
        import torch

        return torch.cdist(h.detach(), self.centres.to(h.device)).argmin(dim=1)

    def loss(self, z: torch.Tensor) -> torch.Tensor:
        """Mean over the batch of 1/2 ||h - mu_c(h)||^2 (centres and reference are constants)."""
        h = self.project(z)
        mu = self.centres.to(z.device)[self._nearest(h)]
        return 0.5 * ((h - mu) ** 2).sum(dim=1).mean()

    def update(self, z: torch.Tensor) -> None:
        """mu_k <- normalise((1 - 1/n_k) mu_k + (1/n_k) h) for each embedding, in batch order,
        each to the centre nearest before the batch; then the reference mean moves on."""
        import torch

        z = z.detach().float().cpu()
        reference = self._reference(z)
        h = torch.nn.functional.normalize(z - reference, dim=1, eps=1e-12)
        for i, c in enumerate(self._nearest(h).tolist()):
            self.counts[c] += 1
            rate = 1.0 / float(self.counts[c])
            moved = (1 - rate) * self.centres[c] + rate * h[i]
            self.centres[c] = moved / moved.norm().clamp_min(1e-12)
        self.mean = reference

    def assign(self, embeddings: np.ndarray) -> np.ndarray:
        """Cluster of each pool video: nearest centre around the pool's own mean, with empty
        centres re-seeded (:func:`reseed_empty`)."""
        return reseed_empty(centred(embeddings), self.centres.numpy())
