"""wsep: audit classifier checkpoints for weight separability, and train to improve it.

The public library surface is deliberately small. The metrics work on numpy arrays without torch;
the loss and tensor metrics import torch on first use.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "score_file",
    "compute_metrics",
    "epsilon",
    "reconstruction_loss",
    "FeedBackwardReconstructionLoss",
    "torch_metrics",
]

_LAZY = {
    "score_file": ("wsep_cli.pipeline", "score_file"),
    "compute_metrics": ("wsep_cli.metrics", "compute_metrics"),
    "reconstruction_loss": ("wsep_cli.finetune.loss", "reconstruction_loss"),
    "FeedBackwardReconstructionLoss": ("wsep_cli.finetune.loss", "FeedBackwardReconstructionLoss"),
    "torch_metrics": ("wsep_cli.metrics.tensor", None),
}


def epsilon(weight: Any) -> Any:
    """epsilon(W) of a numpy array (float) or a torch tensor (a 0-d tensor on its device)."""
    if type(weight).__module__.startswith("torch"):
        from wsep_cli.metrics.tensor import epsilon as _eps_t

        return _eps_t(weight)
    from wsep_cli.metrics import epsilon as _eps_np

    return _eps_np(weight)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        mod_name, attr = _LAZY[name]
        mod = importlib.import_module(mod_name)
        return mod if attr is None else getattr(mod, attr)
    raise AttributeError(f"module 'wsep_cli' has no attribute {name!r}")
