"""``wsep compare A B``: every metric of two checkpoints (or two JSON reports) side by side.

Each side is a :class:`~wsep_cli.gate.baseline.Baseline` (a report read from JSON, or a checkpoint scored
now). When both sides hold one file they are paired whatever their names; otherwise files pair like a
baseline (same path, else same unique file name). Heads pair by layer, or directly when each file
has exactly one head. Lower is better for ε and the |cos| family (and the other metrics listed in
``LOWER_IS_BETTER``); changes within float32 rounding (1e-6 relative) are "same". A *regression*
is one of the gated metrics (ε, ε unit rows, max |cos|) getting worse by more than the tolerance;
max |cos| exact on one side and sampled on the other counts as one unless the sample's lower bound
rules it out, as in the baseline gate (:mod:`wsep_cli.gate.checks`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wsep_cli.gate.baseline import Baseline, BaselineFile, match_files
from wsep_cli.gate.verdicts import BASELINE_METRICS, baseline_worse, same_within_rounding, sampling_differs
from wsep_cli.metrics.registry import FROM_PAIRS, LOWER_IS_BETTER

__all__ = ["LOWER_IS_BETTER", "MetricChange", "HeadComparison", "Comparison", "is_report", "compare"]

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
    shape_a: tuple[int, int] | None = None
    shape_b: tuple[int, int] | None = None
    located_a: str | None = None
    located_b: str | None = None
    sampled_a: bool | None = None  # the side's pair statistics came from the seeded sample (None: not said)
    sampled_b: bool | None = None

    @property
    def warning(self) -> str | None:
        """Why this pair's numbers may not be comparable, or None."""
        if self.layer_a is None or self.layer_b is None:
            return None
        notes = []
        if self.shape_a and self.shape_b and self.shape_a != self.shape_b:
            notes.append(f"the heads differ in shape (A {_shape_text(self.shape_a)}, B {_shape_text(self.shape_b)}), "
                         "so their metrics are not comparable")
        if self.layer_a != self.layer_b:
            notes.append(f"the heads have different names ({self.layer_a!r} vs {self.layer_b!r})")
        pairs = self._pairs_note()
        if not notes:
            return f"{self.title}: {pairs}" if pairs else None
        if pairs:
            notes.append(pairs)
        guessed = [f"{side} (by {how})" for side, how in (("A", self.located_a), ("B", self.located_b))
                   if how not in (None, "option")]
        verb = "was" if len(guessed) == 1 else "were"
        hint = (f"; the head of {' and '.join(guessed)} {verb} found without --layer: pass --layer NAME to "
                "compare the same layer" if guessed else "")
        return f"{self.title}: " + "; ".join(notes) + hint

    def _pairs_note(self) -> str | None:
        """Set when one side's pair statistics are over every pair and the other's from the sample."""
        if self.sampled_a is None or self.sampled_b is None or self.sampled_a == self.sampled_b:
            return None
        exact, sampled = ("A", "B") if self.sampled_b else ("B", "A")
        return (f"{exact}'s pair statistics are over every pair, {sampled}'s from a seeded sample, so "
                f"{', '.join(sorted(FROM_PAIRS))} are not comparable (--fail-on-regression counts max |cos| "
                "as a regression unless the sample's lower bound rules it out); score both sides with --exact-pairs "
                "(a report: write it again with `wsep score --exact-pairs --json`)")

    @property
    def title(self) -> str:
        left = f"{self.file_a} {self.layer_a}" if self.layer_a else f"{self.file_a or '—'} (no such head)"
        right = f"{self.file_b} {self.layer_b}" if self.layer_b else f"{self.file_b or '—'} (no such head)"
        return f"{left} → {right}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": {"path": self.file_a, "layer": self.layer_a, "shape": list(self.shape_a) if self.shape_a else None},
            "b": {"path": self.file_b, "layer": self.layer_b, "shape": list(self.shape_b) if self.shape_b else None},
            "warning": self.warning,
            "metrics": [c.to_dict() for c in self.changes],
        }


def _shape_text(shape: tuple[int, int]) -> str:
    return f"{shape[0]} × {shape[1]}"


@dataclass(frozen=True)
class Comparison:
    a: str
    b: str
    heads: tuple[HeadComparison, ...]
    tolerance: float = 0.0

    @property
    def regressions(self) -> tuple[tuple[HeadComparison, MetricChange], ...]:
        return tuple((h, c) for h in self.heads for c in h.changes if c.regression)

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(h.warning for h in self.heads if h.warning)

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


def _verdict(metric: str, a: float | None, b: float | None, tol: float,
             sampled: tuple[bool | None, bool | None] = (None, None)) -> tuple[str, bool]:
    """The verdict and whether it is a regression. A gated pair statistic exact on one side and sampled on
    the other is a regression unless the sample's lower bound shows it is not (as in the baseline gate)."""
    if metric not in LOWER_IS_BETTER or a is None or b is None:
        return "", False
    sa, sb = sampled
    if same_within_rounding(a, b) and not sampling_differs(metric, sa, sb):
        return "same", False
    verdict = "same" if same_within_rounding(a, b) else "better" if b < a else "worse"
    return verdict, metric in BASELINE_METRICS and baseline_worse(metric, b, a, tol, sb, sa) is not False


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
            verdict, reg = _verdict(k, va, vb, tol, (x.sampled, y.sampled))
            changes.append(MetricChange(k, va, vb, verdict, reg))
        out.append(HeadComparison(pa, pb, x.layer, y.layer, tuple(changes), x.shape, y.shape, x.located_by, y.located_by,
                                  x.sampled, y.sampled))
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
