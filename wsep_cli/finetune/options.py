"""Turn ``wsep finetune`` command-line values into a :class:`FinetuneConfig` (no torch import).

Options left unset (None) take the config's defaults. With ``--resume DIR`` every training setting
comes from ``DIR/config.json``; only where the run executes (``--device``, ``--workers``) may change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from wsep_cli.errors import UsageError
from wsep_cli.finetune.config import FinetuneConfig

__all__ = ["config_from_options", "parse_floats", "PLACEMENT_OPTIONS"]

PLACEMENT_OPTIONS = ("device", "workers")


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
        extra = sorted(k for k in given if k not in PLACEMENT_OPTIONS)
        if output is not None and Path(output) != Path(resume):
            extra.append("output")
        if extra:
            flags = ", ".join("--" + k.replace("_", "-").replace("lam", "lambda") for k in extra)
            raise UsageError(
                f"--resume takes its settings from {Path(resume) / 'config.json'}; drop {flags} "
                "(only --device and --workers may change)"
            )
        from wsep_cli.finetune.outputs import read_config

        cfg = read_config(Path(resume))
        return cfg.replace(output=str(resume), **{k: given[k] for k in PLACEMENT_OPTIONS if k in given})
    if output is None:
        raise UsageError("wsep finetune needs --output DIR (or --resume DIR to continue a run)")
    kwargs = {k: v for k, v in values.items() if v is not None}
    for key in ("mean", "std"):
        if isinstance(kwargs.get(key), str):
            kwargs[key] = parse_floats(kwargs[key], "--" + key)
    if "re_detach" in kwargs:
        kwargs["re_detach"] = str(kwargs["re_detach"])
    return FinetuneConfig(output=str(output), **kwargs)
