"""Weight-separability metrics of a classifier matrix. Pure numpy, float64; never imports torch
(unless a CUDA device is asked for).

Notation: V is the classifier weight in PyTorch layout, n classes x m features (the paper's W is
V transposed). All statistics are computed in float64 whatever the stored dtype; V itself is never
upcast as a whole, only block by block, so memory stays O(stored V + m^2 + one block).

- epsilon(V) = ||V V^T - I_n||_F^2 / n (paper Eq. 6), through the smaller Gram matrix
  (:mod:`wsep_cli.metrics.gram`), exact for any n.
- epsilon_normalized: the same on V with unit rows.
- floors: the least value any n x m matrix (or any with unit rows) can reach; see docs/metrics.md.
- cosine statistics over all pairs i < j: mean and std exact from the Gram for any n; extremes,
  percentiles and the most similar pair exact by streamed tiles where ``MetricsConfig.pairs_exact(n, m)``
  (on the CPU up to 32,768 classes and about 3e10 multiply-adds), from a seeded sample beyond
  (``CosineStats.estimated``), see :mod:`wsep_cli.metrics.pairs`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, TypedDict

import numpy as np

from wsep_cli.metrics.backend import get_backend
from wsep_cli.metrics.config import MetricsConfig, RowSource, as_matrix
from wsep_cli.metrics.formulas import safe_divisor
from wsep_cli.metrics.gram import GramSummary, gram_summary
from wsep_cli.metrics.pairs import GramPairs, PairStats, UnitRows, exact_pair_stats, sampled_pair_stats
from wsep_cli.results import (
    CosineStats,
    EtfStats,
    Metrics,
    MostSimilar,
    NormStats,
    SingularValueStats,
)


if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "MetricsOptions",
    "MetricsConfig",
    "epsilon",
    "epsilon_normalized",
    "epsilon_floor",
    "epsilon_normalized_floor",
    "normalize_rows",
    "compute_metrics",
    "compute_metrics_detail",
    "MetricsDetail",
]


def _summary(v: np.ndarray, *, unit: bool, cfg: MetricsConfig | None = None, layer: str = "classifier") -> GramSummary:
    cfg = cfg or MetricsConfig()
    be = get_backend(cfg.device, cfg.backend)
    return gram_summary(RowSource(as_matrix(v), be), be, cfg, layer=layer, unit=unit, spectrum=False)


def epsilon(v: np.ndarray) -> float:
    """Paper Eq. 6: ||V V^T - I_n||_F^2 / n, exact in float64 (V: n x m, any real dtype).

    Raises:
        NonFiniteError: V holds NaN or Inf.

    Example:
        >>> epsilon(np.eye(3))
        0.0
    """
    return _summary(v, unit=False).epsilon


def normalize_rows(v: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, as a new float64 array; an all-zero row stays zero (its cosines are 0)."""
    v = np.asarray(as_matrix(v), dtype=np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", v, v))
    return v / safe_divisor(norms, np.where)[:, None]


def epsilon_normalized(v: np.ndarray) -> float:
    """epsilon of V with unit rows: (sum over i != j of cos^2(v_i, v_j) + #zero rows) / n."""
    eps = _summary(v, unit=True).epsilon_normalized
    assert eps is not None
    return eps


def epsilon_floor(n: int, m: int) -> float:
    """Least epsilon of any n x m matrix: (n - m) / n when n > m, else 0."""
    return (n - m) / n if n > m else 0.0


def epsilon_normalized_floor(n: int, m: int) -> float:
    """Least epsilon of any n x m matrix with unit rows: (n - m) / m when n > m, else 0."""
    return (n - m) / m if n > m else 0.0


def _singular_values(v: np.ndarray, gs: GramSummary, use_svd: bool) -> tuple[SingularValueStats, np.ndarray]:
    n, m = v.shape
    k = min(n, m)
    if use_svd:
        s = np.linalg.svd(np.asarray(v, dtype=np.float64), compute_uv=False)
        smax = float(s.max())
        rank = int(np.count_nonzero(s > max(n, m) * np.finfo(np.float64).eps * smax))
    else:  # squared singular values = eigenvalues of the smaller Gram; sigma < ~1e-8 sigma_max unresolved
        assert gs.eigenvalues is not None
        lam = gs.eigenvalues[::-1]
        lam_max = float(max(lam[0], 0.0))
        rank = int(np.count_nonzero(lam > max(n, m) * np.finfo(np.float64).eps * lam_max))
        s = np.sqrt(np.clip(lam, 0.0, None))
        smax = float(s[0])
    smin = float(s[:k].min())
    cond = smax / smin if rank == k and smin > 0 else None
    return SingularValueStats(rank=rank, condition_number=cond, max=smax, min=smin), np.asarray(s[:k])


def _cosine_and_etf(
    src: RowSource, gs: GramSummary, cfg: MetricsConfig, names: list[str] | None
) -> tuple[CosineStats, EtfStats]:
    n = src.n
    pairs = n * (n - 1) // 2
    assert gs.cos_sum is not None and gs.cos_sq_sum is not None
    mu_g = gs.cos_sum / (n * (n - 1))
    t = -1.0 / (n - 1)
    source = GramPairs(gs.unit_gram, src.be) if gs.unit_gram is not None else UnitRows(src, gs.inv_norms)
    estimated = not cfg.pairs_exact(n, src.m, gram_held=gs.unit_gram is not None)
    ps: PairStats
    if not estimated:
        ps, _ = exact_pair_stats(source, n, mu_g, t, cfg, src.be)
        mean = ps.total / pairs
        var = ps.sq_dev_sum / pairs - (mean - mu_g) ** 2
        sq_t = ps.sq_dev_sum + 2.0 * (mu_g - t) * (ps.total - pairs * mu_g) + pairs * (mu_g - t) ** 2
    else:
        ps = sampled_pair_stats(source, n, mu_g, t, cfg, src.be)
        mean = mu_g
        var = gs.cos_sq_sum / (n * (n - 1)) - mu_g * mu_g
        sq_t = gs.cos_sq_sum / 2.0 - t * gs.cos_sum + pairs * t * t
    std = math.sqrt(max(var, 0.0))
    def pair(i: int, j: int, c: float) -> MostSimilar:
        return MostSimilar(classes=(i, j), cosine=c, names=(names[i], names[j]) if names is not None and len(names) == n else None)

    p50, p95, p99 = ps.percentiles
    cos = CosineStats(
        mean=mean,
        std=std,
        min=ps.min,
        max=ps.max,
        abs_mean=ps.abs_sum / ps.count,
        abs_max=max(ps.max, -ps.min),
        p50=p50,
        p95=p95,
        p99=p99,
        most_similar=pair(*ps.max_pair, ps.max),
        estimated=estimated,
        sample_size=ps.count if estimated else None,
        least_similar=pair(*ps.min_pair, ps.min),
        top_pairs=tuple(pair(i, j, c) for c, i, j in ps.top),
    )
    # ||C - E||_F / ||E||_F with C = U U^T and E the simplex-ETF Gram (1 on the diagonal, t off it).
    diag_err = float(((gs.unit_sq - 1.0) ** 2).sum())
    e_norm_sq = n + n * (n - 1) * t * t
    mean_norm = float(gs.norms.mean())
    etf = EtfStats(
        equinorm=float(gs.norms.std() / mean_norm) if mean_norm > 0 else 0.0,
        equiangularity=std,
        mean_angle_deviation=ps.etf_abs_dev_sum / ps.count,
        max_angle_deviation=max(abs(ps.max - t), abs(ps.min - t)),
        distance=math.sqrt(max(diag_err + 2.0 * sq_t, 0.0) / e_norm_sq),
    )
    return cos, etf


@dataclass(frozen=True)
class MetricsDetail:
    """The metrics, plus the per-class and spectral arrays they summarise (for plots)."""

    metrics: Metrics
    singular_values: np.ndarray  # all min(n, m) singular values of V, descending
    norms: np.ndarray  # ||v_i|| per class


class MetricsOptions(TypedDict, total=False):
    """The keyword options of :func:`compute_metrics` and :func:`compute_metrics_detail`."""

    layer: str
    names: list[str] | None
    device: str
    config: MetricsConfig | None
    top_pairs: int
    exact_pairs: bool


def compute_metrics(v: np.ndarray, **options: Unpack[MetricsOptions]) -> Metrics:
    """All metrics of one classifier matrix V (n classes x m features).

    Args:
        v: the weight, any real dtype (float16/32/64; integers and bools are read as float64);
            upcast to float64 block by block, never as a whole.
        layer: used in error messages.
        names: class names (length n) for the most-similar pair, if known.
        device: ``"cpu"`` (numpy) or ``"cuda"``/``"cuda:N"`` (torch, imported only then).
        config: block sizes, the exact-pair limit, the sample size and seed (defaults: MetricsConfig()).
        top_pairs: also keep the K most similar pairs (``cosine.top_pairs``).
        exact_pairs: the pair statistics over every pair whatever the head's size (never sampled).

    Returns:
        :class:`~wsep_cli.results.Metrics`; ``cosine`` and ``etf`` are None when n = 1 (no pairs).

    Raises:
        NonFiniteError: V holds NaN or Inf.
        UnreadableError: V is not a non-empty 2-D real matrix.
        UsageError: an unknown or unavailable device.
    """
    return compute_metrics_detail(v, **options).metrics


def compute_metrics_detail(
    v: np.ndarray,
    *,
    layer: str = "classifier",
    names: list[str] | None = None,
    device: str = "cpu",
    config: MetricsConfig | None = None,
    top_pairs: int = 0,
    exact_pairs: bool = False,
) -> MetricsDetail:
    """:func:`compute_metrics` (same arguments), keeping the singular values and row norms it computed
    on the way."""
    cfg = config or MetricsConfig(device=device)
    if config is not None and device != "cpu":
        cfg = replace(cfg, device=device)
    if top_pairs:
        cfg = replace(cfg, top_pairs=top_pairs)
    if exact_pairs:
        cfg = replace(cfg, exact_pairs=True)
    arr = as_matrix(v)
    n, m = arr.shape
    be = get_backend(cfg.device, cfg.backend)
    src = RowSource(arr, be)
    use_svd = n * m * min(n, m) <= cfg.svd_limit
    gs = gram_summary(src, be, cfg, layer=layer, unit=True, spectrum=not use_svd)
    cos, etf = _cosine_and_etf(src, gs, cfg, names) if n > 1 else (None, None)
    assert gs.epsilon_normalized is not None
    sv_stats, sv = _singular_values(arr, gs, use_svd)
    metrics = Metrics(
        epsilon=gs.epsilon,
        epsilon_normalized=gs.epsilon_normalized,
        epsilon_floor=epsilon_floor(n, m),
        epsilon_normalized_floor=epsilon_normalized_floor(n, m),
        cosine=cos,
        norms=NormStats(
            mean=float(gs.norms.mean()),
            std=float(gs.norms.std()),
            min=float(gs.norms.min()),
            max=float(gs.norms.max()),
        ),
        etf=etf,
        singular_values=sv_stats,
    )
    return MetricsDetail(metrics=metrics, singular_values=sv, norms=np.asarray(gs.norms, dtype=np.float64))
