"""PyTorch checkpoints (``torch.save`` zip and legacy formats, TorchScript archives) without torch.

The pickle is read by wsep's own restricted unpickler (:mod:`wsep_cli.readers.pytorch.unpickle`): it rebuilds
tensors as lazy references and refuses every global outside a short table with exit 4, so a pickled
``nn.Module`` or a ``__reduce__`` payload is named and never run; there is no fallback to
``torch.load``. TorchScript archives are read the same way: their ``__torch__.*`` module objects become
inert records whose attributes yield the parameters under dotted names, and no TorchScript code is
compiled or run. Loading a tensor reads only the byte range it spans from its storage record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol

import numpy as np

from wsep_cli.errors import UnreadableError
from wsep_cli.readers.pytorch.dtypes import decode, numpy_dtype
from wsep_cli.readers.pytorch.globals import StorageRef, TensorRef
from wsep_cli.readers.pytorch.tree import checkpoint_metadata, select_weights
from wsep_cli.readers.base import Reader, TensorInfo

__all__ = ["TorchReader"]

# A view whose strides repeat storage elements (stride 0: ``expand``) is materialised for scoring; past
# this size it is refused, or a 4-byte storage could stand for a 20000 x 4096 head.
_MAX_REPEATED_BYTES = 64 << 20


def _contiguous_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides, step = [], 1
    for d in reversed(shape):
        strides.append(step)
        step *= d
    return tuple(reversed(strides))


def _lazy_bits(values: np.ndarray, t: TensorRef) -> np.ndarray:
    """Apply torch's lazy negation / conjugation bits, as ``torch.load`` does when it reads them."""
    if t.conj:
        values = np.conj(values)
    if t.neg:
        values = np.negative(values)
    return values


class _Container(Protocol):
    byteorder: str

    def read(self, key: str, start: int, length: int) -> bytes: ...

    def close(self) -> None: ...


@dataclass
class TorchReader(Reader):
    """One PyTorch checkpoint file.

    ``format`` is set per file: ``pytorch-zip``, ``pytorch-legacy`` or ``torchscript``.
    ``source`` names the wrapper key the weights came from (``""``: top level).

    Example:
        >>> with TorchReader(Path("model.pth")) as r:          # doctest: +SKIP
        ...     w = r.load("fc.weight")
    """

    format: ClassVar[str] = "pytorch-zip"
    source: str = field(default="", init=False)
    _container: _Container | None = field(default=None, init=False, repr=False)
    _tensors: dict[str, TensorRef] = field(default_factory=dict, init=False, repr=False)
    _metadata: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        try:
            with self.path.open("rb") as fh:
                magic = fh.read(4)
        except OSError as e:
            raise UnreadableError(f"{self.path}: cannot be read ({e.strerror or e})") from e
        if magic.startswith(b"PK\x03\x04"):
            root = self._open_zip()
        elif magic[:1] == b"\x80":
            root = self._open_legacy()
        else:
            raise UnreadableError(f"{self.path}: not a PyTorch checkpoint (neither zip nor pickle)")
        try:
            self._tensors, self.source = select_weights(root, self.path)
            self._metadata = checkpoint_metadata(root)
        except BaseException:
            self.close()
            raise

    def _open_zip(self) -> object:
        from wsep_cli.readers.pytorch.zip_archive import ZipCheckpoint
        from wsep_cli.readers.pytorch.unpickle import unpickle

        archive = ZipCheckpoint(self.path)
        self._container = archive
        try:
            storages: dict[str, StorageRef] = {}
            root = unpickle(archive.read_pickle(), path=self.path, what=f"{archive.prefix}/data.pkl",
                            torchscript=archive.torchscript, on_storages=storages.update)
            archive.check_storages(storages)
        except BaseException:
            self.close()
            raise
        self.format = "torchscript" if archive.torchscript else "pytorch-zip"  # type: ignore[misc]
        return root

    def _open_legacy(self) -> object:
        from wsep_cli.readers.pytorch.legacy import LegacyCheckpoint

        legacy = LegacyCheckpoint(self.path)
        self._container = legacy
        self.format = "pytorch-legacy"  # type: ignore[misc]
        return legacy.root

    def tensors(self) -> list[TensorInfo]:
        return [TensorInfo(name, t.shape, t.dtype.name) for name, t in self._tensors.items()]

    def metadata(self) -> dict[str, str]:
        return dict(self._metadata)

    def load(self, name: str) -> np.ndarray:
        t = self._tensors.get(name)
        if t is None:
            raise UnreadableError(f"{self.path}: no tensor named {name!r}")
        if t.storage is None:
            raise UnreadableError(f"{self.path}: {name!r} is a meta tensor and holds no values")
        if not t.dtype.loadable:
            what = "quantized" if t.dtype.kind == "quant" else "unsupported"
            raise UnreadableError(
                f"{self.path}: {name!r} has {what} dtype {t.dtype.name}; wsep reads float, integer, "
                "bool, complex, bfloat16 and float8 tensors (dequantize or convert it first)"
            )
        assert self._container is not None
        np_dtype = numpy_dtype(t.dtype, self._container.byteorder)
        if t.extent == 0:
            return _lazy_bits(decode(np.zeros(t.shape, dtype=np_dtype), t.dtype), t)
        size = t.dtype.itemsize
        if t.numel > t.extent and t.numel * size > _MAX_REPEATED_BYTES:
            raise UnreadableError(
                f"{self.path}: tensor {name!r} views {t.extent} stored elements as {t.numel} (strides "
                f"{t.stride} repeat them, e.g. an expand()); refused: its values would take "
                f"{t.numel * size} bytes the file does not hold"
            )
        length = t.extent * size
        raw = self._container.read(t.storage.key, t.storage.byte_offset + t.offset * size, length)
        if len(raw) != length:
            raise UnreadableError(f"{self.path}: tensor {name!r} is truncated in the file")
        flat = np.frombuffer(raw, dtype=np_dtype)
        if t.stride == _contiguous_strides(t.shape) and flat.size == t.numel:
            values = decode(flat.reshape(t.shape), t.dtype)  # the usual case: no copy
        else:
            view = np.lib.stride_tricks.as_strided(
                flat, shape=t.shape, strides=tuple(s * size for s in t.stride), writeable=False
            )
            values = decode(np.array(view, copy=True), t.dtype)
        return _lazy_bits(values, t)

    def activations(self) -> dict[str, str]:
        from wsep_cli.readers.pytorch.ts_code import MAX_CODE_BYTES, activations_for
        from wsep_cli.readers.pytorch.zip_archive import ZipCheckpoint

        if self.format != "torchscript" or not isinstance(self._container, ZipCheckpoint):
            return {}
        return activations_for(list(self._tensors), self._container.code_sources(MAX_CODE_BYTES))

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
        super().close()
