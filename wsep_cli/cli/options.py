"""Options shared by several commands, declared once (typer ``Annotated`` aliases).

A command names its parameter ``layer: Layer = None``; the option's flag, metavar and help live here.
"""

# No ``from __future__ import annotations``: typer reads these annotations as objects.
from pathlib import Path
from typing import Annotated, List, Optional

import typer

__all__ = [
    "Source", "Sources", "Layer", "Arch", "Labels", "ClassNames", "RandomInit", "Revision", "Device", "ReportOutput",
    "ExactPairs", "EXACT_PAIRS_HELP", "EXIT_CODES_HELP", "SCORE_EXIT_CODES", "READ_EXIT_CODES",
]

EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 a gate threshold failed; 2 usage error, missing path or bad config; "
    "3 no classifier found; 4 unreadable, unsafe or non-finite input. With several files the largest wins."
)
SCORE_EXIT_CODES = EXIT_CODES_HELP
READ_EXIT_CODES = (
    "Exit codes: 0 ok; 2 usage error, missing path or bad option; 3 no classifier found; "
    "4 unreadable, unsafe or non-finite input."
)

_SOURCE_HELP = (
    "A checkpoint file, a model folder, a folder of checkpoints, a glob, timm:NAME or hf:ORG/NAME[@REV]."
)

Sources = Annotated[List[str], typer.Argument(metavar="PATH...", help=_SOURCE_HELP, show_default=False)]
Source = Annotated[str, typer.Argument(metavar="PATH", help=_SOURCE_HELP, show_default=False)]


def _option(*flags: str, metavar: Optional[str] = None, help: str) -> typer.models.OptionInfo:
    """One shared option's declaration: its flags, metavar and help."""
    return typer.Option(*flags, metavar=metavar, help=help)


Layer = Annotated[
    Optional[str], _option("--layer", metavar="NAME", help="Classifier tensor name as stored (overrides detection).")
]
Arch = Annotated[
    Optional[str], _option("--arch", metavar="NAME", help="timm architecture whose pretrained_cfg names the head.")
]
Labels = Annotated[Optional[Path], _option("--labels", metavar="FILE", help="Text file with one class name per line.")]
ClassNames = Annotated[
    Optional[str], _option("--class-names", metavar="NAME", help="Built-in names: cifar10, cifar100 or imagenet.")
]
RandomInit = Annotated[
    bool, _option("--random-init", help="With timm:NAME, a freshly initialised model instead of its weights.")
]
EXACT_PAIRS_HELP = "Cosine extremes and percentiles over every class pair, never from a sample (slow for big heads)."
ExactPairs = Annotated[bool, _option("--exact-pairs", help=EXACT_PAIRS_HELP)]
Revision = Annotated[Optional[str], _option(
    "--revision", metavar="REV",
    help="With hf:ORG/NAME, the branch, tag or commit to read (default main; hf:ORG/NAME@REV also works).",
)]
Device = Annotated[str, _option(
    "--device", metavar="DEVICE",
    help="Where the metrics run: cpu (numpy) or cuda / cuda:N (torch); matters for huge heads.",
)]
ReportOutput = Annotated[
    Optional[Path], _option("--output", "-o", metavar="FILE", help="Write the report here instead of stdout.")
]
