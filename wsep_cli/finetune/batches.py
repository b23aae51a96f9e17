"""Batches for one epoch: tensor data on the device with batched augmentation, or an ImageFolder
through a DataLoader. Both follow the same plan so that runs are reproducible and shardable:

- the epoch's order comes from :func:`~wsep_cli.finetune.augment.plan_epoch` (seed, epoch);
- global batch ``s`` is positions ``s*B .. (s+1)*B`` of that order; with W processes rank r takes
  every W-th sample of it (``[r::W]``), so W ranks together see exactly the single-process batch;
- a trailing partial batch is kept only when every rank gets at least 2 samples (batch norm);
- ``start_step`` skips the first steps of an epoch when a run resumes mid-epoch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator, Optional

import torch

from wsep_cli.finetune.augment import apply_flip, normalize, plan_epoch, random_crop
from wsep_cli.finetune.data import DataBundle, FolderSplit, Split, TensorSplit

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["Batches", "TensorBatches", "FolderBatches", "make_batches"]

Batch = tuple["Tensor", "Tensor"]


class Batches:
    """Common step arithmetic; subclasses yield (x, y) on the device."""

    def __init__(self, n: int, batch_size: int, *, train: bool, rank: int, world: int) -> None:
        self.n, self.batch, self.train, self.rank, self.world = n, batch_size, train, rank, world
        full, rest = divmod(n, batch_size)
        keep_rest = rest >= 2 * world if train else rest > 0
        self.steps = full + (1 if keep_rest else 0)

    def positions(self, step: int) -> slice:
        lo = step * self.batch
        return slice(lo + self.rank, min(lo + self.batch, self.n), self.world)

    def epoch(self, epoch: int, start_step: int = 0) -> Iterator[Batch]:  # pragma: no cover - abstract
        raise NotImplementedError


class TensorBatches(Batches):
    """A split held on the device once; crop/flip/normalise as batched tensor ops."""

    def __init__(self, split: TensorSplit, bundle: DataBundle, device: torch.device, batch_size: int, *,
                 train: bool, seed: int, rank: int = 0, world: int = 1, channels_last: bool = False) -> None:
        super().__init__(len(split), batch_size, train=train, rank=rank, world=world)
        self.x = split.x.to(device)
        self.y = split.y.to(device)
        self.device, self.seed, self.bundle = device, seed, bundle
        self.mean = torch.tensor(bundle.mean, device=device).view(-1, 1, 1)
        self.std = torch.tensor(bundle.std, device=device).view(-1, 1, 1)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def epoch(self, epoch: int, start_step: int = 0) -> Iterator[Batch]:
        b = self.bundle
        plan = plan_epoch(self.n, self.seed, epoch, b.pad, b.flip) if self.train else None
        if plan is not None:  # one copy per epoch, not per step
            order, dx, dy, flip = (t.to(self.device) for t in (plan.order, plan.dx, plan.dy, plan.flip))
        for step in range(start_step, self.steps):
            pos = self.positions(step)
            if plan is None:
                xb, yb = self.x[pos], self.y[pos]
            else:
                idx = order[pos]
                xb, yb = self.x[idx], self.y[idx]
                xb = random_crop(xb, b.pad, dx[pos], dy[pos])
                xb = apply_flip(xb, flip[pos])
            xb = normalize(xb, self.mean, self.std).contiguous(memory_format=self.memory_format)
            yield xb, yb


def _transforms(bundle: DataBundle, train: bool):  # type: ignore[no-untyped-def]
    from torchvision import transforms as T

    s = bundle.image_size
    ops = [T.Resize(s), T.CenterCrop(s)]
    if train and bundle.pad:
        ops.append(T.RandomCrop(s, padding=bundle.pad))
    if train and bundle.flip:
        ops.append(T.RandomHorizontalFlip())
    ops += [T.ToTensor(), T.Normalize(bundle.mean, bundle.std)]
    return T.Compose(ops)


class FolderBatches(Batches):
    """An ImageFolder through a DataLoader (pinned memory on CUDA) following the same plan."""

    def __init__(self, split: FolderSplit, bundle: DataBundle, device: torch.device, batch_size: int, *,
                 train: bool, seed: int, rank: int = 0, world: int = 1, workers: int = 2,
                 channels_last: bool = False) -> None:
        from torchvision.datasets import ImageFolder

        self.dataset = ImageFolder(str(split.root), transform=_transforms(bundle, train))
        self.indices: list[int] = split.indices if split.indices is not None else list(range(len(self.dataset)))
        super().__init__(len(self.indices), batch_size, train=train, rank=rank, world=world)
        self.device, self.seed, self.workers = device, seed, workers
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def epoch(self, epoch: int, start_step: int = 0) -> Iterator[Batch]:
        from torch.utils.data import DataLoader

        g = torch.Generator().manual_seed((self.seed * 1_000_003 + epoch) % (2**63))
        order = plan_epoch(self.n, self.seed, epoch, 0, False).order.tolist() if self.train else list(range(self.n))
        batches = [[self.indices[order[i]] for i in range(self.n)[self.positions(s)]] for s in range(start_step, self.steps)]
        cuda = self.device.type == "cuda"
        loader = DataLoader(self.dataset, batch_sampler=batches, num_workers=self.workers, pin_memory=cuda,
                            generator=g, persistent_workers=False)
        for xb, yb in loader:
            yield (xb.to(self.device, non_blocking=cuda).contiguous(memory_format=self.memory_format),
                   yb.to(self.device, non_blocking=cuda))


def make_batches(split: Split, bundle: DataBundle, device: torch.device, batch_size: int, *, train: bool,
                 seed: int, rank: int = 0, world: int = 1, workers: int = 2,
                 channels_last: bool = False) -> Optional[Batches]:
    """The right batcher for ``split`` (tensor data on the device, or a folder on disk)."""
    if isinstance(split, TensorSplit):
        return TensorBatches(split, bundle, device, batch_size, train=train, seed=seed, rank=rank,
                             world=world, channels_last=channels_last)
    return FolderBatches(split, bundle, device, batch_size, train=train, seed=seed, rank=rank, world=world,
                         workers=workers, channels_last=channels_last)
