"""The Rich table: which rows are marked as estimated (issue 14, point 5) and colour only when asked."""

from __future__ import annotations

from dataclasses import replace

from report_builders import head, ok

from wsep_cli.gate.checks import Thresholds, evaluate
from wsep_cli.report import ScoreReport
from wsep_cli.report.table import render_table


def test_5_the_estimate_marker_is_on_the_sampled_rows() -> None:
    h = head("fc", 0.5, 0.25, 0.5, n=40_000)
    sampled = replace(h.metrics.cosine, estimated=True, sample_size=1000)
    h = replace(h, metrics=replace(h.metrics, cosine=sampled))
    text = render_table(ScoreReport(results=(ok("big.safetensors", h),)))
    rows = {ln.split("│")[1].strip(): ln for ln in text.splitlines() if ln.startswith("│")}
    assert "cosine.mean ± std" in rows and "cosine.mean ± std ≈" not in rows  # exact: no mark
    for name in ("cosine.min / max", "cosine.abs_mean / abs_max", "cosine.p50 / p95 / p99", "cosine.most_similar"):
        assert f"{name} ≈" in rows, name
    assert "estimated from a seeded sample of 1000" in text


def test_colour_marks_fail_and_pass_only_when_asked() -> None:
    results = (ok("a.pt", head("fc", 0.5, 0.25, 0.5)), ok("b.pt", head("fc", 0.05, 0.25, 0.5)))
    gate = evaluate(results, thresholds=Thresholds(max_epsilon=0.1))
    plain = render_table(ScoreReport(results=results, gate=gate))
    coloured = render_table(ScoreReport(results=results, gate=gate, color=True))
    assert "\x1b[" not in plain and "gate FAILED" in plain
    assert "\x1b[1;31mFAILED" in coloured or "\x1b[31;1mFAILED" in coloured
