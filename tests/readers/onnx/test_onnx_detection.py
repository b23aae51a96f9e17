"""Issue 11, point 2 and the exit-3 message of point 8: YOLO-style detection heads (per-scale 1x1 class
convs reaching the output through Concat / Reshape / Split / Sigmoid), exported by torch.onnx with both
exporters, and a graph whose walk stops, named in the message. Metrics against float64 numpy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnx.helper as oh
import pytest
from onnx import numpy_helper

from conftest import run_json
from wsep_cli.pipeline import list_layers, score_file

torch = pytest.importorskip("torch")
nn = torch.nn

NC, REG = 18, 16  # classes, box bins per side (4 * REG box channels)


def oracle_epsilon(v: np.ndarray) -> float:
    v = np.asarray(v, dtype=np.float64).reshape(v.shape[0], -1)
    g = v @ v.T - np.eye(v.shape[0])
    return float((g * g).sum() / v.shape[0])


class BoxDecoder(nn.Module):
    """Distribution focal loss decoding: a fixed 1x1 conv (weights 0..REG-1) over a softmax."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(REG, 1, 1, bias=False).requires_grad_(False)
        self.conv.weight.data[:] = torch.arange(REG, dtype=torch.float).view(1, REG, 1, 1)

    def forward(self, x):  # noqa: ANN001, ANN201
        b, _, a = x.shape
        return self.conv(x.view(b, 4, REG, a).transpose(2, 1).softmax(1)).view(b, 4, a)


class Detect(nn.Module):
    """Three scales, each a box branch (cv2, 64 outputs) and a class branch (cv3, NC outputs)."""

    def __init__(self, ch: tuple[int, ...] = (32, 48, 64)) -> None:
        super().__init__()
        self.cv2 = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c, 64, 3, padding=1), nn.SiLU(), nn.Conv2d(64, 4 * REG, 1)) for c in ch)
        self.cv3 = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c, 64, 3, padding=1), nn.SiLU(), nn.Conv2d(64, NC, 1)) for c in ch)
        self.dfl = BoxDecoder()

    def forward(self, xs):  # noqa: ANN001, ANN201
        b = xs[0].shape[0]
        per_scale = [torch.cat((self.cv2[i](x), self.cv3[i](x)), 1).view(b, 4 * REG + NC, -1)
                     for i, x in enumerate(xs)]
        box, cls = torch.cat(per_scale, 2).split((4 * REG, NC), 1)
        a = box.shape[-1]
        anchors = torch.arange(a, dtype=torch.float).expand(2, a).unsqueeze(0)
        lt, rb = self.dfl(box).chunk(2, 1)
        dbox = torch.cat(((anchors - lt + anchors + rb) / 2, rb + lt), 1) * 8.0
        return torch.cat((dbox, cls.sigmoid()), 1)


class TinyYolo(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.ModuleList([nn.Conv2d(3, 32, 3, 1, 1), nn.Conv2d(32, 48, 3, 2, 1), nn.Conv2d(48, 64, 3, 2, 1)])
        self.detect = Detect()

    def forward(self, x):  # noqa: ANN001, ANN201
        feats = []
        for m in self.stem:
            x = torch.relu(m(x))
            feats.append(x)
        return self.detect(feats)


@pytest.fixture(scope="module")
def yolo() -> TinyYolo:
    torch.manual_seed(0)
    return TinyYolo().eval()


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript-exporter", "dynamo-exporter"])
def test_every_per_scale_class_head_is_reported(tmp_path: Path, yolo: TinyYolo, dynamo: bool) -> None:
    path = tmp_path / "yolo.onnx"
    torch.onnx.export(yolo, (torch.randn(1, 3, 16, 16),), str(path), dynamo=dynamo, input_names=["images"],
                      output_names=["output0"])
    r = score_file(str(path))
    assert r.status == "ok", r.error
    want = [f"detect.cv3.{i}.2.weight" for i in range(3)]
    assert [h.layer for h in r.heads] == want  # no box regressor (cv2), no box decoder (dfl)
    for i, h in enumerate(r.heads):
        w = yolo.detect.cv3[i][2].weight.detach().numpy()
        assert (h.num_classes, h.num_features, h.located_by) == (NC, 64, "metadata")
        assert h.metrics.epsilon == pytest.approx(oracle_epsilon(w), rel=1e-11)
        assert "one of 3 heads that reach output 'output0'" in h.reason
    listing = list_layers(str(path))
    marked = [row.name for row in listing.rows if row.chosen]
    assert marked == want
    assert {"detect.cv2.0.2.weight", "detect.dfl.conv.weight"} <= {row.name for row in listing.rows}


def test_box_regressors_are_followed_when_the_split_sizes_are_unknown(tmp_path: Path) -> None:
    # Split into two equal halves of a Concat whose parts' sizes are known: the range is still tracked.
    rng = np.random.default_rng(1)
    box, cls = rng.normal(size=(6, 8, 1, 1)), rng.normal(size=(6, 8, 1, 1))
    nodes = [
        oh.make_node("Conv", ["x", "box_w"], ["b"]), oh.make_node("Conv", ["x", "cls_w"], ["c"]),
        oh.make_node("Concat", ["b", "c"], ["bc"], axis=1),
        oh.make_node("Split", ["bc"], ["b2", "c2"], axis=1, num_outputs=2),
        oh.make_node("Sigmoid", ["c2"], ["scores"]),
    ]
    graph = oh.make_graph(
        nodes, "g", [oh.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 8, 4, 4])],
        [oh.make_tensor_value_info("scores", onnx.TensorProto.FLOAT, [1, 6, 4, 4])],
        [numpy_helper.from_array(box.astype(np.float32), "box_w"),
         numpy_helper.from_array(cls.astype(np.float32), "cls_w")])
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 18)])
    onnx.checker.check_model(model, full_check=True)
    path = tmp_path / "split.onnx"
    onnx.save(model, path)
    (h,) = score_file(str(path)).heads
    assert h.layer == "cls_w"
    assert h.metrics.epsilon == pytest.approx(oracle_epsilon(cls.astype(np.float32)), rel=1e-11)


