"""Batched tensor image ops: fit to the model's size, random crop with padding, flip, normalise.

Everything works on a whole batch at once on the batch's device (airbench-style), so GPU training
needs no DataLoader workers. Random parameters are drawn up front on the CPU from a generator
seeded by (seed, epoch): the same seed gives the same epoch on CPU and GPU, and a resumed run can
skip to any step of an epoch and get exactly the batches the uninterrupted run got.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["fit_to_size", "EpochPlan", "plan_epoch", "random_crop", "apply_flip", "normalize"]


def fit_to_size(x: "Tensor", size: int) -> "Tensor":
    """Make N x C x H x W images size x size once, before training.

    A small enlargement (at most a quarter, e.g. MNIST 28 -> 32) zero-pads around the image, as
    LeNet-5 did; anything else is resampled bilinearly (antialiased when shrinking), e.g. the 8x8
    digits -> 28 x 28. uint8 input stays uint8.
    """
    h = int(x.shape[-1])
    if h == size:
        return x
    if size > h and size - h <= h // 4:
        lo = (size - h) // 2
        return F.pad(x, (lo, size - h - lo, lo, size - h - lo))
    y = F.interpolate(x.float(), size=(size, size), mode="bilinear", align_corners=False, antialias=size < h)
    if x.dtype == torch.uint8:
        return y.round().clamp_(0, 255).to(torch.uint8)
    return y.to(x.dtype)


@dataclass(frozen=True)
class EpochPlan:
    """One epoch's sample order and per-position augmentation parameters (CPU tensors)."""

    order: "Tensor"  # permutation of the dataset, int64
    dx: "Tensor"  # crop offsets in [0, 2 * pad], per position in `order`
    dy: "Tensor"
    flip: "Tensor"  # bool


def plan_epoch(n: int, seed: int, epoch: int, pad: int, flip: bool) -> EpochPlan:
    """Deterministic function of (n, seed, epoch, pad, flip)."""
    g = torch.Generator().manual_seed((seed * 1_000_003 + epoch) % (2**63))
    order = torch.randperm(n, generator=g)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=g)
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=g)
    fl = torch.rand(n, generator=g) < 0.5 if flip else torch.zeros(n, dtype=torch.bool)
    return EpochPlan(order, dx, dy, fl)


def random_crop(x: "Tensor", pad: int, dx: "Tensor", dy: "Tensor") -> "Tensor":
    """Zero-pad by ``pad`` and cut each image back to H x W at offset (dy, dx); two gathers."""
    if pad == 0:
        return x
    b, c, h, w = x.shape
    xp = F.pad(x, (pad, pad, pad, pad))
    rows = (dy.to(x.device)[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
    xp = xp.gather(2, rows.expand(b, c, h, w + 2 * pad))
    cols = (dx.to(x.device)[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
    return xp.gather(3, cols.expand(b, c, h, w))


def apply_flip(x: "Tensor", flip: "Tensor") -> "Tensor":
    """Mirror the images where ``flip`` is True."""
    return torch.where(flip.to(x.device)[:, None, None, None], x.flip(3), x)


def normalize(x: "Tensor", mean: "Tensor", std: "Tensor") -> "Tensor":
    """uint8 (0-255) or float (0-1) images -> float32 (x - mean) / std; mean, std are C x 1 x 1."""
    xf = x.float()
    if x.dtype == torch.uint8:
        xf = xf.mul_(1.0 / 255.0)
    return (xf - mean) / std
