"""Valid but metadata-heavy checkpoints, and near-10 MB heads, for ``benchmarks/input_bounds.py``.

Run as a child process (``python benchmarks/input_bounds_valid.py FOLDER [BUILDER...]``) so that torch, timm,
transformers and onnx never enter the benchmark's own process. Every file is written by the real
library (``torch.save``, ``safetensors.numpy.save_file``, ``onnx.helper``, timm's ``save_for_hf``,
transformers' ``save_pretrained``); a builder whose library is missing is left out. Prints one JSON
object: builder name -> path relative to FOLDER.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from input_bounds_heads import (  # noqa: E402
    onnx_chain, head_10mb_bf16_pt, head_10mb_fp16_safetensors, head_10mb_onnx, head_10mb_pt, head_10mb_safetensors,
    head_10mb_wide_safetensors, head_exact_pair_limit, head_exact_pairs_8192, head_exact_work_limit,
    head_exact_work_limit_fp16,
)

Builder = Callable[[Path], Path]
RNG = np.random.default_rng(16)


def _resnet_like():  # noqa: ANN202 - torch is imported here only
    """A small CNN with ResNet's module names (conv1, bn1, layer1, fc), ~250k parameters."""
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 32, 3)
            self.bn1 = nn.BatchNorm2d(32)
            self.layer1 = nn.Sequential(nn.Conv2d(32, 192, 3), nn.BatchNorm2d(192), nn.ReLU())
            self.fc = nn.Linear(192, 1000)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.layer1(torch.relu(self.bn1(self.conv1(x))))
            return self.fc(x.mean((2, 3)))

    torch.manual_seed(0)
    return Net()


def _trained(net):  # noqa: ANN001, ANN202
    """One SGD-momentum step, so the optimizer state holds a momentum buffer per parameter."""
    import torch

    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=30, gamma=0.1)
    net(torch.randn(2, 3, 16, 16)).sum().backward()
    opt.step()
    sched.step()
    return opt, sched


def torchvision_reference(d: Path) -> Path:
    """``{"epoch", "arch": "resnet50", "state_dict", "optimizer"}``: the checkpoint that cost 850 MB."""
    import torch

    net = _resnet_like()
    opt, _ = _trained(net)
    p = d / "torchvision_reference.pth"
    torch.save({"epoch": 89, "arch": "resnet50", "state_dict": net.state_dict(), "optimizer": opt.state_dict()}, p)
    return p


def torchvision_reference_args(d: Path) -> Path:
    """What torchvision's references/classification/train.py saves: model, optimizer, lr_scheduler,
    epoch and the ``argparse.Namespace`` of its command line (a global no allowlist needs)."""
    import argparse as ap

    import torch

    net = _resnet_like()
    opt, sched = _trained(net)
    args = ap.Namespace(model="resnet50", epochs=90, lr=0.1, momentum=0.9, weight_decay=1e-4, batch_size=32,
                        data_path="/datasets/imagenet", output_dir="checkpoints", amp=False)
    p = d / "torchvision_reference_args.pth"
    torch.save({"model": net.state_dict(), "optimizer": opt.state_dict(), "lr_scheduler": sched.state_dict(),
                "epoch": 89, "args": args}, p)
    return p


def torchvision_reference_legacy(d: Path) -> Path:
    """The ``arch`` checkpoint in the legacy (pre-1.6, non-zip) serialization."""
    import torch

    net = _resnet_like()
    opt, _ = _trained(net)
    p = d / "torchvision_reference_legacy.pth"
    torch.save({"epoch": 89, "arch": "resnet50", "state_dict": net.state_dict(), "optimizer": opt.state_dict()}, p,
               _use_new_zipfile_serialization=False)
    return p


def _timm_test_resnet():  # noqa: ANN202
    import timm
    import torch

    torch.manual_seed(0)
    return timm.create_model("test_resnet", pretrained=False)


