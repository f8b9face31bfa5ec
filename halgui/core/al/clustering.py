"""Deep clustering of video embeddings (DCN, as CLAUS uses it; algorithm.md 5.2).

At the start of training, k-means on the labeled videos' embeddings gives K centres. The loss
pulls each clip embedding towards its nearest centre (``1/2 ||z - mu||^2``), and after every
batch each centre moves towards the embeddings assigned to it with a step of 1/n_k (per-cluster
counts starting at 100). After training every pool video goes to its nearest centre.
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


def assign(embeddings: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest centre (Euclidean) of each embedding."""
    e, c = np.asarray(embeddings, np.float64), np.asarray(centres, np.float64)
    d = ((e[:, None, :] - c[None, :, :]) ** 2).sum(-1)
    return np.argmin(d, axis=1)


class DeepClusters:
    """The cluster term of the training loss, with its online centre updates."""

    def __init__(self, centres: np.ndarray | torch.Tensor, counts: np.ndarray | torch.Tensor
                 ) -> None:
        import torch

        self.centres = torch.as_tensor(np.asarray(centres), dtype=torch.float32).clone()
        self.counts = torch.as_tensor(np.asarray(counts), dtype=torch.float32).clone()

    @classmethod
    def from_embeddings(cls, embeddings: np.ndarray, config: ClusterConfig) -> DeepClusters:
        """Initialise by k-means on (L2-normalised) labeled-video embeddings."""
        centres, _ = kmeans(normalise(embeddings), config.k, config.n_init, config.seed)
        return cls(centres, np.full(len(centres), float(config.initial_count)))

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor]) -> DeepClusters:
        return cls(state["centres"], state["counts"])

    def state(self) -> dict[str, torch.Tensor]:
        return {"centres": self.centres.clone(), "counts": self.counts.clone()}

    def _nearest(self, z: torch.Tensor) -> torch.Tensor:
        import torch

        return torch.cdist(z.detach(), self.centres.to(z.device)).argmin(dim=1)

    def loss(self, z: torch.Tensor) -> torch.Tensor:
        """Mean over the batch of 1/2 ||z - mu_c(z)||^2 (centres are constants here)."""
        mu = self.centres.to(z.device)[self._nearest(z)]
        return 0.5 * ((z - mu) ** 2).sum(dim=1).mean()

    def update(self, z: torch.Tensor) -> None:
        """mu_k <- (1 - 1/n_k) mu_k + (1/n_k) z for each embedding, in batch order."""
        z = z.detach().float().cpu()
        for i, c in enumerate(self._nearest(z).tolist()):
            self.counts[c] += 1
            rate = 1.0 / float(self.counts[c])
            self.centres[c] = (1 - rate) * self.centres[c] + rate * z[i]

    def assign(self, embeddings: np.ndarray) -> np.ndarray:
        return assign(embeddings, self.centres.numpy())
