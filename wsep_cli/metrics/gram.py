"""Everything that follows exactly from the smaller Gram matrix, in one blocked float64 pass over V.

For V (n x m) with rows v_i, norms r_i and unit rows u_i (a zero row stays zero):

- n > m: G = V^T V and H = U^T U (both m x m) are accumulated over blocks of rows, so memory is
  O(m^2 + block) whatever n is. Then ||V V^T||_F = ||G||_F gives
  epsilon = (||G||^2 - 2 sum r_i^2 + n) / n, and the same with H for unit rows.
- n <= m: G = V V^T (n x n) is accumulated over blocks of columns and used directly.

The sums of the off-diagonal cosines and of their squares (for the exact mean, standard deviation
and distance to a simplex ETF at any n) and the spectrum of V (eigenvalues of G) come out of the
same pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from wsep_cli.errors import NonFiniteError
from wsep_cli.metrics.backend import Backend
from wsep_cli.metrics.config import MetricsConfig, RowSource
from wsep_cli.metrics.formulas import epsilon_from_tall_gram, epsilon_from_wide_gram, safe_divisor

__all__ = ["GramSummary", "gram_summary", "eigvalsh_sym"]


@dataclass(frozen=True)
class GramSummary:
    """Exact float64 quantities of V from its smaller Gram matrix.

    Attributes:
        norms: row norms r_i (numpy, length n).
        inv_norms: 1 / r_i, 0 for zero rows, on the back-end's device.
        unit_sq: ||u_i||^2 (1, or 0 for a zero row), numpy.
        epsilon: ||V V^T - I||_F^2 / n.
        epsilon_normalized: the same for U (None when not asked for).
        cos_sum: sum of cos(v_i, v_j) over ordered pairs i != j.
        cos_sq_sum: sum of cos(v_i, v_j)^2 over ordered pairs i != j.
        eigenvalues: ascending eigenvalues of the smaller Gram of V (squared singular values).
        unit_gram: U U^T (n x n) on the device when n <= m, else None.
    """

    n: int
    m: int
    norms: np.ndarray
    inv_norms: Any
    unit_sq: np.ndarray
    epsilon: float
    epsilon_normalized: float | None
    cos_sum: float | None
    cos_sq_sum: float | None
    eigenvalues: np.ndarray | None
    unit_gram: Any


def _frob_sq(be: Backend, x: Any) -> float:
    """Sum of squares with pairwise summation; in row slabs on numpy so no full-size temporary."""
    if be.name != "numpy" or x.ndim == 1 or x.shape[0] <= 256:
        return float((x * x).sum())
    return float(sum(float(np.square(x[a:a + 256]).sum()) for a in range(0, x.shape[0], 256)))


def _row_sq(be: Backend, x: Any) -> Any:
    """Squared row norms without a full-size temporary on numpy."""
    return np.einsum("ij,ij->i", x, x) if be.name == "numpy" else (x * x).sum(1)


def _inverse_norms(be: Backend, r: Any) -> Any:
    return be.where(r > 0, 1.0 / safe_divisor(r, be.where), 0 * r)


def _raise_nonfinite(src: RowSource, layer: str, block_elems: int) -> None:
    """Count the non-finite entries of V (only called once one was seen) and raise."""
    bad = 0
    step = max(1, block_elems // src.m)
    for a in range(0, src.n, step):
        blk = np.asarray(src.v[a:a + step])
        if blk.dtype.kind == "f":
            bad += int(blk.size - np.count_nonzero(np.isfinite(blk)))
    if bad:
        raise NonFiniteError(
            f"layer {layer!r} holds {bad} non-finite value(s) (NaN or Inf); "
            "the checkpoint is corrupt or training diverged"
        )
    raise NonFiniteError(
        f"layer {layer!r} holds values too large for float64 metrics (they overflow to Inf); "
        "the checkpoint is corrupt or training diverged"
    )


def eigvalsh_sym(g: np.ndarray) -> np.ndarray:
    """Eigenvalues of a symmetric matrix, ascending, on one BLAS thread.

    On two threads it is barely faster on an idle 2-core machine and about 3x slower (6x in the
    worst call) once another process keeps a core busy; one thread is predictable (about 0.1 s for
    1000 x 1000). It runs inline: on a worker thread beside the pair statistics it was no faster
    (docs/benchmarks.md, "Where the time goes", benchmarks/eigvalsh_threads.py).
    """
    if g.shape[0] < 256:
        return np.linalg.eigvalsh(g)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a scikit-learn dependency
        return np.linalg.eigvalsh(g)
    with threadpool_limits(1, user_api="blas"):
        return np.linalg.eigvalsh(g)


def _tall(src: RowSource, be: Backend, cfg: MetricsConfig, layer: str, unit: bool, spectrum: bool) -> GramSummary:
    n, m = src.n, src.m
    g, h, su = be.zeros((m, m)), be.zeros((m, m)), be.zeros((m,))
    norms, unit_sq = np.empty(n), np.empty(n)
    inv_parts = []
    sum_r2 = 0.0
    step = max(1, cfg.block_elems // m)
    for a in range(0, n, step):
        x = src.rows(a, a + step)
        r2 = _row_sq(be, x)
        if not be.isfinite_all(r2):
            _raise_nonfinite(src, layer, cfg.block_elems)
        g += x.T @ x
        sum_r2 += float(r2.sum())
        r = be.sqrt(r2)
        inv = _inverse_norms(be, r)
        inv_parts.append(inv)
        norms[a:a + step] = be.to_numpy(r)
        if unit:
            u = x * inv[:, None]
            h += u.T @ u
            su += u.sum(0)
            unit_sq[a:a + step] = be.to_numpy(_row_sq(be, u))
    inv_norms = inv_parts[0] if len(inv_parts) == 1 else _cat(be, inv_parts)
    eps = epsilon_from_tall_gram(_frob_sq(be, g), sum_r2, n)
    eps_n = cos_sum = cos_sq = None
    if unit:
        h_sq = _frob_sq(be, h)
        eps_n = epsilon_from_tall_gram(h_sq, float(unit_sq.sum()), n)
        cos_sum = _frob_sq(be, su) - float(unit_sq.sum())
        cos_sq = h_sq - float((unit_sq * unit_sq).sum())
    eig = eigvalsh_sym(be.to_numpy(g)) if spectrum else None
    return GramSummary(n, m, norms, inv_norms, unit_sq, eps, eps_n, cos_sum, cos_sq, eig, None)


def _wide(src: RowSource, be: Backend, cfg: MetricsConfig, layer: str, unit: bool, spectrum: bool) -> GramSummary:
    n, m = src.n, src.m
    g: Any = None
    step = max(1, cfg.block_elems // n)
    for c in range(0, m, step):
        x = src.cols(c, c + step)
        part = x @ x.T
        if g is None:
            g = part
        else:
            g += part
        del x, part
    # G_ii = sum of squares of row i: NaN or Inf anywhere in V (or a square overflowing) shows here.
    d = be.to_numpy(g.diagonal()).copy()
    if not np.isfinite(d).all():
        _raise_nonfinite(src, layer, cfg.block_elems)
    norms = np.sqrt(d)
    inv_norms = _inverse_norms(be, be.sqrt(g.diagonal()))
    eig = eigvalsh_sym(be.to_numpy(g)) if spectrum else None  # before g is overwritten below
    # ||G - I||^2 = (off-diagonal squares, summed with the diagonal zeroed: no cancellation)
    #             + sum_i (G_ii - 1)^2. Everything in place: no n x n temporaries.
    _set_diag(be, g, 0.0)
    eps = epsilon_from_wide_gram(_frob_sq(be, g), float(((d - 1.0) ** 2).sum()), n)
    if not unit:
        return GramSummary(n, m, norms, inv_norms, np.ones(n), eps, None, None, None, eig, None)
    g *= inv_norms[:, None]
    g *= inv_norms[None, :]  # g is now U U^T with a zero diagonal
    unit_sq = d * be.to_numpy(inv_norms) ** 2
    cos_sq = _frob_sq(be, g)
    cos_sum = float(g.sum())
    eps_n = epsilon_from_wide_gram(cos_sq, float(((unit_sq - 1.0) ** 2).sum()), n)
    _set_diag(be, g, unit_sq)
    return GramSummary(n, m, norms, inv_norms, unit_sq, eps, eps_n, cos_sum, cos_sq, eig, g)


def _set_diag(be: Backend, g: Any, value: Any) -> None:
    if be.name == "numpy":
        np.fill_diagonal(g, value)
    elif isinstance(value, float):
        g.diagonal().fill_(value)
    else:
        g.diagonal().copy_(be.torch.from_numpy(np.asarray(value)).to(g.device))  # type: ignore[attr-defined]


def _cat(be: Backend, parts: list[Any]) -> Any:
    if be.name == "numpy":
        return np.concatenate(parts)
    return be.torch.cat(parts)  # type: ignore[attr-defined]


def gram_summary(
    src: RowSource,
    be: Backend,
    cfg: MetricsConfig,
    *,
    layer: str = "classifier",
    unit: bool = True,
    spectrum: bool = True,
) -> GramSummary:
    """One blocked pass over V; see the module docstring.

    Args:
        unit: also the unit-row quantities (epsilon_normalized, cosine sums); costs a second Gram
            when n > m.
        spectrum: also the eigenvalues of the smaller Gram.

    Raises:
        NonFiniteError: V holds NaN or Inf (the message names ``layer`` and the count).
    """
    with np.errstate(all="ignore"):  # NaN/Inf and overflow are detected and refused explicitly
        if src.n > src.m:
            return _tall(src, be, cfg, layer, unit, spectrum)
        return _wide(src, be, cfg, layer, unit, spectrum)
