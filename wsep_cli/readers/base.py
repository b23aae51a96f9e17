"""The one interface every checkpoint reader implements.

A reader lists the tensors a file holds (name, shape, dtype) without loading them, and loads one
tensor on request as a numpy array. Readers never execute code from the file.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import ClassVar

import numpy as np

from wsep_cli.results import SourceInfo

__all__ = ["TensorInfo", "HeadHint", "Reader", "shape_numel", "bf16_to_float32"]


def shape_numel(shape: tuple[int, ...]) -> int:
    """Number of elements of a shape, as a Python int (never overflows)."""
    n = 1
    for d in shape:
        n *= d
    return n


def bf16_to_float32(raw: np.ndarray) -> np.ndarray:
    """Exact bfloat16 -> float32 upcast of raw uint16 bits: bfloat16 is the top half of a float32."""
    bits = raw.astype(np.uint32)
    bits <<= 16  # in place: one float32-sized array, not two
    return bits.view(np.float32)


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """One tensor as stored: its key, shape and dtype name (numpy spelling, plus ``bfloat16``).

    Slotted: a checkpoint may list 100,000+ tensors, and a slotted record is about 100 bytes smaller."""

    name: str
    shape: tuple[int, ...]
    dtype: str

    @property
    def numel(self) -> int:
        return shape_numel(self.shape)


@dataclass(frozen=True)
class HeadHint:
    """A classifier named by the file's own metadata (ONNX graph, timm config, ``arch`` key).

    Args:
        name: the tensor key as stored.
        transposed: True when the tensor is stored as (m features x n classes), e.g. an ONNX MatMul
            initializer or a Gemm with ``transB=0``.
        scale: a factor the graph applies to the weight (Gemm ``alpha``).
        reason: a short human sentence saying why this tensor is the head.
        alternatives: other heads reading the same features (siblings), when the choice was ambiguous.
        notes: what a reader of the numbers must know (become the result's ``warnings``).
        source: the key :meth:`Reader.load` gives the head's matrix under, when ``name`` (the stored
            tensor a user sees) needs shape ops or dequantisation first; None: ``name`` itself.
        dequantized: how a quantised weight was turned into floats (see docs/json-schema.md), or None.
    """

    name: str
    transposed: bool = False
    scale: float = 1.0
    reason: str = ""
    alternatives: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    source: str | None = None
    dequantized: dict[str, object] | None = None


@dataclass
class Reader(ABC):
    """Base class of all readers; use as a context manager."""

    path: Path
    format: ClassVar[str] = "unknown"
    _closed: bool = field(default=False, init=False, repr=False)

    @abstractmethod
    def tensors(self) -> list[TensorInfo]:
        """All tensors in storage order, without reading their data."""

    @abstractmethod
    def load(self, name: str) -> np.ndarray:
        """Read one tensor's values exactly. ``bfloat16`` comes back as ``float32`` (lossless)."""

    def hints(self) -> list[HeadHint]:
        """Heads named by format metadata, primary first. Most formats have none."""
        return []

    def metadata(self) -> dict[str, str]:
        """Free-form string metadata (safetensors header metadata, training-checkpoint keys)."""
        return {}

    def class_names(self) -> tuple[str, ...] | None:
        """Class names the checkpoint itself carries (a Hugging Face ``id2label``), or None."""
        return None

    def source_info(self) -> SourceInfo | None:
        """Where the checkpoint came from when it is not a plain local path (a Hub repo), or None."""
        return None

    def views(self) -> dict[str, HeadHint]:
        """Stored tensors that are not matrices as stored but that the file's graph uses as one (an
        ONNX initializer reshaped or dequantised before its MatMul), by stored name: how to read
        each as a head, so that ``--layer STORED_NAME`` works. Most formats have none."""
        return {}

    def not_candidates(self) -> set[str]:
        """Matrix-shaped tensors the file's graph uses as something else (recurrent gates)."""
        return set()

    def activations(self) -> dict[str, str]:
        """Stored tensor name -> the Softmax / LogSoftmax / Sigmoid its output feeds, where the format
        records the computation (TorchScript code); evidence for ranking sibling heads."""
        return {}

    def locate_notes(self) -> list[str]:
        """Why the format's own evidence found no head (e.g. where an ONNX graph walk stopped)."""
        return []

    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> "Reader":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
