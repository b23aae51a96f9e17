"""wsep's own protobuf reader for ONNX, field by field against the real ``onnx`` library.

Every model here is written by a real producer (torch's exporter, ``onnx.helper``, the bundled fixture,
Microsoft's ImageClassifier.onnx) and decoded both by ``onnx.load`` and by
:mod:`wsep_cli.readers.onnx.proto`; nodes, attributes, initializers and their values must agree.
Hand-encoded variants (unpacked / packed repeated fields, merged messages, groups) are first
checked to be valid protobuf by ``onnx.load`` itself. A 330 MB model checks that opening and scoring
reads only the metadata and the head (Linux ``/proc/self/io``).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from conftest import FIXTURES, bytes_read_so_far, shared_file  # noqa: E402
from wsep_cli.errors import UnreadableError  # noqa: E402
from wsep_cli.readers.onnx.proto import parse_model, storage_values  # noqa: E402
from wsep_cli.readers.onnx.wire import Source, WireError, decode_varints  # noqa: E402
from wsep_cli.readers.onnx.reader import OnnxReader  # noqa: E402

RNG = np.random.default_rng(11)


# --------------------------------------------------------------------------------- wire encoding
def _varint(v: int) -> bytes:
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        b, v = v & 0x7F, v >> 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def _len_field(num: int, payload: bytes) -> bytes:
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def _fields(blob: bytes) -> list[tuple[int, int, bytes]]:
    """Top-level (number, wire, whole field bytes) of a message, for splicing in tests."""
    out, pos = [], 0
    while pos < len(blob):
        start = pos
        key, pos = _read_varint(blob, pos)
        wire = key & 7
        if wire == 0:
            _, pos = _read_varint(blob, pos)
        elif wire == 2:
            n, pos = _read_varint(blob, pos)
            pos += n
        else:
            pos += 4 if wire == 5 else 8
        out.append((key >> 3, wire, blob[start:pos]))
    return out


def _read_varint(blob: bytes, pos: int) -> tuple[int, int]:
    v = shift = 0
    while True:
        b = blob[pos]
        pos += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return v, pos


# --------------------------------------------------------------------------------- comparison
def _wire(blob: bytes):  # type: ignore[no-untyped-def]
    return parse_model(Source.from_bytes(blob))


def _same_tensor(src: Source, mine, ref: TensorProto) -> None:  # type: ignore[no-untyped-def]
    assert mine.name == ref.name
    assert mine.dims == list(ref.dims)
    assert (mine.data_type, mine.data_location) == (ref.data_type, ref.data_location)
    assert [(e.key, e.value) for e in mine.external_data] == [(e.key, e.value) for e in ref.external_data]
    assert (mine.raw is not None) == ref.HasField("raw_data")
    if mine.raw is not None:
        assert src.read(*mine.raw) == ref.raw_data
    for num, values, dt in [(4, ref.float_data, np.float32), (5, ref.int32_data, np.int32),
                            (7, ref.int64_data, np.int64), (10, ref.double_data, np.float64),
                            (11, ref.uint64_data, np.uint64)]:
        got = storage_values(src, mine, num)
        assert got.dtype == dt and np.array_equal(got, np.array(values, dtype=dt), equal_nan=num in (4, 10))
    assert [src.read(a, n) for a, n in mine.string_data] == list(ref.string_data)
    assert mine.has_segment == ref.HasField("segment")


def assert_same_model(blob: bytes, ref: onnx.ModelProto) -> None:
    """Everything wsep decodes equals what onnx decodes, field by field."""
    src = Source.from_bytes(blob)
    m = parse_model(src)
    assert (m.ir_version, m.producer_name, m.producer_version, m.domain, m.model_version) == (
        ref.ir_version, ref.producer_name, ref.producer_version, ref.domain, ref.model_version)
    assert [(o.domain, o.version) for o in m.opset_import] == [(o.domain, o.version) for o in ref.opset_import]
    assert [(e.key, e.value) for e in m.metadata_props] == [(e.key, e.value) for e in ref.metadata_props]
    g, rg = m.graph, ref.graph
    assert g is not None and g.name == rg.name
    for mine_vi, ref_vi in [(g.input, rg.input), (g.output, rg.output), (g.value_info, rg.value_info)]:
        assert [v.name for v in mine_vi] == [v.name for v in ref_vi]
    assert len(g.initializer) == len(rg.initializer) and len(g.node) == len(rg.node)
    for mt, rt in zip(g.initializer, rg.initializer):
        _same_tensor(src, mt, rt)
    for mn, rn in zip(g.node, rg.node):
        assert (mn.input, mn.output, mn.name, mn.op_type, mn.domain) == (
            list(rn.input), list(rn.output), rn.name, rn.op_type, rn.domain)
        assert len(mn.attribute) == len(rn.attribute)
        for ma, ra in zip(mn.attribute, rn.attribute):
            assert (ma.name, ma.type, ma.i, ma.s) == (ra.name, ra.type, ra.i, ra.s)
            assert np.array_equal(np.float32(ma.f), np.float32(ra.f), equal_nan=True)
            assert np.array_equal(np.array(ma.floats, np.float32), np.array(ra.floats, np.float32), equal_nan=True)
            assert ma.ints == list(ra.ints)
            assert (ma.t is not None) == ra.HasField("t")
            if ma.t is not None:
                _same_tensor(src, ma.t, ra.t)


def _values_agree(path: Path, ref: onnx.ModelProto) -> int:
    """OnnxReader.load equals numpy_helper.to_array for every initializer, and the head search finds
    the same heads in onnx's own GraphProto as in wsep's parse; returns how many initializers."""
    from wsep_cli.readers.onnx.head import find_heads

    with OnnxReader(path) as r:
        assert [h.hint for h in find_heads(ref.graph, r._infos, r._small_ints)] == r.hints()
        for t in ref.graph.initializer:
            want = numpy_helper.to_array(t)
            got = r.load(t.name)
            if t.data_type == TensorProto.BFLOAT16:
                want = want.astype(np.float32)  # exact: bfloat16 is the top half of a float32
            assert got.shape == want.shape and got.dtype == want.dtype, t.name
            assert np.array_equal(got, want, equal_nan=got.dtype.kind in "fc"), t.name
    return len(ref.graph.initializer)


# --------------------------------------------------------------------------------- real producers
def test_bundled_fixture_and_real_imageclassifier_match_onnx() -> None:
    for path in (FIXTURES / "digits_mlp.onnx",
                 shared_file("microsoft_windows_machine_learning/ImageClassifier.onnx")):
        blob = path.read_bytes()
        ref = onnx.load_from_string(blob)
        assert_same_model(blob, ref)
        assert _values_agree(path, ref) > 0


def test_torch_exported_cnn_matches_onnx(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(3)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 5), torch.nn.LogSoftmax(1),
    ).eval()
    path = tmp_path / "cnn.onnx"
    torch.onnx.export(net, (torch.randn(1, 3, 8, 8),), str(path), dynamo=False, input_names=["x"])
    blob = path.read_bytes()
    ref = onnx.load_from_string(blob)
    assert_same_model(blob, ref)
    assert _values_agree(path, ref) >= 3
    with OnnxReader(path) as r:
        (hint,) = r.hints()
        assert np.array_equal(r.load(hint.name), net[5].weight.detach().numpy())


def _all_attribute_model() -> onnx.ModelProto:
    """Every attribute kind, Constant nodes of every value kind, a sub-graph, tensors stored typed."""
    sub = helper.make_graph([helper.make_node("Identity", ["a"], ["b"])], "sub", [], [])
    small = helper.make_tensor("tv", TensorProto.INT64, [3], [-1, 0, 2**40])
    nodes = [
        helper.make_node("Custom", ["x", ""], ["y", "z"], name="n\u00e9", domain="my.domain", f=-1.5, i=-7,
                         s=b"\xff\x00bytes", t=small, floats=[1.0, -0.0, float("inf")], ints=[-3, 0, 2**62],
                         strings=[b"a", b"bc"], g=sub, graphs=[sub], doc_string="skipped"),
        helper.make_node("Constant", [], ["c1"], value=numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3))),
        helper.make_node("Constant", [], ["c2"], value_float=2.5),
        helper.make_node("Constant", [], ["c3"], value_ints=[4, -5]),
        helper.make_node("Constant", [], ["c4"], value_floats=[0.5, 1.5]),
        helper.make_node("Constant", [], ["c5"], value_int=-9),
    ]
    inits = [
        numpy_helper.from_array(RNG.standard_normal((4, 3)).astype(np.float16), "h16"),
        helper.make_tensor("bf", TensorProto.BFLOAT16, [2, 2], np.array([1.0, -2.5, 3.0, 0.125], np.float32)),
        helper.make_tensor("bf_raw", TensorProto.BFLOAT16, [3],
                           (np.array([1.0, -2.5, 3e38], np.float32).view(np.uint32) >> 16).astype("<u2").tobytes(), raw=True),
        helper.make_tensor("f_typed", TensorProto.FLOAT, [2, 3], RNG.standard_normal(6).astype(np.float32)),
        helper.make_tensor("d_typed", TensorProto.DOUBLE, [3], [1e-300, -2.0, np.pi]),
        helper.make_tensor("i64_typed", TensorProto.INT64, [4], [-(2**63), -1, 0, 2**63 - 1]),
        helper.make_tensor("i32_typed", TensorProto.INT32, [3], [-(2**31), -1, 2**31 - 1]),
        helper.make_tensor("i8_typed", TensorProto.INT8, [3], [-128, 0, 127]),
        helper.make_tensor("u16_typed", TensorProto.UINT16, [2], [0, 65535]),
        helper.make_tensor("f16_typed", TensorProto.FLOAT16, [2], np.array([0.5, -3.0], np.float16)),
        helper.make_tensor("u64_typed", TensorProto.UINT64, [2], [0, 2**64 - 1]),
        helper.make_tensor("u32_typed", TensorProto.UINT32, [2], [7, 2**32 - 1]),
        helper.make_tensor("bool_typed", TensorProto.BOOL, [3], [True, False, True]),
        helper.make_tensor("c64_typed", TensorProto.COMPLEX64, [2], [1 + 2j, -3j]),
        helper.make_tensor("scalar", TensorProto.FLOAT, [], [3.25]),
        helper.make_tensor("empty", TensorProto.FLOAT, [0, 4], []),
    ]
    for dt, arr in [(np.float64, RNG.standard_normal(3)), (np.int16, [-2, 3]), (np.uint8, [0, 255]),
                    (np.int64, [-(2**40), 1]), (np.uint32, [1, 2**31]), (np.bool_, [True, False]),
                    (np.complex128, [1 - 1j])]:
        inits.append(numpy_helper.from_array(np.array(arr, dtype=dt), f"raw_{np.dtype(dt).name}"))
    graph = helper.make_graph(nodes, "all", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits,
                              value_info=[helper.make_tensor_value_info("z", TensorProto.FLOAT, [2])])
    model = helper.make_model(graph, producer_name="wsep-test", producer_version="1", domain="d", model_version=3,
                              opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("my.domain", 2)])
    helper.set_model_props(model, {"classifier": "h16", "k": "v"})
    return model


def test_helper_built_model_with_every_attribute_and_dtype(tmp_path: Path) -> None:
    model = _all_attribute_model()
    blob = model.SerializeToString()
    ref = onnx.load_from_string(blob)
    assert_same_model(blob, ref)
    path = tmp_path / "all.onnx"
    path.write_bytes(blob)
    assert _values_agree(path, ref) == len(model.graph.initializer)
    with OnnxReader(path) as r:  # Constant values, each against onnx's reference evaluator
        from onnx.reference import ReferenceEvaluator

        for node in ref.graph.node[1:]:
            single = helper.make_graph([node], "c", [], [helper.make_tensor_value_info(node.output[0], 1, None)])
            want = ReferenceEvaluator(helper.make_model(single, opset_imports=[helper.make_opsetid("", 17)])).run(None, {})[0]
            got = r.load(node.output[0])
            assert got.dtype == want.dtype and np.array_equal(got, want), node.output[0]
        assert r.metadata()["producer"] == "wsep-test 1" and r.metadata()["opset"] == "ai.onnx:17,my.domain:2"


# --------------------------------------------------------------------------------- encodings
def _reencode_tensor(t: TensorProto, packed: bool) -> bytes:
    """``t`` with dims and every storage field written packed (one LEN field) or unpacked."""
    out = b""
    for d in t.dims:
        out += _varint(1 << 3) + _varint(d) if not packed else b""
    if packed and t.dims:
        out += _len_field(1, b"".join(_varint(d) for d in t.dims))
    out += _varint(2 << 3) + _varint(t.data_type)
    for num, vals, enc in [(4, t.float_data, "f"), (5, t.int32_data, "v"), (7, t.int64_data, "v"),
                           (10, t.double_data, "d"), (11, t.uint64_data, "v")]:
        items = [struct.pack("<" + enc, v) if enc != "v" else _varint(v) for v in vals]
        if packed and items:
            out += _len_field(num, b"".join(items))
        elif items:
            wire = {"f": 5, "d": 1, "v": 0}[enc]
            out += b"".join(_varint(num << 3 | wire) + item for item in items)
    return out + _len_field(8, t.name.encode())


@pytest.mark.parametrize("packed", [True, False], ids=["packed", "unpacked"])
def test_packed_and_unpacked_repeated_fields(tmp_path: Path, packed: bool) -> None:
    tensors = [
        helper.make_tensor("w", TensorProto.FLOAT, [2, 3], RNG.standard_normal(6).astype(np.float32)),
        helper.make_tensor("shape", TensorProto.INT64, [2], [-1, 3]),
        helper.make_tensor("i32", TensorProto.INT32, [3], [-(2**31), 5, 2**31 - 1]),
        helper.make_tensor("d", TensorProto.DOUBLE, [2], [0.1, -7.0]),
        helper.make_tensor("u64", TensorProto.UINT64, [1, 2], [2**64 - 1, 3]),
    ]
    init_fields = b"".join(_len_field(5, _reencode_tensor(t, packed)) for t in tensors)
    attr = _len_field(1, b"perm") + _varint(20 << 3) + _varint(7)
    attr += _len_field(8, b"".join(_varint(v) for v in (1, 0))) if packed else b"".join(
        _varint(8 << 3) + _varint(v) for v in (1, 0))
    node = _len_field(1, b"w") + _len_field(2, b"wt") + _len_field(4, b"Transpose") + _len_field(5, attr)
    graph = init_fields + _len_field(1, node) + _len_field(2, b"g") + _len_field(12, _len_field(1, b"wt"))
    blob = _varint(1 << 3) + _varint(8) + _len_field(7, graph) + _len_field(8, _varint(2 << 3) + _varint(17))
    ref = onnx.load_from_string(blob)  # the real protobuf runtime accepts the hand-made encoding
    assert [numpy_helper.to_array(t).tolist() for t in ref.graph.initializer] == [
        numpy_helper.to_array(t).tolist() for t in tensors]
    assert list(ref.graph.node[0].attribute[0].ints) == [1, 0]
    assert_same_model(blob, ref)
    path = tmp_path / f"{packed}.onnx"
    path.write_bytes(blob)
    assert _values_agree(path, ref) == len(tensors)


def test_repeated_singular_messages_merge_like_protobuf() -> None:
    """A second ``graph`` field (and a second Constant ``t``) merges into the first, as protobuf does."""
    a = _all_attribute_model()
    g1, g2 = a.graph.SerializeToString(), helper.make_graph(
        [helper.make_node("Relu", ["y"], ["r"])], "renamed", [], [helper.make_tensor_value_info("r", 1, None)],
        [numpy_helper.from_array(np.ones(2, np.float32), "extra")]).SerializeToString()
    rest = b"".join(f for num, _, f in _fields(a.SerializeToString()) if num != 7)
    blob = rest + _len_field(7, g1) + _varint(99 << 3 | 3) + _varint(5 << 3) + _varint(1) + _varint(99 << 3 | 4)
    blob += _len_field(7, g2)  # the group (field 99) in between is an unknown field: skipped by both
    twice = numpy_helper.from_array(np.ones(2, np.float32), "twice").SerializeToString()
    twice += _len_field(9, np.array([2.0, 3.0], np.float32).tobytes()) + _varint(2 << 3) + _varint(1)
    blob += _len_field(7, _len_field(5, twice))  # a scalar seen twice: the last one wins
    ref = onnx.load_from_string(blob)
    assert ref.graph.name == "renamed" and len(ref.graph.node) == len(a.graph.node) + 1
    assert numpy_helper.to_array(ref.graph.initializer[-1]).tolist() == [2.0, 3.0]
    assert_same_model(blob, ref)


def _bad(blob: bytes) -> None:
    with pytest.raises(WireError):
        _wire(blob)
    with pytest.raises(Exception):  # noqa: B017 - the real runtime refuses the same bytes
        onnx.load_from_string(blob)


@pytest.mark.parametrize("case", ["truncated_varint", "eleven_byte_varint", "length_past_end", "field_zero",
                                  "wire_type_7", "end_group_alone", "open_group", "fixed32_cut",
                                  "nested_length_past_parent"])
def test_malformed_wire_is_refused(case: str) -> None:
    ok = _all_attribute_model().SerializeToString()
    blobs = {
        "truncated_varint": ok + b"\x08\x80",
        "eleven_byte_varint": ok + b"\x08" + b"\xff" * 10 + b"\x01",
        "length_past_end": ok + b"\x3a\x10\x00",
        "field_zero": b"\x02\x00" + ok,
        "wire_type_7": ok + b"\x0f",
        "end_group_alone": ok + b"\x1c",
        "open_group": ok + b"\x1b\x08\x01",
        "fixed32_cut": ok + b"\x15\x00\x00",
        "nested_length_past_parent": _len_field(7, _len_field(1, b"\x0a\x7f")),
    }
    _bad(blobs[case])


def test_deep_groups_are_bounded() -> None:
    deep = b"".join(_varint(100 << 3 | 3) for _ in range(40)) + b"".join(_varint(100 << 3 | 4) for _ in range(40))
    with pytest.raises(WireError, match="nested"):
        _wire(_len_field(7, b"") + deep)
    shallow = b"".join(_varint(100 << 3 | 3) for _ in range(5)) + b"".join(_varint(100 << 3 | 4) for _ in range(5))
    assert _wire(_len_field(7, _len_field(2, b"g")) + shallow).graph.name == onnx.load_from_string(
        _len_field(7, _len_field(2, b"g")) + shallow).graph.name == "g"


def test_a_file_shorter_than_its_size_is_refused(tmp_path: Path) -> None:
    """A file that shrinks after it was opened: a clean WireError, never an IndexError."""
    path = tmp_path / "m.onnx"
    blob = _all_attribute_model().SerializeToString()
    path.write_bytes(blob[: len(blob) // 2])
    fd = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(WireError):
            parse_model(Source(fd, len(blob)))
    finally:
        os.close(fd)


def test_packed_varints_decode_like_protobuf() -> None:
    values = [0, 1, 127, 128, 300, 2**32, 2**63 - 1, 2**64 - 1, (-5) & (2**64 - 1)]
    assert decode_varints(b"".join(_varint(v) for v in values)).tolist() == values
    with pytest.raises(WireError):
        decode_varints(_varint(300)[:1])
    with pytest.raises(WireError):
        decode_varints(b"\xff" * 10 + b"\x01")


def test_reader_error_is_one_line_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "bad.onnx"
    path.write_bytes(b"\x08\x07\x3a\xff\xff\xff\xff\x0f")
    with pytest.raises(UnreadableError) as e:
        OnnxReader(path)
    assert "\n" not in str(e.value) and "not a readable ONNX model" in str(e.value)


# --------------------------------------------------------------------------------- a big model
def write_big_onnx(path: Path, head: np.ndarray, backbone_rows: int) -> int:
    """``x (1 x rows) -> MatMul(backbone rows x m, sparse zeros) -> Relu -> Gemm(head, transB=1)``.

    The small part is made and serialized by onnx; the backbone initializer is spliced in front of
    it with its raw_data left as a hole, so a 330 MB file costs no time or disk. Returns its offset.
    """
    n, m = head.shape
    nodes = [helper.make_node("MatMul", ["x", "backbone.weight"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Gemm", ["r", "fc.weight", "fc.bias"], ["logits"], transB=1)]
    graph = helper.make_graph(nodes, "big", [helper.make_tensor_value_info("x", 1, [1, backbone_rows])],
                              [helper.make_tensor_value_info("logits", 1, [1, n])],
                              [numpy_helper.from_array(head, "fc.weight"),
                               numpy_helper.from_array(np.zeros(n, np.float32), "fc.bias")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    rest = b"".join(f for num, _, f in _fields(model.SerializeToString()) if num != 7)
    small_graph = model.graph.SerializeToString()
    big = TensorProto(name="backbone.weight", dims=[backbone_rows, m], data_type=TensorProto.FLOAT)
    raw_len = backbone_rows * m * 4
    t_head = big.SerializeToString() + _varint(9 << 3 | 2) + _varint(raw_len)
    init_head = _varint(5 << 3 | 2) + _varint(len(t_head) + raw_len) + t_head
    graph_len = len(init_head) + raw_len + len(small_graph)
    with path.open("wb") as fh:
        fh.write(rest + _varint(7 << 3 | 2) + _varint(graph_len) + init_head)
        hole = fh.tell()
        fh.seek(hole + raw_len)
        fh.write(small_graph)
    return hole


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux /proc/self/io")
def test_big_model_reads_metadata_and_head_only(tmp_path: Path) -> None:
    from wsep_cli.pipeline import score_file

    head = (RNG.standard_normal((1000, 2048)) * 0.02).astype(np.float32)
    path = tmp_path / "big.onnx"
    try:
        write_big_onnx(path, head, 40_000)
        size = path.stat().st_size
        assert size > 300 * 2**20
        assert score_file(str(FIXTURES / "digits_mlp.onnx")).status == "ok"  # first-use imports read files
        before = bytes_read_so_far()
        result = score_file(str(path))
        read = bytes_read_so_far() - before
        assert result.status == "ok", result.error
        assert (result.heads[0].layer, result.heads[0].located_by) == ("fc.weight", "metadata")
        assert read < head.nbytes + 1 * 2**20, f"read {read} bytes of a {size}-byte file"
        v = head.astype(np.float64)
        eps = np.linalg.norm(v @ v.T - np.eye(1000)) ** 2 / 1000
        assert result.heads[0].metrics.epsilon == pytest.approx(eps, rel=1e-9)
        ref = onnx.load(str(path))  # the real library agrees on the file's structure and the head's values
        assert [t.name for t in ref.graph.initializer] == ["backbone.weight", "fc.weight", "fc.bias"]
        assert np.array_equal(numpy_helper.to_array(ref.graph.initializer[1]), head)
        del ref
    finally:
        path.unlink(missing_ok=True)
