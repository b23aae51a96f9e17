"""Issue 11 point 5: heads inside ONNX sub-graphs (If branches, Loop and Scan bodies). Models built with
onnx.helper, checked with onnx.checker and run with onnxruntime (what the graph computes is the head
wsep reports), scored through the real ``wsep`` CLI against a float64 numpy oracle."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from conftest import run_json, run_wsep  # noqa: E402
from wsep_cli.errors import UnreadableError, UnsafeError  # noqa: E402
from wsep_cli.readers.onnx.head import find_heads  # noqa: E402
from wsep_cli.readers.onnx.proto import MAX_SUBGRAPH_DEPTH  # noqa: E402
from wsep_cli.readers.onnx.reader import OnnxReader  # noqa: E402

M = 32  # features
RNG = np.random.default_rng(11)
F = TensorProto.FLOAT


def oracle_epsilon(v: np.ndarray) -> float:
    v = np.asarray(v, dtype=np.float64)
    g = v @ v.T - np.eye(v.shape[0])
    return float((g * g).sum() / v.shape[0])


def _w(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _out(name: str) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, F, [1, None])


def _const(name: str, a: np.ndarray) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(a))


def _branch(tag: str, w: np.ndarray, x: str = "x", weight: str | None = None) -> onnx.GraphProto:
    """A branch computing ``x @ w`` from a Constant-node weight (named ``w_TAG`` unless told)."""
    wn = weight or f"w_{tag}"
    nodes = [_const(wn, w), helper.make_node("MatMul", [x, wn], [f"y_{tag}"], name=f"fc_{tag}")]
    return helper.make_graph(nodes, tag, [], [_out(f"y_{tag}")])


def _save(graph: onnx.GraphProto, path: Path, check: bool = True, full: bool = True) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    if check:
        onnx.checker.check_model(model, full_check=full)
    onnx.save(model, str(path))
    return path


def _sr_switch(path: Path, then_b: onnx.GraphProto, else_b: onnx.GraphProto, pre: list | None = None,
               inits: list | None = None, check: bool = True, full: bool = True) -> Path:
    """probs = Softmax(If(sr == 16000, then_b, else_b)): one head per sample rate."""
    nodes = [*(pre or []), helper.make_node("Equal", ["sr", "sr16k"], ["c"]),
             helper.make_node("If", ["c"], ["logits"], name="sr_switch", then_branch=then_b, else_branch=else_b),
             helper.make_node("Softmax", ["logits"], ["probs"])]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", F, [1, M]), helper.make_tensor_value_info("sr", TensorProto.INT64, [])],
        [_out("probs")], [numpy_helper.from_array(np.array(16000, np.int64), "sr16k"), *(inits or [])])
    return _save(graph, path, check, full)


def _run(path: Path, **feeds: np.ndarray) -> np.ndarray:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)[0]


def _sr(v: int) -> np.ndarray:
    return np.array(v, np.int64)


@pytest.mark.parametrize("n8k", [12, 10], ids=["different-n", "same-n"])
def test_each_if_branch_head_is_reported_and_scored(tmp_path: Path, n8k: int) -> None:
    w16, w8 = _w(M, 10), _w(M, n8k)
    path = _sr_switch(tmp_path / "sr.onnx", _branch("16k", w16), _branch("8k", w8))
    x = _w(1, M)
    assert np.allclose(_run(path, x=x, sr=_sr(16000)), _softmax(x @ w16), atol=1e-5)
    assert np.allclose(_run(path, x=x, sr=_sr(8000)), _softmax(x @ w8), atol=1e-5)
    proc, doc = run_json(str(path))
    assert proc.returncode == 0, proc.stderr
    heads = doc["results"][0]["heads"]
    assert [h["layer"] for h in heads] == ["w_16k", "w_8k"]
    for h, w, branch in zip(heads, (w16, w8), ("then_branch", "else_branch")):
        assert (h["num_classes"], h["num_features"], h["located_by"]) == (w.shape[1], M, "metadata")
        assert h["epsilon"] == pytest.approx(oracle_epsilon(w.T), rel=1e-11)
        assert f"in {branch} of If node 'sr_switch'" in h["reason"]
        assert "one of 2 heads in the branches of If node 'sr_switch' (then_branch, else_branch; all reported)" in h["reason"]
        assert h["alternatives"] == [] and "ambiguous" not in h["reason"]  # alternatives by control flow, not siblings
    listing = json.loads(run_wsep("layers", "--json", str(path)).stdout)["candidates"]
    assert {(c["name"], tuple(c["scored_as"]), c["chosen"]) for c in listing} == {
        ("w_16k", (10, M), True), ("w_8k", (n8k, M), True)}
    # the Softmax after the If is evidence for both heads; onnx's own GraphProto walks the same way
    r = OnnxReader(path)
    found = find_heads(onnx.load(str(path)).graph, r._infos, r._small_ints)
    assert [(h.hint.name, h.activation) for h in found] == [("w_16k", "Softmax"), ("w_8k", "Softmax")]
    assert [h.hint for h in found] == r.hints()


def _scan_model(path: Path, w: np.ndarray, b: np.ndarray) -> Path:
    """A Scan over time whose body holds the Gemm head's weight and bias as initializers."""
    body = helper.make_graph(
        [helper.make_node("Gemm", ["x_t", "W_scan", "b_scan"], ["y_t"], transB=1, name="frame_fc")], "body",
        [helper.make_tensor_value_info("x_t", F, [1, M])], [helper.make_tensor_value_info("y_t", F, [1, w.shape[0]])],
        [numpy_helper.from_array(w, "W_scan"), numpy_helper.from_array(b, "b_scan")])
    nodes = [helper.make_node("Scan", ["seq"], ["ys"], body=body, num_scan_inputs=1, name="frames"),
             helper.make_node("ReduceMean", ["ys", "axis0"], ["mean"], keepdims=0),
             helper.make_node("Softmax", ["mean"], ["probs"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("seq", F, [5, 1, M])], [_out("probs")],
                              [numpy_helper.from_array(np.array([0], np.int64), "axis0")])
    return _save(graph, path)


def _loop_model(path: Path, w: np.ndarray) -> Path:
    """A Loop with a carried counter before its scan output: node output 1 is body output 2."""
    n = w.shape[0]
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Add", ["acc_in", "one"], ["acc_out"]),
         helper.make_node("Gemm", ["x", "W_loop"], ["y_i"], transB=1, name="loop_fc")], "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []), helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_in", F, [1])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []), helper.make_tensor_value_info("acc_out", F, [1]),
         helper.make_tensor_value_info("y_i", F, [1, n])],
        [numpy_helper.from_array(w, "W_loop"), numpy_helper.from_array(np.ones(1, np.float32), "one")])
    nodes = [helper.make_node("Loop", ["trips", "", "acc0"], ["acc", "ys"], body=body, name="repeat"),
             helper.make_node("ReduceMean", ["ys", "axis0"], ["mean"], keepdims=0),
             helper.make_node("Softmax", ["mean"], ["probs"])]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", F, [1, M])], [_out("probs"), helper.make_tensor_value_info("acc", F, [1])],
        [numpy_helper.from_array(np.array(3, np.int64), "trips"), numpy_helper.from_array(np.zeros(1, np.float32), "acc0"),
         numpy_helper.from_array(np.array([0], np.int64), "axis0")])
    return _save(graph, path)


