"""Every metric wsep reports, in one table: its name, which direction is better, and how the gate
uses it.

A metric's name is its dotted JSON path inside a head (``cosine.abs_max``), and that one name is what
every output format, gate message, config key table and doc uses. The gate (thresholds and
baselines), ``wsep compare``, baselines read from JSON and the report formats take names and
directions from here.

Example:
    >>> METRICS["cosine.abs_max"].threshold
    'max-abs-cos'
    >>> [m.name for m in BASELINE_METRICS]
    ['epsilon', 'epsilon_normalized', 'cosine.abs_max']
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

__all__ = [
    "Metric",
    "METRICS",
    "THRESHOLDS",
    "BASELINE_METRICS",
    "LOWER_IS_BETTER",
    "FROM_PAIRS",
    "flatten_head",
    "value_at",
]


@dataclass(frozen=True)
class Metric:
    """One reported metric.

    Attributes:
        name: dotted path in a head's JSON object (``"cosine.abs_max"``), used everywhere.
        lower_is_better: True / False, or None when no direction applies (rank, mean cosine).
        threshold: the ``--max-...`` option and ``[tool.wsep]`` key that limits it, if any.
        baseline: guarded by ``--baseline`` and ``compare --fail-on-regression``.
        from_pairs: taken over the class pairs one by one, so it comes from the seeded pair sample when the
            head's pair statistics are estimated (``cosine.estimated``); the others are exact either way.
    """

    name: str
    lower_is_better: bool | None = None
    threshold: str | None = None
    baseline: bool = False
    from_pairs: bool = False


_ALL = (
    Metric("epsilon", True, "max-epsilon", True),
    Metric("epsilon_normalized", True, "max-epsilon-normalized", True),
    Metric("epsilon_floor"),
    Metric("epsilon_normalized_floor"),
    Metric("cosine.mean"),
    Metric("cosine.std"),
    Metric("cosine.min", from_pairs=True),
    Metric("cosine.max", True, from_pairs=True),
    Metric("cosine.abs_mean", True, from_pairs=True),
    Metric("cosine.abs_max", True, "max-abs-cos", True, from_pairs=True),
    Metric("cosine.p50", from_pairs=True),
    Metric("cosine.p95", True, from_pairs=True),
    Metric("cosine.p99", True, from_pairs=True),
    Metric("norms.mean"),
    Metric("norms.std"),
    Metric("norms.min"),
    Metric("norms.max"),
    Metric("etf.equinorm", True),
    Metric("etf.equiangularity", True),
    Metric("etf.mean_angle_deviation", True, from_pairs=True),
    Metric("etf.max_angle_deviation", True, from_pairs=True),
    Metric("etf.distance", True),
    Metric("singular_values.rank"),
    Metric("singular_values.condition_number", True),
    Metric("singular_values.max"),
    Metric("singular_values.min"),
)

METRICS: Mapping[str, Metric] = {m.name: m for m in _ALL}
THRESHOLDS: Mapping[str, Metric] = {m.threshold: m for m in _ALL if m.threshold}
BASELINE_METRICS: tuple[Metric, ...] = tuple(m for m in _ALL if m.baseline)
LOWER_IS_BETTER: frozenset[str] = frozenset(m.name for m in _ALL if m.lower_is_better)
FROM_PAIRS: frozenset[str] = frozenset(m.name for m in _ALL if m.from_pairs)


def value_at(head: Mapping[str, Any], name: str) -> float | None:
    """The finite number at dotted ``name`` in a head's JSON object, else None."""
    node: Any = head
    for part in name.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    if isinstance(node, bool) or not isinstance(node, (int, float)) or not math.isfinite(node):
        return None
    return float(node)


def flatten_head(head: Mapping[str, Any]) -> dict[str, float]:
    """The registry's metrics present in a head's JSON object, by name (absent ones left out).

    Example:
        >>> flatten_head({"layer": "fc", "epsilon": 1.0, "cosine": {"abs_max": 0.5}, "etf": None})
        {'epsilon': 1.0, 'cosine.abs_max': 0.5}
    """
    out: dict[str, float] = {}
    for name in METRICS:
        v = value_at(head, name)
        if v is not None:
            out[name] = v
    return out
