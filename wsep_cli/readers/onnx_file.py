"""ONNX reader: the graph is parsed without external data; one tensor is decoded on request.

Tensors are the graph's initializers and ``Constant`` node values. External data is read by this
module itself, never by ``onnx``: each location must resolve inside the model's folder (see
:mod:`wsep_cli.readers._paths`) and each offset/length must lie inside that file; every reference is
checked when the model is opened, before anything is read. ``hints()`` names the head the graph
itself feeds its output from (:mod:`wsep_cli.readers._onnx_head`). ``onnx`` is imported lazily.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from wsep_cli.errors import UnreadableError, UnsafeError
from wsep_cli.readers._onnx_head import ONNX_DTYPE_NAMES, DerivedTensor, FoundHead, find_heads, text
from wsep_cli.readers._paths import resolve_inside
from wsep_cli.readers.base import HeadHint, Reader, TensorInfo
from wsep_cli.readers.safetensors_file import bf16_to_float32

if TYPE_CHECKING:
    from onnx import ModelProto, TensorProto

__all__ = ["OnnxReader"]

_EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL
_BF16 = 16
_SUB_BYTE = {21, 22, 23}  # uint4, int4, float4e2m1: two values per byte
_STRING = 8
_NP_FLOATS = ("float16", "float32", "float64")


def _load_model(path: Path) -> "ModelProto":
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # noqa: BLE001 - protobuf raises DecodeError, RuntimeError, ValueError...
        raise UnreadableError(f"{path}: not a readable ONNX model ({type(e).__name__}: {e})") from e
    if not model.HasField("graph"):
        raise UnreadableError(f"{path}: the ONNX model has no graph")
    return model


def _constant_tensor(node: Any) -> "TensorProto | None":
    """The value of a ``Constant`` node as a TensorProto (sparse values are not supported)."""
    from onnx import helper

    for a in node.attribute:
        name = text(a.name)
        if name == "value" and a.type == 4:
            return a.t
        if name in ("value_float", "value_int"):
            dt = 1 if name == "value_float" else 7
            return helper.make_tensor("value", dt, [], [a.f if dt == 1 else a.i])
        if name in ("value_floats", "value_ints"):
            vals = list(a.floats) if name == "value_floats" else list(a.ints)
            return helper.make_tensor("value", 1 if name == "value_floats" else 7, [len(vals)], vals)
    return None


def _byte_size(name: str, t: "TensorProto", numel: int) -> int | None:
    """Bytes the tensor's raw data must hold (None for strings, which have no raw form)."""
    if t.data_type == _STRING:
        return None
    if t.data_type in _SUB_BYTE:
        return (numel + 1) // 2
    from onnx import helper

    try:
        return numel * np.dtype(helper.tensor_dtype_to_np_dtype(t.data_type)).itemsize
    except (KeyError, TypeError, ValueError) as e:
        raise UnreadableError(f"tensor {name!r} has unknown data type {t.data_type}") from e