def test_gemm_heads_inside_scan_and_loop_bodies(tmp_path: Path) -> None:
    w_scan, b = _w(7, M), _w(7)
    seq = _w(5, 1, M)
    scan = _scan_model(tmp_path / "scan.onnx", w_scan, b)
    assert np.allclose(_run(scan, seq=seq), _softmax((seq @ w_scan.T + b).mean(0)), atol=1e-5)
    w_loop = _w(9, M)
    loop = _loop_model(tmp_path / "loop.onnx", w_loop)
    x = _w(1, M)
    assert np.allclose(_run(loop, x=x), _softmax(x @ w_loop.T), atol=1e-5)
    proc = run_wsep("score", "--json", str(scan), str(loop))
    assert proc.returncode == 0, proc.stderr
    (s,), (lp,) = (r["heads"] for r in json.loads(proc.stdout)["results"])
    assert (s["layer"], s["num_classes"], lp["layer"], lp["num_classes"]) == ("W_scan", 7, "W_loop", 9)
    assert s["epsilon"] == pytest.approx(oracle_epsilon(w_scan), rel=1e-11)
    assert lp["epsilon"] == pytest.approx(oracle_epsilon(w_loop), rel=1e-11)
    assert "in body of Scan node 'frames'" in s["reason"] and "in body of Loop node 'repeat'" in lp["reason"]
    names = {c["name"] for c in json.loads(run_wsep("layers", "--json", str(scan)).stdout)["candidates"]}
    assert "W_scan" in names


def _nested(path: Path, weights: dict[str, np.ndarray]) -> Path:
    inner = helper.make_node("If", ["c2"], ["y_inner"], name="inner", then_branch=_branch("a", weights["a"]),
                             else_branch=_branch("b", weights["b"]))
    outer_then = helper.make_graph([helper.make_node("Not", ["c"], ["c2"]), inner], "outer_then", [], [_out("y_inner")])
    return _sr_switch(path, outer_then, _branch("c", weights["c"]))