def timm_train_checkpoint(d: Path) -> Path:
    """What timm's train.py saves (epoch, arch, state_dict, optimizer, version, args, metric,
    state_dict_ema), plus the model's ``pretrained_cfg`` dict, for timm's real ``test_resnet``."""
    import argparse as ap

    import torch

    net = _timm_test_resnet()
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(torch.randn(2, 3, 32, 32)).sum().backward()
    opt.step()
    sd = net.state_dict()
    p = d / "timm_train_checkpoint.pth.tar"
    torch.save({"epoch": 299, "arch": "test_resnet.r160_in1k", "state_dict": sd, "optimizer": opt.state_dict(),
                "version": 2, "args": ap.Namespace(model="test_resnet", lr=0.1, epochs=300), "metric": 71.2,
                "state_dict_ema": {k: v.clone() for k, v in sd.items()}, "pretrained_cfg": dict(net.pretrained_cfg)}, p)
    return p


def timm_hub_folder(d: Path) -> Path:
    """A timm Hub folder written by ``timm.models.save_for_hf``: config.json (architecture,
    pretrained_cfg, label names) beside model.safetensors."""
    from timm.models import save_for_hf

    folder = d / "timm_hub_folder"
    net = _timm_test_resnet()
    save_for_hf(net, folder, model_args={"label_names": [f"class {i}" for i in range(1000)]}, safe_serialization=True)
    return folder


def hf_save_pretrained(d: Path) -> Path:
    """A transformers ``ResNetForImageClassification`` (tiny widths, 1000 labels) from ``save_pretrained``."""
    import torch
    from transformers import ResNetConfig, ResNetForImageClassification

    torch.manual_seed(0)
    labels = {i: f"imagenet class {i}" for i in range(1000)}
    cfg = ResNetConfig(embedding_size=16, hidden_sizes=[16, 32, 64, 128], depths=[1, 1, 1, 1], num_labels=1000,
                       id2label=labels, label2id={v: k for k, v in labels.items()})
    folder = d / "hf_save_pretrained"
    ResNetForImageClassification(cfg).save_pretrained(folder)
    return folder


def safetensors_big_metadata(d: Path) -> Path:
    """A 1000 x 512 head under a ~5 MB ``__metadata__`` (3000 string entries, one a JSON training log)."""
    from safetensors.numpy import save_file

    log = json.dumps([{"step": i, "loss": 1.0 / (i + 1), "lr": 0.1} for i in range(20_000)])
    meta = {"format": "pt", "training_log": log}
    meta.update({f"note_{i:04d}": "x" * 1000 for i in range(3000)})
    p = d / "safetensors_big_metadata.safetensors"
    save_file({"features.weight": RNG.standard_normal((512, 256), np.float32),
               "fc.weight": RNG.standard_normal((1000, 512), np.float32)}, str(p), metadata=meta)
    return p


def onnx_many_nodes(d: Path) -> Path:
    """20,000 nodes before a 1000 x 256 Gemm head (a large transformer's node count)."""
    p = d / "onnx_many_nodes.onnx"
    p.write_bytes(onnx_chain(20_000, RNG.standard_normal((1000, 256), np.float32), "many_nodes"))
    return p


def onnx_node_limit(d: Path) -> Path:
    """~9.9 MB of graph: 99,990 nodes (wsep reads at most 100,000) with long names, before a 10 x 32
    Gemm head: the most an ONNX graph can cost wsep to parse."""
    p = d / "onnx_node_limit.onnx"
    p.write_bytes(onnx_chain(99_990, RNG.standard_normal((10, 32), np.float32), "node_limit", pad="p" * 20))
    return p


def onnx_node_flood(d: Path) -> Path:
    """~6 MB: 400,000 one-letter nodes, over the 100,000-node limit (refused, exit 4)."""
    from onnx import TensorProto, helper, numpy_helper

    n = 400_000
    nodes = [helper.make_node("Relu", [f"{i:x}" if i else "x"], [f"{i + 1:x}"]) for i in range(n)]
    nodes.append(helper.make_node("Gemm", [f"{n:x}", "w"], ["y"], transB=1))
    graph = helper.make_graph(nodes, "flood", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
                              [numpy_helper.from_array(RNG.standard_normal((10, 32), np.float32), "w")])
    p = d / "onnx_node_flood.onnx"
    p.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    return p


