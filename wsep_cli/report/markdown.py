"""A Markdown table with ✅/❌, fit for ``$GITHUB_STEP_SUMMARY`` and pull-request comments.

One row per file x head (one row for a file that could not be scored), then the gate's verdict and
one bullet per violation. Free text goes into code spans so file names never turn into Markdown.
"""

from __future__ import annotations

from wsep_cli.gate.verdicts import Check, FileVerdict, checks_text
from wsep_cli.report.numtext import fmt_g
from wsep_cli.report import ScoreReport
from wsep_cli.results import FileResult, HeadResult

__all__ = ["render_markdown", "code", "cell"]

PASS = "✅"
FAIL = "❌"
NO_GATE = "—"
_HEADER = (
    "| | file | head | classes × features | epsilon | epsilon_normalized | cosine.abs_max |\n"
    "|:-:|---|---|--:|--:|--:|--:|\n"
)


def cell(text: str) -> str:
    """Text safe inside a table cell (pipes escaped, one line)."""
    return " ".join(text.split()).replace("|", "\\|")


def code(text: str) -> str:
    """A code span that survives any content (backticks become quotes)."""
    return "`" + cell(text).replace("`", "'") + "`"


def _head_mark(verdict: FileVerdict | None, layer: str) -> str:
    """✅/❌ by the gate's checks on this head; "—" when no gate ran (nothing was judged)."""
    if verdict is None:
        return NO_GATE
    return PASS if all(c.passed for c in verdict.checks if c.layer == layer) else FAIL


def _rows(r: FileResult, verdict: FileVerdict | None) -> list[str]:
    if r.status != "ok":
        return [f"| {FAIL} | {code(r.path)} | error (exit {r.exit_code}): {cell(r.error or '')} | | | | |"]
    rows = []
    for h in r.heads:
        rows.append(_head_row(r, h, _head_mark(verdict, h.layer)))
    if verdict is not None and any(c.layer is None and not c.passed for c in verdict.checks):
        rows.append(f"| {FAIL} | {code(r.path)} | see the gate below | | | | |")
    return rows


def _head_row(r: FileResult, h: HeadResult, mark: str) -> str:
    m = h.metrics
    abs_max = m.cosine.abs_max if m.cosine is not None else None
    return (
        f"| {mark} | {code(r.path)} | {code(h.layer)} | {h.num_classes} × {h.num_features} "
        f"| {fmt_g(m.epsilon)} | {fmt_g(m.epsilon_normalized)} | {fmt_g(abs_max)} |"
    )


def _bullet(mark: str, c: Check) -> str:
    return f"- {mark} {code(c.message)}"


def _gate_lines(report: ScoreReport) -> list[str]:
    gate = report.gate
    if gate is None:
        return []
    checks, bad = gate.checks, gate.violations
    if not bad:
        lines = [f"**Gate passed** {PASS} ({checks_text(len(checks))})"]
    else:
        lines = [f"**Gate failed** {FAIL} ({len(bad)} of {checks_text(len(checks))} failed)", ""]
        lines += [_bullet(FAIL, c) for c in bad]
    notes = [c for c in checks if c.passed and c.metric is None]
    if notes:
        lines += [""] + [_bullet("ℹ️", c) for c in notes]
    return [""] + lines


def _count_line(report: ScoreReport) -> str:
    files = len(report.results)
    bad = sum(1 for r in report.results if r.status != "ok")
    text = f"{files} file" + ("" if files == 1 else "s") + f", {files - bad} scored"
    return text + (f", {FAIL} {bad} could not be scored" if bad else "")


def render_markdown(report: ScoreReport) -> str:
    """The report as GitHub-flavoured Markdown."""
    body = "".join(
        line + "\n"
        for r in report.results
        for line in _rows(r, report.gate.for_path(r.path) if report.gate is not None else None)
    )
    tail = "".join(line + "\n" for line in ["", _count_line(report), *_gate_lines(report)])
    return "### wsep: weight separability\n\n" + _HEADER + body + tail
