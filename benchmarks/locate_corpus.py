"""Hit rate of the head locator on a corpus covering issue 11's cases and the real files.

Builds each model with the real libraries (torch.save, torch.jit.save, torch.onnx.export with
dynamo=False, onnx.helper, safetensors) in a temp folder, scores it with no --layer and checks the
primary head (and, where several class heads exist, that all are reported). Prints one row per case
and the hit rate. Real third-party files from ../shared/data are included when present.

Usage:  python benchmarks/locate_corpus.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests" / "locate")]  # the test models
SHARED = (REPO / ".." / "shared" / "data").resolve()


def build(folder: Path) -> list[tuple[str, Path, list[str]]]:
    """(case, file, heads that must be reported, primary first)."""
    import onnx
    import torch
    from onnx import TensorProto, helper, numpy_helper
    from safetensors.numpy import save_file
    from test_issue11_heads import Conv1dHead, ONet, PNet

    nn = torch.nn
    torch.manual_seed(0)
    cases: list[tuple[str, Path, list[str]]] = []

    def onnx_export(net: torch.nn.Module, shape: tuple[int, ...], name: str) -> Path:
        p = folder / name
        torch.onnx.export(net.eval(), (torch.randn(*shape),), str(p), dynamo=False, input_names=["x"])
        return p

    onet, pnet = ONet().eval(), PNet().eval()
    torch.save(onet.state_dict(), folder / "onet.pth")
    cases.append(("1 siblings, state_dict (ONet)", folder / "onet.pth", ["dense6_1.weight"]))
    torch.jit.save(torch.jit.script(onet), str(folder / "onet.ts"))
    cases.append(("1 siblings, TorchScript (ONet)", folder / "onet.ts", ["dense6_1.weight"]))
    cases.append(("1 siblings, ONNX (ONet)", onnx_export(onet, (1, 3, 8, 8), "onet.onnx"), ["dense6_1.weight"]))
    save_file({k: v.numpy() for k, v in pnet.state_dict().items()}, str(folder / "pnet.safetensors"))
    cases.append(("1 siblings, safetensors 1x1 convs (PNet)", folder / "pnet.safetensors", ["conv4_1.weight"]))
    cases.append(("1 siblings, ONNX 1x1 convs (PNet)", onnx_export(pnet, (1, 3, 12, 12), "pnet.onnx"), ["conv4_1.weight"]))

    # 2: YOLO-style: per-scale 1x1 class convs and box convs -> Concat / Reshape / Concat / Split / Sigmoid
    class Yolo(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.ModuleList(nn.Conv2d(3, 64, 3, padding=1) for _ in range(3))
            self.cv2 = nn.ModuleList(nn.Sequential(nn.Conv2d(64, 64, 3, padding=1), nn.Conv2d(64, 64, 1)) for _ in range(3))
            self.cv3 = nn.ModuleList(nn.Sequential(nn.Conv2d(64, 64, 3, padding=1), nn.Conv2d(64, 18, 1)) for _ in range(3))

        def forward(self, x):  # noqa: ANN001, ANN201
            outs = []
            for i in range(3):
                f = self.stem[i](x)
                outs.append(torch.cat((self.cv2[i](f), self.cv3[i](f)), 1).view(1, 82, -1))
            box, cls = torch.cat(outs, 2).split((64, 18), 1)
            return torch.cat((box * 2.0, cls.sigmoid()), 1)

    cases.append(("2 YOLO-style per-scale class convs (ONNX)", onnx_export(Yolo(), (1, 3, 8, 8), "yolo.onnx"),
                  ["cv3.0.1.weight", "cv3.1.1.weight", "cv3.2.1.weight"]))

    # 3: MatMulInteger head with a uint8 weight, zero point and scale
    w_q = np.random.default_rng(0).integers(0, 255, (32, 10), dtype=np.uint8)
    g = helper.make_graph(
        [helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"]),
         helper.make_node("MatMulInteger", ["xq", "W_q", "xz", "W_zp"], ["acc"]),
         helper.make_node("Cast", ["acc"], ["accf"], to=TensorProto.FLOAT),
         helper.make_node("Mul", ["xs", "W_scale"], ["s"]),
         helper.make_node("Mul", ["accf", "s"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["p"])],
        "q", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 32])],
        [helper.make_tensor_value_info("p", TensorProto.FLOAT, [1, 10])],
        [numpy_helper.from_array(w_q, "W_q"), numpy_helper.from_array(np.array(128, np.uint8), "W_zp"),
         numpy_helper.from_array(np.array(0.01, np.float32), "W_scale")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(folder / "q.onnx"))
    cases.append(("3 quantised MatMulInteger head (ONNX)", folder / "q.onnx", ["W_q"]))

    c1d = Conv1dHead(1).eval()
    torch.save(c1d.state_dict(), folder / "c1d.pt")
    cases.append(("4 Conv1d(128, 1, 1) head, state_dict", folder / "c1d.pt", ["proj.weight"]))
    cases.append(("4 Conv1d(128, 7, 1) head, ONNX", onnx_export(Conv1dHead(7), (1, 16, 20), "c1d.onnx"), ["proj.weight"]))

    # 5: weights as Constants inside both branches of an If
    def branch(tag: str, n: int) -> onnx.GraphProto:
        w = np.random.default_rng(n).standard_normal((n, 16)).astype(np.float32)
        return helper.make_graph(
            [helper.make_node("Constant", [], [f"W_{tag}"], value=numpy_helper.from_array(w, f"W_{tag}")),
             helper.make_node("Gemm", ["x", f"W_{tag}"], [f"y_{tag}"], transB=1)],
            tag, [], [helper.make_tensor_value_info(f"y_{tag}", TensorProto.FLOAT, [1, n])])
    g = helper.make_graph(
        [helper.make_node("If", ["c"], ["y"], then_branch=branch("sr8k", 5), else_branch=branch("sr16k", 5))],
        "if", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16]),
               helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(folder / "if.onnx"))
    cases.append(("5 heads inside If branches (ONNX)", folder / "if.onnx", ["W_sr8k", "W_sr16k"]))

    det = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 1), nn.Sigmoid()).eval()
    torch.save(det.state_dict(), folder / "det.pt")
    cases.append(("6 n=1 sigmoid score, state_dict", folder / "det.pt", ["2.weight"]))
    cases.append(("6 n=1 sigmoid score, ONNX", onnx_export(det, (1, 12), "det.onnx"), ["2.weight"]))

    model = nn.ModuleDict({"body": nn.Linear(8, 16), "head": nn.Linear(16, 5), "fc": nn.Linear(16, 5)})
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model["fc"](model["body"](torch.randn(2, 8))).sum().backward()
    opt.step()
    torch.save({"epoch": 3, "arch": "resnet18", "state_dict": model.state_dict(), "optimizer": opt.state_dict()},
               folder / "arch.pth")
    cases.append(("7 training checkpoint with arch key", folder / "arch.pth", ["fc.weight"]))

    rnn = nn.ModuleDict({"rnn": nn.LSTM(8, 16), "out": nn.Linear(16, 6)})
    torch.save(rnn.state_dict(), folder / "rnn.pt")
    cases.append(("8 LSTM + Linear, state_dict", folder / "rnn.pt", ["out.weight"]))

    # 9: CNTK-style: a 4-D initializer reshaped to 2-D before its MatMul
    w4 = np.random.default_rng(1).standard_normal((16, 4, 4, 10)).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("Reshape", ["Parameter193", "shape"], ["Parameter193_reshape1"]),
         helper.make_node("MatMul", ["x", "Parameter193_reshape1"], ["t"]),
         helper.make_node("Add", ["t", "b"], ["y"])],
        "cntk", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 256])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
        [numpy_helper.from_array(w4, "Parameter193"), numpy_helper.from_array(np.array([256, 10], np.int64), "shape"),
         numpy_helper.from_array(np.zeros((1, 10), np.float32), "b")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(folder / "cntk.onnx"))
    cases.append(("9 reshaped 4-D initializer (ONNX)", folder / "cntk.onnx", ["Parameter193"]))

    for rel, head in (("akamaster_pytorch_resnet_cifar10/resnet20-12fca82f.th", "module.linear.weight"),
                      ("akamaster_pytorch_resnet_cifar10/resnet32-d509ac18.th", "module.linear.weight"),
                      ("karelnagel_denograd/mnist.safetensors", "layers.13.weight"),
                      ("microsoft_windows_machine_learning/myFirstModel.pth", "fc1.weight"),
                      ("microsoft_windows_machine_learning/ImageClassifier.onnx", "fc1.weight")):
        if (SHARED / rel).exists():
            cases.append((f"real: {rel.split('/')[-1]}", SHARED / rel, [head]))
    return cases


def main() -> None:
    from wsep_cli.pipeline import score_file

    with tempfile.TemporaryDirectory() as tmp:
        cases = build(Path(tmp))
        hits = 0
        print("| case | expected heads | got | hit |")
        print("|---|---|---|---|")
        for name, path, want in cases:
            r = score_file(str(path))
            got = [h.layer for h in r.heads]
            ok = r.status == "ok" and got[:1] == want[:1] and set(want) <= set(got)
            hits += ok
            shown = ", ".join(got) if r.status == "ok" else f"exit {r.exit_code}"
            print(f"| {name} | {', '.join(want)} | {shown} | {'yes' if ok else 'NO'} |")
        print(f"\nhit rate: {hits}/{len(cases)}")


if __name__ == "__main__":
    main()
