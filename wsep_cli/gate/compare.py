"""``wsep compare A B``: every metric of two checkpoints (or two JSON reports) side by side.

Each side is a :class:`~wsep_cli.gate.baseline.Baseline` (a report read from JSON, or a checkpoint scored
now). When both sides hold one file they are paired whatever their names; otherwise files pair like a
baseline (same path, else same unique file name). Heads pair by layer, or directly when each file
has exactly one head. Lower is better for ε and the |cos| family (and the other metrics listed in
``LOWER_IS_BETTER``); changes within float32 rounding (1e-6 relative) are "same". A *regression*
is one of the gated metrics (ε, ε unit rows, max |cos|) getting worse by more than the tolerance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wsep_cli.gate.baseline import Baseline, BaselineFile, baseline_from_results, load_baseline, match_files
from wsep_cli.errors import ExitCode, UsageError, WsepError
from wsep_cli.gate.checks import BASELINE_METRICS, same_within_rounding, worse_than

if TYPE_CHECKING:
    from wsep_cli.pipeline import ScoreOptions

__all__ = ["LOWER_IS_BETTER", "MetricChange", "HeadComparison", "Comparison", "is_report", "load_side", "compare"]

LOWER_IS_BETTER: frozenset[str] = frozenset(
    {
        "epsilon",
        "epsilon_normalized",
        "cosine.max",
        "cosine.abs_mean",
        "cosine.abs_max",
        "cosine.p95",
        "cosine.p99",
        "etf.equinorm",
        "etf.equiangularity",
        "etf.mean_angle_deviation",
        "etf.max_angle_deviation",
        "etf.distance",
        "singular_values.condition_number",
    }
)


@dataclass(frozen=True)
class MetricChange:
    """One metric on both sides. ``verdict`` is better/worse/same, or "" when no direction applies."""

    metric: str
    a: float | None
    b: float | None
    verdict: str
    regression: bool

    @property
    def change(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a

    @property
    def relative(self) -> float | None:
        d = self.change
        return None if d is None or not self.a else d / abs(self.a)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "a": self.a,
            "b": self.b,
            "change": self.change,
            "relative_change": self.relative,
            "verdict": self.verdict or None,
            "regression": self.regression,
        }


@dataclass(frozen=True)
class HeadComparison:
    """A head on both sides (or one side only: the other layer is ``None``)."""

    file_a: str | None
    file_b: str | None
    layer_a: str | None
    layer_b: str | None
    changes: tuple[MetricChange, ...] = ()

    @property
    def title(self) -> str:
        left = f"{self.file_a} {self.layer_a}" if self.layer_a else f"{self.file_a or '—'} (no such head)"
        right = f"{self.file_b} {self.layer_b}" if self.layer_b else f"{self.file_b or '—'} (no such head)"
        return f"{left} → {right}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": {"path": self.file_a, "layer": self.layer_a},
            "b": {"path": self.file_b, "layer": self.layer_b},
            "metrics": [c.to_dict() for c in self.changes],
        }


@dataclass(frozen=True)
class Comparison:
    a: str
    b: str
    heads: tuple[HeadComparison, ...]
    tolerance: float = 0.0

    @property
    def regressions(self) -> tuple[tuple[HeadComparison, MetricChange], ...]:
        return tuple((h, c) for h in self.heads for c in h.changes if c.regression)

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "tolerance": self.tolerance,
            "regressions": len(self.regressions),
            "heads": [h.to_dict() for h in self.heads],
        }


def is_report(path: Path) -> bool:
    """True for a JSON report (first non-blank byte ``{``), False for a checkpoint."""
    if not path.is_file():
        return False
    with path.open("rb") as fh:
        start = fh.read(64).lstrip()
    if not start.startswith(b"{"):
        return False
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(doc, dict) and "results" in doc


def load_side(spec: str, opts: "ScoreOptions | None" = None) -> Baseline:
    """One side: a JSON report read from ``spec``, or the checkpoint at ``spec`` scored now.

    Raises:
        WsepError: a missing path (exit 2), or the checkpoint's own error (its exit code).
    """
    if is_report(Path(spec)):
        return load_baseline(Path(spec))
    from wsep_cli.pipeline import ScoreOptions, expand_paths, score_file

    paths = expand_paths([spec])
    if len(paths) != 1:
        raise UsageError(f"{spec}: matches {len(paths)} files; compare takes one checkpoint or one JSON report per side")
    scored = score_file(paths[0], opts or ScoreOptions())
    if scored.status != "ok":
        err = WsepError(f"cannot compare: {scored.error}")
        err.exit_code = ExitCode(scored.exit_code)
        raise err
    return baseline_from_results([scored], source=spec)


def _verdict(metric: str, a: float | None, b: float | None, tol: float) -> tuple[str, bool]:
    if metric not in LOWER_IS_BETTER or a is None or b is None:
        return "", False
    if same_within_rounding(a, b):
        return "same", False
    verdict = "better" if b < a else "worse"
    return verdict, metric in BASELINE_METRICS and worse_than(b, a, tol)


def _pair_heads(fa: BaselineFile | None, fb: BaselineFile | None, tol: float) -> list[HeadComparison]:
    ha = list(fa.heads) if fa else []
    hb = list(fb.heads) if fb else []
    pa, pb = (fa.path if fa else None), (fb.path if fb else None)
    if len(ha) == 1 and len(hb) == 1:
        pairs = [(ha[0], hb[0])]
    else:
        by_b = {h.layer: h for h in hb}
        pairs = [(h, by_b.get(h.layer)) for h in ha]
        pairs += [(None, h) for h in hb if h.layer not in {x.layer for x in ha}]
    out = []
    for x, y in pairs:
        if x is None or y is None:
            out.append(HeadComparison(pa, pb, x.layer if x else None, y.layer if y else None))
            continue
        keys = list(x.metrics) + [k for k in y.metrics if k not in x.metrics]
        changes = []
        for k in keys:
            va, vb = x.metrics.get(k), y.metrics.get(k)
            verdict, reg = _verdict(k, va, vb, tol)
            changes.append(MetricChange(k, va, vb, verdict, reg))
        out.append(HeadComparison(pa, pb, x.layer, y.layer, tuple(changes)))
    return out


def compare(a: Baseline, b: Baseline, *, tolerance: float = 0.0) -> Comparison:
    """Pair the files and heads of two sides and compute every metric's change."""
    if len(a.files) == 1 and len(b.files) == 1:
        file_pairs: list[tuple[BaselineFile | None, BaselineFile | None]] = [(a.files[0], b.files[0])]
    else:
        match = match_files([f.path for f in b.files], a)
        file_pairs = [(match.pairs.get(f.path), f) for f in b.files]
        file_pairs = [(fa, fb) for fa, fb in file_pairs] + [(fa, None) for fa in match.unmatched]
    heads = [h for fa, fb in file_pairs for h in _pair_heads(fa, fb, tolerance)]
    return Comparison(a=a.source, b=b.source, heads=tuple(heads), tolerance=tolerance)
