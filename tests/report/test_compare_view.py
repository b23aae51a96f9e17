"""`wsep compare` renderers on hand-built sides: exact Markdown, table and JSON content."""

from __future__ import annotations

import json

from wsep_cli.gate.baseline import Baseline, BaselineFile, BaselineHead
from wsep_cli.gate.compare import compare
from wsep_cli.report.compare_view import render_compare_json, render_compare_markdown, render_compare_table


def _cmp():  # type: ignore[no-untyped-def]
    a = Baseline("a.json", (BaselineFile("a.pt", (BaselineHead("fc", {"epsilon": 0.5, "cosine.abs_max": 0.5, "norms.mean": 1.0}),)),))
    b = Baseline("b.pt", (BaselineFile("b.pt", (BaselineHead("fc", {"epsilon": 0.75, "cosine.abs_max": 0.25, "norms.mean": 1.0}),)),))
    return compare(a, b)


def test_markdown_exact() -> None:
    assert render_compare_markdown(_cmp()) == (
        "### wsep compare\n"
        "\n"
        "A: `a.json`  \n"
        "B: `b.pt`\n"
        "\n"
        "**a.pt fc → b.pt fc**\n"
        "\n"
        "| metric | A | B | B − A | rel. | |\n"
        "|---|--:|--:|--:|--:|---|\n"
        "| epsilon | 0.5 | 0.75 | +0.25 | +50.00% | ❌ worse (regression) |\n"
        "| cosine.abs_max | 0.5 | 0.25 | -0.25 | -50.00% | ✅ better |\n"
        "| norms.mean | 1 | 1 | +0 | +0.00% |  |\n"
        "\n"
        "❌ 1 regression(s) beyond tolerance 0: epsilon\n"
    )


def test_table_marks_worse_and_better() -> None:
    lines = render_compare_table(_cmp()).splitlines()
    eps = next(line for line in lines if line.startswith("│ epsilon"))
    assert "0.5" in eps and "0.75" in eps and "+0.25" in eps and "+50.00%" in eps and "WORSE (regression)" in eps
    cos = next(line for line in lines if line.startswith("│ cosine.abs_max"))
    assert "better" in cos and "-50.00%" in cos
    assert lines[-1] == "1 regression(s) beyond tolerance 0: epsilon"


def test_json_document() -> None:
    doc = json.loads(render_compare_json(_cmp()))
    assert doc["a"] == "a.json" and doc["b"] == "b.pt" and doc["regressions"] == 1
    assert doc["heads"][0]["metrics"][1] == {
        "metric": "cosine.abs_max", "a": 0.5, "b": 0.25, "change": -0.25, "relative_change": -0.5,
        "verdict": "better", "regression": False,
    }
