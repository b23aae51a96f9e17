"""Weight-separability metrics of a classifier matrix. Pure numpy, float64; never imports torch.

Notation: V is the classifier weight in PyTorch layout, n classes x m features (the paper's W is
V transposed). All statistics are computed in float64 whatever the stored dtype.

- epsilon(V) = ||V V^T - I_n||_F^2 / n (paper Eq. 6), through the cheaper of the n x n and m x m
  Gram matrices: ||V V^T - I||^2 = ||V^T V||^2 - 2 ||V||^2 + n.
- epsilon_normalized: the same on V with unit rows.
- floors: the least value any n x m matrix (or any with unit rows) can reach; see docs/metrics.md.
"""

from __future__ import annotations

import numpy as np

from wsep_cli.errors import NonFiniteError, UnreadableError
from wsep_cli.results import (
    CosineStats,
    EtfStats,
    Metrics,
    MostSimilar,
    NormStats,
    SingularValueStats,
)

__all__ = [
    "epsilon",
    "epsilon_normalized",
    "epsilon_floor",
    "epsilon_normalized_floor",
    "normalize_rows",
    "compute_metrics",
]


def _as_f64(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v)
    if v.ndim != 2:
        raise UnreadableError(f"a classifier must be a 2-D matrix, got shape {tuple(v.shape)}")
    if v.shape[0] == 0 or v.shape[1] == 0:
        raise UnreadableError(f"the classifier matrix is empty (shape {tuple(v.shape)})")
    return np.asarray(v, dtype=np.float64)


def _gram_frob_sq(v: np.ndarray) -> float:
    """||V V^T||_F^2 through the smaller Gram matrix (they are equal)."""
    n, m = v.shape
    g = v @ v.T if n <= m else v.T @ v
    return float(np.einsum("ij,ij->", g, g))


def epsilon(v: np.ndarray) -> float:
    """Paper Eq. 6: ||V V^T - I_n||_F^2 / n, exact in float64.

    Example:
        >>> epsilon(np.eye(3))
        0.0
    """
    v = _as_f64(v)
    n, m = v.shape
    if n <= m:
        e = v @ v.T
        e[np.diag_indices(n)] -= 1.0
        return float(np.einsum("ij,ij->", e, e)) / n
    # n > m: the floor (n - m) / n keeps the subtraction well away from cancellation.
    return (_gram_frob_sq(v) - 2.0 * float(np.einsum("ij,ij->", v, v)) + n) / n


def normalize_rows(v: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length; an all-zero row stays zero (its cosines are 0)."""
    v = _as_f64(v)
    norms = np.sqrt(np.einsum("ij,ij->i", v, v))
    safe = np.where(norms > 0, norms, 1.0)
    return v / safe[:, None]


def epsilon_normalized(v: np.ndarray) -> float:
    """epsilon of V with unit rows: sum over i != j of cos^2(v_i, v_j), divided by n."""
    return epsilon(normalize_rows(v))


def epsilon_floor(n: int, m: int) -> float:
    """Least epsilon of any n x m matrix: (n - m) / n when n > m, else 0."""
    return (n - m) / n if n > m else 0.0


def epsilon_normalized_floor(n: int, m: int) -> float:
    """Least epsilon of any n x m matrix with unit rows: (n - m) / m when n > m, else 0."""
    return (n - m) / m if n > m else 0.0


def _check_finite(v: np.ndarray, layer: str) -> None:
    if not np.isfinite(v).all():
        bad = int(np.size(v) - np.count_nonzero(np.isfinite(v)))
        raise NonFiniteError(
            f"layer {layer!r} holds {bad} non-finite value(s) (NaN or Inf); "
            "the checkpoint is corrupt or training diverged"
        )


def _cosine_stats(u: np.ndarray, names: list[str] | None) -> CosineStats:
    n = u.shape[0]
    c = u @ u.T
    iu = np.triu_indices(n, k=1)
    vals = c[iu]
    k = int(np.argmax(vals))
    i, j = int(iu[0][k]), int(iu[1][k])
    p50, p95, p99 = np.percentile(vals, [50, 95, 99])
    absv = np.abs(vals)
    pair_names = (names[i], names[j]) if names is not None and len(names) == n else None
    return CosineStats(
        mean=float(vals.mean()),
        std=float(vals.std()),
        min=float(vals.min()),
        max=float(vals.max()),
        abs_mean=float(absv.mean()),
        abs_max=float(absv.max()),
        p50=float(p50),
        p95=float(p95),
        p99=float(p99),
        most_similar=MostSimilar(classes=(i, j), cosine=float(vals[k]), names=pair_names),
    )


def _etf_stats(u: np.ndarray, norms: np.ndarray, cos: CosineStats) -> EtfStats:
    n = u.shape[0]
    target = -1.0 / (n - 1)
    c = u @ u.T
    vals = c[np.triu_indices(n, k=1)]
    dev = np.abs(vals - target)
    # ||C - E||_F / ||E||_F with E the simplex-ETF Gram (1 on the diagonal, -1/(n-1) off it).
    diag_err = float(np.sum((np.diag(c) - 1.0) ** 2))
    off_err = 2.0 * float(np.sum((vals - target) ** 2))
    e_norm_sq = n + n * (n - 1) * target * target
    mean_norm = float(norms.mean())
    return EtfStats(
        equinorm=float(norms.std() / mean_norm) if mean_norm > 0 else 0.0,
        equiangularity=cos.std,
        mean_angle_deviation=float(dev.mean()),
        max_angle_deviation=float(dev.max()),
        distance=float(np.sqrt((diag_err + off_err) / e_norm_sq)),
    )


def _singular_values(v: np.ndarray) -> SingularValueStats:
    s = np.linalg.svd(v, compute_uv=False)
    smax = float(s.max())
    tol = max(v.shape) * np.finfo(np.float64).eps * smax
    rank = int(np.count_nonzero(s > tol))
    smin = float(s.min())
    cond = smax / smin if rank == min(v.shape) and smin > 0 else None
    return SingularValueStats(rank=rank, condition_number=cond, max=smax, min=smin)


def compute_metrics(
    v: np.ndarray, *, layer: str = "classifier", names: list[str] | None = None
) -> Metrics:
    """All metrics of one classifier matrix V (n classes x m features).

    Args:
        v: the weight, any real dtype; upcast to float64.
        layer: used in error messages.
        names: class names (length n) for the most-similar pair, if known.

    Raises:
        NonFiniteError: V holds NaN or Inf.
        UnreadableError: V is not a non-empty 2-D matrix.
    """
    v = _as_f64(v)
    _check_finite(v, layer)
    n, m = v.shape
    norms = np.sqrt(np.einsum("ij,ij->i", v, v))
    u = normalize_rows(v)
    cos = _cosine_stats(u, names) if n > 1 else None
    etf = _etf_stats(u, norms, cos) if cos is not None else None
    return Metrics(
        epsilon=epsilon(v),
        epsilon_normalized=epsilon(u),
        epsilon_floor=epsilon_floor(n, m),
        epsilon_normalized_floor=epsilon_normalized_floor(n, m),
        cosine=cos,
        norms=NormStats(
            mean=float(norms.mean()),
            std=float(norms.std()),
            min=float(norms.min()),
            max=float(norms.max()),
        ),
        etf=etf,
        singular_values=_singular_values(v),
    )
