"""The ``wsep`` console script: start-up without cyclic GC passes, then the command line app."""

from __future__ import annotations

from wsep_cli.cli import startup


def main() -> None:
    """Entry point of the ``wsep`` script and of ``python -m wsep_cli``."""
    startup.begin()
    from wsep_cli.cli.app import main as run_cli

    try:
        run_cli()
    finally:
        startup.ready()  # a no-op when the command already called it
