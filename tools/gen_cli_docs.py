"""Write docs/cli.md from the Typer app itself, so the reference cannot drift from the code.

Run from the repository root:  python tools/gen_cli_docs.py            (rewrite docs/cli.md)
                                python tools/gen_cli_docs.py --check    (exit 1 if it is stale)
tests/cli/test_cli_docs.py runs the check.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from wsep_cli.cli.app import EXIT_CODES_HELP, app

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def _cell(text: str | None) -> str:
    return " ".join((text or "").split()).replace("|", "\\|")


def render() -> str:
    group = typer.main.get_command(app)
    lines = [
        "# Command reference",
        "",
        "Generated from the code by `python tools/gen_cli_docs.py`; `tests/cli/test_cli_docs.py` fails when",
        "this page and the code disagree.",
        "",
        _cell(EXIT_CODES_HELP),
        "",
    ]
    ctx = typer.Context(group)
    for name in group.list_commands(ctx):  # type: ignore[attr-defined]
        cmd = group.get_command(ctx, name)  # type: ignore[attr-defined]
        lines += [f"## `wsep {name}`", "", _cell(cmd.help), ""]
        args = [p for p in cmd.params if p.param_type_name == "argument"]
        if args:
            usage = " ".join(a.name.upper() + ("..." if a.nargs == -1 else "") for a in args)
            lines += [f"Usage: `wsep {name} [OPTIONS] {usage}`", ""]
        lines += ["| option | default | meaning |", "|---|---|---|"]
        for p in cmd.params:
            if p.param_type_name != "option" or p.hidden:
                continue
            names = ", ".join(f"`{o}`" for o in [*p.opts, *p.secondary_opts])
            default = "" if p.default in (None, False) or p.is_flag and not p.default else f"`{p.default}`"
            lines.append(f"| {names} | {default} | {_cell(p.help)} |")
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        if not DOC.exists() or DOC.read_text(encoding="utf-8") != text:
            print("docs/cli.md is stale: run python tools/gen_cli_docs.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
