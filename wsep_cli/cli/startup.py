"""Process start-up of the ``wsep`` command without cyclic garbage collection.

Starting ``wsep score`` creates a few hundred thousand long-lived objects (typer, numpy and wsep's
own modules). CPython's cyclic collector runs many passes over them while they are being created and
once more at exit, and none of those passes frees anything. The console script therefore calls
:func:`begin` before its first import, and each command calls :func:`ready` once its imports are
done: the objects made so far are frozen (``gc.freeze``: never scanned again, not even at exit) and
the collector is switched back on for the command's own work. On the 2-core development machine this
takes about 0.1 s off every ``wsep score`` (docs/benchmarks.md).

Only the console script (and ``python -m wsep_cli``) calls :func:`begin`; used as a library, wsep
only pauses the collector while it opens a checkpoint and locates its head
(:func:`wsep_cli.pipeline.heads.collector_paused`), and restores its state after.
"""

from __future__ import annotations

import gc

__all__ = ["begin", "ready"]

_state = {"paused": False}


def begin() -> None:
    """Pause cyclic garbage collection for the imports of start-up."""
    if gc.isenabled():
        gc.disable()
        _state["paused"] = True


def ready() -> None:
    """End of start-up: freeze what exists and resume collection. A no-op unless :func:`begin` paused it."""
    if _state["paused"]:
        _state["paused"] = False
        gc.freeze()
        gc.enable()