def test_if_nested_in_if_reports_every_branch_head(tmp_path: Path) -> None:
    weights = {"a": _w(M, 10), "b": _w(M, 11), "c": _w(M, 12)}
    path = _nested(tmp_path / "nested.onnx", weights)
    x = _w(1, M)
    assert np.allclose(_run(path, x=x, sr=_sr(16000)), _softmax(x @ weights["b"]), atol=1e-5)
    proc, doc = run_json(str(path))
    assert proc.returncode == 0, proc.stderr
    heads = {h["layer"]: h for h in doc["results"][0]["heads"]}
    assert list(heads) == ["w_a", "w_b", "w_c"]
    for tag, w in weights.items():
        assert heads[f"w_{tag}"]["epsilon"] == pytest.approx(oracle_epsilon(w.T), rel=1e-11)
        assert "one of 3 heads in the branches of If node 'sr_switch' (then_branch, else_branch" in heads[f"w_{tag}"]["reason"]
    assert "in else_branch of If node 'inner' in then_branch of If node 'sr_switch'" in heads["w_b"]["reason"]


def _chain(depth: int, w: np.ndarray) -> onnx.GraphProto:
    """``depth`` Ifs, each in the then_branch of the one before; the innermost holds the weight."""
    g = _branch("leaf", w)
    for k in range(depth - 1, 0, -1):
        g = helper.make_graph([helper.make_node("If", ["c"], [f"y{k}"], name=f"if{k}", then_branch=g, else_branch=g)],
                              f"level{k}", [], [_out(f"y{k}")])
    return g


def test_nesting_at_the_bound_is_read_and_deeper_is_exit_4(tmp_path: Path) -> None:
    w = _w(M, 10)
    at_bound = _sr_switch(tmp_path / "bound.onnx", _chain(MAX_SUBGRAPH_DEPTH, w), _branch("e", _w(M, 10)), check=False)
    (lead, *_), names = OnnxReader(at_bound).hints(), {t.name for t in OnnxReader(at_bound).tensors()}
    assert lead.name.endswith("/w_leaf") and sum(n.endswith("w_leaf") for n in names) == 2 ** (MAX_SUBGRAPH_DEPTH - 1)
    too_deep = _sr_switch(tmp_path / "deep.onnx", _chain(MAX_SUBGRAPH_DEPTH + 1, w), _branch("e", w), check=False)
    with pytest.raises(UnreadableError, match=f"nested deeper than {MAX_SUBGRAPH_DEPTH}"):
        OnnxReader(too_deep)
    # a hand-made file 5000 levels deep (the protobuf library itself refuses past 100): read no deeper than the bound
    deep = _wire_chain(5000)
    (tmp_path / "hostile.onnx").write_bytes(deep)
    start = time.monotonic()
    proc = run_wsep("score", str(too_deep), str(tmp_path / "hostile.onnx"))
    assert time.monotonic() - start < 30
    assert proc.returncode == 4
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2 and all(f"ONNX subgraphs nested deeper than {MAX_SUBGRAPH_DEPTH} levels" in x for x in lines)
    assert "Traceback" not in proc.stderr


def _varint(v: int) -> bytes:
    out = bytearray()
    while True:
        out.append((v & 0x7F) | (0x80 if v > 0x7F else 0))
        v >>= 7
        if not v:
            return bytes(out)


def _field(num: int, payload: bytes) -> bytes:
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def _wire_chain(depth: int) -> bytes:
    """ModelProto bytes: graph > node If > attribute then_branch (type GRAPH) > graph > ... ``depth`` times."""
    g = b""
    for _ in range(depth):
        attr = _field(1, b"then_branch") + _varint(20 << 3) + _varint(5) + _field(6, g)
        g = _field(1, _field(4, b"If") + _field(5, attr))  # GraphProto.node
    return _varint(1 << 3) + _varint(8) + _field(7, g)  # ir_version 8, graph


def test_layer_names_a_subgraph_tensor(tmp_path: Path) -> None:
    w16, w8 = _w(M, 10), _w(M, 12)
    path = _sr_switch(tmp_path / "sr.onnx", _branch("16k", w16), _branch("8k", w8))
    proc, doc = run_json("--layer", "w_8k", str(path))
    assert proc.returncode == 0, proc.stderr
    (h,) = doc["results"][0]["heads"]
    assert (h["layer"], h["located_by"], h["num_classes"]) == ("w_8k", "option", 12)
    assert h["epsilon"] == pytest.approx(oracle_epsilon(w8.T), rel=1e-11)
    # both branches name their Constant 'w' (valid: neither scope encloses the other)
    same = _sr_switch(tmp_path / "same.onnx", _branch("16k", w16, weight="w"), _branch("8k", w8, weight="w"))
    proc, doc = run_json("--layer", "sr_switch/then_branch/w", str(same))
    assert proc.returncode == 0, proc.stderr
    assert doc["results"][0]["heads"][0]["epsilon"] == pytest.approx(oracle_epsilon(w16.T), rel=1e-11)
    proc = run_wsep("score", "--layer", "w", str(same))
    assert proc.returncode == 3
    assert "in sub-graphs, named by scope: sr_switch/else_branch/w, sr_switch/then_branch/w" in proc.stderr  # file order


