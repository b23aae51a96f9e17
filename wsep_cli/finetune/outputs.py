"""The output folder's text files (``config.json``, ``metrics.jsonl``, ``curves.png``) and the
SIGINT/SIGTERM latch that lets a run stop cleanly at the end of a step.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from types import FrameType
from typing import Any, Optional

from wsep_cli.errors import TrainingError, UsageError
from wsep_cli.finetune.atomic import atomic_write_text
from wsep_cli.finetune.config import FinetuneConfig

__all__ = ["CONFIG", "METRICS", "CHECKPOINT", "MODEL", "CURVES", "write_config", "read_config",
           "read_metrics", "write_metrics", "plot_curves", "StopSignal", "prepare_output"]

CONFIG, METRICS, CHECKPOINT, MODEL, CURVES = "config.json", "metrics.jsonl", "checkpoint.pt", "model.safetensors", "curves.png"


def write_config(out: Path, cfg: FinetuneConfig, resolved: dict[str, Any]) -> None:
    from wsep_cli import __version__

    doc = {"wsep_version": __version__, "config": cfg.to_dict(), "resolved": resolved}
    atomic_write_text(out / CONFIG, json.dumps(doc, indent=2, sort_keys=False) + "\n")


def read_config(folder: Path) -> FinetuneConfig:
    """The settings of the run in ``folder`` (for ``--resume``)."""
    path = folder / CONFIG
    if not path.is_file():
        raise UsageError(f"--resume {folder}: no {CONFIG} there; is it a wsep finetune output folder?")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        settings = doc["config"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UsageError(f"--resume {folder}: {CONFIG} is unreadable ({e})") from e
    return FinetuneConfig.from_dict(settings)


def read_metrics(out: Path) -> list[dict[str, Any]]:
    path = out / METRICS
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:  # a line torn by a crash mid-append
            break
    return rows


def write_metrics(out: Path, rows: list[dict[str, Any]]) -> None:
    atomic_write_text(out / METRICS, "".join(json.dumps(r) + "\n" for r in rows))


def plot_curves(out: Path, rows: list[dict[str, Any]]) -> None:
    """Accuracy, losses and epsilon against epoch (the paper's Fig. 3) as ``curves.png``."""
    rows = [r for r in rows if "train_loss" in r]
    if not rows:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [r["epoch"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    axes[0].plot(ep, [r["train_acc"] for r in rows], label="train")
    axes[0].plot(ep, [r["test_acc"] for r in rows], label="test")
    axes[0].set(title="accuracy", xlabel="epoch")
    axes[1].plot(ep, [r["cls_loss"] for r in rows], label="L_cls (train)")
    axes[1].plot(ep, [r["re_loss"] for r in rows], label="L_re (train)")
    axes[1].plot(ep, [r["test_loss"] for r in rows], label="test loss")
    axes[1].set(title="losses", xlabel="epoch", yscale="log")
    axes[2].plot(ep, [r["epsilon"] for r in rows], label="epsilon(W)")
    axes[2].plot(ep, [r["epsilon_normalized"] for r in rows], label="normalized")
    axes[2].set(title="weight separability", xlabel="epoch", yscale="log")
    for ax in axes:
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.subplots_adjust(left=0.05, right=0.99, bottom=0.14, top=0.91, wspace=0.22)  # tight_layout: +0.5 s
    from wsep_cli.finetune.atomic import atomic_path

    with atomic_path(out / CURVES) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


class StopSignal:
    """Latch SIGINT/SIGTERM: the first one asks the run to stop after the current step; a second
    SIGINT interrupts at once (the last checkpoint stays intact either way)."""

    def __init__(self) -> None:
        self.signum: Optional[int] = None
        self._old: dict[int, Any] = {}

    def install(self) -> "StopSignal":
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: leave signals alone
                pass
        return self

    def _handle(self, signum: int, _frame: Optional[FrameType]) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else ""

    def restore(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()


def prepare_output(out: Path, resume: bool, overwrite: bool) -> list[Path]:
    """Refuse an unusable or occupied output folder before any work is done; returns the folders
    it created."""
    from wsep_cli.finetune.atomic import check_writable

    if not resume and not overwrite and (out / CHECKPOINT).exists():  # --eval-only too: it rewrites metrics
        raise TrainingError(f"--output {out} already holds a run; continue it with `wsep finetune --resume {out}`, "
                            "or pass --overwrite to start over")
    created = check_writable(out, 64 * 2**20)
    for name in (CHECKPOINT, MODEL, METRICS, CONFIG, CURVES, ".wsep-write-test",
                 "ddp_ranks.json"):  # leftovers of a killed write
        for stale in out.glob(f".{name}.*.tmp"):
            stale.unlink(missing_ok=True)
    return created
