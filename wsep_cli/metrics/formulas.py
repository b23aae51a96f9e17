"""The formulas both metric paths share: the numpy/streamed one (:mod:`wsep_cli.metrics.compute`) and
the torch one for live training (:mod:`wsep_cli.metrics.tensor`).

Every function here is plain arithmetic on whatever it is given (Python floats, numpy arrays, torch
tensors on any device) and imports neither numpy nor torch, so one definition serves both paths and a
change to a formula cannot reach one path and miss the other. ``where`` is the caller's array
library's ``where`` (``np.where``, ``torch.where`` or a back-end's).
"""

from __future__ import annotations

import math
from typing import Any, Callable

__all__ = [
    "PERCENTILES",
    "percentile_ranks",
    "lerp",
    "percentile_of_sorted",
    "safe_divisor",
    "epsilon_from_tall_gram",
    "epsilon_from_wide_gram",
    "squeeze_kernel_shape",
]

PERCENTILES = (50.0, 95.0, 99.0)  # the cosine percentiles every output reports


def percentile_ranks(total: int, q: float) -> tuple[int, int, float]:
    """numpy's default ("linear") percentile of ``total`` sorted values: the two order statistics
    (0-based ranks) and the weight between them."""
    h = (total - 1) * (q / 100.0)
    lo = int(math.floor(h))
    return lo, min(lo + 1, total - 1), h - lo


def lerp(a: Any, b: Any, t: float) -> Any:
    """numpy's interpolation formula between two order statistics (exact at both ends)."""
    diff = b - a
    return b - diff * (1.0 - t) if t >= 0.5 else a + diff * t


def percentile_of_sorted(values: Any, q: float) -> Any:
    """The ``q``-th percentile of an ascending 1-D array or tensor, as ``np.percentile`` gives it."""
    lo, hi, t = percentile_ranks(int(values.shape[0]), q)
    return lerp(values[lo], values[hi], t)


def safe_divisor(norms: Any, where: Callable[..., Any]) -> Any:
    """Row norms with zeros replaced by 1: dividing by it scales rows to unit length and leaves an
    all-zero row zero (its cosines are then 0, not NaN)."""
    return where(norms > 0, norms, 1.0 + 0 * norms)


def epsilon_from_tall_gram(gram_frob_sq: Any, sum_row_sq: Any, n: int) -> Any:
    """ε = ‖V Vᵀ − I‖²_F / n from the small Gram matrix G = VᵀV (m x m, used when n > m):
    ‖V Vᵀ‖²_F = ‖VᵀV‖²_F and tr(V Vᵀ) = Σ‖v_i‖², so ε = (‖G‖²_F − 2 Σ‖v_i‖² + n) / n.
    The floor (n − m) / n keeps the result clear of cancellation."""
    return (gram_frob_sq - 2.0 * sum_row_sq + n) / n


def epsilon_from_wide_gram(offdiag_frob_sq: Any, diag_err_sq: Any, n: int) -> Any:
    """ε from G = V Vᵀ (n x n, used when n ≤ m), split so nothing cancels: the off-diagonal squares
    Σ_{i≠j} G_ij² plus the diagonal error Σ (G_ii − 1)², over n."""
    return (offdiag_frob_sq + diag_err_sq) / n


def squeeze_kernel_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """A kernel-size-1 convolution read as the matrix it applies: (n, m, 1, 1) and (n, m, 1) give
    (n, m); any other shape comes back unchanged."""
    if len(shape) in (3, 4) and all(k == 1 for k in shape[2:]):
        return tuple(shape[:2])
    return tuple(shape)
