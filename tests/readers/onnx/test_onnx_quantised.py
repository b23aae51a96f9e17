"""Issue 11, point 3: quantised ONNX heads, written by onnxruntime.quantization itself (dynamic
MatMulInteger / ConvInteger, QOperator QLinearMatMul / QLinearConv, QDQ DequantizeLinear -> MatMul,
per-tensor and per-channel). Scored on (W - zero_point) * scale in float64, checked against numpy on
the tensors onnx reads from the same file, and the JSON says what V was dequantised from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnx.helper as oh
import pytest
from onnx import numpy_helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic, quantize_static

from conftest import run_json
from wsep_cli.pipeline import ScoreOptions, list_layers, score_file

M, N = 32, 10


def oracle_epsilon(v: np.ndarray) -> float:
    g = v @ v.T - np.eye(v.shape[0])
    return float((g * g).sum() / v.shape[0])


class _Batches(CalibrationDataReader):
    def __init__(self, shape: tuple[int, ...]) -> None:
        rng = np.random.default_rng(3)
        self.batches = iter([{"x": rng.normal(size=shape).astype(np.float32)} for _ in range(8)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self.batches, None)


def _mlp(path: Path) -> np.ndarray:
    """x(16) -> MatMul W1 -> Relu -> MatMul fc.W (32 x 10) -> Add -> Softmax; returns fc.W."""
    rng = np.random.default_rng(0)
    w1 = rng.normal(size=(16, M)).astype(np.float32)
    w2 = (rng.normal(size=(M, N)) * 0.3).astype(np.float32)
    nodes = [oh.make_node("MatMul", ["x", "W1"], ["h"]), oh.make_node("Relu", ["h"], ["r"]),
             oh.make_node("MatMul", ["r", "fc.W"], ["z"]), oh.make_node("Add", ["z", "b"], ["logits"]),
             oh.make_node("Softmax", ["logits"], ["probs"], axis=-1)]
    graph = oh.make_graph(nodes, "mlp", [oh.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 16])],
                          [oh.make_tensor_value_info("probs", onnx.TensorProto.FLOAT, [1, N])],
                          [numpy_helper.from_array(w1, "W1"), numpy_helper.from_array(w2, "fc.W"),
                           numpy_helper.from_array(np.zeros(N, np.float32), "b")])
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)
    return w2


def _conv_head(path: Path) -> np.ndarray:
    """x(8 channels) -> 3x3 Conv -> Relu -> 1x1 Conv head (10 x 16 x 1 x 1) -> GlobalAveragePool."""
    rng = np.random.default_rng(1)
    w1 = (rng.normal(size=(16, 8, 3, 3)) * 0.2).astype(np.float32)
    w2 = (rng.normal(size=(N, 16, 1, 1)) * 0.3).astype(np.float32)
    nodes = [oh.make_node("Conv", ["x", "c1"], ["h"], pads=[1, 1, 1, 1]), oh.make_node("Relu", ["h"], ["r"]),
             oh.make_node("Conv", ["r", "head.weight"], ["z"]), oh.make_node("GlobalAveragePool", ["z"], ["p"]),
             oh.make_node("Flatten", ["p"], ["logits"])]
    graph = oh.make_graph(nodes, "cnn", [oh.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 8, 6, 6])],
                          [oh.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, [1, N])],
                          [numpy_helper.from_array(w1, "c1"), numpy_helper.from_array(w2, "head.weight")])
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)
    return w2.reshape(N, 16)


# name -> (float model, quantiser, the op the JSON names)
VARIANTS = {
    "dynamic-uint8": (_mlp, lambda f, o: quantize_dynamic(f, o, weight_type=QuantType.QUInt8), "MatMulInteger"),
    "dynamic-int8-per-channel": (_mlp, lambda f, o: quantize_dynamic(f, o, weight_type=QuantType.QInt8,
                                                                    per_channel=True), "MatMulInteger"),
    "qoperator": (_mlp, lambda f, o: quantize_static(f, o, _Batches((1, 16)), quant_format=QuantFormat.QOperator),
                  "QLinearMatMul"),
    "qdq": (_mlp, lambda f, o: quantize_static(f, o, _Batches((1, 16)), quant_format=QuantFormat.QDQ),
            "DequantizeLinear"),
    "qdq-per-channel": (_mlp, lambda f, o: quantize_static(f, o, _Batches((1, 16)), quant_format=QuantFormat.QDQ,
                                                           per_channel=True), "DequantizeLinear"),
    "conv-dynamic": (_conv_head, lambda f, o: quantize_dynamic(f, o, weight_type=QuantType.QUInt8), "ConvInteger"),
    "conv-qoperator-per-channel": (_conv_head, lambda f, o: quantize_static(
        f, o, _Batches((1, 8, 6, 6)), quant_format=QuantFormat.QOperator, per_channel=True), "QLinearConv"),
}


def _stored(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def _oracle(path: Path, head: str, conv: bool) -> tuple[np.ndarray, str]:
    """V (n x m) dequantised by numpy from the tensors onnx reads, and the quantised dtype."""
    t = _stored(onnx.load(path))
    q = t[f"{head}_quantized"].astype(np.float64)
    scale = t[f"{head}_scale"].astype(np.float64)
    zero = t.get(f"{head}_zero_point", np.zeros(1)).astype(np.float64)
    if conv:  # (n, m, 1, 1), per output channel on axis 0
        q = q.reshape(q.shape[0], -1)
        v = (q - zero.reshape(-1, 1)) * scale.reshape(-1, 1)
    else:  # (m, n) features x classes, per class on axis 1
        v = ((q - zero.reshape(1, -1)) * scale.reshape(1, -1)).T
    return v, str(t[f"{head}_quantized"].dtype)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_quantised_head_is_scored_dequantised(tmp_path: Path, variant: str) -> None:
    build, quantise, op = VARIANTS[variant]
    conv = build is _conv_head
    head = "head.weight" if conv else "fc.W"
    plain, path = tmp_path / "float.onnx", tmp_path / f"{variant}.onnx"
    w_float = build(plain)
    quantise(str(plain), str(path))
    want, qdtype = _oracle(path, head, conv)
    r = score_file(str(path))
    assert r.status == "ok", r.error
    (h,) = r.heads
    assert (h.layer, h.num_classes, h.num_features) == (f"{head}_quantized", N, want.shape[1])
    assert h.metrics.epsilon == pytest.approx(oracle_epsilon(want), rel=1e-11)
    d = h.dequantized
    assert d is not None and d["op"] == op and d["from_dtype"] == qdtype
    per_axis = isinstance(d["scale"], dict)
    assert d["axis"] == ((0 if conv else 1) if per_axis else None)
    # the dequantised matrix is the float one up to half a quantisation step (an independent check)
    step = d["scale"]["max"] if per_axis else d["scale"]
    v_float = w_float.astype(np.float64) if conv else w_float.astype(np.float64).T
    assert np.abs(want - v_float).max() <= step * 0.5 + 1e-6
    assert h.metrics.epsilon == pytest.approx(oracle_epsilon(v_float), rel=0.05)
    # --layer with the stored name gives the same matrix
    (again,) = score_file(str(path), ScoreOptions(layer=f"{head}_quantized")).heads
    assert again.metrics.epsilon == h.metrics.epsilon and again.dequantized == d


def test_json_reports_the_dequantisation_and_layers_lists_it(tmp_path: Path) -> None:
    plain, path = tmp_path / "float.onnx", tmp_path / "q.onnx"
    _mlp(plain)
    quantize_dynamic(str(plain), str(path), weight_type=QuantType.QUInt8)
    proc, doc = run_json(str(path))
    assert proc.returncode == 0, proc.stderr
    (h,) = doc["results"][0]["heads"]
    t = _stored(onnx.load(path))
    assert h["dequantized"] == {"from_dtype": "uint8", "op": "MatMulInteger", "axis": None,
                                "zero_point": float(t["fc.W_zero_point"]), "scale": float(t["fc.W_scale"])}
    rows = {row.name: row for row in list_layers(str(path)).rows}
    assert rows["fc.W_quantized"].chosen and rows["fc.W_quantized"].scored_as == (N, M)
