"""Where the CLI's text goes: reports to stdout or ``--output``, one-line errors and notes to stderr,
and a progress spinner on stderr for work that lasts (only on a terminal, never on a pipe)."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Optional

import typer

from wsep_cli.errors import UsageError, WsepError

__all__ = ["fail", "error_line", "note", "emit", "write_file", "Spinner"]


def error_line(err: WsepError | str) -> None:
    typer.echo(f"wsep: error: {err}", err=True)


def note(text: str) -> None:
    typer.echo(f"wsep: note: {text}", err=True)


def fail(err: WsepError) -> "typer.Exit":
    """Print ``err`` as one line on stderr; the exit to raise."""
    error_line(err)
    return typer.Exit(int(err.exit_code))


def write_file(path: Path, text: str, option: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise UsageError(f"{option} {path}: cannot write ({e.strerror or e})") from e


def emit(text: str, output: Optional[Path]) -> None:
    """The report: to stdout, or into ``--output``."""
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        write_file(output, text, "--output")


class Spinner:
    """A stage message with a spinner and elapsed seconds on stderr, shown once a run passes ``delay``.

    Call it with the current stage's text; :meth:`close` removes it. Off (a no-op) when stderr is not
    a terminal, so pipes and CI logs never see it.
    """

    def __init__(self, *, enabled: Optional[bool] = None, delay: float = 1.0) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.text = ""
        self._t0 = time.monotonic()
        self._done = threading.Event()
        self._thread: Optional[threading.Thread] = None
        if self.enabled:
            self._thread = threading.Thread(target=self._run, args=(delay,), daemon=True)
            self._thread.start()

    def __call__(self, text: str) -> None:
        self.text = text

    def _run(self, delay: float) -> None:
        if self._done.wait(delay):
            return
        from rich.console import Console

        status = Console(stderr=True).status(self.text)
        status.start()
        try:
            while not self._done.wait(0.25):
                status.update(f"{self.text}  ({time.monotonic() - self._t0:.0f} s)")
        finally:
            status.stop()

    def close(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> "Spinner":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
