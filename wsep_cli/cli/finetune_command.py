"""``wsep finetune``: parse the options into a FinetuneConfig, run it, print the outcome, exit."""

# No ``from __future__ import annotations``: typer reads these annotations as objects.
import sys
from pathlib import Path
from typing import Optional

import typer

from wsep_cli.cli.app import command
from wsep_cli.cli.output import fail
from wsep_cli.errors import WsepError

__all__ = ["finetune"]

FINETUNE_EPILOG = (
    "Outputs in --output: model.safetensors, checkpoint.pt, metrics.jsonl, config.json, curves.png. "
    "Exit codes: 0 done; 2 usage error, unusable output folder or non-finite loss; 3 no classifier found; "
    "4 unreadable --init checkpoint; 130/143 stopped by SIGINT/SIGTERM after saving (resume with --resume)."
)


def _opt(flag: str, metavar: str, help_text: str):  # noqa: ANN202 - a typer OptionInfo
    return typer.Option(None, flag, metavar=metavar, help=help_text)


@command(preload=("wsep_cli.finetune.options",), epilog=FINETUNE_EPILOG)
def finetune(
    model: Optional[str] = _opt("--model", "NAME", "resnet20/32/44/56/110, densenet40, vgg16, nin, lenet or timm:NAME. [default: resnet32]"),
    data: Optional[str] = _opt("--data", "DATA", "digits, cifar10, cifar100, mnist, fashion-mnist, cifar10-jpeg:PATH (packed JPEG copy, lossy), imagefolder:PATH or synthetic[:N]. [default: digits]"),
    data_dir: Optional[Path] = _opt("--data-dir", "DIR", "Where datasets live: official files (downloaded there when online) or the packed CIFAR-10 JPEG .npz files. [default: ~/.cache/wsep/data]"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", metavar="DIR", help="Output folder for the run."),
    resume: Optional[Path] = _opt("--resume", "DIR", "Continue the run in this folder with its saved settings (--epochs may be raised)."),
    init: Optional[str] = _opt("--init", "CKPT", "Start from these weights (any format wsep reads)."),
    eval_only: bool = typer.Option(False, "--eval-only", help="Only evaluate the --init weights on the test split."),
    partial_init: bool = typer.Option(False, "--partial-init", help="Accept an --init file that leaves some model tensors at their random initial values."),
    epochs: Optional[int] = _opt("--epochs", "N", "Epochs. [default: 300]"),
    batch_size: Optional[int] = _opt("--batch-size", "N", "Global batch size. [default: 128]"),
    lr: Optional[float] = _opt("--lr", "FLOAT", "SGD learning rate. [default: 0.1]"),
    momentum: Optional[float] = _opt("--momentum", "FLOAT", "[default: 0.9]"),
    weight_decay: Optional[float] = _opt("--weight-decay", "FLOAT", "[default: 1e-4]"),
    schedule: Optional[str] = _opt("--schedule", "NAME", "step (lr/10 at 1/3, 2/3, 5/6 of the run) or cosine. [default: step]"),
    lam: Optional[float] = _opt("--lambda", "FLOAT", "Weight of L_re in L_cls + lambda*L_re. [default: 0.001]"),
    re_temperature: Optional[float] = _opt("--re-temperature", "FLOAT", "Softmax temperature of L_re. [default: 1]"),
    re_detach: Optional[str] = _opt("--re-detach", "WHAT", "none, features or weight: what L_re does not train. [default: none]"),
    label_smoothing: Optional[float] = _opt("--label-smoothing", "FLOAT", "For the cross-entropy. [default: 0]"),
    layer: Optional[str] = _opt("--layer", "NAME", "Classifier module/tensor name (overrides detection)."),
    num_classes: Optional[int] = _opt("--num-classes", "N", "Override the class count found in the data."),
    image_size: Optional[int] = _opt("--image-size", "N", "Input size (default: the model's, else the data's)."),
    val_split: Optional[float] = _opt("--val-split", "FLOAT", "Test fraction for a single image folder. [default: 0.1]"),
    mean: Optional[str] = _opt("--mean", "R,G,B", "Per-channel mean, e.g. 0.5,0.5,0.5 (default: the dataset's)."),
    std: Optional[str] = _opt("--std", "R,G,B", "Per-channel std (with --mean)."),
    augment: Optional[bool] = typer.Option(None, "--augment/--no-augment", help="Standard crop/flip augmentation. [default: on]"),
    seed: Optional[int] = _opt("--seed", "N", "[default: 0]"),
    workers: Optional[int] = _opt("--workers", "N", "DataLoader workers for image folders. [default: 2]"),
    device: Optional[str] = _opt("--device", "DEVICE", "auto, cpu, cuda or cuda:N. [default: auto]"),
    precision: Optional[str] = _opt("--precision", "NAME", "auto (bf16 on CUDA, fp32 on CPU), fp32, bf16 or fp16."),
    channels_last: Optional[bool] = typer.Option(None, "--channels-last/--no-channels-last", help="On CUDA. [default: on]"),
    compile_: bool = typer.Option(False, "--compile", help="torch.compile the model."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Start over in an --output folder that holds a run."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars: one log line per epoch."),
) -> None:
    """Train or fine-tune with L_cls + lambda * L_re (feed-backward reconstruction), tracking epsilon(W)."""
    from wsep_cli.extras import require
    from wsep_cli.finetune.options import config_from_options

    values = dict(model=model, data=data, data_dir=str(data_dir) if data_dir else None, init=init, eval_only=eval_only,
                  partial_init=partial_init, epochs=epochs, batch_size=batch_size, lr=lr, momentum=momentum,
                  weight_decay=weight_decay, schedule=schedule, lam=lam, re_temperature=re_temperature,
                  re_detach=re_detach, label_smoothing=label_smoothing, layer=layer, num_classes=num_classes,
                  image_size=image_size, val_split=val_split, mean=mean, std=std, augment=augment, seed=seed,
                  workers=workers, device=device, precision=precision, channels_last=channels_last, compile=compile_)
    try:
        cfg = config_from_options(values, output=output, resume=resume)  # checks paths too, before any import
        require("train", "wsep finetune", ("torch", "torchvision"))
        from wsep_cli.finetune.progress import PlainReporter, RichReporter
        from wsep_cli.finetune.trainer import run_finetune

        reporter = PlainReporter() if quiet or not sys.stderr.isatty() else RichReporter()
        summary = run_finetune(cfg, reporter, resume=resume is not None, overwrite=overwrite)
    except WsepError as e:
        raise fail(e)
    except KeyboardInterrupt:
        folder = output or resume
        saved = folder is not None and (Path(folder) / "checkpoint.pt").is_file()
        what = "the last checkpoint is intact" if saved else "no checkpoint had been saved yet"
        typer.echo(f"wsep: interrupted; {what}: wsep finetune --resume {folder}", err=True)
        raise typer.Exit(130)
    if summary.rank != 0:  # torchrun: rank 0 speaks for all
        raise typer.Exit(130 if summary.interrupted else 0)
    if summary.interrupted:
        typer.echo(f"wsep: {summary.signal or 'signal'} received: {'; '.join(summary.notes)}; checkpoint saved. "
                   f"Resume with: wsep finetune --resume {cfg.output}", err=True)
        raise typer.Exit(143 if summary.signal == "SIGTERM" else 130)
    typer.echo(summary.describe())
