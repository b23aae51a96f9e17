"""Issue 11: sibling heads (1), kernel-size-1 Conv1d heads (4), single-output heads (6), messages and
recurrent gates (8). Every model is a real torch module saved with torch.save / torch.onnx.export or
safetensors; every metric is checked against an independent float64 numpy computation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from conftest import run_json, run_wsep
from wsep_cli.pipeline import ScoreOptions, list_layers, score_file

torch = pytest.importorskip("torch")
nn = torch.nn


def oracle_epsilon(v: np.ndarray) -> float:
    v = np.asarray(v, dtype=np.float64).reshape(v.shape[0], -1)
    g = v @ v.T - np.eye(v.shape[0])
    return float((g * g).sum() / v.shape[0])


class ONet(nn.Module):
    """A face-detector cascade's last stage: one feature vector, a 2-way classifier, a box (4) and a
    landmark (10) regressor, none with a known classifier name."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3)
        self.prelu1 = nn.PReLU(32)
        self.dense5 = nn.Linear(32 * 6 * 6, 256)
        self.prelu5 = nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.softmax6_1 = nn.Softmax(dim=1)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x):  # noqa: ANN001, ANN201
        x = self.prelu5(self.dense5(self.prelu1(self.conv1(x)).flatten(1)))
        return self.softmax6_1(self.dense6_1(x)), self.dense6_2(x), self.dense6_3(x)


class PNet(nn.Module):
    """The first stage: fully convolutional, a 1x1-conv classifier beside a 1x1-conv box regressor."""

    def __init__(self) -> None:
        super().__init__()
        self.conv3 = nn.Conv2d(3, 32, 3)
        self.prelu3 = nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, 1)
        self.softmax4_1 = nn.Softmax(dim=1)
        self.conv4_2 = nn.Conv2d(32, 4, 1)

    def forward(self, x):  # noqa: ANN001, ANN201
        x = self.prelu3(self.conv3(x))
        return self.softmax4_1(self.conv4_1(x)), self.conv4_2(x)


@pytest.mark.parametrize("fmt", ["pth", "torchscript", "safetensors"])
def test_sibling_heads_are_all_reported_with_the_ambiguity(tmp_path: Path, fmt: str) -> None:
    torch.manual_seed(0)
    net = ONet().eval()
    path = tmp_path / f"onet.{fmt}"
    if fmt == "pth":
        torch.save(net.state_dict(), path)
    elif fmt == "torchscript":
        torch.jit.save(torch.jit.script(net), str(path))
    else:
        save_file({k: v.numpy() for k, v in net.state_dict().items()}, str(path))
    r = score_file(str(path))
    assert r.status == "ok", r.error
    # the box regressor (4 outputs) ranks last; the classifier comes before the landmarks in storage
    assert [h.layer for h in r.heads] == ["dense6_1.weight", "dense6_3.weight", "dense6_2.weight"]
    first = r.heads[0]
    assert "ambiguous" in first.reason and "'dense6_2.weight'" in first.reason and "'dense6_3.weight'" in first.reason
    if fmt == "torchscript":  # the archive's code shows the Softmax after dense6_1: that decides
        assert "its output feeds a Softmax" in first.reason and "storage order" not in first.reason
    else:
        assert "'dense6_2.weight' have 4·k outputs" in first.reason and "storage order" in first.reason
    assert first.alternatives == ("dense6_3.weight", "dense6_2.weight")
    assert any("ambiguous" in w for w in first.warnings)
    for h in r.heads:
        w = net.state_dict()[h.layer].numpy()
        assert h.metrics.epsilon == pytest.approx(oracle_epsilon(w), rel=1e-11)


