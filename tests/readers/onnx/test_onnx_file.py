"""ONNX reader: heads found from the graph (checked against what the graph computes, via onnx's
reference evaluator), exact values, external data read only inside the model's folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

from conftest import run_wsep, shared_file  # noqa: E402
from wsep_cli.errors import UnreadableError, UnsafeError  # noqa: E402
from wsep_cli.locate import load_head_matrix, locate  # noqa: E402
from wsep_cli.readers import open_reader  # noqa: E402
from wsep_cli.readers.onnx.reader import OnnxReader  # noqa: E402

RNG = np.random.default_rng(7)
N, M = 10, 24  # classes, features


def _eps(v: np.ndarray) -> float:
    v = np.asarray(v, dtype=np.float64)
    return float(np.linalg.norm(v @ v.T - np.eye(v.shape[0])) ** 2 / v.shape[0])


def _f32(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def _model(nodes: list, inits: list, x_shape: list[int], outputs: list[str]) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, ["batch", "classes"]) for o in outputs],
        initializer=[numpy_helper.from_array(a, n) for n, a in inits],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model


# Each builder: (model, V the head as n x m float64 including any scale, bias, feature fn)
def _gemm_transb0_alpha2() -> tuple:
    b, c = _f32(M, N), _f32(N)
    nodes = [helper.make_node("Gemm", ["x", "B", "C"], ["logits"], alpha=2.0, transB=0)]
    return _model(nodes, [("B", b), ("C", c)], [1, M], ["logits"]), 2.0 * b.T.astype(np.float64), c, "B"


def _matmul_init() -> tuple:
    w, c = _f32(M, N), _f32(N)
    nodes = [helper.make_node("MatMul", ["x", "W"], ["mm"]), helper.make_node("Add", ["C", "mm"], ["logits"])]
    return _model(nodes, [("W", w), ("C", c)], [1, M], ["logits"]), w.T.astype(np.float64), c, "W"


def _matmul_transpose() -> tuple:
    w, c = _f32(N, M), _f32(N)
    nodes = [
        helper.make_node("Transpose", ["fc.weight"], ["wt"], perm=[1, 0]),
        helper.make_node("MatMul", ["x", "wt"], ["mm"]),
        helper.make_node("Add", ["mm", "fc.bias"], ["logits"]),
    ]
    return _model(nodes, [("fc.weight", w), ("fc.bias", c)], [1, M], ["logits"]), w.astype(np.float64), c, "fc.weight"


def _matmul_reshape_then_softmax() -> tuple:
    w, c = _f32(M, N), _f32(N)
    nodes = [
        helper.make_node("Reshape", ["flat", "shape"], ["w2"]),
        helper.make_node("MatMul", ["x", "w2"], ["mm"]),
        helper.make_node("Add", ["mm", "C"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=-1),
    ]
    inits = [("flat", w.reshape(-1)), ("shape", np.array([-1, N], np.int64)), ("C", c)]
    return _model(nodes, inits, [1, M], ["probs"]), w.T.astype(np.float64), c, "flat"  # reported under the stored name (issue 11 point 9)


def _matmul_constant_node() -> tuple:
    w, c = _f32(M, N), np.zeros(N, np.float32)
    nodes = [
        helper.make_node("Constant", [], ["cw"], value=numpy_helper.from_array(w, "cw")),
        helper.make_node("MatMul", ["x", "cw"], ["mm"]),
        helper.make_node("Identity", ["mm"], ["logits"]),
    ]
    return _model(nodes, [], [1, M], ["logits"]), w.T.astype(np.float64), c, "cw"


def _conv1x1() -> tuple:
    w, c = _f32(N, M, 1, 1), _f32(N)
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("Conv", ["r", "head.weight", "head.bias"], ["conv"], kernel_shape=[1, 1]),
        helper.make_node("GlobalAveragePool", ["conv"], ["pool"]),
        helper.make_node("Flatten", ["pool"], ["logits"], axis=1),
    ]
    inits = [("head.weight", w), ("head.bias", c)]
    return _model(nodes, inits, [1, M, 3, 3], ["logits"]), w.reshape(N, M).astype(np.float64), c, "head.weight"


BUILT = {
    "gemm_transB0_alpha2": _gemm_transb0_alpha2,
    "matmul_initializer": _matmul_init,
    "matmul_transpose_node": _matmul_transpose,
    "matmul_reshape_softmax": _matmul_reshape_then_softmax,
    "matmul_constant_node": _matmul_constant_node,
    "conv_1x1": _conv1x1,
}


@pytest.mark.parametrize("case", list(BUILT))
def test_head_from_graph_matches_what_the_graph_computes(tmp_path: Path, case: str) -> None:
    model, v_true, bias, layer = BUILT[case]()
    path = tmp_path / f"{case}.onnx"
    onnx.save(model, str(path))
    with open_reader(path) as r:
        assert r.format == "onnx"
        heads = locate(r)
        assert [h.layer for h in heads] == [layer] and heads[0].located_by == "metadata"
        v = load_head_matrix(r, heads[0])
    assert v.shape == (N, M) and np.allclose(v, v_true, rtol=0, atol=0)
    # independent check: the logits the graph computes are V @ features + bias
    x = RNG.standard_normal([d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]).astype(np.float32)
    out = ReferenceEvaluator(model).run(None, {"x": x})[0].reshape(-1).astype(np.float64)
    feats = np.maximum(x, 0).mean((2, 3)).reshape(-1) if x.ndim == 4 else x.reshape(-1)
    logits = v @ feats.astype(np.float64) + bias
    if case.endswith("softmax"):
        logits = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    assert np.allclose(out, logits, rtol=1e-4, atol=1e-4)


def test_cli_scores_every_built_head_against_a_float64_reference(tmp_path: Path) -> None:
    expected = {}
    for case, build in BUILT.items():
        model, v_true, _, layer = build()
        onnx.save(model, str(tmp_path / f"{case}.onnx"))
        expected[str(tmp_path / f"{case}.onnx")] = (layer, _eps(v_true))
    proc = run_wsep("score", "--json", *expected)
    assert proc.returncode == 0, proc.stderr
    for result in json.loads(proc.stdout)["results"]:
        layer, eps = expected[result["path"]]
        head = result["heads"][0]
        assert (head["layer"], head["num_classes"], head["num_features"]) == (layer, N, M)
        assert head["epsilon"] == pytest.approx(eps, rel=1e-12)


def test_several_outputs_and_a_distillation_pair_give_every_head_primary_first(tmp_path: Path) -> None:
    w1, w2, w3 = _f32(N, M), _f32(N, M), _f32(3, M)
    nodes = [
        helper.make_node("Gemm", ["x", "head.weight"], ["a"], transB=1),
        helper.make_node("Gemm", ["x", "head_dist.weight"], ["b"], transB=1),
        helper.make_node("Add", ["a", "b"], ["s"]),
        helper.make_node("Div", ["s", "two"], ["logits"]),
        helper.make_node("Gemm", ["x", "aux.weight"], ["aux"], transB=1),
    ]
    inits = [("head.weight", w1), ("head_dist.weight", w2), ("aux.weight", w3), ("two", np.array(2.0, np.float32))]
    path = tmp_path / "multi.onnx"
    onnx.save(_model(nodes, inits, [1, M], ["logits", "aux"]), str(path))
    with OnnxReader(path) as r:
        assert [h.name for h in r.hints()] == ["head.weight", "head_dist.weight", "aux.weight"]
        assert all(not h.transposed and h.scale == 1.0 for h in r.hints())


def test_a_hidden_layer_is_not_taken_for_the_head(tmp_path: Path) -> None:
    """The output comes from a MatMul of two computed tensors: no metadata hint, names decide."""
    w = _f32(M, M)
    nodes = [helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Transpose", ["h"], ["h2"]),
             helper.make_node("MatMul", ["h", "h2"], ["y"])]
    path = tmp_path / "gram.onnx"
    onnx.save(_model(nodes, [("W", w)], [M, M], ["y"]), str(path))
    with OnnxReader(path) as r:
        assert r.hints() == []


SHAPE_OPS = [
    ("Reshape", (6, 4), {"shape": [0, -1, 2]}, {}),
    ("Reshape", (6, 4), {"shape": [-1]}, {}),
    ("Reshape", (2, 3, 4), {"shape": [4, 0, 2]}, {"allowzero": 0}),
    ("Flatten", (2, 3, 4, 1), {}, {"axis": 2}),
    ("Flatten", (2, 3, 4), {}, {"axis": 0}),
    ("Squeeze", (1, 5, 1, 1), {"axes": [2, -1]}, {}),
    ("Squeeze", (1, 5, 1), {}, {}),
    ("Unsqueeze", (5, 3), {"axes": [0, -1]}, {}),
    ("Transpose", (2, 3, 4), {}, {"perm": [2, 0, 1]}),
    ("Transpose", (2, 3), {}, {}),
]


@pytest.mark.parametrize("op,shape,inputs,attrs", SHAPE_OPS)
def test_weight_shape_ops_agree_with_onnx_reference(op: str, shape: tuple, inputs: dict, attrs: dict) -> None:
    from wsep_cli.readers.onnx.weights import WeightOp, apply_shape

    data = np.zeros(shape, np.float32)
    feeds = {"data": data, **{k: np.array(v, np.int64) for k, v in inputs.items()}}
    node = helper.make_node(op, list(feeds), ["out"], **attrs)
    graph = helper.make_graph([node], "g", [], [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)],
                              initializer=[numpy_helper.from_array(a, k) for k, a in feeds.items()])
    ref = ReferenceEvaluator(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])).run(None, {})[0]
    arg = inputs.get("shape") or inputs.get("axes") or attrs.get("perm") or ([attrs["axis"]] if "axis" in attrs else None)
    wop = WeightOp(op.lower(), tuple(arg) if arg is not None else None, attrs.get("allowzero", 0))
    assert apply_shape(shape, wop) == ref.shape


# --- real files and the real exporter ------------------------------------------------------------
def test_real_imageclassifier_onnx() -> None:
    path = shared_file("microsoft_windows_machine_learning/ImageClassifier.onnx")
    ref_model = onnx.load(str(path))
    w = next(numpy_helper.to_array(t) for t in ref_model.graph.initializer if t.name == "fc1.weight")
    assert w.shape == (10, 2400)
    proc = run_wsep("score", "--json", str(path))
    assert proc.returncode == 0, proc.stderr
    head = json.loads(proc.stdout)["results"][0]["heads"]
    assert [h["layer"] for h in head] == ["fc1.weight"] and head[0]["located_by"] == "metadata"
    assert head[0]["epsilon"] == pytest.approx(_eps(w), rel=1e-12)


@pytest.fixture(scope="module")
def torch_mlp():  # type: ignore[no-untyped-def]
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(M, 32), torch.nn.ReLU(), torch.nn.Dropout(0.1), torch.nn.Linear(32, N), torch.nn.Softmax(dim=1)
    ).eval()
    return torch, model, model[3].weight.detach().double().numpy()


@pytest.mark.parametrize(
    "dynamo", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["torchscript_exporter", "dynamo_exporter"]
)
def test_torch_exported_linear_softmax_head(tmp_path: Path, torch_mlp, dynamo: bool) -> None:  # type: ignore[no-untyped-def]
    torch, model, w = torch_mlp
    path = tmp_path / "mlp.onnx"
    torch.onnx.export(model, (torch.randn(2, M),), str(path), dynamo=dynamo, input_names=["x"], output_names=["probs"])
    with OnnxReader(path) as r:
        hints = r.hints()
        assert len(hints) == 1 and hints[0].name == "3.weight" and not hints[0].transposed
        assert np.array_equal(r.load("3.weight"), model[3].weight.detach().numpy())
    proc = run_wsep("score", "--json", str(path))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["results"][0]["heads"][0]["epsilon"] == pytest.approx(_eps(w), rel=1e-12)


def test_torch_exported_3d_linear_is_a_transposed_matmul(tmp_path: Path, torch_mlp) -> None:  # type: ignore[no-untyped-def]
    torch, _, _ = torch_mlp
    torch.manual_seed(1)
    lin = torch.nn.Linear(M, N).eval()
    path = tmp_path / "seq.onnx"
    torch.onnx.export(lin, (torch.randn(2, 5, M),), str(path), dynamo=False)
    with OnnxReader(path) as r:
        (hint,) = r.hints()
        assert hint.transposed  # the exporter folds the weight into an (m, n) MatMul initializer
        v = load_head_matrix(r, locate(r)[0])
    assert np.array_equal(v, lin.weight.detach().double().numpy())


# --- external data -------------------------------------------------------------------------------
@pytest.fixture()
def external_model(tmp_path: Path, torch_mlp):  # type: ignore[no-untyped-def]
    """The torch-exported MLP re-saved with every tensor in w.bin, in its own folder."""
    torch, model, w = torch_mlp
    plain = tmp_path / "plain.onnx"
    torch.onnx.export(model, (torch.randn(2, M),), str(plain), dynamo=False, input_names=["x"])
    folder = tmp_path / "model"
    folder.mkdir()
    onnx.save(onnx.load(str(plain)), str(folder / "m.onnx"), save_as_external_data=True,
              all_tensors_to_one_file=True, location="w.bin", size_threshold=0)
    return folder / "m.onnx", w


def test_external_data_inside_the_folder_is_read(external_model) -> None:  # type: ignore[no-untyped-def]
    path, w = external_model
    proto = onnx.load(str(path), load_external_data=False)
    assert all(t.data_location == TensorProto.EXTERNAL for t in proto.graph.initializer)
    with OnnxReader(path) as r:
        assert np.array_equal(r.load("3.weight").astype(np.float64), w)
    proc = run_wsep("score", "--json", str(path))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["results"][0]["heads"][0]["epsilon"] == pytest.approx(_eps(w), rel=1e-12)


def _point(path: Path, tensor: str, dest: Path, **ref: str) -> Path:
    """A copy of the model (next to it, as ``dest``) whose ``tensor`` has the given external_data."""
    proto = onnx.load(str(path), load_external_data=False)
    t = next(t for t in proto.graph.initializer if t.name == tensor)
    entries = {e.key: e.value for e in t.external_data}
    entries.update(ref)
    del t.external_data[:]
    for k, v in entries.items():
        t.external_data.add(key=k, value=v)
    onnx.save(proto, str(dest))
    return dest


def test_external_data_escapes_are_refused_with_exit_4(external_model) -> None:  # type: ignore[no-untyped-def]
    path, _ = external_model
    folder = path.parent
    outside = folder.parent / "outside.bin"
    outside.write_bytes(b"\x00" * 4096)
    os.symlink(outside, folder / "link.bin")
    os.mkfifo(folder / "pipe.bin")
    size = (folder / "w.bin").stat().st_size
    bad = {
        "dotdot": _point(path, "3.weight", folder / "dotdot.onnx", location="../outside.bin", offset="0"),
        "absolute": _point(path, "3.weight", folder / "abs.onnx", location="/etc/passwd", offset="0"),
        "symlink_out": _point(path, "3.weight", folder / "link.onnx", location="link.bin", offset="0"),
        "offset_past_eof": _point(path, "3.weight", folder / "offset.onnx", offset=str(size + 16)),
        "length_past_eof": _point(path, "3.weight", folder / "length.onnx", offset=str(size - 8)),
        "negative_offset": _point(path, "3.weight", folder / "neg.onnx", offset="-4"),
        "folder_itself": _point(path, "3.weight", folder / "dir.onnx", location="."),
        "fifo": _point(path, "3.weight", folder / "fifo.onnx", location="pipe.bin", offset="0"),
        "hidden_layer_escapes": _point(path, "0.weight", folder / "hidden.onnx", location="../outside.bin"),
    }
    for case, p in bad.items():
        with pytest.raises(UnreadableError):
            OnnxReader(p)
    for case in ("dotdot", "absolute", "symlink_out", "offset_past_eof", "fifo", "hidden_layer_escapes"):
        with pytest.raises(UnsafeError):
            OnnxReader(bad[case])
    proc = run_wsep("score", "--json", *(str(p) for p in bad.values()))
    assert proc.returncode == 4
    results = {r["path"]: r for r in json.loads(proc.stdout)["results"]}
    for case, p in bad.items():
        assert (results[str(p)]["status"], results[str(p)]["exit_code"]) == ("error", 4), case
        assert "refusing" in results[str(p)]["error"], case
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == len(bad) and "Traceback" not in proc.stderr


def test_corrupt_onnx_files_exit_4(tmp_path: Path) -> None:
    model, *_ = _gemm_transb0_alpha2()
    blob = model.SerializeToString()
    cases = {"truncated.onnx": blob[: len(blob) // 2], "garbage.onnx": b"\x08" + bytes(range(256)) * 4}
    bad_raw = onnx.load_from_string(blob)
    bad_raw.graph.initializer[0].raw_data = b"\x00" * 12  # fewer bytes than its dims need
    cases["short_raw.onnx"] = bad_raw.SerializeToString()
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    proc = run_wsep("score", "--json", *(str(tmp_path / n) for n in cases))
    results = json.loads(proc.stdout)["results"]
    assert [r["exit_code"] for r in results] == [4, 4, 4], proc.stderr
    assert "Traceback" not in proc.stderr


def test_onnx_is_never_imported_for_scoring(tmp_path: Path) -> None:
    """wsep parses ONNX files with its own protobuf reader (issue 5): neither onnx nor torch is loaded."""
    from safetensors.numpy import save_file

    st = tmp_path / "m.safetensors"
    save_file({"fc.weight": _f32(N, M)}, str(st))
    onnx.save(_matmul_init()[0], str(tmp_path / "m.onnx"))
    code = (
        "import sys\n"
        "from wsep_cli.cli.app import main\n"
        "def run(*a):\n"
        "    sys.argv = ['wsep', *a]\n"
        "    try: main()\n"
        "    except SystemExit as e: assert e.code == 0, e.code\n"
        "run('--help'); run('score', '--json', sys.argv_st)\n"
        "print('onnx' in sys.modules, 'torch' in sys.modules)\n"
        "run('score', '--json', sys.argv_onnx)\n"
        "print('onnx' in sys.modules, 'torch' in sys.modules)\n"
    ).replace("sys.argv_st", repr(str(st))).replace("sys.argv_onnx", repr(str(tmp_path / "m.onnx")))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    flags = [line for line in proc.stdout.splitlines() if line in ("True True", "True False", "False False", "False True")]
    assert flags == ["False False", "False False"]
