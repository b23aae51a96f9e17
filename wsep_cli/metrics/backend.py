"""Array back-ends for the blocked metrics: numpy on the CPU, torch only when a CUDA device is asked for.

The blocked metric code is written against the small common subset of numpy and torch (``@``,
``.sum()``, ``.max()``, ``.argmax()``, ``abs``, comparisons, boolean indexing, ``>>``/``&`` on int64);
what differs between the two lives here. torch is imported only by :class:`TorchBackend`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from wsep_cli.errors import UsageError

__all__ = ["Backend", "NumpyBackend", "TorchBackend", "get_backend"]

Array = Any  # np.ndarray or torch.Tensor


class Backend:
    """Operations whose spelling differs between numpy and torch. All floats are float64."""

    name = "abstract"

    def from_numpy(self, block: np.ndarray) -> Array:
        """A float64 array on this back-end's device, from a numpy block of any real dtype."""
        raise NotImplementedError

    def to_numpy(self, x: Array) -> np.ndarray:
        raise NotImplementedError

    def index(self, idx: np.ndarray) -> Array:
        """An int64 index array on the device."""
        raise NotImplementedError

    def zeros(self, shape: tuple[int, ...]) -> Array:
        raise NotImplementedError

    def sqrt(self, x: Array) -> Array:
        raise NotImplementedError

    def isfinite_all(self, x: Array) -> bool:
        raise NotImplementedError

    def where(self, cond: Array, a: Array, b: Array) -> Array:
        raise NotImplementedError

    def view_int64(self, x: Array) -> Array:
        raise NotImplementedError

    def bincount(self, x: Array, minlength: int) -> np.ndarray:
        raise NotImplementedError

    def concat(self, parts: list[Array]) -> np.ndarray:
        """Concatenate 1-D arrays and return them as numpy (used for small collections)."""
        raise NotImplementedError

    def top_indices(self, x: Array, k: int) -> np.ndarray:
        """Positions of the ``k`` largest values of a 1-D array (any order)."""
        raise NotImplementedError

    def triu_values(self, c: Array) -> tuple[Array, np.ndarray, np.ndarray]:
        """Strictly-upper-triangle entries of a square tile, row-major, with their numpy indices."""
        raise NotImplementedError


class NumpyBackend(Backend):
    name = "numpy"

    def __init__(self) -> None:
        self._iu: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def from_numpy(self, block: np.ndarray) -> np.ndarray:
        return np.asarray(block, dtype=np.float64)

    def to_numpy(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x)

    def index(self, idx: np.ndarray) -> np.ndarray:
        return np.asarray(idx, dtype=np.intp)

    def zeros(self, shape: tuple[int, ...]) -> np.ndarray:
        return np.zeros(shape, dtype=np.float64)

    def sqrt(self, x: np.ndarray) -> np.ndarray:
        return np.sqrt(x)

    def isfinite_all(self, x: np.ndarray) -> bool:
        return bool(np.isfinite(x).all())

    def where(self, cond: np.ndarray, a: Any, b: Any) -> np.ndarray:
        return np.where(cond, a, b)

    def view_int64(self, x: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(x).view(np.int64)

    def bincount(self, x: np.ndarray, minlength: int) -> np.ndarray:
        return np.bincount(x.astype(np.intp, copy=False), minlength=minlength)

    def concat(self, parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.float64)

    def triu_values(self, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        k = c.shape[0]
        if k not in self._iu:
            self._iu = {k: np.triu_indices(k, 1)}  # keep one size: the tile size repeats
        iu = self._iu[k]
        return c[iu], iu[0], iu[1]

    def top_indices(self, x: np.ndarray, k: int) -> np.ndarray:
        if k >= x.shape[0]:
            return np.arange(x.shape[0])
        return np.argpartition(x, x.shape[0] - k)[x.shape[0] - k:]


class TorchBackend(Backend):
    """torch on one device (``cuda``, ``cuda:N``; ``cpu`` is used by the tests)."""

    name = "torch"

    def __init__(self, device: str) -> None:
        import torch

        self.torch = torch
        self.device = torch.device(device)
        self._iu: dict[int, tuple[Any, np.ndarray, np.ndarray]] = {}

    def raw(self, block: np.ndarray) -> Any:
        """The block on the device in its stored float dtype (fp16 moves 4x fewer bytes)."""
        import warnings

        arr = np.ascontiguousarray(block)
        if arr.dtype not in (np.float16, np.float32, np.float64):
            arr = arr.astype(np.float64)
        with warnings.catch_warnings():  # read-only buffers (a file's bytes): never written to
            warnings.simplefilter("ignore", UserWarning)
            return self.torch.from_numpy(arr).to(self.device)

    def from_numpy(self, block: np.ndarray) -> Any:
        return self.raw(block).to(self.torch.float64)

    def to_numpy(self, x: Any) -> np.ndarray:
        return x.detach().cpu().numpy()

    def index(self, idx: np.ndarray) -> Any:
        return self.torch.from_numpy(np.asarray(idx, dtype=np.int64)).to(self.device)

    def zeros(self, shape: tuple[int, ...]) -> Any:
        return self.torch.zeros(shape, dtype=self.torch.float64, device=self.device)

    def sqrt(self, x: Any) -> Any:
        return self.torch.sqrt(x)

    def isfinite_all(self, x: Any) -> bool:
        return bool(self.torch.isfinite(x).all())

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        return self.torch.where(cond, a, b)

    def view_int64(self, x: Any) -> Any:
        return x.contiguous().view(self.torch.int64)

    def bincount(self, x: Any, minlength: int) -> np.ndarray:
        return self.torch.bincount(x, minlength=minlength).cpu().numpy()

    def concat(self, parts: list[Any]) -> np.ndarray:
        if not parts:
            return np.empty(0, dtype=np.float64)
        return self.torch.cat(parts).cpu().numpy()

    def triu_values(self, c: Any) -> tuple[Any, np.ndarray, np.ndarray]:
        k = c.shape[0]
        if k not in self._iu:
            iu = self.torch.triu_indices(k, k, 1, device=self.device)
            self._iu = {k: (iu, iu[0].cpu().numpy(), iu[1].cpu().numpy())}
        iu, i0, i1 = self._iu[k]
        return c[iu[0], iu[1]], i0, i1

    def top_indices(self, x: Any, k: int) -> np.ndarray:
        k = min(k, int(x.shape[0]))
        return self.torch.topk(x, k).indices.cpu().numpy()


def get_backend(device: str = "cpu", backend: str = "auto") -> Backend:
    """The back-end for ``device``: numpy for ``cpu`` (unless ``backend="torch"``), torch for CUDA.

    Raises:
        UsageError: an unknown device, or CUDA asked for where torch or a GPU is missing.
    """
    dev = (device or "cpu").strip().lower()
    if dev == "cpu" and backend in ("auto", "numpy"):
        return NumpyBackend()
    if dev != "cpu" and not (dev == "cuda" or dev.startswith("cuda:")):
        raise UsageError(f"--device {device!r} is not one of: cpu, cuda, cuda:N")
    if backend == "numpy":
        raise UsageError(f"the numpy back-end runs on the CPU only, not on {device!r}")
    try:
        import torch
    except ImportError as e:  # pragma: no cover - torch is a dependency
        raise UsageError(f"--device {device}: torch is not installed; use --device cpu") from e
    if dev != "cpu" and not torch.cuda.is_available():
        raise UsageError(f"--device {device}: no CUDA device is available here; use --device cpu")
    return TorchBackend(dev)
