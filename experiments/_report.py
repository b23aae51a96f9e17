"""Summaries of per-seed runs: mean ± std per condition, paired differences against a reference."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from _common import md_table, mean_std

__all__ = ["group", "summarize", "paired", "summary_table", "spearman"]


def group(runs: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Runs by condition name, in first-seen order, each list sorted by seed."""
    out: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        out.setdefault(r["variant"], []).append(r)
    return {k: sorted(v, key=lambda r: r["seed"]) for k, v in out.items()}


def paired(a: list[dict[str, Any]], b: list[dict[str, Any]], key: str) -> tuple[float, float, float, int]:
    """Mean and std of a[key] − b[key] over the seeds both have, and the paired t-test p-value."""
    bs = {r["seed"]: r[key] for r in b}
    d = [r[key] - bs[r["seed"]] for r in a if r["seed"] in bs]
    m, s = mean_std(d)
    p = math.nan
    if len(d) > 1 and s > 0:
        from scipy.stats import ttest_rel

        p = float(ttest_rel([r[key] for r in a if r["seed"] in bs], [bs[r["seed"]] for r in a if r["seed"] in bs]).pvalue)
    return m, s, p, len(d)


def summarize(runs: Sequence[dict[str, Any]], reference: str | None) -> list[dict[str, Any]]:
    """Per condition: n, mean and std of each metric, paired Δ vs ``reference`` (same seeds)."""
    g = group(runs)
    keys = ("test_acc", "epsilon", "epsilon_normalized", "cosine_mean", "row_norm_mean",
            "row_sum_ratio", "fisher_ratio", "train_re_loss", "seconds")
    out = []
    for name, rs in g.items():
        row: dict[str, Any] = {"condition": name, "n": len(rs), "config": rs[0].get("config", {})}
        for k in keys:
            row[k] = mean_std(r[k] for r in rs)
        if reference and reference in g and name != reference:
            row["delta_acc"] = paired(rs, g[reference], "test_acc")
            row["delta_epsilon"] = paired(rs, g[reference], "epsilon")
        out.append(row)
    return out


def _pm(ms: tuple[float, float], digits: int) -> str:
    return f"{ms[0]:.{digits}f} ± {ms[1]:.{digits}f}"


def _g(ms: tuple[float, float]) -> str:
    return f"{ms[0]:.3g} ± {ms[1]:.2g}"


def summary_table(rows: list[dict[str, Any]]) -> str:
    """Markdown: one line per condition, accuracy in %, paired Δ accuracy vs the reference."""
    def delta(r: dict[str, Any]) -> str:
        if "delta_acc" not in r:
            return "—"
        m, s, p, _ = r["delta_acc"]
        return f"{100 * m:+.2f} ± {100 * s:.2f} (p = {p:.2g})" if not math.isnan(p) else f"{100 * m:+.2f} ± {100 * s:.2f}"

    return md_table(
        ["condition", "n seeds", "test acc (%)", "Δ acc vs CE (pp, paired)", "ε(V)", "ε_normalized",
         "cos mean", "row norm", "row-sum ratio", "Fisher ratio (test α)", "train L_re"],
        [
            (
                r["condition"], r["n"], f"{100 * r['test_acc'][0]:.2f} ± {100 * r['test_acc'][1]:.2f}", delta(r),
                _g(r["epsilon"]), _g(r["epsilon_normalized"]), _pm(r["cosine_mean"], 3),
                _pm(r["row_norm_mean"], 2), _g(r["row_sum_ratio"]), _pm(r["fisher_ratio"], 2),
                _g(r["train_re_loss"]),
            )
            for r in rows
        ],
    )


def spearman(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Spearman rank correlation and its p-value (nan for fewer than 3 points or constant input)."""
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan, math.nan
    from scipy.stats import spearmanr

    res = spearmanr(x, y)
    return float(res.statistic), float(res.pvalue)
