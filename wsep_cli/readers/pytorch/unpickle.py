"""A restricted unpickler for ``torch.save`` pickles that can run nothing from the file.

Two passes per pickle:

1. :func:`~wsep_cli.readers.pytorch.pickle_scan.scan_pickle` walks the opcodes (building no objects) and
   refuses what would abuse memory before any object exists: oversized pickles and length fields,
   absurd memo indices, deep MARK nesting, the copyreg extension registry.
2. :class:`RestrictedUnpickler` resolves every global through
   :func:`~wsep_cli.readers.pytorch.globals.resolve_global`; anything not listed there is refused with
   :class:`~wsep_cli.errors.UnsafeError` naming the global, before it could be called. Storages come
   back as :class:`~wsep_cli.readers.pytorch.globals.StorageRef` records; no data is read here.

The two allowed calls that copy their argument (``bytearray``, ``_codecs.encode``) share a budget of
the pickle's own size: a pickler gives each its own literal, while the memo would let one 200 MB
string be copied a thousand times for a few bytes each.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Callable

from wsep_cli.errors import UnreadableError, UnsafeError, WsepError
from wsep_cli.readers.pytorch.pickle_scan import MAX_MARK_DEPTH, MAX_PICKLE_BYTES, scan_pickle
from wsep_cli.readers.pytorch.globals import (
    BadPickle,
    StorageRef,
    StorageType,
    UnsupportedTensor,
    resolve_global,
)
from wsep_cli.readers.pytorch.inert import SafeCall, short_repr

__all__ = ["MAX_PICKLE_BYTES", "MAX_MARK_DEPTH", "scan_pickle", "unpickle", "refusal_message"]

_COPYING = frozenset(("builtins.bytearray", "_codecs.encode"))
_MODULE_HINTS = ("torch.nn", "torchvision", "timm", "__main__", "lightning", "pytorch_lightning")


def refusal_message(path: Path, dotted: str) -> str:
    """One-line message for a refused global."""
    hint = ""
    if dotted.startswith(_MODULE_HINTS):
        hint = " (the file pickles a whole model object, not just its weights)"
    if len(dotted) > 200:  # a GLOBAL line may be 200 MB long
        dotted = f"{dotted[:100]}...' ({len(dotted)} characters"
    return (
        f"{path}: refused to unpickle global '{dotted}'{hint}; wsep loads only tensors and never "
        "runs code from a checkpoint. If you trust the file, re-save model.state_dict() with "
        "torch.save or as safetensors and score that"
    )


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler whose globals come from a fixed table and whose storages are records."""

    def __init__(self, data: bytes, *, path: Path, torchscript: bool = False) -> None:
        super().__init__(io.BytesIO(data), encoding="utf-8")
        self.path = path
        self.torchscript = torchscript
        self.storages: dict[str, StorageRef] = {}
        self._views: dict[str, StorageRef] = {}
        self._classes: dict[str, type] = {}
        self._copy_left = len(data) + (1 << 16)

    def find_class(self, module: str, name: str) -> object:
        from _compat_pickle import IMPORT_MAPPING, NAME_MAPPING

        if (module, name) in NAME_MAPPING:
            module, name = NAME_MAPPING[(module, name)]
        elif module in IMPORT_MAPPING:
            module = IMPORT_MAPPING[module]
        dotted = f"{module}.{name}"
        found = resolve_global(dotted, torchscript=self.torchscript, classes=self._classes)
        if found is None:
            raise UnsafeError(refusal_message(self.path, dotted))
        if dotted in _COPYING and isinstance(found, SafeCall):
            return SafeCall(dotted, self._counted(dotted, found.fn))
        return found

    def _counted(self, name: str, fn: Callable[..., bytes | bytearray]) -> Callable[..., bytes | bytearray]:
        def call(*args: object) -> bytes | bytearray:
            out = fn(*args)
            self._copy_left -= len(out)
            if self._copy_left < 0:
                raise BadPickle(
                    f"{name} is asked to copy more bytes than the pickle holds (one memoized string "
                    "copied over and over); refused"
                )
            return out

        return call

    def persistent_load(self, pid: object) -> object:
        if not isinstance(pid, tuple) or not pid or pid[0] not in ("storage", b"storage"):
            kind = pid[0] if isinstance(pid, tuple) and pid else type(pid).__name__
            if kind in ("module", b"module"):
                raise UnsafeError(refusal_message(self.path, "torch.nn.Module source (persistent id 'module')"))
            raise BadPickle(f"unknown persistent id {short_repr(kind)}")
        if len(pid) not in (5, 6):
            raise BadPickle("a storage persistent id has the wrong number of fields")
        stype, key, location, numel = pid[1:5]
        view = pid[5] if len(pid) == 6 else None
        if not isinstance(stype, StorageType):
            raise BadPickle(f"storage type {short_repr(stype)} is not a torch storage class")
        key, location = _text(key), _text(location)
        if not isinstance(numel, int) or isinstance(numel, bool) or numel < 0:
            raise BadPickle(f"storage {key!r} has an invalid element count {short_repr(numel)}")
        # As in torch.load: the first reference to a key fixes its type and size; a later one gets
        # the same storage whatever type and count it names (torch.save never writes two).
        if key in self._views:
            raise BadPickle(f"storage key {key!r} also names a legacy view; refused")
        root = self.storages.setdefault(key, StorageRef(key, stype.dtype, numel, location))
        return root if view is None else self._view(root, stype, view)

    def _view(self, root: StorageRef, stype: StorageType, view: object) -> StorageRef:
        """A legacy storage view: (view key, offset, size) in elements of the referencing type; the
        first reference to a view key defines it, as in torch's legacy loader."""
        if not (isinstance(view, tuple) and len(view) == 3 and all(isinstance(v, int) for v in view[1:])):
            raise BadPickle("a legacy storage view has an invalid description")
        view_key, offset, size = _text(view[0]), view[1], view[2]
        if view_key in self._views:
            return self._views[view_key]
        if view_key in self.storages:
            raise BadPickle(f"legacy view key {view_key!r} also names a storage; refused")
        item = stype.dtype.itemsize
        if offset < 0 or size < 0 or (offset + size) * item > root.nbytes:
            raise BadPickle(f"a view of storage {root.key!r} reaches past its end")
        self._views[view_key] = StorageRef(root.key, stype.dtype, size, root.location, offset * item)
        return self._views[view_key]


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    if isinstance(value, str):
        return value
    raise BadPickle(f"expected a string in a storage persistent id, got {type(value).__name__}")


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text[:200]


def unpickle(data: bytes, *, path: Path, what: str, torchscript: bool = False,
             on_storages: Callable[[dict[str, StorageRef]], None] | None = None) -> object:
    """Unpickle already-scanned bytes with :class:`RestrictedUnpickler`.

    Args:
        on_storages: receives the storages the pickle referenced, by key (root records).

    Raises:
        UnsafeError: a global outside the allowed table.
        UnreadableError: anything else that goes wrong, with the cause in one line.
    """
    unpickler = RestrictedUnpickler(data, path=path, torchscript=torchscript)
    try:
        obj = unpickler.load()
    except WsepError:
        raise
    except UnsupportedTensor as e:
        raise UnreadableError(f"{path}: {e}") from e
    except BadPickle as e:
        raise UnreadableError(f"{path}: {what} is not a valid torch.save pickle: {e}") from e
    except Exception as e:  # UnpicklingError, TypeError, MemoryError, ... from malformed data
        raise UnreadableError(f"{path}: {what} cannot be unpickled ({type(e).__name__}: {_one_line(e)})") from e
    if on_storages is not None:
        on_storages(unpickler.storages)
    return obj

