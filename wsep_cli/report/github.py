"""GitHub Actions workflow commands: one ``::error`` annotation per violation or unreadable file.

After the annotations come plain log lines (one per head with its gated metrics, then the verdict).
``append_step_summary`` adds the Markdown report to the file ``$GITHUB_STEP_SUMMARY`` names; the CLI
calls it when that variable is set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from wsep_cli.gate.verdicts import checks_text
from wsep_cli.report.numtext import fmt_g
from wsep_cli.report import ScoreReport

__all__ = ["render_github", "append_step_summary", "escape_data", "escape_property"]


def escape_data(text: str) -> str:
    """Escape a workflow-command message (GitHub's ``escapeData``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow-command property value (GitHub's ``escapeProperty``)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _error(path: str, title: str, message: str) -> str:
    return f"::error file={escape_property(path)},title={escape_property(title)}::{escape_data(message)}"


def render_github(report: ScoreReport) -> str:
    """Annotations, then a plain summary for the job log."""
    lines = []
    for r in report.results:
        if r.status != "ok":
            lines.append(_error(r.path, f"wsep: cannot score (exit {r.exit_code})", r.error or ""))
    gate = report.gate
    if gate is not None:
        lines += [_error(c.path, f"wsep {c.rule}", c.message) for c in gate.violations]
    for r in report.results:
        for h in r.heads:
            m = h.metrics
            abs_max = m.cosine.abs_max if m.cosine is not None else None
            lines.append(
                f"{r.path} {h.layer}: epsilon {fmt_g(m.epsilon)}, epsilon_normalized {fmt_g(m.epsilon_normalized)}, "
                f"max |cos| {fmt_g(abs_max)}"
            )
    if gate is not None:
        n = checks_text(len(gate.checks))
        verdict = f"passed ({n})" if gate.passed else f"FAILED ({len(gate.violations)} of {n})"
        lines.append(f"wsep gate: {verdict}")
    return "".join(line + "\n" for line in lines)


def append_step_summary(report: ScoreReport, env: Mapping[str, str]) -> Path | None:
    """Append the Markdown report to ``$GITHUB_STEP_SUMMARY`` when it is set; return the file."""
    target = env.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    from wsep_cli.report.markdown import render_markdown

    path = Path(target)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(render_markdown(report) + "\n")
    return path
