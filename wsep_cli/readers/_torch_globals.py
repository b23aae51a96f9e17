"""The only globals a ``torch.save`` pickle may name, and what each one becomes (without torch).

Tensors become lazy :class:`TensorRef` records (storage + offset + shape + stride + dtype); storages
become :class:`StorageRef` records the container fills from the file on demand. A few harmless
classes that training checkpoints carry (``argparse.Namespace``, numpy scalars and numeric arrays,
TorchScript module objects) become inert records that hold their state and can run nothing. Every
other global is refused by :func:`resolve_global` returning ``None``.
"""

from __future__ import annotations

import re
from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from wsep_cli.readers._torch_dtypes import DTYPES, STORAGE_DTYPES, DType

__all__ = [
    "StorageRef",
    "TensorRef",
    "InertObject",
    "ScriptObject",
    "NamespaceRecord",
    "BadPickle",
    "UnsupportedTensor",
    "resolve_global",
]

MAX_NDIM = 64


class BadPickle(ValueError):
    """A known global was called with arguments no ``torch.save`` produces."""


class UnsupportedTensor(ValueError):
    """A tensor kind wsep recognises but does not read (sparse, nested, wrapper subclasses)."""


@dataclass(frozen=True)
class StorageRef:
    """A storage in the file: its record key, element type, element count and byte offset.

    ``byte_offset`` is non-zero only for legacy storage views.
    """

    key: str
    dtype: DType
    numel: int
    location: str
    byte_offset: int = 0

    @property
    def nbytes(self) -> int:
        return self.numel * self.dtype.itemsize


class TensorRef:
    """A tensor as ``storage[offset:]`` viewed with ``shape`` and ``stride`` (elements of ``dtype``).

    ``storage`` is ``None`` for meta tensors, which have no data. ``quantized`` marks tensors whose raw
    integers need a scale and zero point.
    """

    __slots__ = ("storage", "offset", "shape", "stride", "dtype")

    def __init__(self, storage: StorageRef | None, offset: int, shape: tuple[int, ...],
                 stride: tuple[int, ...], dtype: DType) -> None:
        self.storage, self.offset, self.shape, self.stride, self.dtype = storage, offset, shape, stride, dtype

    def __setstate__(self, state: object) -> None:
        """BUILD on a tensor (Python attributes of a parameter) is recorded nowhere: it is not data."""

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def extent(self) -> int:
        """Elements of the storage the view spans, starting at ``offset`` (0 for an empty tensor)."""
        if any(d == 0 for d in self.shape):
            return 0
        return 1 + sum((d - 1) * s for d, s in zip(self.shape, self.stride))


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