@dataclass
class OnnxReader(Reader):
    """One ``.onnx`` model; external data only from files inside its folder."""

    format: ClassVar[str] = "onnx"
    _model: Any = field(default=None, init=False, repr=False)
    _protos: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _infos: dict[str, TensorInfo] = field(default_factory=dict, init=False, repr=False)
    _heads: list[FoundHead] = field(default_factory=list, init=False, repr=False)
    _derived: dict[str, DerivedTensor] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self._model = _load_model(self.path)
        graph = self._model.graph
        for t in graph.initializer:
            self._add(text(t.name), t)
        for node in graph.node:
            if text(node.op_type) == "Constant" and text(node.domain) in ("", "ai.onnx") and node.output:
                value = _constant_tensor(node)
                if value is not None:
                    self._add(text(node.output[0]), value)
        self._check_external()
        self._heads = find_heads(graph, self._infos, self._small_ints)
        self._derived = {h.derived.name: h.derived for h in self._heads if h.derived is not None}

    # -- tensors -------------------------------------------------------------------------------------
    def _add(self, name: str, t: "TensorProto") -> None:
        if name in self._protos:
            return
        dims = tuple(int(d) for d in t.dims)
        if any(d < 0 for d in dims):
            raise UnreadableError(f"{self.path}: tensor {name!r} has a negative dimension {dims}")
        dtype = ONNX_DTYPE_NAMES.get(t.data_type, f"onnx-type-{t.data_type}")
        self._protos[name] = t
        self._infos[name] = TensorInfo(name=name, shape=dims, dtype=dtype)

    def tensors(self) -> list[TensorInfo]:
        derived = [TensorInfo(d.name, d.shape, d.dtype) for d in self._derived.values()]
        return list(self._infos.values()) + derived

    def hints(self) -> list[HeadHint]:
        return [h.hint for h in self._heads]

    def metadata(self) -> dict[str, str]:
        m = self._model
        meta = {text(p.key): text(p.value) for p in m.metadata_props}
        meta.pop("arch", None)  # the graph names the head; don't send ONNX metadata to timm
        meta.update(
            producer=f"{text(m.producer_name)} {text(m.producer_version)}".strip(),
            opset=",".join(f"{text(o.domain) or 'ai.onnx'}:{o.version}" for o in m.opset_import),
        )
        return meta

    def load(self, name: str) -> np.ndarray:
        if name in self._derived:
            return self._load_derived(self._derived[name])
        t = self._protos.get(name)
        if t is None:
            raise UnreadableError(f"{self.path}: no tensor named {name!r}")
        return self._decode(name, t)

    def _load_derived(self, d: DerivedTensor) -> np.ndarray:
        arr = self.load(d.base)
        try:
            for op in d.ops:
                if op.kind == "transpose":
                    arr = np.transpose(arr, op.arg)
                elif op.kind in ("reshape", "flatten", "squeeze", "unsqueeze"):
                    arr = arr.reshape(_shape_after(arr.shape, op))
                elif op.kind == "cast" and op.arg and ONNX_DTYPE_NAMES.get(op.arg[0]) in _NP_FLOATS:
                    arr = arr.astype(ONNX_DTYPE_NAMES[op.arg[0]])  # bfloat16 stays float32 (lossless)
        except ValueError as e:
            raise UnreadableError(f"{self.path}: cannot rebuild head weight {d.name!r} ({e})") from e
        return np.ascontiguousarray(arr)

    def _small_ints(self, name: str) -> tuple[int, ...] | None:
        """Values of a small integer constant (a Reshape target), for head finding."""
        info = self._infos.get(name)
        if info is None or info.dtype not in ("int64", "int32") or info.numel > 16:
            return None
        try:
            return tuple(int(v) for v in self.load(name).reshape(-1))
        except UnreadableError:
            return None

    def _decode(self, name: str, t: "TensorProto") -> np.ndarray:
        from onnx import numpy_helper

        info = self._infos[name]
        expected = _byte_size(name, t, info.numel)
        if t.data_location == _EXTERNAL:
            raw = self._read_external(name, t, expected)
        elif t.HasField("raw_data"):
            raw = t.raw_data
            if expected is not None and len(raw) != expected:
                raise UnreadableError(
                    f"{self.path}: tensor {name!r} holds {len(raw)} bytes but shape {info.shape} "
                    f"{info.dtype} needs {expected}"
                )
        else:
            return self._decode_typed(name, t)
        if t.data_type == _BF16:
            return bf16_to_float32(np.frombuffer(raw, dtype="<u2")).reshape(info.shape)
        plain = type(t)()
        plain.CopyFrom(t)
        del plain.external_data[:]
        plain.data_location = 0
        plain.raw_data = raw
        try:
            return numpy_helper.to_array(plain)
        except Exception as e:  # noqa: BLE001 - onnx raises assorted errors on malformed tensors
            raise UnreadableError(f"{self.path}: tensor {name!r} cannot be decoded ({e})") from e

    def _decode_typed(self, name: str, t: "TensorProto") -> np.ndarray:
        from onnx import numpy_helper

        info = self._infos[name]
        stored = len(t.float_data) + len(t.int32_data) + len(t.int64_data) + len(t.double_data)
        stored += len(t.uint64_data) + len(t.string_data)
        if stored * 2 < info.numel:  # complex values take two slots, 4-bit types pack two per slot
            raise UnreadableError(f"{self.path}: tensor {name!r} holds {stored} values for shape {info.shape}")
        if t.data_type == _BF16:
            bits = np.asarray(t.int32_data, dtype=np.uint32).astype(np.uint16)
            if bits.size != info.numel:
                raise UnreadableError(f"{self.path}: tensor {name!r} holds {bits.size} values for shape {info.shape}")
            return bf16_to_float32(bits).reshape(info.shape)
        try:
            return numpy_helper.to_array(t)
        except Exception as e:  # noqa: BLE001
            raise UnreadableError(f"{self.path}: tensor {name!r} cannot be decoded ({e})") from e

    # -- external data -------------------------------------------------------------------------------
    def _external_ref(self, name: str, t: "TensorProto") -> tuple[Path, int, int | None]:
        """(real file, offset, length or None) of an external tensor, refusing any escape."""
        ref = {text(e.key): text(e.value) for e in t.external_data}
        file = resolve_inside(self.path.parent, ref.get("location"), what=f"ONNX external data of {name!r}")
        try:
            offset = int(ref.get("offset") or 0)
            length = int(ref["length"]) if ref.get("length") not in (None, "") else None
        except ValueError as e:
            raise UnreadableError(f"{self.path}: tensor {name!r} has a non-integer offset/length") from e
        size = os.stat(file).st_size
        end = size if length is None else offset + length
        if offset < 0 or (length is not None and length < 0) or end > size or offset > size:
            raise UnsafeError(
                f"{self.path}: external data of {name!r} asks for bytes {offset}..{end} of "
                f"{file.name}, which has {size}; refusing to read past the end"
            )
        return file, offset, length

    def _check_external(self) -> None:
        for name, t in self._protos.items():
            if t.data_location == _EXTERNAL:
                self._external_ref(name, t)

    def _read_external(self, name: str, t: "TensorProto", expected: int | None) -> bytes:
        file, offset, length = self._external_ref(name, t)
        if expected is None or (length is not None and length != expected):
            raise UnreadableError(
                f"{self.path}: external data of {name!r} is {length} bytes but its shape needs {expected}"
            )
        with open(file, "rb") as fh:
            fh.seek(offset)
            raw = fh.read(expected)
        if len(raw) != expected:
            raise UnreadableError(f"{self.path}: external data of {name!r} is truncated")
        return raw


def _shape_after(shape: tuple[int, ...], op: Any) -> tuple[int, ...]:
    from wsep_cli.readers._onnx_head import apply_shape

    out = apply_shape(tuple(shape), op)
    if out is None:
        raise ValueError(f"{op.kind} does not apply to shape {shape}")
    return out
