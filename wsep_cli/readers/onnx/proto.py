"""The parts of ``onnx.ModelProto`` that wsep needs, parsed with :mod:`wsep_cli.readers.onnx.wire`.

Field numbers follow ``onnx.proto`` (onnx 1.23). Names, shapes, dtypes, nodes and attributes are
read; every tensor payload (``raw_data``, packed ``float_data``...) stays in the file as an
(offset, length) span until :func:`storage_values` or the reader asks for it. As in protobuf,
fields of an unexpected wire type and unknown fields are skipped, packed and unpacked repeated
scalars are both accepted, a scalar seen twice keeps its last value and a singular message seen twice
is merged (``graph``, ``AttributeProto.t`` and ``g``). Sub-graphs (``If`` branches, ``Loop`` and
``Scan`` bodies: attributes of type GRAPH / GRAPHS) are parsed like the main graph, nested at most
:data:`MAX_SUBGRAPH_DEPTH` deep. Sub-messages wsep does not use (value types, functions, training
info) are skipped without being validated. The records live in
:mod:`wsep_cli.readers.onnx.proto_types`. Never imports ``onnx``.
"""

from __future__ import annotations

import struct
import sys
from typing import TYPE_CHECKING

from wsep_cli.errors import UnreadableError
from wsep_cli.readers.onnx.proto_types import (
    TYPED_FIELDS, Attribute, Entry, Graph, Model, Node, OperatorSetId, Tensor, ValueInfo,
)
from wsep_cli.readers.onnx.wire import (
    I32, LEN, MASK64, MAX_LIST_BYTES, MAX_STRING, MAX_UNPACKED, STORAGE, VARINT, Source, WireError,
    fields, int32, int64, packed_floats, packed_ints, packed_values, text,
)

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "Entry", "OperatorSetId", "ValueInfo", "Tensor", "Attribute", "Node", "Graph", "Model",
    "parse_model", "parse_graph", "parse_tensor", "storage_values", "TYPED_FIELDS", "MAX_SUBGRAPH_DEPTH",
    "GRAPH", "GRAPHS", "deep_error", "MAX_NODES",
]

MAX_SUBGRAPH_DEPTH = 8  # If inside If inside Loop ...: real exports nest two or three levels
GRAPH, GRAPHS = 5, 10  # AttributeProto.AttributeType
# Far above any classifier graph (a large ViT or a 7B-parameter language model exports 5,000-30,000
# nodes); a graph with more is refused (parsing one node costs ~5 us and ~400 bytes in Python).
MAX_NODES = 100_000


def deep_error() -> UnreadableError:
    return UnreadableError(f"ONNX subgraphs nested deeper than {MAX_SUBGRAPH_DEPTH} levels; refusing to read them")


def _strings(src: Source, at: int, n: int, names: dict[int, str], into: object) -> None:
    """Set the string fields ``names`` (field number -> attribute) of ``into`` from one message."""
    src.count()
    for num, wire, a, b, d in fields(src, at, at + n):
        if num in names and wire == LEN:
            setattr(into, names[num], text(src, a, b, d))


def _entry(src: Source, at: int, n: int) -> Entry:
    e = Entry()
    _strings(src, at, n, {1: "key", 2: "value"}, e)
    return e


def _named(src: Source, at: int, n: int) -> ValueInfo:
    v = ValueInfo()
    _strings(src, at, n, {1: "name"}, v)
    return v


def parse_tensor(src: Source, spans: list[tuple[int, int]]) -> Tensor:
    """TensorProto from one or more (merged) byte spans."""
    src.count()
    t = Tensor()
    for at, n in spans:
        for num, wire, a, b, d in fields(src, at, at + n):
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
                t.dims.append(int64(a))
            elif num == 1 and wire == LEN:
                t.dims.extend(packed_ints(src, a, b))
            elif num == 2 and wire == VARINT:
                t.data_type = int32(a)
            elif num == 3 and wire == LEN:
                t.has_segment = True
            elif num == 6 and wire == LEN:
                t.string_data.append((a, b))
            elif num == 8 and wire == LEN:
                t.name = text(src, a, b, d)
            elif num == 9 and wire == LEN:
                t.raw = (a, b)
            elif num == 13 and wire == LEN:
                t.external_data.append(_entry(src, a, b))
            elif num == 14 and wire == VARINT and a in (0, 1):  # a closed enum: other values are dropped
                t.data_location = a
    if len(t.dims) > 4096:
        raise WireError(f"tensor {t.name!r} has {len(t.dims)} dimensions")
    return t