class _Tag:
    """A named marker for a type (``torch.Tensor``, ``numpy.ndarray``); not callable."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


class StorageType(_Tag):
    def __init__(self, name: str, dtype: DType) -> None:
        super().__init__(name)
        self.dtype = dtype


_TENSOR_TYPES = ("torch.Tensor", "torch.nn.parameter.Parameter")


# ---------------------------------------------------------------- tensor rebuild functions

def _ints(value: object, what: str) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)) or len(value) > MAX_NDIM:
        raise BadPickle(f"tensor {what} is not a sequence of at most {MAX_NDIM} integers")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value):
        raise BadPickle(f"tensor {what} {value!r} holds a negative or non-integer entry")
    return tuple(value)


def _tensor(storage: object, offset: object, size: object, stride: object, dtype: DType) -> TensorRef:
    if not isinstance(storage, StorageRef):
        raise BadPickle("a tensor is rebuilt from something that is not a storage")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise BadPickle(f"tensor storage offset {offset!r} is not a non-negative integer")
    shape, strides = _ints(size, "size"), _ints(stride, "stride")
    if len(shape) != len(strides):
        raise BadPickle(f"tensor size {shape} and stride {strides} differ in length")
    t = TensorRef(storage, offset, shape, strides, dtype)
    if t.extent and (offset + t.extent) * dtype.itemsize > storage.nbytes:
        raise BadPickle(
            f"a {dtype.name} tensor of shape {shape} at offset {offset} reaches past its "
            f"{storage.nbytes}-byte storage"
        )
    return t


def _rebuild_tensor(storage: object, storage_offset: object, size: object, stride: object) -> TensorRef:
    dtype = storage.dtype if isinstance(storage, StorageRef) else DTYPES["uint8"]
    return _tensor(storage, storage_offset, size, stride, dtype)


def _rebuild_tensor_v2(storage: object, storage_offset: object, size: object, stride: object,
                       requires_grad: object = False, backward_hooks: object = None,
                       metadata: object = None) -> TensorRef:
    return _rebuild_tensor(storage, storage_offset, size, stride)


def _rebuild_tensor_v3(storage: object, storage_offset: object, size: object, stride: object,
                       requires_grad: object, backward_hooks: object, dtype: object,
                       metadata: object = None) -> TensorRef:
    if not isinstance(dtype, DType):
        raise BadPickle(f"tensor dtype {dtype!r} is not a torch dtype")
    return _tensor(storage, storage_offset, size, stride, dtype)


def _rebuild_qtensor(storage: object, storage_offset: object, size: object, stride: object,
                     quantizer_params: object, requires_grad: object = False,
                     backward_hooks: object = None) -> TensorRef:
    return _rebuild_tensor(storage, storage_offset, size, stride)


def _rebuild_meta_tensor_no_storage(dtype: object, size: object, stride: object,
                                    requires_grad: object = False) -> TensorRef:
    if not isinstance(dtype, DType):
        raise BadPickle(f"tensor dtype {dtype!r} is not a torch dtype")
    shape, strides = _ints(size, "size"), _ints(stride, "stride")
    return TensorRef(None, 0, shape, strides, dtype)


def _rebuild_parameter(data: object, requires_grad: object = True, backward_hooks: object = None,
                       state: object = None) -> TensorRef:
    if not isinstance(data, TensorRef):
        raise BadPickle("a parameter is rebuilt from something that is not a tensor")
    return data


def _rebuild_device_tensor_from_cpu_tensor(data: object, dtype: object, device: object,
                                           requires_grad: object = False) -> TensorRef:
    t = _rebuild_parameter(data)
    if dtype is not t.dtype:
        raise UnsupportedTensor(f"a device tensor converted from {t.dtype.name} on load is not supported")
    return t


_REBUILDERS: dict[str, Callable[..., TensorRef]] = {
    "_rebuild_tensor": _rebuild_tensor,
    "_rebuild_tensor_v2": _rebuild_tensor_v2,
    "_rebuild_tensor_v3": _rebuild_tensor_v3,
    "_rebuild_qtensor": _rebuild_qtensor,
    "_rebuild_meta_tensor_no_storage": _rebuild_meta_tensor_no_storage,
    "_rebuild_parameter": _rebuild_parameter,
    "_rebuild_parameter_with_state": _rebuild_parameter,
    "_rebuild_device_tensor_from_cpu_tensor": _rebuild_device_tensor_from_cpu_tensor,
}
_UNSUPPORTED = {
    "_rebuild_sparse_tensor": "sparse tensors",
    "_rebuild_sparse_csr_tensor": "sparse tensors",
    "_rebuild_nested_tensor": "nested tensors",
    "_rebuild_wrapper_subclass": "tensor subclasses (DTensor, ...)",
    "_rebuild_device_tensor_from_numpy": "tensors of devices without storage (XLA, ...)",
}


def _unsupported(what: str) -> Callable[..., TensorRef]:
    def refuse(*args: object) -> TensorRef:
        raise UnsupportedTensor(f"the checkpoint holds {what}, which wsep does not read")

    return refuse


def _rebuild_from_type_v2(func: object, new_type: object, args: object, state: object) -> TensorRef:
    if func not in _REBUILDERS.values() or not isinstance(args, tuple):
        raise BadPickle("_rebuild_from_type_v2 is asked to call something that is not a tensor rebuild")
    if not (isinstance(new_type, _Tag) and new_type.name in _TENSOR_TYPES):
        raise UnsupportedTensor(f"the checkpoint holds a tensor subclass {new_type!r}, which wsep does not read")
    return func(*args)


# ---------------------------------------------------------------- small safe builtins

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
    return _ints(dims, "size")


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
            raise BadPickle(f"numpy dtype {code!r} is not a plain numeric type")
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
        shape, dt = _ints(state[1], "numpy shape"), state[2].numpy()
        n = 1
        for d in shape:
            n *= d
        if n * dt.itemsize != len(state[4]):
            raise BadPickle("numpy array data has the wrong size")
        order = "F" if state[3] else "C"
        self.__dict__["state"] = np.frombuffer(state[4], dtype=dt).reshape(shape, order=order)


def _np_reconstruct(cls: object, shape: object = (0,), code: object = b"b") -> NumpyArray:
    if not (isinstance(cls, _Tag) and cls.name == "numpy.ndarray"):
        raise BadPickle("numpy _reconstruct is asked for something that is not an ndarray")
    return NumpyArray.__new__(NumpyArray)


# ---------------------------------------------------------------- the table

def _build_table() -> dict[str, Any]:
    t: dict[str, Any] = {
        "collections.OrderedDict": OrderedDict,
        "collections.Counter": Counter,
        "builtins.set": set,
        "builtins.frozenset": frozenset,
        "builtins.bytearray": _bytearray,
        "builtins.complex": _complex,
        "_codecs.encode": _encode,
        "torch.Size": _size,
        "torch.device": _device,
        "torch.serialization._get_layout": _identity,
        "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
        "argparse.Namespace": NamespaceRecord,
        "numpy.dtype": NumpyDType,
        "numpy.ndarray": _Tag("numpy.ndarray"),
    }
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        t[f"{mod}.scalar"] = _np_scalar
        t[f"{mod}._reconstruct"] = _np_reconstruct
    for name, fn in _REBUILDERS.items():
        t[f"torch._utils.{name}"] = fn
    for name, what in _UNSUPPORTED.items():
        t[f"torch._utils.{name}"] = _unsupported(what)
    for name in _TENSOR_TYPES:
        t[name] = _Tag(name)
    for name, dtype in STORAGE_DTYPES.items():
        for mod in ("torch", "torch.cuda", "torch.storage"):
            t[f"{mod}.{name}"] = StorageType(f"{mod}.{name}", dtype)
        if name != "UntypedStorage":
            tensor = name.replace("Storage", "Tensor")
            t[f"torch.{tensor}"] = t[f"torch.cuda.{tensor}"] = _Tag("torch.Tensor")
    for name, dtype in DTYPES.items():
        t[f"torch.{name}"] = dtype
    for q in ("per_tensor_affine", "per_tensor_symmetric", "per_channel_affine",
              "per_channel_symmetric", "per_channel_affine_float_qparams"):
        t[f"torch.{q}"] = q
    return t


_TABLE = _build_table()
_TORCHSCRIPT: dict[str, Any] = {
    "torch.jit._pickle.restore_type_tag": _identity,
    "torch.jit._pickle.build_intlist": _identity,
    "torch.jit._pickle.build_doublelist": _identity,
    "torch.jit._pickle.build_boollist": _identity,
    "torch.jit._pickle.build_tensorlist": _identity,
}


def resolve_global(dotted: str, *, torchscript: bool, classes: dict[str, type]) -> object | None:
    """What the global ``module.name`` becomes, or ``None`` when it is refused.

    Args:
        dotted: ``module.qualname`` after Python 2 name mapping.
        torchscript: the archive is a TorchScript archive: ``__torch__.*`` classes become
            :class:`ScriptObject` subclasses (recorded, never run).
        classes: cache of the ScriptObject subclasses made so far, per unpickling.
    """
    found = _TABLE.get(dotted)
    if found is not None:
        return found
    if torchscript:
        if dotted in _TORCHSCRIPT:
            return _TORCHSCRIPT[dotted]
        if dotted.startswith("__torch__.") or dotted == "__torch__":
            if dotted not in classes:
                classes[dotted] = type("ScriptObject", (ScriptObject,), {"wsep_class": dotted})
            return classes[dotted]
    return None
