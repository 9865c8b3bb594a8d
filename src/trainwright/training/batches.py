"""Where the loop's mini-batches come from: in-memory tensors by index, or a DataLoader."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

__all__ = ["TensorBatches", "LoaderBatches"]


class TensorBatches:
    """Mini-batches of in-memory tensors by index: no per-sample Python, no copies but the batch."""

    def __init__(self, X, y, weight, batch_size: int, seed: int, rank: int, world: int) -> None:
        self.X, self.y, self.weight, self.B, self.seed, self.rank, self.world = X, y, weight, batch_size, seed, rank, world
        starts = list(range(0, len(X), batch_size))
        # A last batch too small to share out (or for batch norm) joins the batch before it.
        if len(starts) > 1 and len(X) - starts[-1] < max(2, world):
            starts.pop()
        self.bounds = [(s, e) for s, e in zip(starts, starts[1:] + [len(X)])]

    def __len__(self) -> int:
        return len(self.bounds)

    def sample(self) -> torch.Tensor:
        return self.X[:1]

    def bn_rows(self):
        return self.X, self.B

    def epoch(self, epoch: int, skip: int):
        # The order of an epoch depends on (seed, epoch) only, so a resumed run replays it exactly.
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        order = torch.randperm(len(self.X), generator=gen).to(self.X.device)
        for start, end in self.bounds[skip:]:
            idx = order[start:end][self.rank::self.world]  # this rank's share of the global batch
            yield self.X[idx], self.y[idx], (self.weight[idx] if self.weight is not None else None)


class LoaderBatches:
    """Batches from a DataLoader, for data that must stream or be decoded. Each item is (x, y) or
    (x, y, weight). Seeded per epoch (its generator, or ``set_epoch`` of a DistributedSampler), so a
    resumed run sees the same order and skips the batches it had done."""

    def __init__(self, loader: DataLoader, seed: int, device: str) -> None:
        self.loader, self.seed, self.device = loader, seed, device

    def __len__(self) -> int:
        return len(self.loader)

    def sample(self) -> torch.Tensor:
        return next(iter(self.loader))[0][:1]

    def bn_rows(self):
        first = [b[0] for _, b in zip(range(16), self.loader)]
        return torch.cat(first).to(self.device), len(first[0])

    def epoch(self, epoch: int, skip: int):
        import itertools

        sampler = getattr(self.loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        if getattr(self.loader, "generator", None) is not None:
            self.loader.generator.manual_seed(self.seed * 1_000_003 + epoch)
        for batch in itertools.islice(iter(self.loader), skip, None):
            xb, yb = batch[0].to(self.device), batch[1].to(self.device)
            yield xb, yb, (batch[2].to(self.device) if len(batch) > 2 else None)
