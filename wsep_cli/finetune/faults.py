"""Named instants of a training run, where a crash-consistency test can strike.

A run passes through instants in a fixed order: every optimisation step (``step``), and inside every
atomic write the moment the new bytes are written but not yet renamed (``<file>:written``) and the
moment after the rename (``<file>:renamed``). With no test variable set, :func:`instant` costs one
attribute read. With ``WSEP_TEST_HOOK="ACTION@N[,ACTION@N...]"`` the run acts at its N-th instant
(1-based):

- ``kill``: SIGKILL itself (a power cut, as far as the output folder can tell);
- ``term`` / ``int``: send itself SIGTERM / SIGINT and go on (the signal latch then stops the run);
- ``enospc``: raise ``OSError(ENOSPC)`` there, as a full disk does on write or fsync.

``WSEP_TEST_TRACE=FILE`` appends ``N name`` for each instant, so a test can choose where to strike.
These variables are for tests only; nothing else reads them.
"""

from __future__ import annotations

import errno
import os
import signal

__all__ = ["ENV_HOOK", "ENV_TRACE", "reset", "instant"]

ENV_HOOK = "WSEP_TEST_HOOK"
ENV_TRACE = "WSEP_TEST_TRACE"
_ACTIONS = ("kill", "term", "int", "enospc")


class _State:
    active = False
    count = 0
    plan: dict[int, str] = {}
    trace: str = ""


def _parse(spec: str) -> dict[int, str]:
    plan: dict[int, str] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        action, _, n = part.partition("@")
        if action not in _ACTIONS or not n.isdigit():
            raise ValueError(f"{ENV_HOOK}: {part!r} is not ACTION@N with ACTION one of {', '.join(_ACTIONS)}")
        plan[int(n)] = action
    return plan


def reset() -> None:
    """Start counting instants from zero (each run does, so that N is an instant of that run)."""
    _State.plan = _parse(os.environ.get(ENV_HOOK, ""))
    _State.trace = os.environ.get(ENV_TRACE, "")
    _State.count = 0
    _State.active = bool(_State.plan or _State.trace)


def instant(name: str) -> None:
    """Mark the instant ``name``; acts only when a test asked for it (see the module docstring)."""
    if not _State.active:
        return
    _State.count += 1
    n = _State.count
    if _State.trace:
        with open(_State.trace, "a", encoding="utf-8") as fh:
            fh.write(f"{n} {name}\n")
    action = _State.plan.get(n)
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action in ("term", "int"):
        os.kill(os.getpid(), signal.SIGTERM if action == "term" else signal.SIGINT)
    elif action == "enospc":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
