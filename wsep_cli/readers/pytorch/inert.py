"""Inert stand-ins for the few non-tensor objects a checkpoint may carry, and small safe builtins.

Nothing here imports or calls what the pickle names: ``argparse.Namespace`` objects, TorchScript
``__torch__.*`` module objects and numpy dtypes become :class:`InertObject` records of their constructor
arguments and state; numpy scalars and numeric arrays are rebuilt from raw bytes with
``np.frombuffer`` (object arrays are refused). The builtins accept only the arguments a pickler writes
(``bytearray(10**12)`` is refused rather than allocated).

No object the unpickler hands out accepts a BUILD that would change it: the table's globals are shared
by every file wsep reads in one process, and BUILD (``inst.__dict__.update(state)`` or
``setattr(inst, k, v)`` in CPython's unpickler) would otherwise let one file rewrite
``torch.FloatStorage``'s dtype or ``collections.Counter.items`` for every file after it. Callables are
wrapped in :class:`SafeCall`, markers are :class:`Tag` objects, and both refuse BUILD; the two
containers torch lets a pickle BUILD (``OrderedDict`` for a state_dict's ``_metadata``, ``Counter``) are
subclasses that keep such attributes aside, where they cannot shadow a method.
"""

from __future__ import annotations

import re
import reprlib
from collections import Counter, OrderedDict
from typing import Any, Callable

import numpy as np

__all__ = [
    "BadPickle",
    "InertObject",
    "ScriptObject",
    "NamespaceRecord",
    "NumpyDType",
    "NumpyArray",
    "Tag",
    "SafeCall",
    "StateDict",
    "CounterRecord",
    "check_ints",
    "short_repr",
    "SAFE_BUILTINS",
]

MAX_NDIM = 64


class BadPickle(ValueError):
    """A known global was called with arguments no ``torch.save`` produces."""


class InertObject:
    """An instance of a class wsep does not import: it records its constructor args and state only."""

    wsep_class = "?"

    def __new__(cls, *args: object, **kwargs: object) -> "InertObject":
        obj = object.__new__(cls)
        obj.__dict__["args"] = args
        obj.__dict__["state"] = None
        return obj

    def __setstate__(self, state: object) -> None:
        self.__dict__["state"] = state


class ScriptObject(InertObject):
    """A TorchScript module or class object (``__torch__.*``); its attributes are in ``state``."""


class NamespaceRecord(InertObject):
    """An ``argparse.Namespace`` (training-script arguments); never searched for weights."""

    wsep_class = "argparse.Namespace"


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 3, 40, 40


def short_repr(value: object) -> str:
    """``repr`` bounded in depth and length: a pickle's shared-reference DAG of 2**60 paths prints in
    microseconds here, where plain ``repr`` (an f-string's ``!r``) would never finish."""
    return _REPR.repr(value)


def _refuse_build(name: str) -> BadPickle:
    return BadPickle(f"BUILD sets attributes on {name}; torch.save never writes this and wsep refuses it")


