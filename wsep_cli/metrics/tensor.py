"""Weight-separability metrics on torch tensors, for tracking epsilon(W) during training.

Same definitions as :mod:`wsep_cli.metrics` (see docs/metrics.md), computed in float64 on the
tensor's own device under ``torch.no_grad()``: no copy to numpy, no autograd graph, results are 0-d
float64 tensors on that device (call ``.item()`` when a Python float is wanted; on a GPU that is the
only synchronisation).

``weight`` is the classifier V in PyTorch layout (n classes x m features, bias excluded); a 1x1
convolution kernel (n, m, 1, 1) or a kernel-size-1 Conv1d kernel (n, m, 1) is accepted as V. The
formulas (ε through either Gram matrix, unit rows, percentiles) are the ones in
:mod:`wsep_cli.metrics.formulas`, which the numpy path uses too. ``epsilon`` and ``epsilon_normalized`` go through
the smaller Gram matrix (m x m when n > m), so they suit any head size; ``cosine_stats`` builds the
n x n cosine matrix and is meant for the heads one trains (up to a few thousand classes); for huge
heads use ``wsep_cli.metrics.compute_metrics(v, device="cuda")``, which streams tiles.

Example:
    >>> import torch
    >>> from wsep_cli.metrics.tensor import epsilon
    >>> float(epsilon(torch.eye(3)))
    0.0
"""

from __future__ import annotations

import torch

from wsep_cli.errors import UsageError
from wsep_cli.metrics.formulas import (
    PERCENTILES,
    epsilon_from_tall_gram,
    epsilon_from_wide_gram,
    percentile_of_sorted,
    safe_divisor,
    squeeze_kernel_shape,
)

__all__ = ["epsilon", "epsilon_normalized", "cosine_stats", "normalize_rows"]


def _as_matrix(weight: torch.Tensor) -> torch.Tensor:
    """V detached, as float64 n x m on its device."""
    if not isinstance(weight, torch.Tensor):
        raise UsageError(f"expected a torch.Tensor, got {type(weight).__name__}; use wsep_cli.metrics for numpy")
    v = weight.detach()
    v = v.reshape(squeeze_kernel_shape(tuple(v.shape)))
    if v.dim() != 2 or v.shape[0] == 0 or v.shape[1] == 0:
        raise UsageError(f"a classifier weight must be a non-empty 2-D matrix, got shape {tuple(weight.shape)}")
    if v.is_complex():
        raise UsageError(f"a classifier weight must be real, got {v.dtype}")
    return v.to(torch.float64)


@torch.no_grad()
def normalize_rows(weight: torch.Tensor) -> torch.Tensor:
    """float64 V with unit rows; an all-zero row stays zero."""
    v = _as_matrix(weight)
    norms = torch.linalg.vector_norm(v, dim=1, keepdim=True)
    return v / safe_divisor(norms, torch.where)


def _epsilon64(v: torch.Tensor) -> torch.Tensor:
    n, m = v.shape
    if n <= m:
        g = v @ v.T
        diag_err = ((g.diagonal() - 1.0) ** 2).sum()
        g.diagonal().zero_()
        return epsilon_from_wide_gram((g * g).sum(), diag_err, n)
    g = v.T @ v
    return epsilon_from_tall_gram((g * g).sum(), (v * v).sum(), n)


@torch.no_grad()
def epsilon(weight: torch.Tensor) -> torch.Tensor:
    """Paper Eq. 6: ||V V^T - I_n||_F^2 / n, a 0-d float64 tensor on ``weight.device``."""
    return _epsilon64(_as_matrix(weight))


@torch.no_grad()
def epsilon_normalized(weight: torch.Tensor) -> torch.Tensor:
    """epsilon of V with unit rows (sum over i != j of cos^2 plus the zero rows, over n)."""
    return _epsilon64(normalize_rows(weight))


@torch.no_grad()
def cosine_stats(weight: torch.Tensor) -> dict[str, torch.Tensor] | None:
    """Statistics of cos(v_i, v_j) over all pairs i < j, as 0-d tensors on ``weight.device``.

    Keys: mean, std (population), min, max, abs_mean, abs_max, p50, p95, p99 (float64), and
    most_similar_i, most_similar_j (int64, i < j: the pair with the largest cosine). None when
    n = 1 (no pairs), as in :func:`wsep_cli.metrics.compute_metrics`.
    """
    u = normalize_rows(weight)
    n = u.shape[0]
    if n < 2:
        return None
    iu = torch.triu_indices(n, n, 1, device=u.device)
    vals = (u @ u.T)[iu[0], iu[1]]
    srt = torch.sort(vals).values
    out = {
        "mean": vals.mean(),
        "std": vals.std(correction=0),
        "min": srt[0],
        "max": srt[-1],
        "abs_mean": vals.abs().mean(),
        "abs_max": vals.abs().max(),
    }
    for q in PERCENTILES:
        out[f"p{int(q)}"] = percentile_of_sorted(srt, q)
    at = torch.argmax(vals)
    out["most_similar_i"] = iu[0][at]
    out["most_similar_j"] = iu[1][at]
    return out
