"""Turn ``wsep finetune`` command-line values into a :class:`FinetuneConfig` (no torch import).

Options left unset (None) take the config's defaults. With ``--resume DIR`` every training setting
comes from ``DIR/config.json``; only where the run executes (``--device``, ``--workers``) may change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from wsep_cli.errors import UsageError
from wsep_cli.finetune.config import FinetuneConfig

__all__ = ["config_from_options", "check_paths", "parse_floats", "PLACEMENT_OPTIONS", "RESUME_OPTIONS"]

PLACEMENT_OPTIONS = ("device", "workers")
RESUME_OPTIONS = (*PLACEMENT_OPTIONS, "epochs")  # what --resume may change (raising --epochs extends a run)


def parse_floats(text: Optional[str], option: str) -> Optional[tuple[float, ...]]:
    """``"0.5,0.5,0.5"`` -> (0.5, 0.5, 0.5)."""
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.replace(" ", "").split(",") if v)
    except ValueError:
        raise UsageError(f"{option} {text!r}: give comma-separated numbers, e.g. 0.5,0.5,0.5") from None
    if not values:
        raise UsageError(f"{option} needs at least one number")
    return values


def config_from_options(values: dict[str, Any], *, output: Optional[Path], resume: Optional[Path]) -> FinetuneConfig:
    """Build the run's config from CLI values (None = not given)."""
    given = {k: v for k, v in values.items() if v is not None and v is not False}
    if resume is not None:
        extra = sorted(k for k in given if k not in RESUME_OPTIONS)
        if output is not None and Path(output) != Path(resume):
            extra.append("output")
        if extra:
            flags = ", ".join("--" + k.replace("_", "-").replace("lam", "lambda") for k in extra)
            raise UsageError(
                f"--resume takes its settings from {Path(resume) / 'config.json'}; drop {flags} "
                "(only --epochs, --device and --workers may change)"
            )
        from wsep_cli.finetune.outputs import read_config

        cfg = read_config(Path(resume))
        if "epochs" in given and given["epochs"] < cfg.epochs:
            raise UsageError(f"--resume {resume}: --epochs {given['epochs']} is below the run's {cfg.epochs}; "
                             "a run can be extended, not shortened")
        return cfg.replace(output=str(resume), **{k: given[k] for k in RESUME_OPTIONS if k in given})
    if output is None:
        raise UsageError("wsep finetune needs --output DIR (or --resume DIR to continue a run)")
    kwargs = {k: v for k, v in values.items() if v is not None}
    for key in ("mean", "std"):
        if isinstance(kwargs.get(key), str):
            kwargs[key] = parse_floats(kwargs[key], "--" + key)
    if "re_detach" in kwargs:
        kwargs["re_detach"] = str(kwargs["re_detach"])
    cfg = FinetuneConfig(output=str(output), **kwargs)
    check_paths(cfg)
    return cfg


def check_paths(cfg: FinetuneConfig) -> None:
    """Missing ``--init`` / ``imagefolder:`` paths are reported now, before torch is imported.

    Raises:
        UsageError: the path does not exist (exit 2).
    """
    if cfg.init and not cfg.init.startswith(("timm:", "hf:")) and not Path(cfg.init).exists():
        raise UsageError(f"--init {cfg.init}: no such file or directory")
    if cfg.data.startswith("cifar10-jpeg:") and not Path(cfg.data[len("cifar10-jpeg:"):]).exists():
        raise UsageError(f"--data {cfg.data}: no such folder or file")
    if cfg.data.startswith("imagefolder:"):
        folder = Path(cfg.data[len("imagefolder:"):])
        if not folder.is_dir():
            raise UsageError(f"--data {cfg.data}: no such folder")
