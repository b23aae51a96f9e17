"""One optimisation step with L_total = L_cls + lambda * L_re (paper Eq. 10), one training epoch,
and evaluation. The benchmark and the tests call :func:`train_step` directly, so what they measure
is what ``wsep finetune`` runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional

import torch
import torch.nn.functional as F

from wsep_cli.errors import TrainingError
from wsep_cli.finetune import faults
from wsep_cli.finetune.loss import reconstruction_loss
from wsep_cli.finetune.runtime import Runtime, all_reduce_sum

if TYPE_CHECKING:
    from torch import Tensor, nn

    from wsep_cli.finetune.batches import Batches
    from wsep_cli.finetune.head import ClassifierHead
    from wsep_cli.finetune.progress import Reporter

__all__ = ["LossSettings", "loss_terms", "train_step", "train_epoch", "evaluate", "EpochOutcome", "NonFiniteLoss"]


@dataclass(frozen=True)
class LossSettings:
    lam: float = 0.001
    temperature: float = 1.0
    detach: Optional[str] = None
    label_smoothing: float = 0.0
    track_re: bool = True  # with lam == 0, still compute L_re (no grad) for the logs


def loss_terms(logits: "Tensor", alpha: "Tensor", y: "Tensor", weight: "Tensor",
               loss: LossSettings) -> tuple["Tensor", "Tensor", "Tensor"]:
    """(L_total, L_cls, L_re) of Eq. 10 for one batch. A pure tensor function, so that
    ``torch.compile(loss_terms)`` fuses L_re's dozen small kernels (the trainer does with --compile)."""
    cls = F.cross_entropy(logits.float(), y, label_smoothing=loss.label_smoothing)
    if loss.lam > 0:
        re = reconstruction_loss(alpha, y, weight, temperature=loss.temperature,
                                 detach=loss.detach)  # type: ignore[arg-type]
        return cls + loss.lam * re, cls, re
    if loss.track_re:
        with torch.no_grad():
            re = reconstruction_loss(alpha, y, weight, temperature=loss.temperature)
    else:
        re = torch.zeros((), device=logits.device)
    return cls, cls, re


def train_step(model: "nn.Module", head: "ClassifierHead", optimizer: torch.optim.Optimizer, x: "Tensor",
               y: "Tensor", loss: LossSettings, *, autocast_dtype: Optional[torch.dtype] = None,
               scaler: Any = None, terms: Callable[..., tuple["Tensor", "Tensor", "Tensor"]] = loss_terms) -> "Tensor":
    """Forward, L_cls + lambda * L_re, backward, optimizer step.

    Args:
        terms: :func:`loss_terms` or a compiled version of it.

    Returns:
        detached [total loss, L_cls, L_re, correct predictions] (L_re is 0 if not tracked).
    """
    with torch.autocast(x.device.type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None):
        logits = model(x)
    total, cls, re = terms(logits, head.features(), y, head.weight, loss)
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(total).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        total.backward()
        optimizer.step()
    correct = (logits.detach().argmax(dim=1) == y).sum().float()
    return torch.stack([total.detach(), cls.detach(), re.detach().float(), correct])


class NonFiniteLoss(TrainingError):
    """The loss became NaN/Inf at (0-based) ``epoch``, ``step``; the trainer words the advice, since
    only it knows the precision and what is saved (:func:`wsep_cli.finetune.commit.nonfinite_loss`)."""

    def __init__(self, epoch: int, step: int) -> None:
        super().__init__(f"the training loss became NaN or Inf at epoch {epoch + 1}, step {step + 1}")
        self.epoch, self.step = epoch, step


@dataclass(frozen=True)
class EpochOutcome:
    steps_done: int
    interrupted: bool


def _check(sums: "Tensor", stop: bool, rt: Runtime, epoch: int, step: int) -> bool:
    """Returns True to stop; raises if the loss is no longer finite (on any rank)."""
    flags = torch.tensor([1.0 if stop else 0.0, 0.0 if bool(torch.isfinite(sums[:3]).all()) else 1.0],
                         device=sums.device)
    all_reduce_sum(flags, rt)
    if flags[1].item() > 0:
        raise NonFiniteLoss(epoch, step)
    return bool(flags[0].item() > 0)


def train_epoch(model: "nn.Module", head: "ClassifierHead", optimizer: torch.optim.Optimizer,
                batches: "Batches", epoch: int, start_step: int, sums: "Tensor", loss: LossSettings,
                rt: Runtime, reporter: "Reporter", stop: Any, *, scaler: Any = None,
                check_every: int = 1, terms: Callable[..., Any] = loss_terms) -> EpochOutcome:
    """Train from ``start_step`` to the end of ``epoch``, adding
    [loss*B, cls*B, re*B, correct, B] into ``sums`` (this rank's share).

    Stops early (``interrupted``) when ``stop.requested`` is seen at a check point; checks for
    non-finite losses every ``check_every`` steps (every step on the CPU, where that is free).
    """
    model.train()
    for i, (x, y) in enumerate(batches.epoch(epoch, start_step)):
        step = start_step + i
        out = train_step(model, head, optimizer, x, y, loss, autocast_dtype=rt.autocast_dtype, scaler=scaler,
                         terms=terms)
        b = float(y.shape[0])
        sums[:3].add_(out[:3], alpha=b)  # in place, no host-to-device copy, no sync
        sums[3].add_(out[3])
        sums[4].add_(b)
        faults.instant("step")
        last = step + 1 == batches.steps
        if (step + 1) % check_every == 0 or last:
            stopping = _check(sums, bool(stop.requested), rt, epoch, step)
            count = max(float(sums[4].item()), 1.0)
            reporter.step(step, {"loss": float(sums[0].item()) / count, "acc": float(sums[3].item()) / count})
            if stopping and not last:
                return EpochOutcome(step + 1, True)
    return EpochOutcome(batches.steps, False)


@torch.no_grad()
def evaluate(model: "nn.Module", batches: "Batches", rt: Runtime) -> tuple[float, float, int]:
    """(mean loss, accuracy, count) over the whole split, summed over all ranks."""
    model.eval()
    sums = torch.zeros(3, dtype=torch.float64, device=rt.device)
    for x, y in batches.epoch(0):
        if y.shape[0] == 0:
            continue
        with torch.autocast(x.device.type, dtype=rt.autocast_dtype or torch.float32,
                            enabled=rt.autocast_dtype is not None):
            logits = model(x)
        logits = logits.float()
        sums += torch.stack([F.cross_entropy(logits, y, reduction="sum").double(),
                             (logits.argmax(dim=1) == y).sum().double(),
                             torch.tensor(float(y.shape[0]), dtype=torch.float64, device=rt.device)])
    all_reduce_sum(sums, rt)
    n = max(int(sums[2].item()), 1)
    return float(sums[0].item()) / n, float(sums[1].item()) / n, int(sums[2].item())
