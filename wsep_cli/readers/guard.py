"""The malformed-input net: a parsing error deep inside a reader becomes one exit-4 message.

Readers turn what they expect into :class:`~wsep_cli.errors.UnreadableError` themselves; this is
defence in depth for untrusted files, so one hostile file still ends as a one-line exit-4 result. It
wraps the *reader's* calls only: an error raised by the locator, the metrics or a report is a bug in
wsep and surfaces as one ("internal error"), never as "malformed file". The original traceback is
logged at DEBUG level (the fuzz suite counts these to find readers that still need a proper check).
"""

from __future__ import annotations

import logging
import struct
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import numpy as np

from wsep_cli.errors import UnreadableError
from wsep_cli.readers.base import HeadHint, Reader, TensorInfo
from wsep_cli.results import SourceInfo

__all__ = ["MALFORMED_ERRORS", "GuardedReader", "malformed", "guarded", "open_guarded"]

_log = logging.getLogger(__name__)
T = TypeVar("T")

# What a malformed file can raise from inside a reader or the stdlib parsers it uses.
MALFORMED_ERRORS: tuple[type[BaseException], ...] = (
    ValueError, struct.error, EOFError, KeyError, IndexError, zipfile.BadZipFile, UnicodeDecodeError,
    RecursionError, MemoryError, OverflowError, zlib.error,
)


def malformed(spec: str, e: BaseException) -> UnreadableError:
    """The one-line exit-4 error for a parsing failure inside a reader."""
    _log.debug("malformed input %s", spec, exc_info=e)
    detail = " ".join(str(e).split())[:200]
    return UnreadableError(
        f"{spec}: malformed file ({type(e).__name__}: {detail}); the checkpoint is corrupt, truncated "
        "or not the format it looks like"
    )


def guarded(spec: str, call: Callable[[], T]) -> T:
    """Run one reader call; a parsing error becomes :func:`malformed`'s error."""
    try:
        return call()
    except MALFORMED_ERRORS as e:
        raise malformed(spec, e) from e


class GuardedReader(Reader):
    """A reader whose every call goes through :func:`guarded`; same interface, same answers."""

    def __init__(self, inner: Reader, spec: str) -> None:
        super().__init__(inner.path)
        self.inner = inner
        self.spec = spec

    @property  # type: ignore[override]
    def format(self) -> str:  # noqa: D401 - the wrapped reader's format name
        return self.inner.format

    def tensors(self) -> list[TensorInfo]:
        return guarded(self.spec, self.inner.tensors)

    def load(self, name: str) -> np.ndarray:
        return guarded(self.spec, lambda: self.inner.load(name))

    def hints(self) -> list[HeadHint]:
        return guarded(self.spec, self.inner.hints)

    def metadata(self) -> dict[str, str]:
        return guarded(self.spec, self.inner.metadata)

    def class_names(self) -> tuple[str, ...] | None:
        return guarded(self.spec, self.inner.class_names)

    def source_info(self) -> SourceInfo | None:
        return self.inner.source_info()

    def views(self) -> dict[str, HeadHint]:
        return guarded(self.spec, self.inner.views)

    def not_candidates(self) -> set[str]:
        return guarded(self.spec, self.inner.not_candidates)

    def activations(self) -> dict[str, str]:
        return guarded(self.spec, self.inner.activations)

    def locate_notes(self) -> list[str]:
        return guarded(self.spec, self.inner.locate_notes)

    def close(self) -> None:
        self.inner.close()
        super().close()


@contextmanager
def open_guarded(
    spec: str | Path, *, random_init: bool = False, revision: str | None = None
) -> Iterator[GuardedReader]:
    """Open ``spec`` with the reader its content calls for, every call behind the net.

    Hugging Face sources (``hf:ORG/NAME``, ``timm:NAME`` read from the Hub, a ``save_pretrained``
    folder) open through :func:`wsep_cli.hf.open_hf_source` (``revision``: ``--revision`` for ``hf:``
    specs); everything else by its content.

    Raises:
        UsageError: the path does not exist; a Hub repo that is missing or gated (exit 2).
        UnreadableError: unknown format, malformed content, a Hub source not cached while offline (exit 4).
        UnsafeError: the file asks for code execution or escapes its folder (exit 4).
    """
    from wsep_cli.hf import open_hf_source
    from wsep_cli.readers.sniff import open_reader

    text = str(spec)
    reader = guarded(
        text,
        lambda: open_hf_source(text, random_init=random_init, revision=revision)
        or open_reader(text, random_init=random_init),
    )
    with GuardedReader(reader, text) as g:
        yield g
