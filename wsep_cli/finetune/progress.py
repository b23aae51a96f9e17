"""How a run shows its progress: Rich bars with live loss / accuracy / epsilon, or one plain line
per epoch (``--quiet``). Both write to stderr so stdout stays free for the final summary.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Optional, Protocol

__all__ = ["Reporter", "NullReporter", "PlainReporter", "RichReporter", "format_record"]


class Reporter(Protocol):
    """What the trainer tells the user. Only rank 0 gets a real one."""

    def message(self, text: str) -> None: ...
    def epoch_start(self, epoch: int, epochs: int, steps: int, start_step: int) -> None: ...
    def step(self, step: int, stats: dict[str, float]) -> None: ...
    def epoch_end(self, record: dict[str, Any]) -> None: ...
    def close(self) -> None: ...


def format_record(r: dict[str, Any]) -> str:
    """One human line for a metrics.jsonl record."""
    parts = [f"epoch {r['epoch']}"]
    if "train_loss" in r:
        parts.append(f"loss {r['train_loss']:.4f} (cls {r['cls_loss']:.4f} re {r['re_loss']:.4f})")
        parts.append(f"train acc {r['train_acc']:.4f}")
    parts.append(f"test loss {r['test_loss']:.4f} acc {r['test_acc']:.4f}")
    parts.append(f"eps {r['epsilon']:.6g} (normalized {r['epsilon_normalized']:.6g})")
    if "images_per_second" in r:
        parts.append(f"{r['images_per_second']:.0f} img/s")
    return " | ".join(parts)


class NullReporter:
    """Says nothing (ranks other than 0, library use)."""

    def message(self, text: str) -> None:
        pass

    def epoch_start(self, epoch: int, epochs: int, steps: int, start_step: int) -> None:
        pass

    def step(self, step: int, stats: dict[str, float]) -> None:
        pass

    def epoch_end(self, record: dict[str, Any]) -> None:
        pass

    def close(self) -> None:
        pass


class PlainReporter(NullReporter):
    """``--quiet``: messages and one line per epoch, nothing per step."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr

    def message(self, text: str) -> None:
        print(f"wsep: {text}", file=self.stream, flush=True)

    def epoch_end(self, record: dict[str, Any]) -> None:
        self.message(format_record(record))


class RichReporter(NullReporter):
    """A Rich progress bar per epoch with live loss, accuracy and the last epsilon."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.console = console or Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[stats]}"),
            console=self.console, transient=True,
        )
        self.task: Optional[int] = None
        self.eps = float("nan")
        self._last = 0.0

    def message(self, text: str) -> None:
        self.console.print(f"wsep: {text}", highlight=False)

    def epoch_start(self, epoch: int, epochs: int, steps: int, start_step: int) -> None:
        if self.task is None:
            self.progress.start()
            self.task = self.progress.add_task("", total=steps, stats="")
        self.progress.reset(self.task, total=steps, completed=start_step,
                            description=f"epoch {epoch + 1}/{epochs}", stats="")

    def step(self, step: int, stats: dict[str, float]) -> None:
        if self.task is None:
            return
        now = time.monotonic()
        text = f"loss {stats['loss']:.4f} acc {stats['acc']:.3f} eps {self.eps:.4g}"
        self.progress.update(self.task, completed=step + 1, stats=text, refresh=now - self._last > 0.5)
        if now - self._last > 0.5:
            self._last = now

    def epoch_end(self, record: dict[str, Any]) -> None:
        self.eps = float(record["epsilon"])
        self.progress.console.print(format_record(record), highlight=False)

    def close(self) -> None:
        if self.task is not None:
            self.progress.stop()
