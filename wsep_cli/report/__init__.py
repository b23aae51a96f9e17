"""Output formats. ``OutputFormat.to_formatter`` maps every format to its renderer, exhaustively."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Callable

from wsep_cli.results import FileResult

if TYPE_CHECKING:
    from wsep_cli.gate import GateReport

__all__ = ["OutputFormat", "ScoreReport", "render"]


@dataclass(frozen=True)
class ScoreReport:
    """Everything a formatter may show: the results and, when thresholds apply, the gate verdicts."""

    results: tuple[FileResult, ...]
    gate: "GateReport | None" = None
    color: bool = False


class OutputFormat(str, Enum):
    TABLE = "table"
    JSON = "json"
    MARKDOWN = "markdown"
    JUNIT = "junit"
    GITHUB = "github"

    def to_formatter(self) -> Callable[[ScoreReport], str]:
        if self is OutputFormat.TABLE:
            from wsep_cli.report.table import render_table

            return render_table
        if self is OutputFormat.JSON:
            from wsep_cli.report.json_report import render_json

            return render_json
        if self is OutputFormat.MARKDOWN:
            from wsep_cli.report.markdown import render_markdown

            return render_markdown
        if self is OutputFormat.JUNIT:
            from wsep_cli.report.junit import render_junit

            return render_junit
        if self is OutputFormat.GITHUB:
            from wsep_cli.report.github import render_github

            return render_github
        raise AssertionError(f"unhandled output format {self!r}")  # pragma: no cover


def render(report: ScoreReport, fmt: OutputFormat) -> str:
    return fmt.to_formatter()(report)
