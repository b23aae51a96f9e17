"""The only globals a ``torch.save`` pickle may name, and what each one becomes (without torch).

Tensors become lazy :class:`TensorRef` records (storage + offset + shape + stride + dtype); storages
become :class:`StorageRef` records the container fills from the file on demand. A few harmless
classes that training checkpoints carry (``argparse.Namespace``, numpy scalars and numeric arrays,
TorchScript module objects) become inert records that hold their state and can run nothing. Every
other global is refused by :func:`resolve_global` returning ``None``.
"""

from __future__ import annotations

from typing import Any, Callable

from wsep_cli.readers.pytorch.inert import (
    SAFE_BUILTINS,
    BadPickle,
    CounterRecord,
    InertObject,
    NamespaceRecord,
    SafeCall,
    ScriptObject,
    StateDict,
    Tag,
    check_ints,
    short_repr,
)
from wsep_cli.readers.pytorch.dtypes import DTYPES, STORAGE_DTYPES, DType
from wsep_cli.readers.pytorch.refs import (
    StorageRef,
    TensorRef,
    UnsupportedTensor,
    check_tensor_state,
)

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


class StorageType(Tag):
    def __init__(self, name: str, dtype: DType) -> None:
        super().__init__(name)
        self.dtype = dtype


_TENSOR_TYPES = ("torch.Tensor", "torch.nn.parameter.Parameter")


# ---------------------------------------------------------------- tensor rebuild functions

def _tensor(storage: object, offset: object, size: object, stride: object, dtype: DType) -> TensorRef:
    if not isinstance(storage, StorageRef):
        raise BadPickle("a tensor is rebuilt from something that is not a storage")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise BadPickle(f"tensor storage offset {offset!r} is not a non-negative integer")
    shape, strides = check_ints(size, "size"), check_ints(stride, "stride")
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


def _with_metadata(t: TensorRef, metadata: object) -> TensorRef:
    """torch's ``set_tensor_metadata``: ``{"neg": True}`` / ``{"conj": True}`` set the lazy bits."""
    if not metadata:
        return t
    if not isinstance(metadata, dict) or not set(metadata) <= {"neg", "conj"}:
        raise UnsupportedTensor(f"tensor metadata {short_repr(metadata)} is not supported")
    t.neg, t.conj = bool(metadata.get("neg")), bool(metadata.get("conj"))
    if t.conj and t.dtype.name not in ("complex32", "complex64", "complex128"):
        raise BadPickle(f"a {t.dtype.name} tensor carries the conjugate bit, which torch sets only on complex tensors")
    return t


def _rebuild_tensor_v2(storage: object, storage_offset: object, size: object, stride: object,
                       requires_grad: object = False, backward_hooks: object = None,
                       metadata: object = None) -> TensorRef:
    return _with_metadata(_rebuild_tensor(storage, storage_offset, size, stride), metadata)


def _rebuild_tensor_v3(storage: object, storage_offset: object, size: object, stride: object,
                       requires_grad: object, backward_hooks: object, dtype: object,
                       metadata: object = None) -> TensorRef:
    if not isinstance(dtype, DType):
        raise BadPickle(f"tensor dtype {short_repr(dtype)} is not a torch dtype")
    return _with_metadata(_tensor(storage, storage_offset, size, stride, dtype), metadata)


def _rebuild_qtensor(storage: object, storage_offset: object, size: object, stride: object,
                     quantizer_params: object, requires_grad: object = False,
                     backward_hooks: object = None) -> TensorRef:
    return _rebuild_tensor(storage, storage_offset, size, stride)


def _rebuild_meta_tensor_no_storage(dtype: object, size: object, stride: object,
                                    requires_grad: object = False) -> TensorRef:
    if not isinstance(dtype, DType):
        raise BadPickle(f"tensor dtype {short_repr(dtype)} is not a torch dtype")
    shape, strides = check_ints(size, "size"), check_ints(stride, "stride")
    return TensorRef(None, 0, shape, strides, dtype)


def _rebuild_parameter(data: object, requires_grad: object = True, backward_hooks: object = None,
                       state: object = None) -> TensorRef:
    if not isinstance(data, TensorRef):
        raise BadPickle("a parameter is rebuilt from something that is not a tensor")
    return data


def _rebuild_parameter_with_state(data: object, requires_grad: object = True, backward_hooks: object = None,
                                  state: object = None) -> TensorRef:
    check_tensor_state(state)
    return _rebuild_parameter(data)


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
    "_rebuild_parameter_with_state": _rebuild_parameter_with_state,
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
    if not (isinstance(func, SafeCall) and func.fn in _REBUILDERS.values()) or not isinstance(args, tuple):
        raise BadPickle("_rebuild_from_type_v2 is asked to call something that is not a tensor rebuild")
    if not (isinstance(new_type, Tag) and new_type.name in _TENSOR_TYPES):
        raise UnsupportedTensor(
            f"the checkpoint holds a tensor subclass {short_repr(new_type)}, which wsep does not read"
        )
    check_tensor_state(state)  # torch setattr()s each entry on the rebuilt tensor
    return func(*args)


# ---------------------------------------------------------------- the table

def _build_table() -> dict[str, Any]:
    t: dict[str, Any] = {
        "collections.OrderedDict": StateDict,
        "collections.Counter": CounterRecord,
        "torch._tensor._rebuild_from_type_v2": SafeCall("torch._tensor._rebuild_from_type_v2",
                                                        _rebuild_from_type_v2),
        **{k: v for k, v in SAFE_BUILTINS.items() if not k.startswith("torch.jit.")},
    }
    for name, fn in _REBUILDERS.items():
        t[f"torch._utils.{name}"] = SafeCall(f"torch._utils.{name}", fn)
    for name, what in _UNSUPPORTED.items():
        t[f"torch._utils.{name}"] = SafeCall(f"torch._utils.{name}", _unsupported(what))
    for name in _TENSOR_TYPES:
        t[name] = Tag(name)
    for name, dtype in STORAGE_DTYPES.items():
        for mod in ("torch", "torch.cuda", "torch.storage"):
            t[f"{mod}.{name}"] = StorageType(f"{mod}.{name}", dtype)
        if name != "UntypedStorage":
            tensor = name.replace("Storage", "Tensor")
            t[f"torch.{tensor}"] = t[f"torch.cuda.{tensor}"] = Tag("torch.Tensor")
    for name, dtype in DTYPES.items():
        t[f"torch.{name}"] = dtype
    for q in ("per_tensor_affine", "per_tensor_symmetric", "per_channel_affine",
              "per_channel_symmetric", "per_channel_affine_float_qparams"):
        t[f"torch.{q}"] = q
    return t


_TABLE = _build_table()
_JIT_IDENTITY = SAFE_BUILTINS["torch.jit._pickle.restore_type_tag"]
_TORCHSCRIPT: dict[str, Any] = {
    f"torch.jit._pickle.{name}": SafeCall(f"torch.jit._pickle.{name}", _JIT_IDENTITY.fn)
    for name in ("restore_type_tag", "build_intlist", "build_doublelist", "build_boollist", "build_tensorlist")
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
