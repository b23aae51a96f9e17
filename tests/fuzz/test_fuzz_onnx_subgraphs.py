"""Fuzz the ONNX sub-graph path (issue 11 point 5): seeded mutations of a model with an If nested in an
If and a Loop, each branch and body holding its head's weight. Every case must end as exit 0/3/4 with a
one-line message, in bounded time, and never through the score pipeline's defensive layer (strict:
a reader bug otherwise). ``WSEP_FUZZ_SUBGRAPH_CASES`` (default 300) sets how many."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from harness import env_int, run_case  # noqa: E402
from mutate_bytes import GENERIC  # noqa: E402
from mutate_formats import mutate_onnx_wire  # noqa: E402

CASES = env_int("WSEP_FUZZ_SUBGRAPH_CASES", 300)
SEED = env_int("WSEP_FUZZ_SEED", 20261127)
F = TensorProto.FLOAT


def _branch(tag: str, w: np.ndarray) -> onnx.GraphProto:
    nodes = [helper.make_node("Constant", [], [f"w_{tag}"], value=numpy_helper.from_array(w)),
             helper.make_node("MatMul", ["x", f"w_{tag}"], [f"y_{tag}"])]
    return helper.make_graph(nodes, tag, [], [helper.make_tensor_value_info(f"y_{tag}", F, [1, w.shape[1]])])


def _model() -> bytes:
    rng = np.random.default_rng(0)
    w = {t: rng.standard_normal((8, 4)).astype(np.float32) for t in "abcd"}
    inner = helper.make_node("If", ["c"], ["y_in"], name="inner", then_branch=_branch("a", w["a"]),
                             else_branch=_branch("b", w["b"]))
    outer_then = helper.make_graph([inner], "t", [], [helper.make_tensor_value_info("y_in", F, [1, 4])])
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Gemm", ["x", "W_loop"], ["y_i"], transB=1)], "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []), helper.make_tensor_value_info("cond_in", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []), helper.make_tensor_value_info("y_i", F, [1, 4])],
        [numpy_helper.from_array(w["d"].T.copy(), "W_loop")])
    nodes = [helper.make_node("If", ["c"], ["logits"], name="sr", then_branch=outer_then, else_branch=_branch("c", w["c"])),
             helper.make_node("Softmax", ["logits"], ["probs"]),
             helper.make_node("Loop", ["trips", ""], ["ys"], body=body, name="rep"),
             helper.make_node("ReduceMean", ["ys", "axis0"], ["aux"], keepdims=0)]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", F, [1, 8]), helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("probs", F, [1, 4]), helper.make_tensor_value_info("aux", F, [1, 4])],
        [numpy_helper.from_array(np.array(2, np.int64), "trips"), numpy_helper.from_array(np.array([0], np.int64), "axis0")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


def test_the_unmutated_model_reports_every_sub_graph_head(tmp_path: Path) -> None:
    from wsep_cli.pipeline import score_file

    (tmp_path / "m.onnx").write_bytes(_model())
    r = score_file(str(tmp_path / "m.onnx"))
    assert [h.layer for h in r.heads] == ["w_a", "w_b", "w_c", "W_loop"]


def test_mutated_sub_graph_models_end_as_0_3_or_4(tmp_path: Path) -> None:
    base = _model()
    tally: Counter[str] = Counter()
    bad = []
    for i in range(CASES):
        rng = random.Random(f"{SEED}:subgraph:{i}")
        data = base
        for _ in range(1 if rng.random() < 0.7 else 2):
            data = mutate_onnx_wire(data, rng) if rng.random() < 0.8 else GENERIC["bit_flip"](data, rng)
        path = tmp_path / f"case{i}" / "m.onnx"
        path.parent.mkdir()
        path.write_bytes(data)
        out = run_case(path)
        tally[out.kind] += 1
        if out.kind not in ("ok", "error") or out.problems:
            bad.append(f"case {i} (seed {SEED}): {out.kind} {out.signature} {out.message[:200]} {out.problems}")
    assert not bad, "\n".join(bad[:10])
    assert tally["ok"] > 0 and tally["error"] > 0, tally  # the mutations reach both outcomes
