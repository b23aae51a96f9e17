"""Weight-separability metrics: numpy, float64, never torch (``compute``), the blocked Gram pass
(``gram``), pair statistics (``pairs``, ``select``), back-ends (``backend``), tuning (``config``), the
metric registry (``registry``) and the torch path for live training (``tensor``)."""

from wsep_cli.metrics.compute import (
    MetricsConfig,
    MetricsDetail,
    compute_metrics,
    compute_metrics_detail,
    epsilon,
    epsilon_floor,
    epsilon_normalized,
    epsilon_normalized_floor,
    normalize_rows,
)

__all__ = [
    "MetricsConfig",
    "MetricsDetail",
    "compute_metrics",
    "compute_metrics_detail",
    "epsilon",
    "epsilon_floor",
    "epsilon_normalized",
    "epsilon_normalized_floor",
    "normalize_rows",
]
