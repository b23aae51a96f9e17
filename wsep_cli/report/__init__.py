"""Output formats. ``OutputFormat.to_formatter`` maps every format to its renderer, exhaustively."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Callable

from wsep_cli.errors import UsageError
from wsep_cli.results import FileResult

if TYPE_CHECKING:
    from wsep_cli.gate.verdicts import GateReport

__all__ = ["OutputFormat", "ScoreReport", "render"]


@dataclass(frozen=True)
class ScoreReport:
    """Everything a formatter may show: the results and, when thresholds apply, the gate verdicts."""

    results: tuple[FileResult, ...]
    gate: "GateReport | None" = None
    color: bool = False
    width: int | None = None  # the table's width (None: 100)


class OutputFormat(str, Enum):
    TABLE = "table"
    JSON = "json"
    MARKDOWN = "markdown"
    JUNIT = "junit"
    GITHUB = "github"

    @classmethod
    def resolve(cls, *, json_flag: bool = False, name: str | None = None) -> "OutputFormat":
        """``--json`` / ``--format NAME`` as one format.

        Raises:
            UsageError: an unknown name, or ``--json`` with another ``--format`` (exit 2).
        """
        if name is None:
            return cls.JSON if json_flag else cls.TABLE
        try:
            fmt = cls(name.lower())
        except ValueError:
            raise UsageError(f"--format {name!r} is not one of: {', '.join(f.value for f in cls)}") from None
        if json_flag and fmt is not cls.JSON:
            raise UsageError(f"--json and --format {name} ask for two formats; pass one of them")
        return fmt

    @property
    def machine_readable(self) -> bool:
        """Formats a program parses (gate failures are then also told on stderr)."""
        return self in (OutputFormat.JSON, OutputFormat.JUNIT)

    def to_formatter(self) -> Callable[[ScoreReport], str]:
        """The renderer; its module (rich for the table) is imported only now."""
        import importlib

        module, name = _RENDERERS[self]
        return getattr(importlib.import_module(module), name)


_RENDERERS: dict[OutputFormat, tuple[str, str]] = {
    OutputFormat.TABLE: ("wsep_cli.report.table", "render_table"),
    OutputFormat.JSON: ("wsep_cli.report.json_report", "render_json"),
    OutputFormat.MARKDOWN: ("wsep_cli.report.markdown", "render_markdown"),
    OutputFormat.JUNIT: ("wsep_cli.report.junit", "render_junit"),
    OutputFormat.GITHUB: ("wsep_cli.report.github", "render_github"),
}


def render(report: ScoreReport, fmt: OutputFormat) -> str:
    return fmt.to_formatter()(report)