def sharded_folder(d: Path) -> Path:
    """Four safetensors shards and an index whose weight map lists 4,000 tensors."""
    from safetensors.numpy import save_file

    folder = d / "sharded_folder"
    folder.mkdir()
    names = [f"blocks.{i}.mlp.weight" for i in range(4000)]
    shards: list[dict[str, np.ndarray]] = [{} for _ in range(4)]
    for i, name in enumerate(names):
        shards[i % 4][name] = RNG.standard_normal((8, 8), np.float32)
    shards[3]["head.weight"] = RNG.standard_normal((1000, 384), np.float32)
    weight_map = {}
    for k, tensors in enumerate(shards):
        fname = f"model-{k + 1:05d}-of-00004.safetensors"
        save_file(tensors, str(folder / fname), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(tensors, fname))
    total = sum(a.nbytes for s in shards for a in s.values())
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2))
    return folder


def pt_many_tensors(d: Path) -> Path:
    """A state_dict of 30,000 tiny tensors (one zip record each) beside a 1000 x 64 ``fc.weight``."""
    import torch

    sd = {f"blocks.{i}.scale": torch.ones(4) for i in range(30_000)}
    sd["fc.weight"] = torch.from_numpy(RNG.standard_normal((1000, 64), np.float32))
    p = d / "pt_many_tensors.pt"
    torch.save(sd, p)
    return p


def pt_training_history(d: Path) -> Path:
    """A checkpoint whose pickle is mostly metadata: 90,000 per-step log records and a 150,000-entry
    string map, beside a small model."""
    import torch

    net = _resnet_like()
    history = [{"step": i, "loss": 1.0 / (i + 1), "lr": 0.1 * 0.999 ** i, "tag": f"s{i}"} for i in range(90_000)]
    p = d / "pt_training_history.pth"
    torch.save({"state_dict": net.state_dict(), "history": history,
                "vocab": {f"token{i}": i for i in range(150_000)}}, p)
    return p


def safetensors_many_tensors(d: Path) -> Path:
    """A header of 120,000 tensor entries (~9 MB of JSON) and a 1000 x 64 ``fc.weight``."""
    from safetensors.numpy import save_file

    tensors = {f"blocks.{i}.scale": np.ones(1, np.float32) for i in range(120_000)}
    tensors["fc.weight"] = RNG.standard_normal((1000, 64), np.float32)
    p = d / "safetensors_many_tensors.safetensors"
    save_file(tensors, str(p))
    return p


BUILDERS: dict[str, tuple[str, Builder]] = {f.__name__: (lib, f) for lib, f in (
    ("torch", torchvision_reference), ("torch", torchvision_reference_args), ("torch", torchvision_reference_legacy),
    ("timm", timm_train_checkpoint), ("timm", timm_hub_folder), ("transformers", hf_save_pretrained),
    ("safetensors", safetensors_big_metadata), ("onnx", onnx_many_nodes), ("onnx", onnx_node_limit), ("onnx", onnx_node_flood),
    ("safetensors", sharded_folder), ("safetensors", head_10mb_safetensors), ("safetensors", head_10mb_wide_safetensors),
    ("torch", head_10mb_pt), ("onnx", head_10mb_onnx), ("torch", pt_many_tensors), ("torch", pt_training_history),
    ("safetensors", safetensors_many_tensors), ("safetensors", head_10mb_fp16_safetensors), ("torch", head_10mb_bf16_pt),
    ("safetensors", head_exact_pairs_8192), ("safetensors", head_exact_pair_limit),
    ("safetensors", head_exact_work_limit), ("safetensors", head_exact_work_limit_fp16),
)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("names", nargs="*", help="builders to run (default: all)")
    args = ap.parse_args()
    unknown = set(args.names) - set(BUILDERS)
    if unknown:
        ap.error(f"unknown builders {sorted(unknown)}; known: {', '.join(BUILDERS)}")
    args.folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, str] = {}
    for name, (lib, build) in BUILDERS.items():
        if args.names and name not in args.names:
            continue
        if importlib.util.find_spec(lib) is None:
            print(f"left out {name}: {lib} is not installed", file=sys.stderr)
            continue
        out[name] = str(build(args.folder).relative_to(args.folder))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
