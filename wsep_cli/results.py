"""Frozen result types shared by the metrics, the score pipeline and every report format.

Their ``to_dict`` methods produce exactly the JSON documented in docs/json-schema.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "MostSimilar",
    "CosineStats",
    "NormStats",
    "EtfStats",
    "SingularValueStats",
    "Metrics",
    "HeadResult",
    "FileResult",
    "SourceInfo",
    "SCHEMA_VERSION",
]

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class MostSimilar:
    classes: tuple[int, int]
    cosine: float
    names: tuple[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "classes": list(self.classes),
            "names": list(self.names) if self.names is not None else None,
            "cosine": self.cosine,
        }


@dataclass(frozen=True)
class CosineStats:
    """Statistics of cos(v_i, v_j) over all unordered pairs i != j (or a seeded sample of them)."""

    mean: float
    std: float
    min: float
    max: float
    abs_mean: float
    abs_max: float
    p50: float
    p95: float
    p99: float
    most_similar: MostSimilar | None
    estimated: bool = False
    sample_size: int | None = None
    least_similar: MostSimilar | None = None  # the pair with the smallest (most negative) cosine
    top_pairs: tuple[MostSimilar, ...] = ()  # the K most similar pairs, when asked for (--top-pairs)

    @property
    def abs_max_pair(self) -> MostSimilar | None:
        """The pair behind ``abs_max``: the most similar pair, or the least similar when it is larger in |cos|."""
        if self.least_similar is not None and -self.least_similar.cosine > (self.most_similar.cosine if self.most_similar else -1.0):
            return self.least_similar
        return self.most_similar

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["most_similar"] = self.most_similar.to_dict() if self.most_similar else None
        d["least_similar"] = self.least_similar.to_dict() if self.least_similar else None
        d["top_pairs"] = [p.to_dict() for p in self.top_pairs]
        return d


@dataclass(frozen=True)
class NormStats:
    mean: float
    std: float
    min: float
    max: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EtfStats:
    """Neural-collapse geometry of the class vectors (see docs/metrics.md)."""

    equinorm: float
    equiangularity: float
    mean_angle_deviation: float
    max_angle_deviation: float
    distance: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SingularValueStats:
    rank: int
    condition_number: float | None  # None when V is rank-deficient (smallest singular value 0)
    max: float
    min: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Metrics:
    epsilon: float
    epsilon_normalized: float
    epsilon_floor: float
    epsilon_normalized_floor: float
    cosine: CosineStats | None  # None when n = 1 (no pairs)
    norms: NormStats
    etf: EtfStats | None  # None when n = 1
    singular_values: SingularValueStats

    def to_dict(self) -> dict[str, Any]:
        return {
            "epsilon": self.epsilon,
            "epsilon_normalized": self.epsilon_normalized,
            "epsilon_floor": self.epsilon_floor,
            "epsilon_normalized_floor": self.epsilon_normalized_floor,
            "cosine": self.cosine.to_dict() if self.cosine else None,
            "norms": self.norms.to_dict(),
            "etf": self.etf.to_dict() if self.etf else None,
            "singular_values": self.singular_values.to_dict(),
        }


@dataclass(frozen=True)
class HeadResult:
    """One located classifier and its metrics."""

    layer: str
    located_by: str
    reason: str
    num_classes: int
    num_features: int
    dtype: str
    metrics: Metrics
    warnings: tuple[str, ...] = field(default=())  # what a reader of the numbers must know
    alternatives: tuple[str, ...] = field(default=())  # sibling heads reading the same features
    dequantized: dict[str, Any] | None = None  # how a quantised weight became the float64 V

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "located_by": self.located_by,
            "reason": self.reason,
            "num_classes": self.num_classes,
            "num_features": self.num_features,
            "dtype": self.dtype,
            **self.metrics.to_dict(),
            "warnings": list(self.warnings),
            "alternatives": list(self.alternatives),
            "dequantized": dict(self.dequantized) if self.dequantized is not None else None,
        }


@dataclass(frozen=True)
class SourceInfo:
    """Where a checkpoint came from: a local path, or a Hugging Face Hub repo at a revision.

    ``commit`` is the commit the revision resolved to; ``bytes_downloaded`` counts the bytes this run
    fetched from the Hub (0 when everything came from the cache; None for local files).
    """

    kind: str  # "local" | "hub"
    repo: str | None = None
    revision: str | None = None
    commit: str | None = None
    bytes_downloaded: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


LOCAL_SOURCE = SourceInfo(kind="local")


@dataclass(frozen=True)
class FileResult:
    """The outcome for one path: ``status`` "ok" with heads, or "error" with a one-line message."""

    path: str
    format: str | None
    status: str
    exit_code: int
    error: str | None = None
    heads: tuple[HeadResult, ...] = field(default_factory=tuple)
    source: SourceInfo = LOCAL_SOURCE

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "source": self.source.to_dict(),
            "format": self.format,
            "status": self.status,
            "error": self.error,
            "exit_code": self.exit_code,
            "heads": [h.to_dict() for h in self.heads],
        }
