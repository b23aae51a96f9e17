"""The order in which a run commits its outputs, so that its folder is consistent at every instant.

At the end of epoch k the run writes, each file atomically (:mod:`wsep_cli.finetune.atomic`):

1. ``checkpoint.pt`` for epoch k: weights, optimizer, RNG states *and every metrics row so far*;
2. ``model.safetensors``, the weights of epoch k;
3. ``metrics.jsonl``, rows 1..k (the whole file, replaced).

So at any instant ``metrics.jsonl`` holds no row the checkpoint does not hold, and
``model.safetensors`` is from the checkpoint's epoch or the one before. Whatever a crash (SIGKILL,
power cut, full disk) leaves half done, ``--resume`` repairs from the checkpoint alone: it rewrites
``metrics.jsonl`` from the checkpoint's rows (dropping any row of an epoch it will re-run) and, at an
epoch boundary, ``model.safetensors`` from the checkpoint's weights. A folder with ``config.json``
and no checkpoint resumes from the beginning. This module holds that rule's messages; the trainer
follows the order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

__all__ = ["Saved", "rows_from_checkpoint", "write_failure", "nonfinite_loss"]


@dataclass(frozen=True)
class Saved:
    """Where the durable ``checkpoint.pt`` stands: ``epoch`` complete epochs plus ``step`` steps."""

    epoch: int
    step: int

    def describe(self) -> str:
        return f"epoch {self.epoch}" + (f" + {self.step} steps" if self.step else "")


def rows_from_checkpoint(state: dict[str, Any], file_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The metrics rows of the epochs a checkpoint has completed.

    A checkpoint of this version holds them itself; an older one did not, so its rows come from
    ``metrics.jsonl``, cut to the checkpoint's epoch.
    """
    epoch = int(state["epoch"])
    rows = state.get("metrics")
    if isinstance(rows, list):
        return [dict(r) for r in rows[:epoch]]
    return [r for r in file_rows[:epoch]]


def write_failure(path: Path, error: OSError, saved: Optional[Saved]) -> str:
    """What a failed write means for the run, and what to do (disk full, folder removed, ...)."""
    out = path.parent
    reason = error.strerror or str(error)
    if saved is None:
        state = "no checkpoint has been saved yet, so nothing is lost but this run's time"
        then = f"free space and run again (or wsep finetune --resume {out})"
    else:
        state = f"checkpoint.pt (the previous one, {saved.describe()}) is intact"
        then = f"free space, then wsep finetune --resume {out}"
    return f"{path}: cannot write ({reason}); stopped: {state}. {then}"


def nonfinite_loss(epoch: int, step: int, precision: str, saved: Optional[Saved]) -> str:
    """The hint for a loss that became NaN/Inf: true to what is on disk and to the run's precision."""
    where = f"the training loss became NaN or Inf at epoch {epoch + 1}, step {step + 1}; stopped without saving"
    if saved is None:
        state = "no checkpoint had been saved yet"
    else:
        state = f"checkpoint.pt ({saved.describe()}) is intact"
    fixes = ["lower --lr"]
    if precision != "fp32":
        fixes.append(f"use --precision fp32 (this run used {precision})")
    return f"{where}; {state}. Start again with {' or '.join(fixes)}"
