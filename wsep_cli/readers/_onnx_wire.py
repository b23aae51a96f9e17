"""A bounded protobuf wire-format reader for the parts of ``onnx.ModelProto`` that wsep needs.

``onnx.load`` costs 0.1-0.3 s of import time and holds the whole model, initializer bytes included,
in memory. This module reads the file through a small window with ``os.pread``: it walks the message
structure, keeps names, shapes, attributes and dtypes, and records every tensor payload (``raw_data``,
packed ``float_data``...) as an (offset, length) span into the file without reading it, so opening a
2 GB model costs O(metadata). Field numbers follow ``onnx.proto`` (onnx 1.23). Fields of the wrong
wire type and unknown fields are skipped, as protobuf does; packed and unpacked repeated scalars are
both accepted; a singular message field seen twice is merged (``graph``, ``AttributeProto.t``).

Every varint, length and offset is bounds-checked, nesting is fixed by the schema (groups at most
:data:`MAX_GROUP_DEPTH` deep), and message counts and string sizes are capped; any malformation
raises :class:`WireError` (a :class:`~wsep_cli.errors.UnreadableError`, exit 4). Sub-messages wsep
does not use (value types, functions, training info, sub-graphs) are skipped without validation.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

from wsep_cli.errors import UnreadableError

__all__ = [
    "WireError", "Source", "fields", "Entry", "OperatorSetId", "ValueInfo", "Tensor", "Attribute",
    "Node", "Graph", "Model", "parse_model", "parse_graph", "parse_tensor", "decode_varints",
    "storage_values", "TYPED_FIELDS", "MAX_GROUP_DEPTH",
]

VARINT, I64, LEN, SGROUP, EGROUP, I32 = 0, 1, 2, 3, 4, 5
WINDOW = 16 * 1024  # bytes read per window: metadata regions are dense, payloads are skipped
MAX_GROUP_DEPTH = 32
MAX_MESSAGES = 1_000_000  # nodes + attributes + tensors + ...: far above any real classifier graph
MAX_STRING = 1 << 20  # a name, op type or string attribute
MAX_LIST_BYTES = 1 << 20  # packed dims / attribute ints / floats
MAX_UNPACKED = 1 << 22  # tensor values stored as one field each (hand-made files only)
_MASK64 = (1 << 64) - 1


class WireError(UnreadableError):
    """The bytes are not a well-formed protobuf message (exit 4)."""


class Source:
    """Byte ranges of one file (or an in-memory blob), read through one cached window."""

    def __init__(self, fd: int | None, size: int, blob: bytes | None = None) -> None:
        self.fd, self.size = fd, size
        self._buf, self._base = (blob, 0) if blob is not None else (b"", 0)
        self._blob = blob is not None
        self.messages = 0

    @classmethod
    def from_bytes(cls, blob: bytes) -> "Source":
        return cls(None, len(blob), bytes(blob))

    def window(self, pos: int) -> tuple[bytes, int]:
        """(buffer, file offset of its first byte) covering at least 64 bytes from ``pos`` or EOF."""
        buf, base = self._buf, self._base
        if self._blob or (base <= pos and pos + 64 <= base + len(buf)) or base + len(buf) == self.size > pos >= base:
            return buf, base
        assert self.fd is not None
        buf = os.pread(self.fd, min(WINDOW, self.size - pos), pos)
        self._buf, self._base = buf, pos
        return buf, pos

    def read(self, pos: int, n: int) -> bytes:
        """Exactly ``n`` bytes at ``pos`` (from the window when it holds them)."""
        buf, base = self._buf, self._base
        if base <= pos and pos + n <= base + len(buf):
            return buf[pos - base:pos - base + n]
        if self.fd is None or pos < 0 or pos + n > self.size:
            raise WireError(f"bytes {pos}..{pos + n} lie outside the {self.size}-byte file")
        data = os.pread(self.fd, n, pos)
        if len(data) != n:
            raise WireError(f"the file ended at byte {pos + len(data)} while {pos + n} were expected")
        return data

    def count(self) -> None:
        self.messages += 1
        if self.messages > MAX_MESSAGES:
            raise WireError(f"the model holds more than {MAX_MESSAGES} messages; refusing to parse it")


def _varint(buf: bytes, off: int, lim: int) -> tuple[int, int]:
    if off >= lim:
        raise WireError("a varint runs past the end of its message")
    b = buf[off]
    if b < 0x80:
        return b, off + 1
    result, shift = b & 0x7F, 7
    off += 1
    while True:
        if off >= lim or shift > 63:
            raise WireError("a varint is truncated or longer than 10 bytes")
        b = buf[off]
        off += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result & _MASK64, off
        shift += 7


def fields(src: Source, start: int, end: int):  # type: ignore[no-untyped-def]
    """Yield ``(number, wire, a, b)`` for each field of the message in ``[start, end)``.

    VARINT: ``a`` = value. I32/I64: ``a`` = the raw 4/8 bytes. LEN: ``a`` = offset, ``b`` = length.
    Groups (deprecated, never in ONNX) are skipped; unmatched group ends raise :class:`WireError`.
    """
    buf, base = src.window(start) if start < end else (b"", start)
    pos, groups = start, []
    while pos < end:
        if pos - base + 24 > len(buf) and base + len(buf) < end:
            buf, base = src.window(pos)
        off, lim = pos - base, min(len(buf), end - base)
        key, off = _varint(buf, off, lim)
        num, wire = key >> 3, key & 7
        if num == 0 or key > 0xFFFFFFFF:
            raise WireError(f"invalid field tag {key} at byte {pos}")
        if wire == VARINT:
            value, off = _varint(buf, off, lim)
            pos = base + off
            if not groups:
                yield num, wire, value, 0
        elif wire in (I32, I64):
            width = 4 if wire == I32 else 8
            if off + width > lim:
                raise WireError(f"a fixed-width field runs past the end of its message at byte {pos}")
            pos = base + off + width
            if not groups:
                yield num, wire, buf[off:off + width], 0
        elif wire == LEN:
            n, off = _varint(buf, off, lim)
            at = base + off
            if n > end - at:
                raise WireError(f"field {num} at byte {pos} claims {n} bytes; its message has {end - at} left")
            pos = at + n
            if not groups:
                yield num, wire, at, n
        elif wire == SGROUP:
            if len(groups) >= MAX_GROUP_DEPTH:
                raise WireError(f"groups nested more than {MAX_GROUP_DEPTH} deep at byte {pos}")
            groups.append(num)
            pos = base + off
        elif wire == EGROUP and groups and groups[-1] == num:
            groups.pop()
            pos = base + off
        else:
            raise WireError(f"invalid wire type {wire} (field {num}) at byte {pos}")
    if groups or pos != end:
        raise WireError(f"a message ends inside a group or field at byte {pos}")


def _int64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _int32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def _text(src: Source, at: int, n: int) -> str:
    if n > MAX_STRING:
        raise WireError(f"a {n}-byte name or string at byte {at} is longer than {MAX_STRING} bytes")
    return src.read(at, n).decode("utf-8", errors="backslashreplace")


def _packed_ints(src: Source, at: int, n: int) -> list[int]:
    if n > MAX_LIST_BYTES:
        raise WireError(f"a {n}-byte packed list at byte {at} is longer than {MAX_LIST_BYTES} bytes")
    data, off, out = src.read(at, n), 0, []
    while off < n:
        v, off = _varint(data, off, n)
        out.append(_int64(v))
    return out


def _packed_floats(src: Source, at: int, n: int) -> list[float]:
    if n > MAX_LIST_BYTES or n % 4:
        raise WireError(f"a packed float list at byte {at} has {n} bytes (not a multiple of 4, or too long)")
    return list(struct.unpack(f"<{n // 4}f", src.read(at, n)))


@dataclass
class Entry:
    """StringStringEntryProto."""

    key: str = ""
    value: str = ""


@dataclass
class OperatorSetId:
    domain: str = ""
    version: int = 0


@dataclass
class ValueInfo:
    """ValueInfoProto: its name only (types are skipped)."""

    name: str = ""


# TensorProto storage fields -> the wire type of one element when unpacked
TYPED_FIELDS = {4: I32, 5: VARINT, 7: VARINT, 10: I64, 11: VARINT}


@dataclass
class Tensor:
    """TensorProto metadata; payloads stay in the file as spans.

    ``raw``: (offset, length) of ``raw_data`` or None. ``typed[f]``: parts of storage field ``f``
    (4 float_data, 5 int32_data, 7 int64_data, 10 double_data, 11 uint64_data), each a packed span
    ``(offset, length)`` or a list of unpacked elements (ints, or 4/8 raw bytes). ``inline``: values
    made by wsep itself (``Constant`` ``value_float``...), as (field, list) in storage form.
    """

    name: str = ""
    dims: list[int] = field(default_factory=list)
    data_type: int = 0
    data_location: int = 0
    external_data: list[Entry] = field(default_factory=list)
    raw: tuple[int, int] | None = None
    typed: dict[int, list[tuple[int, int] | list]] = field(default_factory=dict)  # type: ignore[type-arg]
    string_data: list[tuple[int, int]] = field(default_factory=list)
    has_segment: bool = False
    unpacked: int = 0


@dataclass
class Attribute:
    name: str = ""
    type: int = 0
    f: float = 0.0
    i: int = 0
    s: bytes = b""
    t: Tensor | None = None
    floats: list[float] = field(default_factory=list)
    ints: list[int] = field(default_factory=list)


@dataclass
class Node:
    input: list[str] = field(default_factory=list)
    output: list[str] = field(default_factory=list)
    name: str = ""
    op_type: str = ""
    domain: str = ""
    attribute: list[Attribute] = field(default_factory=list)


@dataclass
class Graph:
    node: list[Node] = field(default_factory=list)
    name: str = ""
    initializer: list[Tensor] = field(default_factory=list)
    input: list[ValueInfo] = field(default_factory=list)
    output: list[ValueInfo] = field(default_factory=list)
    value_info: list[ValueInfo] = field(default_factory=list)


@dataclass
class Model:
    ir_version: int = 0
    producer_name: str = ""
    producer_version: str = ""
    domain: str = ""
    model_version: int = 0
    graph: Graph | None = None
    opset_import: list[OperatorSetId] = field(default_factory=list)
    metadata_props: list[Entry] = field(default_factory=list)


def _entry(src: Source, at: int, n: int) -> Entry:
    src.count()
    e = Entry()
    for num, wire, a, b in fields(src, at, at + n):
        if num == 1 and wire == LEN:
            e.key = _text(src, a, b)
        elif num == 2 and wire == LEN:
            e.value = _text(src, a, b)
    return e


def _named(src: Source, at: int, n: int) -> ValueInfo:
    src.count()
    v = ValueInfo()
    for num, wire, a, b in fields(src, at, at + n):
        if num == 1 and wire == LEN:
            v.name = _text(src, a, b)
    return v


def parse_tensor(src: Source, spans: list[tuple[int, int]]) -> Tensor:
    """TensorProto from one or more (merged) byte spans."""
    src.count()
    t = Tensor()
    for at, n in spans:
        for num, wire, a, b in fields(src, at, at + n):
            if num in TYPED_FIELDS and wire in (LEN, TYPED_FIELDS[num]):
                parts = t.typed.setdefault(num, [])
                if wire == LEN:
                    parts.append((a, b))
                    continue
                t.unpacked += 1
                if t.unpacked > MAX_UNPACKED:
                    raise WireError(f"tensor {t.name!r} stores more than {MAX_UNPACKED} unpacked values")
                if not parts or isinstance(parts[-1], tuple):
                    parts.append([])
                parts[-1].append(a)  # type: ignore[union-attr]
            elif num == 1 and wire == VARINT:
                t.dims.append(_int64(a))
            elif num == 1 and wire == LEN:
                t.dims.extend(_packed_ints(src, a, b))
            elif num == 2 and wire == VARINT:
                t.data_type = _int32(a)
            elif num == 3 and wire == LEN:
                t.has_segment = True
            elif num == 6 and wire == LEN:
                t.string_data.append((a, b))
            elif num == 8 and wire == LEN:
                t.name = _text(src, a, b)
            elif num == 9 and wire == LEN:
                t.raw = (a, b)
            elif num == 13 and wire == LEN:
                t.external_data.append(_entry(src, a, b))
            elif num == 14 and wire == VARINT and a in (0, 1):  # a closed enum: other values are dropped
                t.data_location = a
    if len(t.dims) > 4096:
        raise WireError(f"tensor {t.name!r} has {len(t.dims)} dimensions")
    return t


def _attribute(src: Source, at: int, n: int) -> Attribute:
    src.count()
    attr, t_spans = Attribute(), []
    for num, wire, a, b in fields(src, at, at + n):
        if num == 1 and wire == LEN:
            attr.name = _text(src, a, b)
        elif num == 20 and wire == VARINT and a <= 14:  # AttributeType, a closed enum
            attr.type = a
        elif num == 2 and wire == I32:
            attr.f = struct.unpack("<f", a)[0]
        elif num == 3 and wire == VARINT:
            attr.i = _int64(a)
        elif num == 4 and wire == LEN:
            attr.s = src.read(a, b) if b <= MAX_STRING else b""
        elif num == 5 and wire == LEN:
            t_spans.append((a, b))
        elif num == 7 and wire == I32:
            attr.floats.append(struct.unpack("<f", a)[0])
        elif num == 7 and wire == LEN:
            attr.floats.extend(_packed_floats(src, a, b))
        elif num == 8 and wire == VARINT:
            attr.ints.append(_int64(a))
        elif num == 8 and wire == LEN:
            attr.ints.extend(_packed_ints(src, a, b))
        if len(attr.floats) + len(attr.ints) > MAX_LIST_BYTES:
            raise WireError(f"attribute {attr.name!r} holds more than {MAX_LIST_BYTES} values")
    if t_spans:
        attr.t = parse_tensor(src, t_spans)
    return attr


def _node(src: Source, at: int, n: int) -> Node:
    src.count()
    node = Node()
    for num, wire, a, b in fields(src, at, at + n):
        if wire != LEN:
            continue
        if num == 1:
            node.input.append(_text(src, a, b))
        elif num == 2:
            node.output.append(_text(src, a, b))
        elif num == 3:
            node.name = _text(src, a, b)
        elif num == 4:
            node.op_type = _text(src, a, b)
        elif num == 7:
            node.domain = _text(src, a, b)
        elif num == 5:
            node.attribute.append(_attribute(src, a, b))
    return node


def parse_graph(src: Source, spans: list[tuple[int, int]]) -> Graph:
    """GraphProto from one or more (merged) byte spans; sub-graphs and types are not read."""
    src.count()
    g = Graph()
    lists = {11: g.input, 12: g.output, 13: g.value_info}
    for at, n in spans:
        for num, wire, a, b in fields(src, at, at + n):
            if wire != LEN:
                continue
            if num == 1:
                g.node.append(_node(src, a, b))
            elif num == 5:
                g.initializer.append(parse_tensor(src, [(a, b)]))
            elif num in lists:
                lists[num].append(_named(src, a, b))
            elif num == 2:
                g.name = _text(src, a, b)
    return g


def parse_model(src: Source) -> Model:
    """The ModelProto that fills ``src`` (a whole file); raises :class:`WireError` when malformed."""
    m, graph_spans = Model(), []
    for num, wire, a, b in fields(src, 0, src.size):
        if wire == VARINT and num in (1, 5):
            setattr(m, "ir_version" if num == 1 else "model_version", _int64(a))
        elif wire != LEN:
            continue
        elif num == 7:
            graph_spans.append((a, b))
        elif num == 8:
            src.count()
            o = OperatorSetId()
            for n2, w2, a2, b2 in fields(src, a, a + b):
                if n2 == 1 and w2 == LEN:
                    o.domain = _text(src, a2, b2)
                elif n2 == 2 and w2 == VARINT:
                    o.version = _int64(a2)
            m.opset_import.append(o)
        elif num == 14:
            m.metadata_props.append(_entry(src, a, b))
        elif num in (2, 3, 4):
            setattr(m, {2: "producer_name", 3: "producer_version", 4: "domain"}[num], _text(src, a, b))
    if graph_spans:
        m.graph = parse_graph(src, graph_spans)
    return m


# --------------------------------------------------------------------------- tensor payloads
_STORAGE = {4: "<f4", 5: "<i4", 7: "<i8", 10: "<f8", 11: "<u8"}
_CHUNK = 4 << 20


def decode_varints(data: bytes) -> "np.ndarray":
    """Every varint in ``data`` (a packed field) as uint64, vectorised; raises when one is cut off."""
    import numpy as np

    a = np.frombuffer(data, dtype=np.uint8)
    if a.size == 0:
        return np.zeros(0, np.uint64)
    if a[-1] & 0x80:
        raise WireError("a packed varint list ends inside a varint")
    ends = np.flatnonzero(a < 0x80)
    starts = np.concatenate(([0], ends[:-1] + 1))
    lengths = ends - starts + 1
    if int(lengths.max()) > 10:
        raise WireError("a packed varint is longer than 10 bytes")
    shift = (np.arange(a.size, dtype=np.int64) - np.repeat(starts, lengths)) * 7
    vals = (a & 0x7F).astype(np.uint64) << shift.astype(np.uint64)
    return np.add.reduceat(vals, starts)


def _packed(src: Source, field_no: int, at: int, n: int) -> "np.ndarray":
    import numpy as np

    if field_no in (4, 10):  # fixed width
        width = 4 if field_no == 4 else 8
        if n % width:
            raise WireError(f"a packed field of {n} bytes at byte {at} is not a multiple of {width}")
        return np.frombuffer(src.read(at, n), dtype=_STORAGE[field_no])
    pieces, pos, end = [], at, at + n
    while pos < end:  # chunked, so a large list never needs 8x its size in temporaries
        data = src.read(pos, min(_CHUNK, end - pos))
        if pos + len(data) < end:
            ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) < 0x80)
            if ends.size == 0:
                raise WireError("a packed varint is longer than 10 bytes")
            data = data[:int(ends[-1]) + 1]
        pieces.append(decode_varints(data))
        pos += len(data)
    return np.concatenate(pieces) if pieces else np.zeros(0, np.uint64)


def storage_values(src: Source, t: Tensor, field_no: int) -> "np.ndarray":
    """The values of storage field ``field_no`` of ``t`` in its protobuf type (int32 truncated)."""
    import numpy as np

    out = []
    for part in t.typed.get(field_no, []):
        if isinstance(part, tuple):
            out.append(_packed(src, field_no, *part))
        elif field_no in (4, 10):
            out.append(np.frombuffer(b"".join(part), dtype=_STORAGE[field_no]))
        else:
            out.append(np.array([v & _MASK64 for v in part], dtype=np.uint64))
    arr = np.concatenate(out) if out else np.zeros(0, _STORAGE[field_no])
    if field_no == 5:
        return arr.astype(np.uint64).astype(np.uint32).view(np.int32)
    if field_no == 7:
        return arr.astype(np.uint64).view(np.int64)
    return arr.astype(_STORAGE[field_no], copy=False)

