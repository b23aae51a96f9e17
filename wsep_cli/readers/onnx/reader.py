"""ONNX reader: the graph is parsed without external data; one tensor is decoded on request.

Tensors are the graph's initializers and ``Constant`` node values, those of its sub-graphs (``If``
branches, ``Loop`` and ``Scan`` bodies) too, under the model-wide keys of
:mod:`wsep_cli.readers.onnx.scopes`. The file is parsed by wsep's own
bounded protobuf reader (:mod:`wsep_cli.readers.onnx.proto`), never by ``onnx``: opening a model
reads its metadata only, and ``load`` reads the one tensor asked for. External data is read by this
module itself: each location must resolve inside the model's folder (see
:mod:`wsep_cli.readers._paths`) and each offset/length must lie inside that file; every reference is
checked when the model is opened, before anything is read. ``hints()`` names the head the graph
itself feeds its output from (:mod:`wsep_cli.readers.onnx.head`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from wsep_cli.errors import UnreadableError, UnsafeError
from wsep_cli.readers.onnx.found import FoundHead
from wsep_cli.readers.onnx.quant import describe, dequantize
from wsep_cli.readers.onnx.head import not_weight_tensors, walk_graph
from wsep_cli.readers.onnx.weights import ONNX_DTYPE_NAMES, DerivedTensor, apply_shape, text
from wsep_cli.readers.onnx.values import STRING, decode_raw, decode_typed, raw_size
from wsep_cli.readers.onnx.proto import Attribute, Model, Node, Tensor, parse_model
from wsep_cli.readers.onnx.scopes import Flat, flatten
from wsep_cli.readers.onnx.wire import Source
from wsep_cli.readers._paths import resolve_inside
from wsep_cli.readers.base import HeadHint, Reader, TensorInfo

__all__ = ["OnnxReader"]

_EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL
_NP_FLOATS = ("float16", "float32", "float64")


def _load_model(path: Path) -> Model:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as e:
        raise UnreadableError(f"{path}: cannot be read ({e.strerror or e})") from e
    try:
        model = parse_model(Source(fd, os.fstat(fd).st_size))
    except UnreadableError as e:
        raise UnreadableError(f"{path}: not a readable ONNX model ({e})") from e
    except OSError as e:
        raise UnreadableError(f"{path}: cannot be read ({e.strerror or e})") from e
    finally:
        os.close(fd)
    if model.graph is None:
        raise UnreadableError(f"{path}: the ONNX model has no graph")
    return model


def _constant_tensor(node: Node) -> Tensor | None:
    """The value of a ``Constant`` node as a Tensor (sparse values are not supported)."""
    a: Attribute
    for a in node.attribute:
        if a.name == "value" and a.type == 4:
            return a.t if a.t is not None else Tensor()
        if a.name in ("value_float", "value_int"):
            if a.name == "value_float":
                return Tensor("value", [], 1, typed={4: [[np.float32(a.f).tobytes()]]})
            return Tensor("value", [], 7, typed={7: [[a.i]]})
        if a.name == "value_floats":
            return Tensor("value", [len(a.floats)], 1, typed={4: [[np.float32(f).tobytes() for f in a.floats]]})
        if a.name == "value_ints":
            return Tensor("value", [len(a.ints)], 7, typed={7: [list(a.ints)]})
    return None


@dataclass
class OnnxReader(Reader):
    """One ``.onnx`` model; external data only from files inside its folder."""

    format: ClassVar[str] = "onnx"
    _model: Model = field(default_factory=Model, init=False, repr=False)
    _flat: Flat = field(default_factory=Flat, init=False, repr=False)
    _protos: dict[str, Tensor] = field(default_factory=dict, init=False, repr=False)
    _infos: dict[str, TensorInfo] = field(default_factory=dict, init=False, repr=False)
    _heads: list[FoundHead] = field(default_factory=list, init=False, repr=False)
    _derived: dict[str, DerivedTensor] = field(default_factory=dict, init=False, repr=False)
    _stops: list[str] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self._model = _load_model(self.path)
        graph = self._model.graph
        assert graph is not None  # _load_model refuses a model without one
        try:
            self._flat = flatten(graph)
        except UnreadableError as e:
            raise UnreadableError(f"{self.path}: {e}") from e
        for s in self._flat.stored:
            value = s.tensor if s.node is None else _constant_tensor(s.node)
            if value is not None:
                self._add(s.key, value)
        self._check_external()
        walked = walk_graph(graph, self._infos, self._small_ints, self._flat)
        self._heads = [self._with_dequantized(h) for h in walked.heads]
        self._stops = walked.stops
        self._derived = {h.derived.name: h.derived for h in self._heads if h.derived is not None}

    def _with_dequantized(self, h: FoundHead) -> FoundHead:
        """Say in the hint what a quantised head was dequantised from (the JSON ``dequantized``)."""
        ops = [op for op in (h.derived.ops if h.derived is not None else ()) if op.kind == "dequantize"]
        if not ops or h.derived is None:
            return h
        op = ops[0]
        zero = self.load(op.zero_point) if op.zero_point else None
        info = describe(self._infos[h.derived.base].dtype, op, self.load(op.scale), zero)
        return replace(h, hint=replace(h.hint, dequantized=info))

    # -- tensors -------------------------------------------------------------------------------------
    def _add(self, name: str, t: Tensor) -> None:
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

    def locate_notes(self) -> list[str]:
        if self._heads or not self._stops:
            return []
        return ["the ONNX graph walk back to a head stopped " + "; ".join(self._stops)]

    def not_candidates(self) -> set[str]:
        return not_weight_tensors(self._flat.nodes, set(self._infos))

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
                elif op.kind == "dequantize":
                    zero = self.load(op.zero_point) if op.zero_point else None
                    arr = dequantize(arr, self.load(op.scale), zero, op.arg[0] if op.arg else None)
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

    def _decode(self, name: str, t: Tensor) -> np.ndarray:
        info = self._infos[name]
        if t.has_segment:
            raise UnreadableError(f"{self.path}: tensor {name!r} is stored in segments, which wsep does not read")
        try:
            expected = raw_size(t.data_type, info.numel)
        except UnreadableError as e:
            raise UnreadableError(f"{self.path}: tensor {name!r} has {e}") from e
        raw: bytes | None = None
        if t.data_location == _EXTERNAL:
            raw = self._read_external(name, t, expected)
        elif t.raw is not None and t.data_type != STRING:
            raw = self._read_raw(name, t.raw, expected)
        try:
            if raw is not None:
                return decode_raw(raw, t.data_type, info.shape)
            with self._source() as src:
                return decode_typed(src, t, info.shape)
        except Exception as e:  # noqa: BLE001 - numpy raises assorted errors on malformed tensors
            raise UnreadableError(f"{self.path}: tensor {name!r} cannot be decoded ({e})") from e

    def _read_raw(self, name: str, span: tuple[int, int], expected: int | None) -> bytes:
        info = self._infos[name]
        offset, length = span
        if expected is not None and length != expected:
            raise UnreadableError(
                f"{self.path}: tensor {name!r} holds {length} bytes but shape {info.shape} "
                f"{info.dtype} needs {expected}"
            )
        with self._source() as src:
            return src.read(offset, length)

    @contextmanager
    def _source(self) -> Iterator[Source]:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError as e:
            raise UnreadableError(f"{self.path}: cannot be read ({e.strerror or e})") from e
        try:
            yield Source(fd, os.fstat(fd).st_size)
        except OSError as e:
            raise UnreadableError(f"{self.path}: cannot be read ({e.strerror or e})") from e
        finally:
            os.close(fd)

    # -- external data -------------------------------------------------------------------------------
    def _external_ref(self, name: str, t: Tensor) -> tuple[Path, int, int | None]:
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

    def _read_external(self, name: str, t: Tensor, expected: int | None) -> bytes:
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
    out = apply_shape(tuple(shape), op)
    if out is None:
        raise ValueError(f"{op.kind} does not apply to shape {shape}")
    return out
