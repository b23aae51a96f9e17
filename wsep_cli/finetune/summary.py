"""What a finished (or stopped) ``wsep finetune`` run reports, and the epsilon it logs each epoch."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch

from wsep_cli.finetune.weights import InitReport
from wsep_cli.metrics import tensor as tm

__all__ = ["RunSummary", "classifier_epsilon"]


@dataclass(frozen=True)
class RunSummary:
    output: Path
    epochs_done: int
    last: dict[str, Any]
    interrupted: bool = False
    signal: str = ""
    init: Optional[InitReport] = None
    notes: tuple[str, ...] = field(default=())
    rank: int = 0  # only rank 0 reports
    eval_only: bool = False
    already_done: bool = False  # --resume found the run finished: nothing was trained

    def describe(self) -> str:
        """The one line ``wsep finetune`` prints when it ends normally."""
        last = self.last
        if self.eval_only:
            return (f"eval: test accuracy {last['test_acc']:.4f}, test loss {last['test_loss']:.4f}, "
                    f"epsilon {last['epsilon']:.6g} on {last['test_images']} images; wrote {self.output}/metrics.jsonl")
        epochs = f"{self.epochs_done} epoch" + ("" if self.epochs_done == 1 else "s")
        if self.already_done:
            return (f"the run in {self.output} is already finished ({epochs}); nothing to do. "
                    f"To train longer: wsep finetune --resume {self.output} --epochs N (N > {self.epochs_done})")
        if not last:
            return f"done: {epochs}; outputs in {self.output}"
        return (f"done: {epochs}, test accuracy {last['test_acc']:.4f}, epsilon {last['epsilon']:.6g}; "
                f"outputs in {self.output}")


def classifier_epsilon(weight: torch.Tensor) -> tuple[float, float]:
    """(epsilon, epsilon_normalized) of the live weight, in float64 (same numbers `wsep score` gives)."""
    return float(tm.epsilon(weight)), float(tm.epsilon_normalized(weight))
