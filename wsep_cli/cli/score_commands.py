"""``wsep score``, ``layers``, ``compare`` and ``plot``: parse, call the library, render, exit."""

# No ``from __future__ import annotations``: typer reads these annotations as objects.
import os
import sys
from pathlib import Path
from typing import Optional

import typer

from wsep_cli.cli.app import command
from wsep_cli.cli.options import (
    EXACT_PAIRS_HELP, READ_EXIT_CODES, SCORE_EXIT_CODES, Arch, ClassNames, Device, ExactPairs, Labels, Layer,
    RandomInit, ReportOutput, Revision, Source, Sources,
)
from wsep_cli.cli.output import Spinner, emit, error_line, fail, note, write_file
from wsep_cli.errors import UsageError, WsepError

__all__ = ["score", "layers", "compare", "plot"]

_SCORE = ("wsep_cli.pipeline", "wsep_cli.report", "wsep_cli.labels")


def _one(spec: str) -> str:
    from wsep_cli.inputs import expand_inputs

    specs = expand_inputs([spec]).specs
    if len(specs) != 1:
        raise UsageError(f"{spec}: holds {len(specs)} checkpoints; this command takes one (pass one of them)")
    return specs[0]


def _options(layer: Optional[str], arch: Optional[str], labels: Optional[Path], class_names: Optional[str],
             random_init: bool, device: str = "cpu", top_pairs: int = 0,
             revision: Optional[str] = None) -> "ScoreOptions":  # noqa: F821
    from wsep_cli.labels import load_labels
    from wsep_cli.pipeline import ScoreOptions

    return ScoreOptions(layer=layer, arch=arch, labels=load_labels(labels, class_names), random_init=random_init,
                        device=device, top_pairs=top_pairs, revision=revision)


@command(preload=_SCORE, epilog=SCORE_EXIT_CODES)
def score(
    paths: Sources,
    layer: Layer = None,
    arch: Arch = None,
    json_out: bool = typer.Option(False, "--json", help="Same as --format json."),
    fmt: Optional[str] = typer.Option(
        None, "--format", "-f", metavar="FORMAT", help="table (default), json, markdown, junit or github."
    ),
    output: ReportOutput = None,
    labels: Labels = None,
    class_names: ClassNames = None,
    random_init: RandomInit = False,
    revision: Revision = None,
    top_pairs: int = typer.Option(
        0, "--top-pairs", metavar="K", min=0, max=1000, help="Also list the K most similar class pairs per head."
    ),
    exact_pairs: Optional[bool] = typer.Option(None, "--exact-pairs/--no-exact-pairs", help=EXACT_PAIRS_HELP),
    max_epsilon: Optional[float] = typer.Option(
        None, "--max-epsilon", metavar="FLOAT", help="Gate: fail (exit 1) if a head's epsilon exceeds this."
    ),
    max_epsilon_normalized: Optional[float] = typer.Option(
        None, "--max-epsilon-normalized", metavar="FLOAT", help="Gate: fail if epsilon_normalized exceeds this."
    ),
    max_abs_cos: Optional[float] = typer.Option(
        None, "--max-abs-cos", metavar="FLOAT", help="Gate: fail if two classes have |cosine| above this (0 to 1)."
    ),
    config: Optional[Path] = typer.Option(
        None, "--config", metavar="FILE",
        help="Settings file: a pyproject.toml (its tool.wsep table) or a wsep.toml; default: the nearest pyproject.toml.",
    ),
    baseline: Optional[Path] = typer.Option(
        None, "--baseline", metavar="REPORT",
        help="Gate: fail if epsilon, epsilon_normalized or cosine.abs_max got worse than in this JSON report.",
    ),
    write_baseline: Optional[Path] = typer.Option(
        None, "--write-baseline", metavar="FILE", help="Also write this run's JSON report here, for a later --baseline."
    ),
    tolerance: Optional[float] = typer.Option(
        None, "--tolerance", metavar="FLOAT", help="Relative worsening allowed against --baseline (0.05 = 5%; default 0)."
    ),
    allow_new: Optional[bool] = typer.Option(
        None, "--allow-new/--no-allow-new", help="Accept checkpoints or heads found on one side of --baseline only."
    ),
    exit_zero: Optional[bool] = typer.Option(
        None, "--exit-zero/--no-exit-zero", help="Report, but exit 0 whatever was found (advisory jobs)."
    ),
    device: Device = "cpu",
) -> None:
    """Score checkpoints: locate the classifier, report epsilon(W) and its cosine geometry; gate on limits."""
    from wsep_cli.gate.config import GateRequest
    from wsep_cli.pipeline import ScoreRequest, run_score
    from wsep_cli.report import OutputFormat, ScoreReport, render

    try:
        out_fmt = OutputFormat.resolve(json_flag=json_out, name=fmt)
        request = ScoreRequest(
            paths=tuple(paths),
            options=_options(layer, arch, labels, class_names, random_init, device, top_pairs, revision),
            gate=GateRequest(max_epsilon=max_epsilon, max_epsilon_normalized=max_epsilon_normalized,
                             max_abs_cos=max_abs_cos, baseline=baseline, tolerance=tolerance, allow_new=allow_new,
                             exit_zero=exit_zero, exact_pairs=exact_pairs, config=config),
        )
        with Spinner() as spin:
            run = run_score(request, env=os.environ, progress=spin)
        tty = output is None and out_fmt is OutputFormat.TABLE and sys.stdout.isatty()
        report = ScoreReport(results=run.results, gate=run.gate, color=tty, width=_width(tty))
        emit(render(report, out_fmt), output)
        if write_baseline is not None:
            write_file(write_baseline, render(ScoreReport(results=run.results), OutputFormat.JSON), "--write-baseline")
        if out_fmt is OutputFormat.GITHUB:
            _step_summary(report)
    except WsepError as e:
        raise fail(e)
    for line in run.notes:
        note(line)
    table_shown = output is None and out_fmt is OutputFormat.TABLE  # its notes carry the warnings
    for r in run.results:
        if r.status != "ok":
            error_line(r.error or "")
        for h in () if table_shown else r.heads:
            for w in h.warnings:
                note(f"{r.path} {h.layer}: {w}")
    if run.gate is not None and (output is not None or out_fmt.machine_readable):
        for c in run.gate.violations:
            typer.echo(f"wsep: gate failed: {c.message}", err=True)
    raise typer.Exit(run.exit_code)