def test_name_collisions_are_qualified_by_scope(tmp_path: Path) -> None:
    backbone, w_then, w_else = _w(M, M), _w(M, 10), _w(M, 12)
    pre = [helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Relu", ["h"], ["feat"])]

    def shadowing(tag: str, w: np.ndarray) -> onnx.GraphProto:  # a branch initializer shadowing the outer W
        return helper.make_graph([helper.make_node("MatMul", ["feat", "W"], [f"y_{tag}"], name=f"fc_{tag}")], tag, [],
                                 [_out(f"y_{tag}")], [numpy_helper.from_array(w, "W")])

    # onnx.checker accepts it; its shape inference (full_check) reads the outer W inside the branch, while
    # onnxruntime, like wsep, takes the branch's own W
    path = _sr_switch(tmp_path / "shadow.onnx", shadowing("t", w_then), shadowing("e", w_else), pre,
                      [numpy_helper.from_array(backbone, "W")], full=False)
    x = _w(1, M)
    for sr, w in ((16000, w_then), (8000, w_else)):
        assert np.allclose(_run(path, x=x, sr=_sr(sr)), _softmax(np.maximum(x @ backbone, 0) @ w), atol=1e-4)
    # the same collision with branch Constants: onnx.checker refuses it (SSA), a file may still hold it
    const = _sr_switch(tmp_path / "const.onnx", _branch("t", w_then, "feat", "W"), _branch("e", w_else, "feat", "W"),
                       pre, [numpy_helper.from_array(backbone, "W")], check=False)
    for p in (path, const):
        proc, doc = run_json(str(p))
        assert proc.returncode == 0, proc.stderr
        heads = doc["results"][0]["heads"]
        assert [h["layer"] for h in heads] == ["sr_switch/then_branch/W", "sr_switch/else_branch/W"]
        assert [h["epsilon"] for h in heads] == pytest.approx([oracle_epsilon(w_then.T), oracle_epsilon(w_else.T)], rel=1e-11)
        names = [c["name"] for c in json.loads(run_wsep("layers", "--json", str(p)).stdout)["candidates"]]
        assert sorted(names) == ["W", "sr_switch/else_branch/W", "sr_switch/then_branch/W"]
        proc, doc = run_json("--layer", "sr_switch/else_branch/W", str(p))
        assert doc["results"][0]["heads"][0]["epsilon"] == pytest.approx(oracle_epsilon(w_else.T), rel=1e-11)
        proc, doc = run_json("--layer", "W", str(p))  # the outer name is unchanged
        assert doc["results"][0]["heads"][0]["epsilon"] == pytest.approx(oracle_epsilon(backbone), rel=1e-11)


def test_subgraph_external_data_stays_inside_the_folder(tmp_path: Path) -> None:
    w16, w8 = _w(M, 10), _w(M, 12)

    def init_branch(tag: str, w: np.ndarray) -> onnx.GraphProto:
        return helper.make_graph([helper.make_node("MatMul", ["x", f"w_{tag}"], [f"y_{tag}"])], tag, [], [_out(f"y_{tag}")],
                                 [numpy_helper.from_array(w, f"w_{tag}")])

    plain = _sr_switch(tmp_path / "plain.onnx", init_branch("16k", w16), init_branch("8k", w8))
    folder = tmp_path / "m"
    folder.mkdir()
    model = onnx.load(str(plain))
    onnx.save(model, str(folder / "ext.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
              location="w.bin", size_threshold=0)
    proto = onnx.load(str(folder / "ext.onnx"), load_external_data=False)
    branch_init = proto.graph.node[1].attribute[1].g.initializer[0]  # then_branch (attributes sorted by name)
    assert branch_init.name == "w_16k" and branch_init.data_location == TensorProto.EXTERNAL
    proc, doc = run_json(str(folder / "ext.onnx"))
    assert proc.returncode == 0, proc.stderr
    assert [h["epsilon"] for h in doc["results"][0]["heads"]] == pytest.approx(
        [oracle_epsilon(w16.T), oracle_epsilon(w8.T)], rel=1e-11)
    (tmp_path / "outside.bin").write_bytes(w16.tobytes())
    for e in branch_init.external_data:
        if e.key == "location":
            e.value = "../outside.bin"
        elif e.key == "offset":
            e.value = "0"
    onnx.save(proto, str(folder / "escape.onnx"))
    with pytest.raises(UnsafeError, match="w_16k"):
        OnnxReader(folder / "escape.onnx")
    proc = run_wsep("score", str(folder / "escape.onnx"))
    assert proc.returncode == 4 and len(proc.stderr.strip().splitlines()) == 1 and "refusing" in proc.stderr
