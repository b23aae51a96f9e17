"""Every command has help text and is documented; docs/cli.md is generated from the code."""

from __future__ import annotations

import subprocess
import sys

import typer

from conftest import REPO, run_wsep
from wsep_cli.cli.app import app


def _commands() -> list[str]:
    group = typer.main.get_command(app)
    return list(group.list_commands(typer.Context(group)))  # type: ignore[attr-defined]


def test_every_command_has_help_and_is_in_the_docs() -> None:
    doc = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    names = _commands()
    assert {"score", "layers", "compare", "plot", "finetune"} <= set(names)
    for name in names:
        proc = run_wsep(name, "--help")
        assert proc.returncode == 0, name
        assert len(proc.stdout.strip()) > 100, name
        assert f"## `wsep {name}`" in doc
        assert f"wsep {name}" in readme, f"README does not show `wsep {name}`"


def test_generated_reference_is_current() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "gen_cli_docs.py"), "--check"],
        capture_output=True, text=True, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
