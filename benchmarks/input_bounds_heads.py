"""Classifier heads near 10 MiB (the most a 10 MiB file can ask of the metrics) and an ONNX chain
builder, for ``benchmarks/input_bounds_valid.py`` (which runs them in a child process)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

RNG = np.random.default_rng(15)
HEAD_N, HEAD_M = 2500, 1000  # 2500 x 1000 float32: 10,000,000 bytes, the largest head under 10 MiB


def onnx_chain(n_nodes: int, head: np.ndarray, name: str, pad: str = "") -> bytes:
    """x -> ``n_nodes`` Relu/Neg/Abs/Identity nodes -> Gemm(head, transB=1) -> logits; ``pad``
    lengthens every tensor and node name."""
    from onnx import TensorProto, helper, numpy_helper

    m = head.shape[1]
    ops = ("Relu", "Neg", "Abs", "Identity")
    nodes = [helper.make_node(ops[i % 4], [f"{pad}t{i}" if i else "x"], [f"{pad}t{i + 1}"],
                              name=f"{pad}block{i // 4}.op{i % 4}") for i in range(n_nodes)]
    nodes.append(helper.make_node("Gemm", [f"{pad}t{n_nodes}", "fc.weight", "fc.bias"], ["logits"], transB=1, name="fc"))
    inits = [numpy_helper.from_array(head, "fc.weight"),
             numpy_helper.from_array(np.zeros(head.shape[0], np.float32), "fc.bias")]
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, m])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, head.shape[0]])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _head() -> np.ndarray:
    return (RNG.standard_normal((HEAD_N, HEAD_M)) / np.sqrt(HEAD_M)).astype(np.float32)


def head_10mb_safetensors(d: Path) -> Path:
    from safetensors.numpy import save_file

    p = d / "head_2500x1000.safetensors"
    save_file({"fc.weight": _head(), "fc.bias": np.zeros(HEAD_N, np.float32)}, str(p))
    return p


def head_10mb_wide_safetensors(d: Path) -> Path:
    """The same bytes as 1000 classes x 2500 features."""
    from safetensors.numpy import save_file

    p = d / "head_1000x2500.safetensors"
    save_file({"fc.weight": np.ascontiguousarray(_head().reshape(HEAD_M, HEAD_N))}, str(p))
    return p


def head_10mb_pt(d: Path) -> Path:
    import torch

    p = d / "head_2500x1000.pt"
    torch.save({"fc.weight": torch.from_numpy(_head()), "fc.bias": torch.zeros(HEAD_N)}, p)
    return p


def head_10mb_onnx(d: Path) -> Path:
    p = d / "head_2500x1000.onnx"
    p.write_bytes(onnx_chain(1, _head(), "head"))
    return p


def head_10mb_fp16_safetensors(d: Path) -> Path:
    """5000 x 1000 float16: the most rows (and float64 upcast bytes) a 10 MiB head can hold."""
    from safetensors.numpy import save_file

    p = d / "head_5000x1000_fp16.safetensors"
    save_file({"fc.weight": (RNG.standard_normal((5000, 1000)) / 32).astype(np.float16)}, str(p))
    return p


def head_10mb_bf16_pt(d: Path) -> Path:
    import torch

    p = d / "head_5000x1000_bf16.pt"
    torch.save({"fc.weight": (torch.randn(5000, 1000) / 32).to(torch.bfloat16)}, p)
    return p


def head_exact_pairs_8192(d: Path) -> Path:
    """8192 classes x 319 features float32 (~10 MB): 33.5M cosine pairs, all computed exactly."""
    from safetensors.numpy import save_file

    p = d / "head_8192x319.safetensors"
    save_file({"fc.weight": RNG.standard_normal((8192, 319), np.float32)}, str(p))
    return p


def head_exact_pair_limit(d: Path) -> Path:
    """32,768 classes x 79 features float32 (9.9 MiB): at the class limit, but past the work limit (sampled)."""
    from safetensors.numpy import save_file

    p = d / "head_32768x79.safetensors"
    save_file({"fc.weight": RNG.standard_normal((32_768, 79), np.float32)}, str(p))
    return p


def head_exact_work_limit(d: Path) -> Path:
    """17,000 x 79 float32 (5.1 MiB): 144.5M pairs, the largest exact pass at this m (EXACT_PAIR_WORK_CPU)."""
    from safetensors.numpy import save_file

    p = d / "head_17000x79.safetensors"
    save_file({"fc.weight": RNG.standard_normal((17_000, 79), np.float32)}, str(p))
    return p


def head_exact_work_limit_fp16(d: Path) -> Path:
    """11,800 x 300 float16 (6.8 MiB): 69.6M pairs at m = 300, just under the work limit (exact)."""
    from safetensors.numpy import save_file

    p = d / "head_11800x300_fp16.safetensors"
    save_file({"fc.weight": RNG.standard_normal((11_800, 300)).astype(np.float16)}, str(p))
    return p
