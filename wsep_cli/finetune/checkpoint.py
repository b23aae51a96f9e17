"""Run state on disk: ``checkpoint.pt`` (resume), ``model.safetensors`` (the result), the lr schedule.

Both files are written atomically (:mod:`wsep_cli.finetune.atomic`). ``checkpoint.pt`` is read back
with ``torch.load(weights_only=True)``, so even a tampered checkpoint cannot run code; it therefore
holds only tensors, numbers, strings, lists and dicts (RNG states included).
"""

from __future__ import annotations

import math
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from wsep_cli.errors import TrainingError, UnreadableError
from wsep_cli.finetune.atomic import atomic_path
from wsep_cli.finetune.config import FinetuneConfig

if TYPE_CHECKING:
    from torch import nn

__all__ = ["EpochSchedule", "rng_state", "set_rng_state", "save_checkpoint", "load_checkpoint", "save_model"]

CHECKPOINT_VERSION = 1


@dataclass(frozen=True)
class EpochSchedule:
    """lr per epoch: step (/10 at 1/3, 2/3, 5/6 of the run, the paper's) or cosine to 0."""

    base_lr: float
    epochs: int
    kind: str
    milestones: tuple[int, ...]

    @classmethod
    def from_config(cls, cfg: FinetuneConfig) -> "EpochSchedule":
        return cls(cfg.lr, cfg.epochs, cfg.schedule, tuple(cfg.milestones()))

    def lr(self, epoch: int) -> float:
        """Learning rate during ``epoch`` (0-based)."""
        if self.kind == "cosine":
            return 0.5 * self.base_lr * (1.0 + math.cos(math.pi * epoch / self.epochs))
        return self.base_lr * 0.1 ** sum(1 for m in self.milestones if epoch >= m)

    def state_dict(self) -> dict[str, Any]:
        return {"base_lr": self.base_lr, "epochs": self.epochs, "kind": self.kind, "milestones": list(self.milestones)}


def rng_state() -> dict[str, Any]:
    """Every RNG a run draws from, as weights_only-loadable values."""
    import numpy as np

    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype("int64")), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    import numpy as np

    torch.set_rng_state(state["torch"])
    random.setstate(_tuplify(state["python"]))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype("uint32"), n["pos"], n["has_gauss"], n["cached"]))
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def _tuplify(x: Any) -> Any:
    return tuple(_tuplify(v) for v in x) if isinstance(x, (list, tuple)) else x


def save_checkpoint(path: Path, *, model: "nn.Module", optimizer: torch.optim.Optimizer, scaler_state: dict[str, Any] | None,
                    schedule: EpochSchedule, cfg: FinetuneConfig, epoch: int, step: int,
                    partial: dict[str, float] | None, metrics: list[dict[str, Any]] | None = None) -> None:
    """``epoch`` epochs are complete, plus ``step`` steps of the next one (0 at an epoch boundary).

    ``metrics`` are the rows of the completed epochs: the checkpoint is the record ``--resume``
    rebuilds ``metrics.jsonl`` from (:mod:`wsep_cli.finetune.commit`).

    Raises:
        OSError: the write failed (the file at ``path`` is then the previous one, untouched).
    """
    state = {
        "version": CHECKPOINT_VERSION,
        "model": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "scheduler": schedule.state_dict(),
        "scaler": scaler_state or {},
        "epoch": int(epoch),
        "step": int(step),
        "partial": dict(partial or {}),
        "rng": rng_state(),
        "config": cfg.to_dict(),
        "metrics": [dict(r) for r in (metrics or [])],
    }
    with atomic_path(path) as tmp, open(tmp, "wb", buffering=0) as fh:
        sink = _WholeWrites(fh.fileno())
        try:
            torch.save(state, sink)
        except RuntimeError as e:  # torch's zip writer reports a failed write as "unexpected pos"
            if sink.error is not None:
                raise sink.error from e
            raise
        if sink.error is not None:
            raise sink.error


class _WholeWrites:
    """A file for ``torch.save`` that writes everything or keeps the ``OSError`` it met.

    torch's zip writer swallows an exception raised by ``write`` and then fails with
    ``RuntimeError: unexpected pos``, so a full disk or a file-size limit would lose its cause; this
    records the first ``OSError`` (ENOSPC, EFBIG, ...) for :func:`save_checkpoint` to raise.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        n = len(view)
        try:
            if self.error is not None:
                raise self.error
            while view:
                view = view[os.write(self._fd, view):]
        except OSError as e:
            self.error = self.error or e
            raise
        return n

    def flush(self) -> None:
        pass


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read ``checkpoint.pt`` safely (no code execution)."""
    if not path.is_file():
        raise TrainingError(f"{path.parent}: no checkpoint.pt to resume from; start a new run with --output")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any failure to read is one message
        raise UnreadableError(f"{path}: cannot read the checkpoint ({type(e).__name__}: {e})") from e
    if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION:
        raise UnreadableError(f"{path}: not a wsep finetune checkpoint (version {CHECKPOINT_VERSION})")
    return state


def save_model(path: Path, model: "nn.Module", metadata: dict[str, str]) -> None:
    """The trained weights as safetensors (contiguous copies), with string metadata.

    Serialised in memory and written by Python: ``safetensors.torch.save_file`` onto a full disk
    (``/dev/full``) reports success, whereas a Python write raises ``OSError(ENOSPC)``.
    """
    from safetensors.torch import save

    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    data = save(tensors, metadata=metadata)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
