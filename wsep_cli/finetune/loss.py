"""The feed-backward reconstruction loss L_re (paper Eq. 9) and the total loss (Eq. 10).

Notation (PyTorch layout): features alpha (B x m), the classifier weight V (n x m, bias excluded;
the paper's W is V transposed), labels o_hat as class indices (B,) or soft label vectors (B x n).

    r     = o_hat . V                     reconstruction of alpha from the label     (B x m)
    P     = softmax(alpha / T)            over the m feature dimensions
    Q     = softmax(r / T)                over the m feature dimensions
    L_re  = KL(P || Q) = sum_j P_j (log P_j - log Q_j)                               (Eq. 9)
    L_tot = L_cls + lambda * L_re,   lambda = 0.001 in the paper                     (Eq. 10)

L_re is averaged over the batch ("batchmean"). The element mean would divide it by m as well and
silently turn lambda = 0.001 into lambda / m, so it is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Optional

import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["reconstruction_loss", "FeedBackwardReconstructionLoss", "Detach", "Reduction"]

Detach = Optional[Literal["features", "weight"]]
Reduction = Literal["batchmean", "sum", "none"]

_REDUCTIONS = ("batchmean", "sum", "none")
_DETACH = (None, "features", "weight")


def _as_matrix(weight: "Tensor") -> "Tensor":
    """V as n x m: 1x1 conv kernels (n, m, 1, 1) are flattened."""
    if weight.dim() == 4 and weight.shape[2:] == (1, 1):
        return weight.flatten(1)
    if weight.dim() != 2:
        raise ValueError(f"weight must be n x m (or a 1x1 conv kernel), got shape {tuple(weight.shape)}")
    return weight


def _reconstruct(targets: "Tensor", v: "Tensor", batch: int) -> "Tensor":
    """r = o_hat . V, with o_hat one-hot (from indices) or soft (B x n)."""
    n = v.shape[0]
    if targets.dim() == 1:
        if targets.dtype.is_floating_point:
            raise ValueError("class-index targets must be an integer tensor of shape (B,)")
        if targets.shape[0] != batch:
            raise ValueError(f"targets hold {targets.shape[0]} labels for a batch of {batch}")
        # one_hot(y) @ V == V[y]: same value, same gradient (scatter-add into V's rows), no B x n matmul.
        return v.index_select(0, targets)
    if targets.dim() == 2 and targets.shape == (batch, n):
        return targets.to(v.dtype) @ v
    raise ValueError(
        f"targets must be class indices (B,) or soft labels (B x n) = ({batch}, {n}), "
        f"got shape {tuple(targets.shape)}"
    )


def reconstruction_loss(
    features: "Tensor",
    targets: "Tensor",
    weight: "Tensor",
    *,
    temperature: float = 1.0,
    detach: Detach = None,
    reduction: Reduction = "batchmean",
) -> "Tensor":
    """Feed-backward reconstruction loss L_re = KL(softmax(alpha/T) || softmax(o_hat V / T)), Eq. 9.

    Computed in float32 (or float64 if the inputs are float64) whatever the autocast dtype, through
    log-softmax, so it stays finite for any finite input.

    Args:
        features: alpha, the classifier's input, B x m (extra trailing dims of size 1 are flattened).
        targets: class indices (B,) of an integer dtype, or soft label vectors B x n (label
            smoothing, mixup); rows need not be one-hot.
        weight: the classifier weight V, n x m in PyTorch layout (``linear.weight``), bias excluded;
            a 1x1 conv kernel (n, m, 1, 1) is accepted.
        temperature: T > 0 applied to both alpha and r before the softmax.
        detach: None (gradients reach alpha and V), ``"features"`` (only V learns from L_re) or
            ``"weight"`` (only alpha, i.e. the layers before the classifier, learn from it).
        reduction: ``"batchmean"`` (sum over features, mean over the batch; the paper's loss),
            ``"sum"``, or ``"none"`` (one value per sample, shape (B,)).

    Returns:
        A scalar tensor (a (B,) tensor for ``reduction="none"``).

    Example:
        >>> alpha = torch.randn(4, 16, requires_grad=True)
        >>> v = torch.randn(10, 16, requires_grad=True)
        >>> loss = reconstruction_loss(alpha, torch.tensor([0, 3, 3, 9]), v)
        >>> loss.backward()  # alpha.grad and v.grad are both set
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"reduction must be one of {_REDUCTIONS}, got {reduction!r}; the element mean is refused "
            "because it divides the loss (and so lambda) by the feature count m"
        )
    if detach not in _DETACH:
        raise ValueError(f"detach must be None, 'features' or 'weight', got {detach!r}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if features.dim() > 2:
        features = features.flatten(1)
    if features.dim() != 2:
        raise ValueError(f"features must be B x m, got shape {tuple(features.shape)}")
    v = _as_matrix(weight)
    if features.shape[1] != v.shape[1]:
        raise ValueError(
            f"features have m = {features.shape[1]} dims but the weight has {v.shape[1]} columns"
        )
    if detach == "features":
        features = features.detach()
    elif detach == "weight":
        v = v.detach()
    compute = torch.float64 if features.dtype == torch.float64 and v.dtype == torch.float64 else torch.float32
    alpha = features.to(compute)
    r = _reconstruct(targets, v.to(compute), alpha.shape[0])
    log_p = F.log_softmax(alpha / temperature, dim=1)
    log_q = F.log_softmax(r / temperature, dim=1)
    per_sample = (log_p.exp() * (log_p - log_q)).sum(dim=1)
    if reduction == "none":
        return per_sample
    if reduction == "sum":
        return per_sample.sum()
    return per_sample.mean()


class FeedBackwardReconstructionLoss(nn.Module):
    """L_re as a module: ``loss_fn(features, targets, weight)``; see :func:`reconstruction_loss`.

    To get the total loss of Eq. 10, add ``lam * loss_fn(alpha, y, model.fc.weight)`` to the
    classification loss (the paper uses ``lam = 0.001``).

    Example:
        >>> loss_fn = FeedBackwardReconstructionLoss(temperature=1.0)
        >>> # total = F.cross_entropy(logits, y) + 0.001 * loss_fn(alpha, y, model.fc.weight)
    """

    def __init__(
        self, *, temperature: float = 1.0, detach: Detach = None, reduction: Reduction = "batchmean"
    ) -> None:
        super().__init__()
        # Validate once, at construction, with the same messages as the function.
        reconstruction_loss(torch.zeros(1, 1), torch.zeros(1, dtype=torch.long), torch.zeros(1, 1),
                            temperature=temperature, detach=detach, reduction=reduction)
        self.temperature = float(temperature)
        self.detach = detach
        self.reduction: Reduction = reduction

    def forward(self, features: "Tensor", targets: "Tensor", weight: "Tensor") -> "Tensor":
        return reconstruction_loss(
            features, targets, weight,
            temperature=self.temperature, detach=self.detach, reduction=self.reduction,
        )

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, detach={self.detach!r}, reduction={self.reduction!r}"