class Tag:
    """A named marker for a type (``torch.Tensor``, ``numpy.ndarray``); not callable, not BUILD-able."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"

    def __setstate__(self, state: object) -> None:
        raise _refuse_build(f"the global {self.name}")


class SafeCall:
    """A table callable as the pickle sees it: it calls ``fn`` and refuses BUILD (no ``__dict__``)."""

    __slots__ = ("name", "fn")

    def __init__(self, name: str, fn: Callable[..., Any]) -> None:
        self.name, self.fn = name, fn

    def __call__(self, *args: object, **kwargs: object) -> object:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<{self.name}>"

    def __setstate__(self, state: object) -> None:
        raise _refuse_build(f"the global {self.name}")


def _keep_attributes(obj: dict, state: object, what: str) -> None:
    """torch's BUILD on an OrderedDict/Counter: ``__dict__.update(state)``. Kept (by reference, not
    copied: the memo lets one large state be BUILT onto thousands of dicts) in ``wsep_attrs`` instead,
    so that no key can shadow ``items`` or ``get`` for the code that walks the checkpoint."""
    if state is None:
        return
    if not isinstance(state, dict):
        raise BadPickle(f"BUILD on {what} with a {type(state).__name__} state; torch.save writes a dict")
    if "wsep_attrs" in obj.__dict__:
        raise BadPickle(f"BUILD on {what} twice; torch.save writes one")
    obj.__dict__["wsep_attrs"] = state


class StateDict(OrderedDict):
    """``collections.OrderedDict`` as unpickled; BUILD state (``_metadata``) goes to ``wsep_attrs``."""

    def __setstate__(self, state: object) -> None:
        _keep_attributes(self, state, "an OrderedDict")


class CounterRecord(Counter):
    """``collections.Counter`` as unpickled; BUILD state goes to ``wsep_attrs``."""

    def __init__(self, iterable: object = None, /, **kwds: object) -> None:
        _no_text(iterable, "collections.Counter")  # Counter(s) counts each character: 1 s per 10 MB
        super().__init__(iterable, **kwds)  # type: ignore[arg-type]

    def __setstate__(self, state: object) -> None:
        _keep_attributes(self, state, "a Counter")


def check_ints(value: object, what: str) -> tuple[int, ...]:
    """``value`` as a tuple of non-negative ints (a shape or strides), or :class:`BadPickle`."""
    if not isinstance(value, (tuple, list)) or len(value) > MAX_NDIM:
        raise BadPickle(f"tensor {what} is not a sequence of at most {MAX_NDIM} integers")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value):
        raise BadPickle(f"tensor {what} {short_repr(value)} holds a negative or non-integer entry")
    return tuple(value)


# ---------------------------------------------------------------- small safe builtins

def _no_text(arg: object, what: str) -> None:
    """Picklers give ``set``/``frozenset`` a list and ``Counter`` a dict. A string argument would be
    iterated character by character: a memoized 200 MB string costs 2 bytes of pickle per 5 s call."""
    if isinstance(arg, (str, bytes, bytearray)):
        raise BadPickle(f"{what} is called on a {type(arg).__name__}; no pickler writes this")


def _set(items: object = ()) -> set:
    _no_text(items, "builtins.set")
    return set(items)  # type: ignore[call-overload]


def _frozenset(items: object = ()) -> frozenset:
    _no_text(items, "builtins.frozenset")
    return frozenset(items)  # type: ignore[call-overload]


def _encode(text: object, encoding: object = "utf-8") -> bytes:
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8"):
        raise BadPickle("_codecs.encode is called with arguments no pickler writes")
    return text.encode(str(encoding))


def _bytearray(data: object = b"", encoding: object = None) -> bytearray:
    if isinstance(data, (bytes, bytearray)):
        return bytearray(data)
    if isinstance(data, str) and encoding in ("latin1", "latin-1"):
        return bytearray(data.encode("latin1"))
    raise BadPickle("bytearray is called with arguments no pickler writes")


def _complex(real: object = 0.0, imag: object = 0.0) -> complex:
    if not all(isinstance(x, (int, float)) for x in (real, imag)):
        raise BadPickle("complex is called with non-numbers")
    return complex(real, imag)  # type: ignore[arg-type]


def _size(dims: object = ()) -> tuple[int, ...]:
    return check_ints(dims, "size")


def _device(kind: object, index: object = None) -> str:
    if not isinstance(kind, str) or (index is not None and not isinstance(index, int)):
        raise BadPickle("torch.device is called with arguments no pickler writes")
    return kind if index is None else f"{kind}:{index}"


def _identity(obj: object, *_: object) -> object:
    return obj


# ---------------------------------------------------------------- numpy scalars and arrays

_NP_CODE = re.compile(r"^[<>=|]?(?:[biuf][1248]|c(?:8|16)|f16|\?|b1)$")


class NumpyDType(InertObject):
    """``numpy.dtype(code)`` for a plain numeric code; the byte order comes with its BUILD state."""

    wsep_class = "numpy.dtype"

    def numpy(self) -> np.dtype:
        code = self.args[0] if self.args else None
        if not isinstance(code, str) or not _NP_CODE.match(code):
            raise BadPickle(f"numpy dtype {short_repr(code)} is not a plain numeric type")
        order = self.state[1] if isinstance(self.state, tuple) and len(self.state) > 1 else "="
        dt = np.dtype(code)
        return dt.newbyteorder(order) if order in ("<", ">") and dt.itemsize > 1 else dt


def _np_scalar(dtype: object, data: object = None) -> object:
    if not isinstance(dtype, NumpyDType) or not isinstance(data, bytes):
        raise BadPickle("numpy scalar is rebuilt from arguments no pickler writes")
    dt = dtype.numpy()
    if len(data) != dt.itemsize:
        raise BadPickle("numpy scalar data has the wrong size")
    return np.frombuffer(data, dtype=dt)[0]


class NumpyArray(InertObject):
    """A numeric numpy array; BUILD gives (version, shape, dtype, fortran, raw bytes)."""

    wsep_class = "numpy.ndarray"

    def __setstate__(self, state: object) -> None:
        if not (isinstance(state, tuple) and len(state) == 5 and isinstance(state[2], NumpyDType)
                and isinstance(state[4], bytes)):
            raise BadPickle("numpy array state is not a numeric array (object arrays are refused)")
        shape, dt = check_ints(state[1], "numpy shape"), state[2].numpy()
        n = 1
        for d in shape:
            n *= d
        if n * dt.itemsize != len(state[4]):
            raise BadPickle("numpy array data has the wrong size")
        order = "F" if state[3] else "C"
        self.__dict__["state"] = np.frombuffer(state[4], dtype=dt).reshape(shape, order=order)


def _np_reconstruct(cls: object, shape: object = (0,), code: object = b"b") -> NumpyArray:
    if not (isinstance(cls, Tag) and cls.name == "numpy.ndarray"):
        raise BadPickle("numpy _reconstruct is asked for something that is not an ndarray")
    return NumpyArray.__new__(NumpyArray)


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "builtins.set": _set,  # SafeCall wrappers: BUILD sets nothing on them
    "builtins.frozenset": _frozenset,
    "builtins.bytearray": _bytearray,
    "builtins.complex": _complex,
    "_codecs.encode": _encode,
    "torch.Size": _size,
    "torch.device": _device,
    "torch.serialization._get_layout": _identity,
    "numpy.core.multiarray.scalar": _np_scalar,
    "numpy._core.multiarray.scalar": _np_scalar,
    "numpy.core.multiarray._reconstruct": _np_reconstruct,
    "numpy._core.multiarray._reconstruct": _np_reconstruct,
    "torch.jit._pickle.restore_type_tag": _identity,
}
SAFE_BUILTINS: dict[str, object] = {
    **{name: SafeCall(name, fn) for name, fn in _FUNCTIONS.items()},
    "argparse.Namespace": NamespaceRecord,
    "numpy.dtype": NumpyDType,
    "numpy.ndarray": Tag("numpy.ndarray"),
}
