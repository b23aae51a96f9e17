"""Markdown output: exact text for hand-built results, and a GFM parser sees a real table."""

from __future__ import annotations

from markdown_it import MarkdownIt
from report_builders import error, head, ok

from wsep_cli.gate.baseline import baseline_from_results
from wsep_cli.gate.checks import Thresholds, evaluate
from wsep_cli.report import ScoreReport
from wsep_cli.report.markdown import render_markdown

HEADER = (
    "### wsep: weight separability\n"
    "\n"
    "| | file | head | classes × features | epsilon | epsilon_normalized | cosine.abs_max |\n"
    "|:-:|---|---|--:|--:|--:|--:|\n"
)


def _results():  # type: ignore[no-untyped-def]
    return (
        ok("a.safetensors", head("fc.weight", 0.5, 0.25, 0.5)),
        ok("b_c.pt", head("head", 0.125, 0.0625, 0.1, n=1000, m=768)),
        error("x|y.bin", 4, "x|y.bin: the file is empty"),
    )


def test_without_gate() -> None:
    text = render_markdown(ScoreReport(results=_results()))
    assert text == HEADER + (  # no gate set: no verdict per row, and the count includes the failed file
        "| — | `a.safetensors` | `fc.weight` | 10 × 64 | 0.5 | 0.25 | 0.5 |\n"
        "| — | `b_c.pt` | `head` | 1000 × 768 | 0.125 | 0.0625 | 0.1 |\n"
        "| ❌ | `x\\|y.bin` | error (exit 4): x\\|y.bin: the file is empty | | | | |\n"
        "\n"
        "3 files, 2 scored, ❌ 1 could not be scored\n"
    )


def test_with_failing_gate() -> None:
    results = _results()
    gate = evaluate(results, thresholds=Thresholds(max_epsilon=0.4, max_abs_cos=0.45))
    text = render_markdown(ScoreReport(results=results, gate=gate))
    assert text == HEADER + (
        "| ❌ | `a.safetensors` | `fc.weight` | 10 × 64 | 0.5 | 0.25 | 0.5 |\n"
        "| ✅ | `b_c.pt` | `head` | 1000 × 768 | 0.125 | 0.0625 | 0.1 |\n"
        "| ❌ | `x\\|y.bin` | error (exit 4): x\\|y.bin: the file is empty | | | | |\n"
        "\n"
        "3 files, 2 scored, ❌ 1 could not be scored\n"
        "\n"
        "**Gate failed** ❌ (2 of 4 checks failed)\n"
        "\n"
        "- ❌ `a.safetensors fc.weight: epsilon = 0.5 > 0.4 (max-epsilon)`\n"
        "- ❌ `a.safetensors fc.weight: cosine.abs_max = 0.5 > 0.45 (max-abs-cos; classes 2 and 3 have cos -0.5)`\n"
    )


def test_passing_gate_with_allowed_new_file() -> None:
    results = (ok("a.pt", head("fc", 0.5, 0.25, 0.5)),)
    base = baseline_from_results([ok("old.pt", head("fc", 0.5, 0.25, 0.5))], source="base.json")
    gate = evaluate(results, baseline=base, allow_new=True)
    text = render_markdown(ScoreReport(results=results, gate=gate))
    assert text.endswith(
        "\n**Gate passed** ✅ (2 checks)\n"
        "\n"
        "- ℹ️ `a.pt: not in baseline base.json (allowed by --allow-new)`\n"
        "- ℹ️ `old.pt: in baseline base.json but not scored in this run (allowed by --allow-new)`\n"
    )


def test_renders_as_a_table_with_one_row_per_head_or_error() -> None:
    results = _results()
    gate = evaluate(results, thresholds=Thresholds(max_epsilon=0.4))
    tokens = MarkdownIt("commonmark").enable("table").parse(render_markdown(ScoreReport(results=results, gate=gate)))
    types = [t.type for t in tokens]
    assert types.count("table_open") == 1
    rows = [i for i, t in enumerate(tokens) if t.type == "tr_open"]
    assert len(rows) == 1 + 3  # header + two heads + one error
    cells_per_row = []
    for start in rows:
        end = types.index("tr_close", start)
        cells_per_row.append(sum(t.type in ("td_open", "th_open") for t in tokens[start:end]))
    assert cells_per_row == [7, 7, 7, 7]
    inline = [t.content for t in tokens if t.type == "inline"]
    assert "`x|y.bin`" in inline  # the escaped pipe stays inside its cell
