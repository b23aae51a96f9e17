"""The ``wsep`` command line: parse -> call the library -> render -> exit code. No logic here.

Exit codes: 0 ok · 1 a gate failed · 2 usage error, missing path, bad option or config ·
3 no classifier found · 4 unreadable, unsafe or non-finite input. With several files the largest wins.
"""

# No ``from __future__ import annotations`` here: typer reads every command's annotations on each
# run, and real objects save it evaluating ~60 strings (~5 ms of every start-up).
import sys
from pathlib import Path
from typing import List, Optional

import typer

from wsep_cli.cli import _fast_typer, startup
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
    rich_markup_mode=None,  # plain click help: rich's help renderer costs ~0.25 s of start-up
    context_settings={"help_option_names": ["-h", "--help"]},
)
_fast_typer.install()  # plain str/int/float/Path options without pydantic (~0.2 s of start-up)

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
    fmt: str = typer.Option(
        "table", "--format", "-f", help="Output format: table, json, markdown, junit or github."
    ),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the report here instead of stdout."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="Text file with one class name per line."),
    class_names: Optional[str] = typer.Option(
        None, "--class-names", help="Built-in names: cifar10, cifar100 or imagenet (used when n matches)."
    ),
    random_init: bool = typer.Option(False, "--random-init", help="With timm:ARCH, score a freshly initialised model."),
    max_epsilon: Optional[float] = typer.Option(None, "--max-epsilon", help="Gate: fail (exit 1) if a head's epsilon exceeds this."),
    max_epsilon_normalized: Optional[float] = typer.Option(
        None, "--max-epsilon-normalized", help="Gate: fail if epsilon of the unit-row classifier exceeds this."
    ),
    max_abs_cos: Optional[float] = typer.Option(
        None, "--max-abs-cos", help="Gate: fail if any two classes have |cosine| above this."
    ),
    config: Optional[Path] = typer.Option(
        None, "--config", help="Settings file: a pyproject.toml (its tool.wsep table) or a wsep.toml; default: the nearest pyproject.toml."
    ),
    baseline: Optional[Path] = typer.Option(
        None, "--baseline", help="Gate: fail if epsilon, epsilon_normalized or max |cos| got worse than this report."
    ),
    write_baseline: Optional[Path] = typer.Option(
        None, "--write-baseline", help="Also write this run's JSON report here, for a later --baseline."
    ),
    tolerance: Optional[float] = typer.Option(
        None, "--tolerance", help="Relative worsening allowed against --baseline (0.05 = 5%; default 0)."
    ),
    allow_new: Optional[bool] = typer.Option(
        None, "--allow-new/--no-allow-new", help="Accept checkpoints or heads found on one side of --baseline only."
    ),
    exit_zero: Optional[bool] = typer.Option(
        None, "--exit-zero/--no-exit-zero", help="Report, but exit 0 whatever was found (advisory jobs)."
    ),
    device: str = typer.Option(
        "cpu", "--device", help="Where the metrics run: cpu (numpy) or cuda / cuda:N (torch); matters for huge heads."
    ),
) -> None:
    """Score checkpoints: locate the classifier, report epsilon(W) and its cosine geometry; gate on limits."""
    import os

    from wsep_cli.gate.config import gate_settings
    from wsep_cli.report import OutputFormat, ScoreReport, render
    from wsep_cli.pipeline import ScoreOptions, expand_paths, overall_exit_code, score_paths

    startup.ready()
    try:
        out_fmt = OutputFormat("json" if json_out else fmt)
    except ValueError:
        raise _fail(UsageError(f"--format {fmt!r} is not one of: {', '.join(f.value for f in OutputFormat)}"))
    cli_gate = {
        "max-epsilon": max_epsilon,
        "max-epsilon-normalized": max_epsilon_normalized,
        "max-abs-cos": max_abs_cos,
        "baseline": str(baseline) if baseline is not None else None,
        "tolerance": tolerance,
        "allow-new": allow_new,
        "exit-zero": exit_zero,
    }
    try:
        settings = gate_settings(cli_gate, env=os.environ, config_path=config)
        base = settings.load_baseline()
        specs = expand_paths(paths)
        opts = ScoreOptions(
            layer=layer, arch=arch, labels=_read_labels(labels, class_names), random_init=random_init, device=device
        )
        if device != "cpu":
            from wsep_cli.metrics.backend import get_backend

            get_backend(device)  # a bad or unavailable device is a usage error (exit 2), before any file
    except WsepError as e:
        raise _fail(e)
    results = score_paths(specs, opts)
    gate = settings.evaluate(results, base)
    color = output is None and out_fmt is OutputFormat.TABLE and sys.stdout.isatty()
    report = ScoreReport(results=tuple(results), gate=gate, color=color)
    _emit(render(report, out_fmt), output)
    if write_baseline is not None:
        _write(write_baseline, render(ScoreReport(results=tuple(results)), OutputFormat.JSON), "--write-baseline")
    if out_fmt is OutputFormat.GITHUB:
        _step_summary(report)
    for r in results:
        if r.status != "ok":
            typer.echo(f"wsep: error: {r.error}", err=True)
    if gate is not None and (output is not None or out_fmt in (OutputFormat.JSON, OutputFormat.JUNIT)):
        for c in gate.violations:
            typer.echo(f"wsep: gate failed: {c.message}", err=True)
    code = max(overall_exit_code(results), gate.exit_code if gate is not None else 0)
    raise typer.Exit(0 if settings.exit_zero else code)


