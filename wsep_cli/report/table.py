"""Human-readable Rich tables, one per head, then the gate and a verdict line. Colour only when asked
(the CLI passes ``isatty``). Metric names are the JSON names (``cosine.abs_max``); rows computed from
a pair sample in sampled mode carry ``≈``. Files that could not be scored are not repeated here:
their one-line error goes to stderr, and the verdict line counts them."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table
from rich.text import Text

from wsep_cli.report import ScoreReport
from wsep_cli.report.numtext import fmt_g
from wsep_cli.results import HeadResult, MostSimilar

__all__ = ["render_table"]

_EST = " ≈"


def _pair(p: MostSimilar | None) -> str:
    if p is None:
        return "—"
    names = f" ({p.names[0]}, {p.names[1]})" if p.names else ""
    return f"{p.classes[0]}–{p.classes[1]}{names}: {fmt_g(p.cosine)}"


def _cosine_rows(h: HeadResult) -> list[tuple[str, str]]:
    c = h.metrics.cosine
    if c is None:
        return [("cosine", f"no pairs: the head has {h.num_classes} class")]
    est = _EST if c.estimated else ""
    rows = [
        ("cosine.mean ± std", f"{fmt_g(c.mean)} ± {fmt_g(c.std)}"),
        ("cosine.min / max" + est, f"{fmt_g(c.min)} / {fmt_g(c.max)}"),
        ("cosine.abs_mean / abs_max" + est, f"{fmt_g(c.abs_mean)} / {fmt_g(c.abs_max)}"),
        ("cosine.p50 / p95 / p99" + est, f"{fmt_g(c.p50)} / {fmt_g(c.p95)} / {fmt_g(c.p99)}"),
        ("cosine.most_similar" + est, _pair(c.most_similar)),
        ("cosine.least_similar" + est, _pair(c.least_similar)),
    ]
    rows += [(f"cosine.top_pairs[{k}]" + est, _pair(p)) for k, p in enumerate(c.top_pairs)]
    return rows


def _head_table(h: HeadResult) -> Table:
    t = Table(show_header=True)
    t.add_column("metric", no_wrap=True)
    t.add_column("value", justify="right", overflow="fold")
    m = h.metrics
    rows: list[tuple[str, str]] = [
        ("classes × features", f"{h.num_classes} × {h.num_features} ({h.dtype})"),
        ("located by", f"{h.located_by}: {h.reason}"),
        ("epsilon", fmt_g(m.epsilon)),
        ("epsilon_floor", fmt_g(m.epsilon_floor)),
        ("epsilon_normalized", fmt_g(m.epsilon_normalized)),
        ("epsilon_normalized_floor", fmt_g(m.epsilon_normalized_floor)),
        ("norms.mean ± std", f"{fmt_g(m.norms.mean)} ± {fmt_g(m.norms.std)}"),
        *_cosine_rows(h),
    ]
    if m.etf is not None:
        rows.append(("etf.distance", fmt_g(m.etf.distance)))
    sv = m.singular_values
    rows.append(("singular_values.rank / condition_number", f"{sv.rank} / {fmt_g(sv.condition_number)}"))
    for k, v in rows:
        t.add_row(k, v)
    return t


def _notes(h: HeadResult) -> list[str]:
    m = h.metrics
    out = []
    if m.norms.mean > 0 and abs(m.norms.mean - 1.0) > 0.1:  # far from unit rows: ε is mostly scale
        out.append(f"epsilon carries the weights' scale (row norms ≈ {fmt_g(m.norms.mean)}); "
                   "epsilon_normalized is the scale-free value")
    if m.cosine is not None and m.cosine.estimated:
        out.append(f"≈ estimated from a seeded sample of {m.cosine.sample_size} of the "
                   f"{h.num_classes * (h.num_classes - 1) // 2} pairs; mean ± std are exact")
    return out + list(h.warnings)


def _styled(line: str, color: bool) -> Text:
    text = Text(line)
    if color:
        text.highlight_words(["FAILED", "FAIL"], "bold red")
        text.highlight_words(["passed"], "bold green")
        text.highlight_words(["note"], "yellow")
    return text


def _verdict(report: ScoreReport) -> str:
    files = len(report.results)
    bad = sum(1 for r in report.results if r.status != "ok")
    heads = sum(len(r.heads) for r in report.results)
    parts = [f"{files} file" + ("" if files == 1 else "s"), f"{heads} head" + ("" if heads == 1 else "s") + " scored"]
    if bad:
        parts.append(f"{bad} could not be scored (see the errors on stderr)")
    gate = report.gate
    if gate is not None:
        n = len(gate.checks)
        parts.append(f"gate passed ({n} checks)" if gate.passed else f"gate FAILED ({len(gate.violations)} of {n} checks)")
    return "wsep: " + ", ".join(parts)


def render_table(report: ScoreReport) -> str:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=report.color, no_color=not report.color, width=report.width or 100)

    def line(text: str) -> None:
        console.print(_styled(text, report.color), soft_wrap=True)

    for r in report.results:
        if r.status != "ok":
            continue
        for h in r.heads:
            line(f"{r.path} [{r.format}] — {h.layer}")
            console.print(_head_table(h))
            for n in _notes(h):
                line(f"  note: {n}")
        if report.gate is not None:
            for text in report.gate.for_path(r.path).summary_lines():
                line(text)
    if report.gate is not None:
        for c in report.gate.unmatched:
            line(f"gate: {'note' if c.passed else 'FAIL'} {c.message}")
    if len(report.results) > 1 or report.gate is not None or any(r.status != "ok" for r in report.results):
        line(_verdict(report))
    return buf.getvalue()