def test_sibling_1x1_conv_heads_in_json(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = PNet()
    path = tmp_path / "pnet.pt"
    torch.save(net.state_dict(), path)
    proc, doc = run_json(str(path))
    assert proc.returncode == 0, proc.stderr
    heads = doc["results"][0]["heads"]
    assert [h["layer"] for h in heads] == ["conv4_1.weight", "conv4_2.weight"]
    assert heads[0]["alternatives"] == ["conv4_2.weight"] and heads[1]["alternatives"] == ["conv4_1.weight"]
    assert "ambiguous" in heads[0]["reason"]
    assert heads[0]["epsilon"] == pytest.approx(oracle_epsilon(net.conv4_1.weight.detach().numpy()), rel=1e-11)


def test_a_single_chain_reports_no_alternatives(tmp_path: Path) -> None:
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 5))
    path = tmp_path / "mlp.pt"
    torch.save(net.state_dict(), path)
    (h,) = score_file(str(path)).heads
    assert h.layer == "2.weight" and h.alternatives == () and "ambiguous" not in h.reason


class Conv1dHead(nn.Module):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(16, 128, 3)
        self.norm = nn.BatchNorm1d(128)
        self.proj = nn.Conv1d(128, n, 1)

    def forward(self, x):  # noqa: ANN001, ANN201
        return self.proj(torch.relu(self.norm(self.conv(x))))


@pytest.mark.parametrize("n", [1, 7])
def test_kernel_size_1_conv1d_head(tmp_path: Path, n: int) -> None:
    torch.manual_seed(0)
    net = Conv1dHead(n).eval()
    path = tmp_path / "c1d.pt"
    torch.save(net.state_dict(), path)
    want = oracle_epsilon(net.proj.weight.detach().numpy())
    for opts in (ScoreOptions(), ScoreOptions(layer="proj")):
        r = score_file(str(path), opts)
        assert r.status == "ok", r.error
        (h,) = r.heads
        assert (h.layer, h.num_classes, h.num_features) == ("proj.weight", n, 128)
        assert h.metrics.epsilon == pytest.approx(want, rel=1e-11)
    onnx_path = tmp_path / "c1d.onnx"
    torch.onnx.export(net, (torch.randn(1, 16, 20),), str(onnx_path), dynamo=False, input_names=["x"])
    (h,) = score_file(str(onnx_path)).heads
    assert (h.num_classes, h.num_features, h.located_by) == (n, 128, "metadata")
    assert h.metrics.epsilon == pytest.approx(want, rel=1e-11)


def test_single_output_sigmoid_head_json_and_table(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 1), nn.Sigmoid()).eval()
    w = net[2].weight.detach().numpy().astype(np.float64)
    pt, ox = tmp_path / "det.pt", tmp_path / "det.onnx"
    torch.save(net.state_dict(), pt)
    torch.onnx.export(net, (torch.randn(1, 12),), str(ox), dynamo=False, input_names=["x"])
    for path in (pt, ox):
        proc, doc = run_json(str(path))
        assert proc.returncode == 0, proc.stderr
        (h,) = doc["results"][0]["heads"]
        assert (h["num_classes"], h["num_features"]) == (1, 32)
        assert h["epsilon"] == pytest.approx(oracle_epsilon(w), rel=1e-11)
        assert h["norms"]["mean"] == pytest.approx(float(np.linalg.norm(w)), rel=1e-12)
        assert h["cosine"] is None and h["etf"] is None  # no pairs: absent, not NaN
        assert "NaN" not in proc.stdout
    table = run_wsep("score", str(pt))
    assert table.returncode == 0, table.stderr
    assert "no pairs" in table.stdout and "nan" not in table.stdout.lower()


def test_no_classifier_message_counts_what_layers_lists(tmp_path: Path) -> None:
    # One candidate, the end of a head-less backbone with a norm after it: exit 3.
    shapes = {"proj": (16, 8), "norm.weight": (16,), "norm.bias": (16,)}
    path = tmp_path / "one.safetensors"
    save_file({k: np.ones(s, np.float32) for k, s in shapes.items()}, str(path))
    r = score_file(str(path))
    assert r.exit_code == 3 and "1 candidate matrix;" in r.error and "matrices" not in r.error.split(";")[0]
    listing = list_layers(str(path))
    assert [row.name for row in listing.rows] == ["proj"]


