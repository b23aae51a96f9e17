"""The CI gate: thresholds and a baseline turn scored results into pass/fail with reasons. No I/O.
The verdict types live in :mod:`wsep_cli.gate.verdicts`.

Every comparison is a :class:`Check` (one per file x head x rule). A threshold fails when the value
exceeds the limit. A baseline check fails when the value got worse (larger) than the baseline's by
more than ``tolerance`` (relative); changes within 1e-6 relative (plus 1e-12 absolute) count as
unchanged, since re-saving or rescaling a float32 tensor moves the metrics by ~1e-7 relative. A head or file present on only one side fails unless ``allow_new``.

Example:
    >>> from wsep_cli.metrics import compute_metrics
    >>> import numpy as np
    >>> from wsep_cli.results import FileResult, HeadResult, HeadResult
    >>> h = HeadResult("fc.weight", "name", "", 3, 3, "float32", compute_metrics(2 * np.eye(3)))
    >>> r = FileResult("a.safetensors", "safetensors", "ok", 0, heads=(h,))
    >>> evaluate([r], thresholds=Thresholds(max_epsilon=1.0)).violations[0].message
    'a.safetensors fc.weight: epsilon = 9 > 1 (max-epsilon)'
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping

from wsep_cli.gate.baseline import Baseline, BaselineFile, BaselineHead, baseline_head, match_files
from wsep_cli.gate.verdicts import (
    BASELINE_METRICS,
    THRESHOLD_METRICS,
    Check,
    FileVerdict,
    GateReport,
    Thresholds,
    baseline_worse,
    sampling_differs,
)
from wsep_cli.report.numtext import fmt_g
from wsep_cli.results import FileResult, HeadResult

__all__ = ["evaluate", "Thresholds", "GateReport"]  # the verdict types are wsep_cli.gate.verdicts

_FLOORS = {"epsilon": "epsilon_floor", "epsilon_normalized": "epsilon_normalized_floor"}


def _threshold_detail(h: HeadResult, metric: str, limit: float, m: Mapping[str, float], passed: bool) -> str:
    """What a reader of a threshold check must know: an impossible limit, the pair, an estimate."""
    parts = []
    floor = m.get(_FLOORS.get(metric, ""))
    if floor is not None and limit < floor:
        parts.append(f"below this head's floor {fmt_g(floor)}: no {h.num_classes}×{h.num_features} matrix can pass")
    cos = h.metrics.cosine
    if metric.startswith("cosine.") and cos is not None:
        pair = cos.abs_max_pair if metric == "cosine.abs_max" and not passed else None
        if pair is not None:
            names = f" ({pair.names[0]}, {pair.names[1]})" if pair.names else ""
            parts.append(f"classes {pair.classes[0]} and {pair.classes[1]}{names} have cos {fmt_g(pair.cosine)}")
        if cos.estimated:
            parts.append(f"estimated from a sample of {cos.sample_size} pairs")
    return "; ".join(parts)


def _threshold_checks(path: str, h: HeadResult, m: Mapping[str, float], th: Thresholds) -> list[Check]:
    out = []
    for rule, limit in th.items():
        metric = THRESHOLD_METRICS[rule]
        value = m.get(metric)
        if value is not None:
            passed = value <= limit
            detail = _threshold_detail(h, metric, limit, m, passed)
            out.append(Check(path, h.layer, rule, metric, value, limit, passed=passed, detail=detail))
    return out


def _sampling_text(sampled: bool, size: int | None) -> str:
    if not sampled:
        return "over every pair"
    return f"from a sample of {size:,} pairs" if size else "from a sample of the pairs"


def _baseline_check(path: str, metric: str, cur: BaselineHead, bh: BaselineHead, tol: float) -> Check:
    """One baseline comparison. A pair statistic (``cosine.abs_max``) taken over every pair on one side
    and from the seeded sample on the other is compared only where the answer holds for the exact values
    too (``verdicts.baseline_worse``); otherwise the check fails and says how to fix it."""
    new, old = cur.metrics[metric], bh.metrics[metric]
    limit = old + tol * abs(old)
    worse = baseline_worse(metric, new, old, tol, cur.sampled, bh.sampled)
    if not sampling_differs(metric, cur.sampled, bh.sampled):
        return Check(path, cur.layer, "baseline", metric, new, limit, not worse, baseline=old,
                     detail=f"tolerance {tol:g}")
    this = _sampling_text(bool(cur.sampled), cur.sample_size)
    base = _sampling_text(bool(bh.sampled), bh.sample_size)
    if worse is not None:
        why = (f"this run's value is {this}, so its exact value is at least as large" if worse
               else f"the baseline's value is {base}, so its exact value is at least as large")
        return Check(path, cur.layer, "baseline", metric, new, limit, not worse, baseline=old,
                     detail=f"tolerance {tol:g}; {why}")
    fix = ("score with --exact-pairs" if cur.sampled
           else "rewrite the baseline with `wsep score --exact-pairs --write-baseline FILE`")
    return Check(path, cur.layer, "baseline-method", metric, new, limit, False, baseline=old,
                 detail=f"{metric} not comparable with the baseline: this run's {fmt_g(new)} is {this}, "
                        f"the baseline's {fmt_g(old)} {base}; {fix} so both sides are over every pair")


def _baseline_checks(path: str, cur: BaselineHead, bh: BaselineHead, tol: float) -> list[Check]:
    return [_baseline_check(path, metric, cur, bh, tol) for metric in BASELINE_METRICS
            if metric in cur.metrics and metric in bh.metrics]


def _one_side(path: str, layer: str | None, rule: str, what: str, allow_new: bool) -> Check:
    detail = what + (" (allowed by --allow-new)" if allow_new else "; pass --allow-new to accept it")
    return Check(path, layer, rule, None, None, None, passed=allow_new, detail=detail)


def _file_checks(
    r: FileResult, th: Thresholds, base: BaselineFile | None, baseline: Baseline | None, tol: float, allow_new: bool
) -> list[Check]:
    checks: list[Check] = []
    if r.status != "ok":
        return checks  # the file's own error code already fails the run
    if baseline is not None and base is None:
        checks.append(_one_side(r.path, None, "new-file", f"not in baseline {baseline.source}", allow_new))
    for h in r.heads:
        cur = baseline_head(h)
        checks += _threshold_checks(r.path, h, cur.metrics, th)
        if base is None:
            continue
        bh = base.head(h.layer)
        if bh is None:
            checks.append(_one_side(r.path, h.layer, "new-head", f"head not in baseline {baseline.source}", allow_new))
        else:
            checks += _baseline_checks(r.path, cur, bh, tol)
    if base is not None and base.ok:
        for bh in base.heads:
            if all(h.layer != bh.layer for h in r.heads):
                what = f"head in baseline {baseline.source} ({base.path}) but not found in this run"
                checks.append(_one_side(r.path, bh.layer, "missing-head", what, allow_new))
    return checks


def evaluate(
    results: Iterable[FileResult],
    *,
    thresholds: Thresholds | Callable[[str], Thresholds] = Thresholds(),
    baseline: Baseline | None = None,
    tolerance: float = 0.0,
    allow_new: bool = False,
) -> GateReport:
    """Check every head of every result.

    Args:
        results: scored files (error results get no checks: their exit code fails the run).
        thresholds: one set for all paths, or a function giving each path its own (config overrides).
        baseline: an earlier report to compare against, matched by file and layer.
        tolerance: allowed relative worsening against the baseline (0.05 = 5 %).
        allow_new: accept heads and files present on only one side.
    """
    results = list(results)
    per_path = thresholds if callable(thresholds) else (lambda _p, _t=thresholds: _t)
    match = match_files([r.path for r in results], baseline) if baseline is not None else None
    verdicts = []
    for r in results:
        th = per_path(r.path)
        base = match.pairs.get(r.path) if match is not None else None
        checks = _file_checks(r, th, base, baseline, tolerance, allow_new)
        src = baseline.source if baseline is not None else None
        verdicts.append(FileVerdict(r.path, th, tuple(checks), baseline=src, tolerance=tolerance))
    unmatched: tuple[Check, ...] = ()
    if match is not None and baseline is not None:
        unmatched = tuple(
            _one_side(f.path, None, "missing-file", f"in baseline {baseline.source} but not scored in this run", allow_new)
            for f in match.unmatched
        )
    return GateReport(verdicts=tuple(verdicts), unmatched=unmatched)
