"""How a metric value reads in human-facing output (tables, Markdown, annotations, gate messages)."""

from __future__ import annotations

__all__ = ["fmt_g"]


def fmt_g(x: float | None) -> str:
    """Six significant digits, or an em dash for a value that does not exist (e.g. no pairs)."""
    return "—" if x is None else f"{x:.6g}"
