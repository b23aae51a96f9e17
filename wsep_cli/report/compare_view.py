"""Renderers for ``wsep compare``: a Rich table, Markdown or JSON, picked by :class:`CompareFormat`."""

from __future__ import annotations

import io
import json
from enum import Enum
from typing import Callable

from wsep_cli.errors import UsageError
from wsep_cli.gate.compare import Comparison, HeadComparison, MetricChange
from wsep_cli.report.numtext import fmt_g

__all__ = ["CompareFormat", "render_compare_table", "render_compare_markdown", "render_compare_json"]

_MARK_TEXT = {"better": "better", "worse": "WORSE", "same": "same", "": ""}
_MARK_MD = {"better": "✅ better", "worse": "❌ worse", "same": "same", "": ""}


class CompareFormat(str, Enum):
    TABLE = "table"
    JSON = "json"
    MARKDOWN = "markdown"

    @classmethod
    def resolve(cls, name: str) -> "CompareFormat":
        """Raises UsageError for an unknown name (exit 2)."""
        try:
            return cls(name.lower())
        except ValueError:
            raise UsageError(f"--format {name!r} is not one of: {', '.join(f.value for f in cls)}") from None

    def to_formatter(self) -> Callable[[Comparison], str]:
        return {
            CompareFormat.TABLE: render_compare_table,
            CompareFormat.JSON: render_compare_json,
            CompareFormat.MARKDOWN: render_compare_markdown,
        }[self]


def _cells(c: MetricChange, marks: dict[str, str]) -> list[str]:
    d, rel = c.change, c.relative
    mark = marks[c.verdict] + (" (regression)" if c.regression else "")
    return [c.metric, fmt_g(c.a), fmt_g(c.b), "—" if d is None else f"{d:+.6g}", "—" if rel is None else f"{rel:+.2%}", mark]


def _shapes(h: HeadComparison) -> str:
    def text(shape: tuple[int, int] | None) -> str:
        return "?" if shape is None else f"{shape[0]} × {shape[1]}"

    return f"  [A {text(h.shape_a)}, B {text(h.shape_b)}]" if (h.shape_a or h.shape_b) else ""


def _footer(cmp: Comparison) -> str:
    n = len(cmp.regressions)
    if n == 0:
        return f"no regression (tolerance {cmp.tolerance:g})"
    names = ", ".join(sorted({c.metric for _, c in cmp.regressions}))
    return f"{n} regression(s) beyond tolerance {cmp.tolerance:g}: {names}"


def render_compare_table(cmp: Comparison) -> str:
    """Rich tables, one per head pair; A is the reference, lower ε and |cos| are better."""
    from rich.console import Console
    from rich.table import Table

    buf = io.StringIO()
    console = Console(file=buf, no_color=True, width=110)
    console.print(f"A: {cmp.a}\nB: {cmp.b}", markup=False, highlight=False)
    for h in cmp.heads:
        if not h.changes:
            console.print(f"{h.title}: only on one side", markup=False, highlight=False)
            continue
        console.print(h.title + _shapes(h), markup=False, highlight=False, soft_wrap=True)
        if h.warning:
            console.print("warning: " + h.warning, markup=False, highlight=False, soft_wrap=True)
        t = Table()
        for col, just in (("metric", "left"), ("A", "right"), ("B", "right"), ("B − A", "right"), ("rel.", "right"), ("", "left")):
            t.add_column(col, justify=just)  # type: ignore[arg-type]
        for c in h.changes:
            t.add_row(*_cells(c, _MARK_TEXT))
        console.print(t)
    console.print(_footer(cmp), markup=False, highlight=False)
    return buf.getvalue()


def _md_head(h: HeadComparison) -> list[str]:
    from wsep_cli.report.markdown import cell

    if not h.changes:
        return [f"**{cell(h.title)}**: only on one side", ""]
    lines = [f"**{cell(h.title + _shapes(h))}**", ""]
    if h.warning:
        lines += [f"⚠️ {cell(h.warning)}", ""]
    lines += ["| metric | A | B | B − A | rel. | |", "|---|--:|--:|--:|--:|---|"]
    lines += ["| " + " | ".join(cell(x) for x in _cells(c, _MARK_MD)) + " |" for c in h.changes]
    return lines + [""]


def render_compare_markdown(cmp: Comparison) -> str:
    """GitHub-flavoured Markdown: one table per head pair, then the verdict."""
    from wsep_cli.report.markdown import code

    lines = ["### wsep compare", "", f"A: {code(cmp.a)}  ", f"B: {code(cmp.b)}", ""]
    for h in cmp.heads:
        lines += _md_head(h)
    lines.append(("✅ " if not cmp.regressions else "❌ ") + _footer(cmp))
    return "\n".join(lines) + "\n"


def render_compare_json(cmp: Comparison) -> str:
    from wsep_cli import __version__

    doc = {"wsep_version": __version__, **cmp.to_dict()}
    return json.dumps(doc, indent=2, allow_nan=False) + "\n"
