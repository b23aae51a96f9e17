"""Human-readable Rich tables, one per file. Colour only when asked (the CLI passes ``isatty``)."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from wsep_cli.report.numtext import fmt_g
from wsep_cli.report import ScoreReport
from wsep_cli.results import FileResult, HeadResult

__all__ = ["render_table"]


def _head_table(r: FileResult, h: HeadResult) -> Table:
    t = Table(title=f"{r.path} [{r.format}] — {h.layer}", title_justify="left", show_header=True)
    t.add_column("metric")
    t.add_column("value", justify="right")
    m = h.metrics
    rows: list[tuple[str, str]] = [
        ("classes × features", f"{h.num_classes} × {h.num_features} ({h.dtype})"),
        ("located by", f"{h.located_by}: {h.reason}"),
        ("epsilon", fmt_g(m.epsilon)),
        ("epsilon floor", fmt_g(m.epsilon_floor)),
        ("epsilon (unit rows)", fmt_g(m.epsilon_normalized)),
        ("epsilon (unit rows) floor", fmt_g(m.epsilon_normalized_floor)),
        ("row norm mean ± std", f"{fmt_g(m.norms.mean)} ± {fmt_g(m.norms.std)}"),
    ]
    if m.cosine is not None:
        c = m.cosine
        ms = c.most_similar
        pair = ""
        if ms is not None:
            names = f" ({ms.names[0]}, {ms.names[1]})" if ms.names else ""
            pair = f"{ms.classes[0]}–{ms.classes[1]}{names}: {fmt_g(ms.cosine)}"
        est = f" (estimated from {c.sample_size} pairs)" if c.estimated else ""
        rows += [
            ("cosine mean ± std" + est, f"{fmt_g(c.mean)} ± {fmt_g(c.std)}"),
            ("cosine min / max", f"{fmt_g(c.min)} / {fmt_g(c.max)}"),
            ("|cosine| mean / max", f"{fmt_g(c.abs_mean)} / {fmt_g(c.abs_max)}"),
            ("cosine p50 / p95 / p99", f"{fmt_g(c.p50)} / {fmt_g(c.p95)} / {fmt_g(c.p99)}"),
            ("most similar pair", pair),
        ]
    if m.etf is not None:
        rows.append(("distance to simplex ETF", fmt_g(m.etf.distance)))
    sv = m.singular_values
    rows.append(("rank / condition number", f"{sv.rank} / {fmt_g(sv.condition_number)}"))
    for k, v in rows:
        t.add_row(k, v)
    return t


def render_table(report: ScoreReport) -> str:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=report.color, no_color=not report.color, width=100)
    for r in report.results:
        if r.status != "ok":
            console.print(f"{r.path}: error (exit {r.exit_code}): {r.error}", markup=False, highlight=False)
            continue
        for h in r.heads:
            console.print(_head_table(r, h))
        if report.gate is not None:
            for line in report.gate.for_path(r.path).summary_lines():
                console.print(line, markup=False, highlight=False, soft_wrap=True)
    if report.gate is not None:
        for c in report.gate.unmatched:
            line = f"gate: {'note' if c.passed else 'FAIL'} {c.message}"
            console.print(line, markup=False, highlight=False, soft_wrap=True)
    return buf.getvalue()
