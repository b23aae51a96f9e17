"""The records wsep's ONNX parser (:mod:`wsep_cli.readers.onnx.proto`) fills: the parts of
``onnx.ModelProto`` wsep reads, with the field numbers of ``onnx.proto`` (onnx 1.23)."""

from __future__ import annotations

from dataclasses import dataclass, field

from wsep_cli.readers.onnx.wire import I32, I64, VARINT

__all__ = ["Entry", "OperatorSetId", "ValueInfo", "Tensor", "Attribute", "Node", "Graph", "Model", "TYPED_FIELDS"]


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
    ``(offset, length)`` or a list of unpacked elements (varint ints, or 4/8 raw bytes); the reader
    builds ``Constant`` ``value_float``/``value_ints``... tensors the same way. Fields 1 dims, 2
    data_type, 3 segment, 6 string_data, 8 name, 9 raw_data, 13 external_data, 14 data_location.
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
    """AttributeProto: 1 name, 20 type, 2 f, 3 i, 4 s, 5 t, 6 g, 7 floats, 8 ints, 11 graphs (``g`` and
    ``graphs`` are read only for the types GRAPH (5) and GRAPHS (10))."""

    name: str = ""
    type: int = 0
    f: float = 0.0
    i: int = 0
    s: bytes = b""
    t: Tensor | None = None
    floats: list[float] = field(default_factory=list)
    ints: list[int] = field(default_factory=list)
    g: Graph | None = None
    graphs: list[Graph] = field(default_factory=list)


@dataclass(slots=True)
class Node:
    """NodeProto: 1 input, 2 output, 3 name, 4 op_type, 7 domain, 5 attribute (slotted: a graph may
    hold 100,000+ nodes; ``attribute`` is a shared empty tuple on nodes that have none)."""

    input: list[str] = field(default_factory=list)
    output: list[str] = field(default_factory=list)
    name: str = ""
    op_type: str = ""
    domain: str = ""
    attribute: list[Attribute] = field(default_factory=list)


@dataclass
class Graph:
    """GraphProto: 1 node, 2 name, 5 initializer, 11 input, 12 output, 13 value_info."""

    node: list[Node] = field(default_factory=list)
    name: str = ""
    initializer: list[Tensor] = field(default_factory=list)
    input: list[ValueInfo] = field(default_factory=list)
    output: list[ValueInfo] = field(default_factory=list)
    value_info: list[ValueInfo] = field(default_factory=list)


@dataclass
class Model:
    """ModelProto: 1 ir_version, 2/3 producer name/version, 4 domain, 5 model_version, 7 graph,
    8 opset_import (1 domain, 2 version), 14 metadata_props."""

    ir_version: int = 0
    producer_name: str = ""
    producer_version: str = ""
    domain: str = ""
    model_version: int = 0
    graph: Graph | None = None
    opset_import: list[OperatorSetId] = field(default_factory=list)
    metadata_props: list[Entry] = field(default_factory=list)