def _attribute(src: Source, at: int, n: int, depth: int) -> Attribute:
    src.count()
    attr, t_spans, g_spans, graph_spans = Attribute(), [], [], []
    for num, wire, a, b, d in fields(src, at, at + n):
        if num == 1 and wire == LEN:
            attr.name = text(src, a, b, d)
        elif num == 20 and wire == VARINT and a <= 14:  # AttributeType, a closed enum
            attr.type = a
        elif num == 2 and wire == I32:
            attr.f = struct.unpack("<f", a)[0]
        elif num == 3 and wire == VARINT:
            attr.i = int64(a)
        elif num == 4 and wire == LEN:
            attr.s = src.read(a, b) if b <= MAX_STRING else b""
        elif num == 5 and wire == LEN:
            t_spans.append((a, b))
        elif num == 6 and wire == LEN:
            g_spans.append((a, b))
        elif num == 11 and wire == LEN:
            graph_spans.append((a, b))
        elif num == 7 and wire == I32:
            attr.floats.append(struct.unpack("<f", a)[0])
        elif num == 7 and wire == LEN:
            attr.floats.extend(packed_floats(src, a, b))
        elif num == 8 and wire == VARINT:
            attr.ints.append(int64(a))
        elif num == 8 and wire == LEN:
            attr.ints.extend(packed_ints(src, a, b))
        if len(attr.floats) + len(attr.ints) > MAX_LIST_BYTES:
            raise WireError(f"attribute {attr.name!r} holds more than {MAX_LIST_BYTES} values")
    if t_spans:
        attr.t = parse_tensor(src, t_spans)
    if attr.type == GRAPH and g_spans:
        attr.g = parse_graph(src, g_spans, depth + 1)
    elif attr.type == GRAPHS:
        attr.graphs = [parse_graph(src, [span], depth + 1) for span in graph_spans]
    return attr


_NO_ATTRIBUTES: tuple[()] = ()  # shared by every node without attributes (most of a large graph)


def _node_fast(src: Source, at: int, n: int, data: bytes, names: dict[str, str], depth: int) -> Node | None:
    """A NodeProto from its bytes when they are in hand and every field is length-delimited with a
    one-byte tag (what every writer emits); None sends the node to :func:`_node` (same result, and
    the same errors for a malformed one). Tensor names are shared through ``names``: a name is an
    output once and an input once or more, so a large graph holds each name once."""
    inputs: list[str] = []
    outputs: list[str] = []
    name = op_type = domain = ""
    attributes: list[Attribute] | tuple[()] = _NO_ATTRIBUTES
    i = 0
    while i < n:
        key = data[i]
        if key & 7 != LEN or key < 8 or key >= 0x80 or i + 1 >= n:
            return None
        size = data[i + 1]
        i += 2
        if size >= 0x80:
            if i >= n or data[i] >= 0x80:
                return None
            size = (size & 0x7F) | (data[i] << 7)
            i += 1
        if size > n - i:
            return None
        num = key >> 3
        if num == 1 or num == 2:
            t = data[i:i + size].decode("utf-8", errors="backslashreplace")
            (inputs if num == 1 else outputs).append(names.setdefault(t, t))
        elif num == 4:
            op_type = sys.intern(data[i:i + size].decode("utf-8", errors="backslashreplace"))
        elif num == 3:
            name = data[i:i + size].decode("utf-8", errors="backslashreplace")
        elif num == 7:
            domain = sys.intern(data[i:i + size].decode("utf-8", errors="backslashreplace"))
        elif num == 5:
            if not attributes:
                attributes = []
            attributes.append(_attribute(src, at + i, size, depth))  # type: ignore[union-attr]
        i += size
    src.count()
    return Node(inputs, outputs, name, op_type, domain, attributes)  # type: ignore[arg-type]