def test_class_heads_rank_before_box_heads_that_reach_the_output_unactivated(tmp_path: Path) -> None:
    # Box and class convs concatenated, split apart again, box * 2 and sigmoid(class) joined into the
    # one output: both reach it, but only the class convs through a Sigmoid, so they come first.
    rng = np.random.default_rng(2)
    ws = {f"{kind}{i}": rng.normal(size=(n, 8, 1, 1)).astype(np.float32)
          for i in range(2) for kind, n in (("box", 8), ("cls", 6))}
    nodes = [oh.make_node("Conv", [f"x{k[-1]}", k], [f"o_{k}"]) for k in ws]  # one feature map per scale
    nodes += [oh.make_node("Concat", [f"o_box{i}", f"o_cls{i}"], [f"bc{i}"], axis=1) for i in range(2)]
    nodes += [oh.make_node("Concat", ["bc0", "bc1"], ["all"], axis=2),
              oh.make_node("Split", ["all", "sizes"], ["b", "c"], axis=1),
              oh.make_node("Mul", ["b", "two"], ["b2"]), oh.make_node("Sigmoid", ["c"], ["cs"]),
              oh.make_node("Concat", ["b2", "cs"], ["out"], axis=1)]
    graph = oh.make_graph(
        nodes, "g", [oh.make_tensor_value_info(f"x{i}", onnx.TensorProto.FLOAT, [1, 8, 4, 4]) for i in range(2)],
        [oh.make_tensor_value_info("out", onnx.TensorProto.FLOAT, [1, 14, 8, 4])],
        [numpy_helper.from_array(w, k) for k, w in ws.items()]
        + [numpy_helper.from_array(np.array([8, 6], np.int64), "sizes"),
           numpy_helper.from_array(np.array(2.0, np.float32), "two")])
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 18)])
    onnx.checker.check_model(model, full_check=True)
    path = tmp_path / "boxcls.onnx"
    onnx.save(model, path)
    r = score_file(str(path))
    assert r.status == "ok", r.error
    assert [h.layer for h in r.heads][:2] == ["cls0", "cls1"]
    assert r.heads[0].metrics.epsilon == pytest.approx(oracle_epsilon(ws["cls0"]), rel=1e-11)


def test_exit_3_names_where_the_graph_walk_stopped(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    nodes = [oh.make_node("MatMul", ["x", "A"], ["h"]), oh.make_node("MatMul", ["x", "B"], ["h2"]),
             oh.make_node("Mul", ["h", "h2"], ["p"], name="gate"), oh.make_node("Erf", ["p"], ["y"], name="erf_1")]
    graph = oh.make_graph(
        nodes, "g", [oh.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 6])],
        [oh.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 6])],
        [numpy_helper.from_array(rng.normal(size=(6, 6)).astype(np.float32), n) for n in ("A", "B")])
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 18)])
    onnx.checker.check_model(model, full_check=True)
    path = tmp_path / "stop.onnx"
    onnx.save(model, path)
    proc, doc = run_json(str(path))
    assert proc.returncode == 3
    err = doc["results"][0]["error"]
    assert "2 candidate matrices" in err
    assert "the ONNX graph walk back to a head stopped from output 'y' at Erf node 'erf_1'" in err
    assert "Traceback" not in proc.stderr