def test_recurrent_gate_matrices_are_no_candidates(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = nn.ModuleDict({"rnn": nn.LSTM(8, 16, batch_first=True), "gru": nn.GRU(16, 16), "out": nn.Linear(16, 6)})
    path = tmp_path / "rnn.pt"
    torch.save(net.state_dict(), path)
    listing = list_layers(str(path))
    assert [row.name for row in listing.rows] == ["out.weight"]
    (h,) = score_file(str(path)).heads
    assert h.layer == "out.weight"


def test_layers_shows_stored_and_scored_shape_of_an_onnx_matmul_head(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(0).standard_normal((20, 6)).astype(np.float32)  # features x classes
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["logits"]), helper.make_node("Softmax", ["logits"], ["p"])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 20])],
        [helper.make_tensor_value_info("p", TensorProto.FLOAT, [1, 6])], [numpy_helper.from_array(w, "W")])
    path = tmp_path / "mm.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    listing = list_layers(str(path))
    (row,) = listing.rows
    assert row.shape == (20, 6) and row.scored_as == (6, 20) and row.chosen
    text = run_wsep("layers", str(path))
    assert "20×6 stored, scored as 6 classes × 20 features" in text.stdout, text.stdout
    doc = json.loads(run_wsep("layers", "--json", str(path)).stdout)
    assert doc["candidates"][0]["scored_as"] == [6, 20]
    (h,) = score_file(str(path)).heads
    assert h.metrics.epsilon == pytest.approx(oracle_epsilon(w.T), rel=1e-11)


@pytest.mark.parametrize("model, x, first, alts", [
    (ONet, (1, 3, 8, 8), "dense6_1.weight", ("dense6_3.weight", "dense6_2.weight")),
    (PNet, (1, 3, 12, 12), "conv4_1.weight", ("conv4_2.weight",)),
])
def test_onnx_sibling_heads_rank_the_softmax_fed_one_first(tmp_path: Path, model, x, first, alts) -> None:  # noqa: ANN001
    torch.manual_seed(0)
    net = model().eval()
    path = tmp_path / "m.onnx"
    torch.onnx.export(net, (torch.randn(*x),), str(path), dynamo=False, input_names=["x"])
    r = score_file(str(path))
    assert r.status == "ok", r.error
    assert [h.layer for h in r.heads] == [first, *alts]
    assert r.heads[0].alternatives == alts and "feeds a Softmax" in r.heads[0].reason
    assert "ambiguous" in r.heads[0].reason and all(a in r.heads[0].reason for a in alts)
    for h in r.heads:
        assert h.metrics.epsilon == pytest.approx(oracle_epsilon(net.state_dict()[h.layer].numpy()), rel=1e-11)
    rows = list_layers(str(path)).rows  # PRelu slopes (32, 1, 1) look like Conv1d kernels but are none
    assert all(not row.name.startswith("onnx::PRelu") for row in rows), [row.name for row in rows]


def test_reshaped_4d_initializer_is_reported_and_accepted_under_its_stored_name(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    w4 = np.random.default_rng(1).standard_normal((16, 4, 4, 10)).astype(np.float32)  # CNTK's Parameter193
    g = helper.make_graph(
        [helper.make_node("Reshape", ["Parameter193", "shape"], ["Parameter193_reshape1"]),
         helper.make_node("MatMul", ["x", "Parameter193_reshape1"], ["t"]),
         helper.make_node("Add", ["t", "b"], ["y"])],
        "cntk", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 256])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
        [numpy_helper.from_array(w4, "Parameter193"), numpy_helper.from_array(np.array([256, 10], np.int64), "shape"),
         numpy_helper.from_array(np.zeros((1, 10), np.float32), "b")])
    path = tmp_path / "cntk.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    want = oracle_epsilon(w4.reshape(256, 10).T)
    for opts in (ScoreOptions(), ScoreOptions(layer="Parameter193")):
        r = score_file(str(path), opts)
        assert r.status == "ok", r.error
        (h,) = r.heads
        assert (h.layer, h.num_classes, h.num_features) == ("Parameter193", 10, 256)
        assert h.metrics.epsilon == pytest.approx(want, rel=1e-11)
    (row,) = list_layers(str(path)).rows
    assert (row.name, row.shape, row.scored_as) == ("Parameter193", (16, 4, 4, 10), (10, 256))
