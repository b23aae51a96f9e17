"""Hand-built results for exact-output formatter tests (no scoring: every number is chosen here)."""

from __future__ import annotations

from wsep_cli.results import (
    CosineStats,
    EtfStats,
    FileResult,
    HeadResult,
    Metrics,
    MostSimilar,
    NormStats,
    SingularValueStats,
)


def metrics(eps: float, eps_n: float, abs_max: float) -> Metrics:
    return Metrics(
        epsilon=eps,
        epsilon_normalized=eps_n,
        epsilon_floor=0.0,
        epsilon_normalized_floor=0.0,
        cosine=CosineStats(
            mean=-0.1, std=0.05, min=-abs_max, max=0.2, abs_mean=0.1, abs_max=abs_max,
            p50=-0.1, p95=0.1, p99=0.15, most_similar=MostSimilar((0, 1), 0.2),
            least_similar=MostSimilar((2, 3), -abs_max),
        ),
        norms=NormStats(mean=1.0, std=0.1, min=0.8, max=1.2),
        etf=EtfStats(equinorm=0.1, equiangularity=0.05, mean_angle_deviation=0.04, max_angle_deviation=0.3, distance=0.2),
        singular_values=SingularValueStats(rank=10, condition_number=2.0, max=1.5, min=0.75),
    )


def head(layer: str, eps: float, eps_n: float, abs_max: float, n: int = 10, m: int = 64) -> HeadResult:
    return HeadResult(layer, "name", "known classifier name", n, m, "float32", metrics(eps, eps_n, abs_max))


def ok(path: str, *heads: HeadResult) -> FileResult:
    return FileResult(path=path, format="safetensors", status="ok", exit_code=0, heads=tuple(heads))


def error(path: str, code: int, message: str) -> FileResult:
    return FileResult(path=path, format=None, status="error", exit_code=code, error=message)
