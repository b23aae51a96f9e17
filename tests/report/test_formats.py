"""Every output format maps to a formatter (exhaustively), and each renders text with and without a gate."""

from __future__ import annotations

import pytest
from report_builders import error, head, ok

from wsep_cli.gate.compare import compare
from wsep_cli.gate.baseline import baseline_from_results
from wsep_cli.gate.checks import Thresholds, evaluate
from wsep_cli.report import OutputFormat, ScoreReport, render
from wsep_cli.report.compare_view import CompareFormat


@pytest.mark.parametrize("fmt", list(OutputFormat))
def test_every_output_format_has_a_formatter(fmt: OutputFormat) -> None:
    formatter = fmt.to_formatter()
    assert callable(formatter)
    results = (ok("a.pt", head("fc", 0.5, 0.25, 0.5)), error("b.pt", 4, "b.pt: unreadable"))
    for gate in (None, evaluate(results, thresholds=Thresholds(max_epsilon=0.1))):
        text = render(ScoreReport(results=results, gate=gate), fmt)
        assert isinstance(text, str) and "a.pt" in text
        if fmt is OutputFormat.TABLE:  # errors go to stderr once; the table only counts them
            assert "b.pt" not in text and "1 could not be scored" in text
        else:
            assert "b.pt" in text


def test_formatters_are_distinct_and_values_are_stable() -> None:
    assert len({f.to_formatter() for f in OutputFormat}) == len(OutputFormat)
    assert {f.value for f in OutputFormat} >= {"table", "json", "markdown", "junit", "github"}


@pytest.mark.parametrize("fmt", list(CompareFormat))
def test_every_compare_format_has_a_formatter(fmt: CompareFormat) -> None:
    a = baseline_from_results([ok("a.pt", head("fc", 0.5, 0.25, 0.5))], source="a.pt")
    b = baseline_from_results([ok("b.pt", head("fc", 0.75, 0.25, 0.5))], source="b.pt")
    text = fmt.to_formatter()(compare(a, b))
    assert "a.pt" in text and "b.pt" in text and "epsilon" in text
