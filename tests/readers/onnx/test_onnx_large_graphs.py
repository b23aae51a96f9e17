"""Large ONNX graphs: the node parser's fast path, the node limit, and the single-scope flattening.

Models are written by ``onnx.helper``; the fast path (:func:`wsep_cli.readers.onnx.proto._node_fast`)
must give exactly what the field-by-field parser gives, and decline what it does not handle.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from wsep_cli.errors import UnreadableError  # noqa: E402
from wsep_cli.readers.onnx import proto, scopes  # noqa: E402
from wsep_cli.readers.onnx.reader import OnnxReader  # noqa: E402
from wsep_cli.readers.onnx.wire import Source  # noqa: E402

RNG = np.random.default_rng(3)


def _chain(n: int, name_len: int = 4) -> bytes:
    """x -> n Relu nodes (names padded to ``name_len``) -> Gemm(W 10 x 32) -> y."""
    pad = "n" * max(0, name_len - 4)
    nodes = [helper.make_node("Relu", [f"{pad}{i:04d}" if i else "x"], [f"{pad}{i + 1:04d}"], name=f"{pad}r{i}")
             for i in range(n)]
    nodes.append(helper.make_node("Gemm", [f"{pad}{n:04d}" if n else "x", "W"], ["y"], transB=1, alpha=1.0))
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
                              [numpy_helper.from_array(RNG.standard_normal((10, 32)).astype(np.float32), "W")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _node_messages(blob: bytes) -> list[tuple[int, int]]:
    """(offset, length) of every NodeProto in the model's graph."""
    src = Source.from_bytes(blob)
    graph = [(a, b) for num, wire, a, b, _ in proto.fields(src, 0, len(blob)) if num == 7][0]
    return [(a, b) for num, wire, a, b, _ in proto.fields(src, graph[0], sum(graph)) if num == 1]


@pytest.mark.parametrize("name_len", [4, 200, 20_000])  # one-, two- and three-byte field lengths
def test_fast_node_parser_agrees_with_the_field_parser(name_len: int) -> None:
    blob = _chain(3, name_len)
    taken = 0
    for at, n in _node_messages(blob):
        slow = proto._node(Source.from_bytes(blob), at, n, 0)
        fast = proto._node_fast(Source.from_bytes(blob), at, n, blob[at:at + n], {}, 0)
        if fast is None:  # declined: the caller parses the node field by field
            assert name_len == 20_000
            continue
        taken += 1
        assert (fast.input, fast.output, fast.name, fast.op_type, fast.domain) == (
            slow.input, slow.output, slow.name, slow.op_type, slow.domain)
        assert [(a.name, a.type, a.f, a.i) for a in fast.attribute] == [(a.name, a.type, a.f, a.i) for a in slow.attribute]
    assert taken == (0 if name_len == 20_000 else 4)


def test_fast_node_parser_declines_a_varint_field() -> None:
    """A NodeProto with a (valid but unusual) varint field 9: the fast path hands it over."""
    node = helper.make_node("Relu", ["a"], ["b"]).SerializeToString() + bytes([9 << 3, 1])
    assert proto._node_fast(Source.from_bytes(node), 0, len(node), node, {}, 0) is None
    assert proto._node(Source.from_bytes(node), 0, len(node), 0).op_type == "Relu"


def test_graph_over_the_node_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(proto, "MAX_NODES", 40)
    ok, big = tmp_path / "ok.onnx", tmp_path / "big.onnx"
    ok.write_bytes(_chain(39))  # 39 + the Gemm: at the limit
    big.write_bytes(_chain(40))
    assert [h.name for h in OnnxReader(ok).hints()] == ["W"]
    with pytest.raises(UnreadableError, match="more than 40 nodes"):
        OnnxReader(big)


def test_node_limit_is_far_above_real_graphs() -> None:
    assert proto.MAX_NODES >= 100_000


def _general_flatten(graph: object) -> scopes.Flat:
    f = scopes._Flattener()
    f.count(graph, 0)
    f.taken.update(f.counts)
    f.graph(graph, "", None)
    return f.flat


def test_graph_without_subgraphs_flattens_as_the_general_path_does() -> None:
    """The single-scope shortcut gives the very records the scoped flattening gives (nodes, keys,
    attributes, Constants), on a chain with attributes, a Constant and an unnamed node."""
    blob = _chain(50)
    model = onnx.load_from_string(blob)
    const = helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(np.ones(3, np.float32)))
    model.graph.node.insert(0, const)
    model.graph.node.insert(1, helper.make_node("Add", ["x", "c"], ["unused"]))
    graph = proto.parse_model(Source.from_bytes(model.SerializeToString())).graph
    fast, slow = scopes.flatten(graph), _general_flatten(graph)
    assert fast.nodes == slow.nodes and len(fast.nodes) == 53
    assert [(s.key, s.scope) for s in fast.stored] == [(s.key, s.scope) for s in slow.stored] == [("W", ""), ("c", "")]
    assert any(n.attrs.get("transB") == 1 for n in fast.nodes)


def test_graph_with_a_subgraph_takes_the_scoped_path(monkeypatch: pytest.MonkeyPatch) -> None:
    branch = helper.make_graph([helper.make_node("Identity", ["x"], ["b"])], "then", [],
                               [helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 32])])
    model = onnx.load_from_string(_chain(3))
    model.graph.node.insert(0, helper.make_node("If", ["cond"], ["unused"], then_branch=branch, else_branch=branch))
    graph = proto.parse_model(Source.from_bytes(model.SerializeToString())).graph
    monkeypatch.setattr(scopes, "_single", lambda g: pytest.fail("a graph with sub-graphs took the shortcut"))
    flat = scopes.flatten(graph)
    assert [n.op_type for n in flat.nodes][:2] == ["Identity", "Identity"]
