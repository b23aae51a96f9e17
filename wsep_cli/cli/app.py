"""The ``wsep`` command line: parse -> call the library -> render -> exit code. No logic here.

Exit codes: 0 ok · 1 a gate failed · 2 usage error, missing path, bad option or config ·
3 no classifier found · 4 unreadable, unsafe or non-finite input. With several files the largest wins.
The commands live in :mod:`wsep_cli.cli.score_commands` and :mod:`wsep_cli.cli.finetune_command`.
"""

# No ``from __future__ import annotations`` here: typer reads every command's annotations on each
# run, and real objects save it evaluating strings (~5 ms of every start-up).
import functools
import importlib
import os
import sys
from typing import Any, Callable, Sequence

import typer

from wsep_cli.cli import _fast_typer, _help_format, startup
from wsep_cli.cli.options import EXIT_CODES_HELP
from wsep_cli.errors import ExitCode, WsepError

__all__ = ["app", "command", "main", "EXIT_CODES_HELP"]

app = typer.Typer(
    name="wsep",
    help="Audit classifier checkpoints for weight separability (epsilon(W), cosine geometry) and "
    "fine-tune with the feed-backward reconstruction loss. " + EXIT_CODES_HELP,
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: rich's help renderer costs ~0.25 s of start-up
    context_settings={"help_option_names": ["-h", "--help"]},
)
_fast_typer.install()  # plain str/int/float/Path options without pydantic (~0.2 s of start-up)
_help_format.install()  # `wsep score [OPTIONS] PATH...`, not `{PATH...}... <list[str]>`

_state = {"debug": False}


def _version_callback(value: bool) -> None:
    if value:
        from wsep_cli import __version__

        typer.echo(f"wsep {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors (also accepted after the command)."),
    version: bool = typer.Option(
        False, "--version", "-V", callback=_version_callback, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    _state["debug"] = _state["debug"] or debug


def command(*, preload: Sequence[str] = (), **settings: Any) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register a command. ``preload`` names the library modules it needs; they are imported before
    :func:`wsep_cli.cli.startup.ready` ends the collector-free start-up, so every command's imports
    happen with the collector paused, and none of it is written by hand in a command."""

    def register(fn: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> None:
            for name in preload:
                importlib.import_module(name)
            startup.ready()
            fn(*args, **kwargs)

        app.command(**settings)(run)
        return fn

    return register


def _pop_debug(argv: list[str]) -> list[str]:
    """``--debug`` anywhere before ``--`` (``wsep score x --debug`` works like ``wsep --debug score x``)."""
    if "--debug" not in argv or argv.index("--debug") == 0:
        return argv
    end = argv.index("--") if "--" in argv else len(argv)
    if argv.index("--debug") < end:
        _state["debug"] = True
        return [a for i, a in enumerate(argv) if not (a == "--debug" and i < end)]
    return argv


def main() -> None:
    """Console-script entry point: run the app; turn unexpected errors into one line."""
    if os.environ.get("WSEP_DEBUG", "").strip().lower() in ("1", "true", "yes", "on"):
        _state["debug"] = True
    args = _pop_debug(sys.argv[1:])
    try:
        app(args=args, prog_name="wsep")  # usage errors exit 2 with click's message; typer.Exit gives its code
    except WsepError as e:
        if _state["debug"]:
            raise
        typer.echo(f"wsep: error: {e}", err=True)
        sys.exit(int(e.exit_code))
    except Exception as e:  # noqa: BLE001 - last resort: one line, never a traceback
        if _state["debug"]:
            raise
        typer.echo(f"wsep: internal error: {type(e).__name__}: {e} (rerun with --debug for a traceback)", err=True)
        sys.exit(int(ExitCode.UNREADABLE))


# The commands register themselves on ``app`` (they import ``app`` and ``command`` from here).
from wsep_cli.cli import finetune_command, score_commands  # noqa: E402,F401
