"""Error hierarchy and exit codes.

Every user-facing failure is a :class:`WsepError` subclass whose ``exit_code`` says how the CLI ends.
Only ``cli.py`` turns these into process exits; library code raises them.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "ExitCode",
    "WsepError",
    "UsageError",
    "ConfigError",
    "NoClassifierError",
    "UnreadableError",
    "UnsafeError",
    "NonFiniteError",
    "TrainingError",
    "error_for_code",
]


class ExitCode(IntEnum):
    """Process exit codes. With several files the largest code wins."""

    OK = 0
    GATE_FAILED = 1
    USAGE = 2
    NO_CLASSIFIER = 3
    UNREADABLE = 4


class WsepError(Exception):
    """Base class for errors the user can act on. The message says what to do next."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # always one line
        return " ".join(self.message.split())


class UsageError(WsepError):
    """Bad option, missing path, glob that matches nothing (exit 2)."""

    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    """Unknown key or wrong type in ``[tool.wsep]`` / ``wsep.toml`` (exit 2)."""


class NoClassifierError(WsepError):
    """No classifier matrix could be located, or the choice is ambiguous (exit 3)."""

    exit_code = ExitCode.NO_CLASSIFIER


class UnreadableError(WsepError):
    """The file is malformed, truncated or of an unknown format (exit 4)."""

    exit_code = ExitCode.UNREADABLE


class UnsafeError(UnreadableError):
    """The file asks for something wsep refuses to do: run pickled code, escape its folder (exit 4)."""


class NonFiniteError(UnreadableError):
    """The classifier holds NaN or Inf values (exit 4)."""


class TrainingError(WsepError):
    """Training stopped (non-finite loss, unusable output folder) (exit 2)."""

    exit_code = ExitCode.USAGE


_BY_CODE: dict[ExitCode, type[WsepError]] = {
    ExitCode.USAGE: UsageError,
    ExitCode.NO_CLASSIFIER: NoClassifierError,
    ExitCode.UNREADABLE: UnreadableError,
}


def error_for_code(code: int, message: str) -> WsepError:
    """An error of the class that ends with exit ``code`` (2, 3 or 4), carrying ``message``.

    Example:
        >>> type(error_for_code(4, "bad file")).__name__
        'UnreadableError'
    """
    return _BY_CODE.get(ExitCode(code), UsageError)(message)
