"""Optional parts of wsep and the ``pip install`` extra that brings each.

The core (``score``, ``layers``, ``compare``, the gate, every report format) needs numpy,
safetensors, typer and rich only. Training needs ``wsep[train]`` (torch, torchvision, timm, scikit-learn), figures
``wsep[plot]`` (matplotlib, scipy), Hugging Face Hub sources ``wsep[hf]`` (huggingface_hub).
"""

from __future__ import annotations

import importlib.util

from wsep_cli.errors import UsageError

__all__ = ["EXTRAS", "missing", "require"]

EXTRAS: dict[str, tuple[str, ...]] = {
    "train": ("torch", "torchvision", "timm", "sklearn"),
    "plot": ("matplotlib", "scipy"),
    "hf": ("huggingface_hub",),
}


def missing(extra: str, modules: tuple[str, ...] | None = None) -> list[str]:
    """The modules of ``extra`` (or just ``modules`` of it) that cannot be imported here."""
    return [m for m in (modules or EXTRAS[extra]) if importlib.util.find_spec(m) is None]


def require(extra: str, what: str, modules: tuple[str, ...] | None = None) -> None:
    """Refuse ``what`` with the install command to run when the extra is not installed.

    Raises:
        UsageError: naming the missing modules and ``pip install "wsep[EXTRA]"`` (exit 2).
    """
    absent = missing(extra, modules)
    if absent:
        raise UsageError(
            f"{what} needs {', '.join(absent)}, which is not installed; run: pip install \"wsep[{extra}]\""
        )