def _node(src: Source, at: int, n: int, depth: int) -> Node:
    src.count()
    node = Node()
    for num, wire, a, b, d in fields(src, at, at + n):
        if wire != LEN:
            continue
        if num == 1:
            node.input.append(text(src, a, b, d))
        elif num == 2:
            node.output.append(text(src, a, b, d))
        elif num == 3:
            node.name = text(src, a, b, d)
        elif num == 4:
            node.op_type = text(src, a, b, d)
        elif num == 7:
            node.domain = text(src, a, b, d)
        elif num == 5:
            node.attribute.append(_attribute(src, a, b, depth))
    return node


def parse_graph(src: Source, spans: list[tuple[int, int]], depth: int = 0) -> Graph:
    """GraphProto from one or more (merged) byte spans, its sub-graphs too (``depth``: how deep this
    one is nested; 0 for the model's graph); value types are not read."""
    if depth > MAX_SUBGRAPH_DEPTH:
        raise deep_error()
    src.count()
    g = Graph()
    lists = {11: g.input, 12: g.output, 13: g.value_info}
    names: dict[str, str] = {}
    for at, n in spans:
        for num, wire, a, b, d in fields(src, at, at + n):
            if wire != LEN:
                continue
            if num == 1:
                if len(g.node) >= MAX_NODES:
                    raise WireError(f"the graph holds more than {MAX_NODES} nodes; refusing to parse it")
                node = _node_fast(src, a, b, d, names, depth) if d is not None else None
                g.node.append(node if node is not None else _node(src, a, b, depth))
            elif num == 5:
                g.initializer.append(parse_tensor(src, [(a, b)]))
            elif num in lists:
                lists[num].append(_named(src, a, b))
            elif num == 2:
                g.name = text(src, a, b, d)
    return g


def parse_model(src: Source) -> Model:
    """The ModelProto that fills ``src`` (a whole file); raises :class:`WireError` when malformed."""
    m, graph_spans = Model(), []
    for num, wire, a, b, d in fields(src, 0, src.size):
        if wire == VARINT and num in (1, 5):
            setattr(m, "ir_version" if num == 1 else "model_version", int64(a))
        elif wire != LEN:
            continue
        elif num == 7:
            graph_spans.append((a, b))
        elif num == 8:
            src.count()
            o = OperatorSetId()
            for n2, w2, a2, b2, d2 in fields(src, a, a + b):
                if n2 == 1 and w2 == LEN:
                    o.domain = text(src, a2, b2, d2)
                elif n2 == 2 and w2 == VARINT:
                    o.version = int64(a2)
            m.opset_import.append(o)
        elif num == 14:
            m.metadata_props.append(_entry(src, a, b))
        elif num in (2, 3, 4):
            setattr(m, {2: "producer_name", 3: "producer_version", 4: "domain"}[num], text(src, a, b, d))
    if graph_spans:
        m.graph = parse_graph(src, graph_spans)
    return m


def storage_values(src: Source, t: Tensor, field_no: int) -> "np.ndarray":
    """The values of storage field ``field_no`` of ``t`` in its protobuf type (int32 truncated)."""
    import numpy as np

    out = []
    for part in t.typed.get(field_no, []):
        if isinstance(part, tuple):
            out.append(packed_values(src, field_no, *part))
        elif field_no in (4, 10):
            out.append(np.frombuffer(b"".join(part), dtype=STORAGE[field_no]))
        else:
            out.append(np.array([v & MASK64 for v in part], dtype=np.uint64))
    arr = np.concatenate(out) if out else np.zeros(0, STORAGE[field_no])
    if field_no == 5:
        return arr.astype(np.uint64).astype(np.uint32).view(np.int32)
    if field_no == 7:
        return arr.astype(np.uint64).view(np.int64)
    return arr.astype(STORAGE[field_no], copy=False)

