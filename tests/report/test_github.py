"""GitHub Actions output: exact annotations, escaping, and the step summary file."""

from __future__ import annotations

from pathlib import Path

from report_builders import error, head, ok

from wsep_cli.gate.checks import Thresholds, evaluate
from wsep_cli.report import ScoreReport
from wsep_cli.report.github import append_step_summary, escape_data, escape_property, render_github
from wsep_cli.report.markdown import render_markdown


def test_exact_output_one_error_per_violation() -> None:
    results = (
        ok("models/a.safetensors", head("fc.weight", 0.5, 0.25, 0.5)),
        ok("b.pt", head("fc", 0.125, 0.0625, 0.1)),
        error("c.pt", 3, "c.pt: no classifier matrix found"),
    )
    gate = evaluate(results, thresholds=Thresholds(max_epsilon=0.4, max_abs_cos=0.25))
    assert render_github(ScoreReport(results=results, gate=gate)) == (
        "::error file=c.pt,title=wsep%3A cannot score (exit 3)::c.pt: no classifier matrix found\n"
        "::error file=models/a.safetensors,title=wsep max-epsilon::"
        "models/a.safetensors fc.weight: epsilon = 0.5 > 0.4 (max-epsilon)\n"
        "::error file=models/a.safetensors,title=wsep max-abs-cos::"
        "models/a.safetensors fc.weight: cosine.abs_max = 0.5 > 0.25 (max-abs-cos; classes 2 and 3 have cos -0.5)\n"
        "models/a.safetensors fc.weight: epsilon 0.5, epsilon_normalized 0.25, max |cos| 0.5\n"
        "b.pt fc: epsilon 0.125, epsilon_normalized 0.0625, max |cos| 0.1\n"
        "wsep gate: FAILED (2 of 4 checks)\n"
    )


def test_passing_gate_has_no_error_lines() -> None:
    results = (ok("a.pt", head("fc", 0.5, 0.25, 0.5)),)
    text = render_github(ScoreReport(results=results, gate=evaluate(results, thresholds=Thresholds(max_epsilon=1))))
    assert "::error" not in text and text.endswith("wsep gate: passed (1 check)\n")


def test_escaping_follows_the_workflow_command_rules() -> None:
    # GitHub's toolkit: data escapes % CR LF; properties also escape : and ,
    assert escape_data("50% of\r\nit: a,b") == "50%25 of%0D%0Ait: a,b"
    assert escape_property("C:\\x,y%") == "C%3A\\x%2Cy%25"
    results = (ok("we,ird:name.pt", head("fc", 0.5, 0.25, 0.5)),)
    text = render_github(ScoreReport(results=results, gate=evaluate(results, thresholds=Thresholds(max_epsilon=0.1))))
    assert text.splitlines()[0].startswith("::error file=we%2Cird%3Aname.pt,title=wsep max-epsilon::we,ird:name.pt fc:")


def test_step_summary_is_appended_when_set(tmp_path: Path) -> None:
    results = (ok("a.pt", head("fc", 0.5, 0.25, 0.5)),)
    report = ScoreReport(results=results)
    assert append_step_summary(report, {}) is None
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    assert append_step_summary(report, {"GITHUB_STEP_SUMMARY": str(summary)}) == summary
    assert summary.read_text(encoding="utf-8") == "earlier step\n" + render_markdown(report) + "\n"