def _width(tty: bool) -> Optional[int]:
    """The table's width: $COLUMNS, else the terminal's, else 100 on a pipe."""
    cols = os.environ.get("COLUMNS", "")
    if cols.isdigit() and int(cols) >= 40:
        return int(cols)
    if tty:
        import shutil

        return shutil.get_terminal_size((100, 24)).columns
    return 100


def _step_summary(report: "ScoreReport") -> None:  # noqa: F821
    from wsep_cli.report.github import append_step_summary

    try:
        append_step_summary(report, os.environ)
    except OSError as e:
        raise UsageError(f"GITHUB_STEP_SUMMARY: cannot append ({e.strerror or e})") from e


@command(preload=("wsep_cli.pipeline", "wsep_cli.report.layers_view"), epilog=READ_EXIT_CODES)
def layers(
    path: Source,
    layer: Layer = None,
    arch: Arch = None,
    random_init: RandomInit = False,
    revision: Revision = None,
    json_out: bool = typer.Option(False, "--json", help="Print the listing as JSON."),
) -> None:
    """List candidate classifier matrices, mark the chosen one(s) and say why."""
    from wsep_cli.pipeline import ScoreOptions, list_layers
    from wsep_cli.report.layers_view import render_layers_json, render_layers_text

    try:
        listing = list_layers(_one(path), ScoreOptions(layer=layer, arch=arch, random_init=random_init,
                                                            revision=revision))
    except WsepError as e:
        raise fail(e)
    emit(render_layers_json(listing) if json_out else render_layers_text(listing), None)
    if listing.error is not None:
        raise fail(listing.error)


@command(preload=("wsep_cli.pipeline", "wsep_cli.report.compare_view"),
         epilog="Exit codes: 0 compared (or no regression); 1 a regression with --fail-on-regression; "
                "2 usage error or missing path; 3 no classifier found; 4 unreadable input.")
def compare(
    a: str = typer.Argument(..., metavar="A", help="Reference: a checkpoint or a `wsep score --json` report."),
    b: str = typer.Argument(..., metavar="B", help="Candidate: a checkpoint or a `wsep score --json` report."),
    layer: Layer = None,
    arch: Arch = None,
    revision: Revision = None,
    fmt: str = typer.Option("table", "--format", "-f", metavar="FORMAT", help="table, json or markdown."),
    output: ReportOutput = None,
    tolerance: float = typer.Option(
        0.0, "--tolerance", metavar="FLOAT", min=0.0, help="Relative worsening that is not a regression."
    ),
    fail_on_regression: bool = typer.Option(
        False, "--fail-on-regression", help="Exit 1 if epsilon, epsilon_normalized or cosine.abs_max got worse in B."
    ),
    exact_pairs: ExactPairs = False,
) -> None:
    """Compare two checkpoints (or reports) metric by metric; lower epsilon and |cos| are better."""
    from wsep_cli.pipeline import ScoreOptions, compare_specs
    from wsep_cli.report.compare_view import CompareFormat

    try:
        out_fmt = CompareFormat.resolve(fmt)
        opts = ScoreOptions(layer=layer, arch=arch, revision=revision, exact_pairs=exact_pairs)
        result = compare_specs(a, b, opts, tolerance=tolerance)
        emit(out_fmt.to_formatter()(result), output)
    except WsepError as e:
        raise fail(e)
    if output is not None or out_fmt is not CompareFormat.TABLE:  # the table shows its warnings itself
        for line in result.warnings:
            note(line)
    raise typer.Exit(1 if fail_on_regression and result.regressions else 0)


@command(preload=("wsep_cli.pipeline", "wsep_cli.plots", "wsep_cli.labels"), epilog=READ_EXIT_CODES)
def plot(
    path: Source,
    output: Path = typer.Option(..., "--output", "-o", metavar="FILE", help="The figure to write: .png, .svg or .pdf."),
    layer: Layer = None,
    arch: Arch = None,
    labels: Labels = None,
    class_names: ClassNames = None,
    random_init: RandomInit = False,
    revision: Revision = None,
    device: Device = "cpu",
) -> None:
    """Draw the classifier's cosine heatmap, cosine histogram, row norms and singular values in one figure."""
    from wsep_cli.plots import plot_checkpoint

    try:
        opts = _options(layer, arch, labels, class_names, random_init, device, revision=revision)
        with Spinner() as spin:
            done = plot_checkpoint(_one(path), output, opts, stage=spin)
    except WsepError as e:
        raise fail(e)
    typer.echo(f"wrote {done.output} ({done.spec} {done.layer}: epsilon {done.epsilon:.6g}, "
               f"epsilon_normalized {done.epsilon_normalized:.6g})")
    if done.others:
        note(f"{done.spec}: drew the primary head; further heads: {', '.join(done.others)} (pick one with --layer)")
