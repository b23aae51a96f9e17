"""Usage lines as click writes them: ``wsep score [OPTIONS] PATH...``.

Typer 0.29 writes a required argument as ``{PATH...}...`` in the usage line and adds its Python type
(``<list[str]>``) beside it in the help, which reads like a template to a user. :func:`install` gives
arguments that carry a ``metavar`` click's plain spelling. If typer's internals change, it does
nothing and typer's own spelling stays.
"""

from __future__ import annotations

from typing import Any

__all__ = ["install"]


def _usage_name(arg: Any) -> str:
    name = str(arg.display_name_raw)
    if arg.nargs != 1 and not name.endswith("..."):
        name += "..."
    return name if arg.required else f"[{name}]"


def install() -> None:
    """Patch typer's argument display for arguments with a metavar (ours all have one)."""
    try:
        from typer.core import TyperArgument
    except ImportError:  # pragma: no cover - typer moved it
        return
    usage = getattr(TyperArgument, "_usage_display_name", None)
    rich_type = getattr(TyperArgument, "display_type_rich", None)
    if usage is None or rich_type is None:  # pragma: no cover - another typer
        return

    def usage_display_name(self: Any) -> str:
        return _usage_name(self) if self.metavar is not None else usage(self)

    def display_type(self: Any, ctx: Any) -> Any:
        return None if self.metavar is not None else rich_type(self, ctx)

    TyperArgument._usage_display_name = usage_display_name  # type: ignore[method-assign]
    TyperArgument.display_type_rich = display_type  # type: ignore[method-assign]