def _step_summary(report: "ScoreReport") -> None:
    import os

    from wsep_cli.report.github import append_step_summary

    try:
        append_step_summary(report, os.environ)
    except OSError as e:
        raise _fail(UsageError(f"GITHUB_STEP_SUMMARY: cannot append ({e.strerror or e})")) from e


@app.command(epilog=EXIT_CODES_HELP)
def layers(
    path: str = typer.Argument(..., help="A checkpoint, directory, or timm:ARCH."),
    layer: Optional[str] = typer.Option(None, "--layer", help="Classifier tensor name."),
    arch: Optional[str] = typer.Option(None, "--arch", help="timm architecture."),
    random_init: bool = typer.Option(False, "--random-init", help="With timm:ARCH, a fresh model."),
) -> None:
    """List candidate classifier matrices, mark the chosen one and say why."""
    from wsep_cli.pipeline import ScoreOptions, list_layers

    startup.ready()
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


@app.command(epilog="Exit codes: 0 compared (or no regression); 1 a regression with --fail-on-regression; "
             "2 usage error or missing path; 3 no classifier found; 4 unreadable input.")
def compare(
    a: str = typer.Argument(..., help="Reference: a checkpoint or a `wsep score --json` report."),
    b: str = typer.Argument(..., help="Candidate: a checkpoint or a `wsep score --json` report."),
    layer: Optional[str] = typer.Option(None, "--layer", help="Classifier tensor name (both checkpoints)."),
    arch: Optional[str] = typer.Option(None, "--arch", help="timm architecture whose pretrained_cfg names the head."),
    fmt: str = typer.Option("table", "--format", "-f", help="Output format: table, json or markdown."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the comparison here instead of stdout."),
    tolerance: float = typer.Option(0.0, "--tolerance", min=0.0, help="Relative worsening that is not a regression."),
    fail_on_regression: bool = typer.Option(
        False, "--fail-on-regression", help="Exit 1 if epsilon, epsilon_normalized or max |cos| got worse in B."
    ),
) -> None:
    """Compare two checkpoints (or reports) metric by metric; lower epsilon and |cos| are better."""
    from wsep_cli.gate.compare import compare as compare_sides
    from wsep_cli.gate.compare import load_side
    from wsep_cli.report.compare_view import CompareFormat
    from wsep_cli.pipeline import ScoreOptions

    startup.ready()
    try:
        out_fmt = CompareFormat(fmt)
    except ValueError:
        raise _fail(UsageError(f"--format {fmt!r} is not one of: {', '.join(f.value for f in CompareFormat)}"))
    opts = ScoreOptions(layer=layer, arch=arch)
    try:
        result = compare_sides(load_side(a, opts), load_side(b, opts), tolerance=tolerance)
    except WsepError as e:
        raise _fail(e)
    _emit(out_fmt.to_formatter()(result), output)
    raise typer.Exit(int(ExitCode.GATE_FAILED) if fail_on_regression and result.regressions else 0)


@app.command(epilog=EXIT_CODES_HELP)
def plot(
    path: str = typer.Argument(..., help="A checkpoint, directory, or timm:ARCH."),
    output: Path = typer.Option(..., "--output", "-o", help="The PNG file to write."),
    layer: Optional[str] = typer.Option(None, "--layer", help="Classifier tensor name (default: the primary head)."),
    arch: Optional[str] = typer.Option(None, "--arch", help="timm architecture whose pretrained_cfg names the head."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="Text file with one class name per line."),
    class_names: Optional[str] = typer.Option(None, "--class-names", help="Built-in names: cifar10, cifar100 or imagenet."),
) -> None:
    """Draw the classifier's cosine heatmap, cosine histogram, row norms and singular values as one PNG."""
    from wsep_cli.plots import load_classifier, plot_data, render_png
    from wsep_cli.pipeline import expand_paths

    startup.ready()
    try:
        if not output.parent.is_dir():
            raise UsageError(f"--output {output}: the folder {output.parent} does not exist")
        specs = expand_paths([path])
        if len(specs) != 1:
            raise UsageError(f"{path}: matches {len(specs)} files; plot takes one checkpoint")
        spec = specs[0]
        names = _read_labels(labels, class_names)
        head, v = load_classifier(spec, layer=layer, arch=arch)
    except WsepError as e:
        raise _fail(e)
    data = plot_data(v)
    use = list(names) if names is not None and len(names) == data.n else None
    try:
        render_png(data, output, file=Path(spec).name, layer=head, names=use)
    except OSError as e:
        raise _fail(UsageError(f"--output {output}: cannot write ({e.strerror or e})")) from e
    typer.echo(f"wrote {output} ({spec} {head}: epsilon {data.epsilon:.6g}, epsilon_normalized {data.epsilon_normalized:.6g})")


FINETUNE_EPILOG = (
    "Outputs in --output: model.safetensors, checkpoint.pt, metrics.jsonl, config.json, curves.png. "
    "Exit codes: 0 done; 2 usage error, unusable output folder or non-finite loss; 3 no classifier found; "
    "4 unreadable --init checkpoint; 130/143 stopped by SIGINT/SIGTERM after saving (resume with --resume)."
)


@app.command(epilog=FINETUNE_EPILOG)
def finetune(
    model: Optional[str] = typer.Option(None, "--model", help="resnet20/32/44/56/110, densenet40, vgg16, nin, lenet or timm:NAME. [default: resnet32]"),
    data: Optional[str] = typer.Option(None, "--data", help="digits, cifar10, cifar100, mnist, fashion-mnist, imagefolder:PATH or synthetic[:N]. [default: digits]"),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Where torchvision datasets live (downloaded there when online). [default: ~/.cache/wsep/data]"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Output folder for the run."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue the run in this folder with its saved settings."),
    init: Optional[str] = typer.Option(None, "--init", help="Start from these weights (any format wsep reads)."),
    eval_only: bool = typer.Option(False, "--eval-only", help="Only evaluate the --init weights on the test split."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Epochs. [default: 300]"),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Global batch size. [default: 128]"),
    lr: Optional[float] = typer.Option(None, "--lr", help="SGD learning rate. [default: 0.1]"),
    momentum: Optional[float] = typer.Option(None, "--momentum", help="[default: 0.9]"),
    weight_decay: Optional[float] = typer.Option(None, "--weight-decay", help="[default: 1e-4]"),
    schedule: Optional[str] = typer.Option(None, "--schedule", help="step (lr/10 at 1/3, 2/3, 5/6 of the run) or cosine. [default: step]"),
    lam: Optional[float] = typer.Option(None, "--lambda", help="Weight of L_re in L_cls + lambda*L_re. [default: 0.001]"),
    re_temperature: Optional[float] = typer.Option(None, "--re-temperature", help="Softmax temperature of L_re. [default: 1]"),
    re_detach: Optional[str] = typer.Option(None, "--re-detach", help="none, features or weight: what L_re does not train. [default: none]"),
    label_smoothing: Optional[float] = typer.Option(None, "--label-smoothing", help="For the cross-entropy. [default: 0]"),
    layer: Optional[str] = typer.Option(None, "--layer", help="Classifier module/tensor name (overrides detection)."),
    num_classes: Optional[int] = typer.Option(None, "--num-classes", help="Override the class count found in the data."),
    image_size: Optional[int] = typer.Option(None, "--image-size", help="Input size (default: the model's, else the data's)."),
    val_split: Optional[float] = typer.Option(None, "--val-split", help="Test fraction for a single image folder. [default: 0.1]"),
    mean: Optional[str] = typer.Option(None, "--mean", help="Per-channel mean, e.g. 0.5,0.5,0.5 (default: the dataset's)."),
    std: Optional[str] = typer.Option(None, "--std", help="Per-channel std (with --mean)."),
    augment: Optional[bool] = typer.Option(None, "--augment/--no-augment", help="Standard crop/flip augmentation. [default: on]"),
    seed: Optional[int] = typer.Option(None, "--seed", help="[default: 0]"),
    workers: Optional[int] = typer.Option(None, "--workers", help="DataLoader workers for image folders. [default: 2]"),
    device: Optional[str] = typer.Option(None, "--device", help="auto, cpu, cuda or cuda:N. [default: auto]"),
    precision: Optional[str] = typer.Option(None, "--precision", help="auto (bf16 on CUDA, fp32 on CPU), fp32, bf16 or fp16."),
    channels_last: Optional[bool] = typer.Option(None, "--channels-last/--no-channels-last", help="On CUDA. [default: on]"),
    compile_: bool = typer.Option(False, "--compile", help="torch.compile the model."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Start over in an --output folder that holds a run."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars: one log line per epoch."),
) -> None:
    """Train or fine-tune with L_cls + lambda * L_re (feed-backward reconstruction), tracking epsilon(W)."""
    from wsep_cli.finetune.options import config_from_options

    startup.ready()
    values = dict(model=model, data=data, data_dir=str(data_dir) if data_dir else None, init=init, eval_only=eval_only,
                  epochs=epochs, batch_size=batch_size, lr=lr, momentum=momentum, weight_decay=weight_decay,
                  schedule=schedule, lam=lam, re_temperature=re_temperature, re_detach=re_detach,
                  label_smoothing=label_smoothing, layer=layer, num_classes=num_classes, image_size=image_size,
                  val_split=val_split, mean=mean, std=std, augment=augment, seed=seed, workers=workers, device=device,
                  precision=precision, channels_last=channels_last, compile=compile_)
    try:
        cfg = config_from_options(values, output=output, resume=resume)
    except WsepError as e:
        raise _fail(e)
    from wsep_cli.finetune.progress import PlainReporter, RichReporter
    from wsep_cli.finetune.trainer import run_finetune

    reporter = PlainReporter() if quiet or not sys.stderr.isatty() else RichReporter()
    try:
        summary = run_finetune(cfg, reporter, resume=resume is not None, overwrite=overwrite)
    except WsepError as e:
        raise _fail(e)
    except KeyboardInterrupt:
        typer.echo(f"wsep: interrupted; the last completed epoch's checkpoint is intact: wsep finetune --resume {cfg.output}", err=True)
        raise typer.Exit(130)
    last = summary.last
    if summary.rank != 0:  # torchrun: rank 0 speaks for all
        raise typer.Exit(130 if summary.interrupted else 0)
    if summary.interrupted:
        typer.echo(f"wsep: {summary.signal or 'signal'} received: {'; '.join(summary.notes)}; checkpoint saved. "
                   f"Resume with: wsep finetune --resume {cfg.output}", err=True)
        raise typer.Exit(143 if summary.signal == "SIGTERM" else 130)
    if cfg.eval_only:
        typer.echo(f"eval: test accuracy {last['test_acc']:.4f}, test loss {last['test_loss']:.4f}, "
                   f"epsilon {last['epsilon']:.6g} on {last['test_images']} images; wrote {cfg.output}/metrics.jsonl")
    elif last:
        typer.echo(f"done: {summary.epochs_done} epochs, test accuracy {last['test_acc']:.4f}, epsilon {last['epsilon']:.6g}; "
                   f"outputs in {cfg.output}")


def _write(path: Path, text: str, option: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise _fail(UsageError(f"{option} {path}: cannot write ({e.strerror or e})")) from e


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
