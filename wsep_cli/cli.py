"""The ``wsep`` command line: parse -> call the library -> render -> exit code. No logic here.

Exit codes: 0 ok · 1 a gate failed · 2 usage error, missing path, bad option or config ·
3 no classifier found · 4 unreadable, unsafe or non-finite input. With several files the largest wins.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from wsep_cli.errors import ExitCode, UsageError, WsepError

EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 a gate threshold failed; 2 usage error, missing path or bad config; "
    "3 no classifier found; 4 unreadable, unsafe or non-finite input. With several files the largest wins."
)

app = typer.Typer(
    name="wsep",
    help="Audit classifier checkpoints for weight separability (epsilon(W), cosine geometry) and "
    "fine-tune with the feed-backward reconstruction loss. " + EXIT_CODES_HELP,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_state = {"debug": False}


def _version_callback(value: bool) -> None:
    if value:
        from wsep_cli import __version__

        typer.echo(f"wsep {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    _state["debug"] = debug


def _fail(err: WsepError) -> "typer.Exit":
    typer.echo(f"wsep: error: {err}", err=True)
    return typer.Exit(int(err.exit_code))


def _read_labels(path: Optional[Path], named: Optional[str]) -> Optional[tuple[str, ...]]:
    from wsep_cli.labels import load_labels

    return load_labels(path, named)


@app.command(epilog=EXIT_CODES_HELP)
def score(
    paths: List[str] = typer.Argument(..., help="Checkpoints, directories, globs, or timm:ARCH."),
    layer: Optional[str] = typer.Option(None, "--layer", help="Classifier tensor name (overrides detection)."),
    arch: Optional[str] = typer.Option(None, "--arch", help="timm architecture whose pretrained_cfg names the head."),
    json_out: bool = typer.Option(False, "--json", help="Same as --format json."),
    fmt: str = typer.Option("table", "--format", "-f", help="Output format: table or json."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the report here instead of stdout."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="Text file with one class name per line."),
    class_names: Optional[str] = typer.Option(
        None, "--class-names", help="Built-in names: cifar10, cifar100 or imagenet (used when n matches)."
    ),
    random_init: bool = typer.Option(False, "--random-init", help="With timm:ARCH, score a freshly initialised model."),
) -> None:
    """Score checkpoints: locate the classifier, report epsilon(W) and its cosine geometry."""
    from wsep_cli.report import OutputFormat, ScoreReport, render
    from wsep_cli.score import ScoreOptions, expand_paths, overall_exit_code, score_paths

    try:
        out_fmt = OutputFormat("json" if json_out else fmt)
    except ValueError:
        raise _fail(UsageError(f"--format {fmt!r} is not one of: {', '.join(f.value for f in OutputFormat)}"))
    try:
        specs = expand_paths(paths)
        opts = ScoreOptions(layer=layer, arch=arch, labels=_read_labels(labels, class_names), random_init=random_init)
    except WsepError as e:
        raise _fail(e)
    results = score_paths(specs, opts)
    color = output is None and out_fmt is OutputFormat.TABLE and sys.stdout.isatty()
    text = render(ScoreReport(results=tuple(results), color=color), out_fmt)
    _emit(text, output)
    for r in results:
        if r.status != "ok":
            typer.echo(f"wsep: error: {r.error}", err=True)
    raise typer.Exit(overall_exit_code(results))


@app.command(epilog=EXIT_CODES_HELP)
def layers(
    path: str = typer.Argument(..., help="A checkpoint, directory, or timm:ARCH."),
    layer: Optional[str] = typer.Option(None, "--layer", help="Classifier tensor name."),
    arch: Optional[str] = typer.Option(None, "--arch", help="timm architecture."),
    random_init: bool = typer.Option(False, "--random-init", help="With timm:ARCH, a fresh model."),
) -> None:
    """List candidate classifier matrices, mark the chosen one and say why."""
    from wsep_cli.score import ScoreOptions, list_layers

    try:
        fmt, rows = list_layers(path, ScoreOptions(layer=layer, arch=arch, random_init=random_init))
    except WsepError as e:
        raise _fail(e)
    typer.echo(f"{path} [{fmt}]")
    for r in rows:
        mark = "*" if r.chosen else " "
        shape = "×".join(str(d) for d in r.shape)
        why = f"  <- {r.reason}" if r.chosen else ""
        typer.echo(f" {mark} {r.name}  {shape}  {r.dtype}{why}")
    if not any(r.chosen for r in rows):
        typer.echo("wsep: error: no classifier found; pick one with --layer", err=True)
        raise typer.Exit(int(ExitCode.NO_CLASSIFIER))


def _emit(text: str, output: Optional[Path]) -> None:
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as e:
        raise _fail(UsageError(f"--output {output}: cannot write ({e.strerror or e})")) from e


def main() -> None:
    """Console-script entry point: run the app; turn unexpected errors into one line."""
    try:
        app()  # standalone: usage errors exit 2 with click's message, typer.Exit gives its code
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
