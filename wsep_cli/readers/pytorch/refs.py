"""What a ``torch.save`` pickle's tensors and storages become without torch: lazy records.

A :class:`StorageRef` names a storage record in the file (key, element type, count, byte offset); a
:class:`TensorRef` is a view of one (offset, shape, stride, dtype and torch's lazy neg/conj bits). The
container fills them from the file on demand. :mod:`wsep_cli.readers.pytorch.globals` maps the pickle's
globals onto these.
"""

from __future__ import annotations

from dataclasses import dataclass

from wsep_cli.readers.base import shape_numel
from wsep_cli.readers.pytorch.dtypes import DType
from wsep_cli.readers.pytorch.inert import BadPickle, short_repr

__all__ = ["StorageRef", "TensorRef", "UnsupportedTensor", "TENSOR_DESCRIPTORS", "check_tensor_state"]


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

    def __setstate__(self, state: object) -> None:
        # frozen only against Python code: CPython's BUILD writes __dict__ directly
        raise BadPickle(f"BUILD sets attributes on storage {self.key!r}; torch refuses this and so does wsep")


# Attributes that torch.Tensor defines as data descriptors (torch 2.14): setting one from a pickled
# state (``_rebuild_from_type_v2``, ``_rebuild_parameter_with_state``) may replace the tensor's values
# (``data``, ``real``, ``imag``) or its type; wsep refuses any state that names one.
# tests/readers/pytorch/test_build_state.py checks this list against the installed torch.
TENSOR_DESCRIPTORS = frozenset((
    "H T __class__ __cuda_array_interface__ __dict__ __weakref__ _backward_hooks _base _cdata _grad "
    "_grad_fn _has_symbolic_sizes_strides _post_accumulate_grad_hooks _python_dispatch _version data "
    "device dtype grad grad_dtype grad_fn imag is_cpu is_cuda is_ipu is_leaf is_maia is_meta is_mkldnn "
    "is_mps is_mtia is_nested is_quantized is_sparse is_sparse_csr is_vulkan is_xla is_xpu itemsize "
    "layout mH mT name names nbytes ndim output_nr real requires_grad retains_grad shape volatile"
).split())


def check_tensor_state(state: object) -> None:
    """A tensor's pickled Python attributes (``obj.__dict__`` or ``(dict, slots)``): plain names only."""
    parts = state if isinstance(state, tuple) and len(state) == 2 else (state,)
    for part in parts:
        if part is None:
            continue
        if not isinstance(part, dict):
            raise BadPickle(f"a tensor's attribute state is a {type(part).__name__}, not a dict")
        for key in part:
            if not isinstance(key, str) or key in TENSOR_DESCRIPTORS or key.startswith("__"):
                raise BadPickle(
                    f"a tensor's pickled state sets {short_repr(key)}, which would change the tensor "
                    "torch loads (its data, type or autograd state); refused"
                )


class TensorRef:
    """A tensor as ``storage[offset:]`` viewed with ``shape`` and ``stride`` (elements of ``dtype``).

    ``storage`` is ``None`` for meta tensors, which have no data. Quantized tensors keep their raw
    integer dtype (``qint8``, ...) and are listed but not loaded. ``neg`` and ``conj`` are torch's lazy
    negation and conjugation bits (``torch._neg_view``, ``x.conj()`` saved unresolved): the values torch
    loads are ``-stored`` / ``conj(stored)``, and so are wsep's.
    """

    __slots__ = ("storage", "offset", "shape", "stride", "dtype", "neg", "conj")

    def __init__(self, storage: StorageRef | None, offset: int, shape: tuple[int, ...],
                 stride: tuple[int, ...], dtype: DType, neg: bool = False, conj: bool = False) -> None:
        self.storage, self.offset, self.shape, self.stride, self.dtype = storage, offset, shape, stride, dtype
        self.neg, self.conj = neg, conj

    def __setstate__(self, state: object) -> None:
        """BUILD on a tensor. torch calls ``Tensor.__setstate__``: a 4-tuple re-points the tensor at
        another storage (``set_``), a 5-tuple replaces its data; a 3-tuple (requires_grad, _, hooks)
        changes no value. Only the last (or nothing) is accepted."""
        if state is None or (isinstance(state, tuple) and len(state) == 3):
            return
        raise BadPickle("BUILD on a tensor with a state that would replace its data (legacy set_); refused")

    @property
    def numel(self) -> int:
        return shape_numel(self.shape)

    @property
    def extent(self) -> int:
        """Elements of the storage the view spans, starting at ``offset`` (0 for an empty tensor)."""
        if any(d == 0 for d in self.shape):
            return 0
        return 1 + sum((d - 1) * s for d, s in zip(self.shape, self.stride))
