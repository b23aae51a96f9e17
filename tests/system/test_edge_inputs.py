"""Edge inputs, through the installed ``wsep``: non-finite weights, empty tensors, tensors of the wrong
rank, a single class, integer / float8 / quantized heads, half precision.

Documented behaviour (docs/security.md, "Edge inputs"):

- NaN or Inf in the head, or finite values so large that float64 metrics overflow: exit 4, the
  message names the layer.
- ``--layer`` naming a 1-D, 5-D, non-1x1 4-D, empty, or non-float tensor: exit 3, the message gives
  its rank, dtype and shape.
- A file whose only matrices are empty or non-float: exit 3 with a hint to use ``--layer``.
- n = 1 (one class): scored; cosine and ETF statistics are ``null`` (no pairs), epsilon is exact.
- float16 / bfloat16 heads are upcast exactly; integer, float8 and quantized heads are not scored.
"""

from __future__ import annotations

import json
import struct
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import FIXTURES, run_wsep
from hostile_files import HEAD_STORAGE, rebuild_fixture_zip, write_safetensors

RNG = np.random.default_rng(1)
HEAD = RNG.standard_normal((10, 32)).astype(np.float32)
BODY = {"features.0.weight": RNG.standard_normal((32, 64)).astype(np.float32)}


def _eps(v: np.ndarray) -> float:
    v = v.astype(np.float64)
    return float(((v @ v.T - np.eye(v.shape[0])) ** 2).sum() / v.shape[0])


def _score(*args: str) -> tuple[int, dict[str, dict[str, Any]], list[str]]:
    proc = run_wsep("score", "--json", *args, timeout=120)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    doc = json.loads(proc.stdout)
    return proc.returncode, {r["path"]: r for r in doc["results"]}, [ln for ln in proc.stderr.splitlines() if ln]


# ---------------------------------------------------------------------------------- non-finite

def _with_bad_value(v: np.ndarray, bad: float | bytes) -> np.ndarray:
    v = v.copy()
    if isinstance(bad, bytes):  # a raw bit pattern (signalling NaN)
        v.reshape(-1).view(np.uint8)[12:16] = np.frombuffer(bad, np.uint8)
    else:
        v[2, 5] = bad
    return v


def _onnx_with_nan(path: Path) -> Path:
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    model = onnx.load(str(FIXTURES / "digits_mlp.onnx"))
    for i, t in enumerate(model.graph.initializer):
        if t.name == "classifier.weight":
            arr = numpy_helper.to_array(t).copy()
            arr[0, 0] = np.nan
            model.graph.initializer[i].CopyFrom(numpy_helper.from_array(arr, t.name))
    onnx.save(model, str(path))
    return path


def test_non_finite_weights_exit_4_naming_the_layer(tmp_path: Path) -> None:
    files = {}
    for name, dtype, bad in [("nan32", np.float32, np.nan), ("posinf16", np.float16, np.inf),
                             ("neginf64", np.float64, -np.inf), ("snan32", np.float32, b"\x00\x00\xa0\x7f")]:
        p = tmp_path / f"{name}.safetensors"
        write_safetensors(p, {**BODY, "classifier.weight": _with_bad_value(HEAD.astype(dtype), bad)})
        files[name] = p
    nan_bytes = np.full((10, 32), np.nan, np.float32).tobytes()
    files["zip"] = tmp_path / "nan.pt"
    rebuild_fixture_zip(files["zip"], {HEAD_STORAGE: nan_bytes})
    files["onnx"] = _onnx_with_nan(tmp_path / "nan.onnx")
    rc, results, lines = _score(*map(str, files.values()))
    assert rc == 4
    assert len(lines) == len(files), lines  # one line each, no numpy RuntimeWarning on stderr
    for name, p in files.items():
        r = results[str(p)]
        assert r["exit_code"] == 4, (name, r)
        assert "classifier.weight" in r["error"] and "non-finite" in r["error"], (name, r["error"])


def test_huge_finite_weights_exit_4_with_valid_json(tmp_path: Path) -> None:
    """1e300 is finite, but its Gram matrix overflows float64: refused, not reported as Infinity."""
    v = HEAD.astype(np.float64)
    v[0, 0] = 1e300
    p = tmp_path / "huge.safetensors"
    write_safetensors(p, {"classifier.weight": v})
    rc, results, lines = _score(str(p))
    assert rc == 4 and len(lines) == 1, lines
    assert "classifier.weight" in results[str(p)]["error"]


def test_large_but_safe_float32_weights_are_scored(tmp_path: Path) -> None:
    """float32's largest values still give finite float64 metrics: scored, not refused."""
    v = HEAD.copy()
    v[0, 0] = 3e38
    p = tmp_path / "big32.safetensors"
    write_safetensors(p, {"classifier.weight": v})
    rc, results, _ = _score(str(p))
    assert rc == 0
    assert results[str(p)]["heads"][0]["epsilon"] == pytest.approx(_eps(v), rel=1e-9)


# ------------------------------------------------------------------------------- shapes and rank

@pytest.fixture(scope="module")
def shapes_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("shapes") / "shapes.safetensors"
    write_safetensors(p, {
        **BODY,
        "classifier.weight": HEAD,
        "classifier.bias": np.zeros(10, np.float32),
        "five_d": np.zeros((2, 2, 2, 2, 2), np.float32),
        "conv3x3.weight": np.zeros((10, 32, 3, 3), np.float32),
        "conv1x1.weight": HEAD.reshape(10, 32, 1, 1).copy(),
        "empty.weight": np.zeros((0, 32), np.float32),
        "int8.weight": (HEAD * 10).astype(np.int8),
    })
    return p


@pytest.mark.parametrize("layer,words", [
    ("classifier.bias", ["1-D", "(10,)"]),
    ("five_d", ["5-D", "(2, 2, 2, 2, 2)"]),
    ("conv3x3", ["4-D", "(10, 32, 3, 3)"]),
    ("empty", ["(0, 32)"]),
    ("int8", ["int8"]),
])
def test_layer_that_is_not_a_classifier_exits_3(layer: str, words: list[str], shapes_file: Path) -> None:
    rc, results, lines = _score(str(shapes_file), "--layer", layer)
    assert rc == 3 and len(lines) == 1, lines
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_1x1_conv_head_equals_its_matrix(shapes_file: Path) -> None:
    rc, results, _ = _score(str(shapes_file), "--layer", "conv1x1")
    assert rc == 0
    head = results[str(shapes_file)]["heads"][0]
    assert (head["num_classes"], head["num_features"]) == (10, 32)
    assert head["epsilon"] == pytest.approx(_eps(HEAD), rel=1e-12)


def test_only_empty_or_integer_matrices_exit_3(tmp_path: Path) -> None:
    files = {
        "empty": {"classifier.weight": np.zeros((0, 32), np.float32), "classifier.bias": np.zeros(0, np.float32)},
        "int8": {"classifier.weight": (HEAD * 10).astype(np.int8)},
        "uint8": {"fc.weight": (HEAD * 10 + 100).astype(np.uint8)},
    }
    paths = []
    for name, tensors in files.items():
        p = tmp_path / f"{name}.safetensors"
        write_safetensors(p, tensors)
        paths.append(p)
    rc, results, lines = _score(*map(str, paths))
    assert rc == 3 and len(lines) == len(paths)
    for p in paths:
        assert results[str(p)]["exit_code"] == 3
        assert "--layer" in results[str(p)]["error"]


def _float8_header(path: Path) -> None:
    raw = (HEAD * 10).astype(np.int8).tobytes()
    header = {**{"features.0.weight": {"dtype": "F32", "shape": [32, 64], "data_offsets": [0, 8192]}},
              "classifier.weight": {"dtype": "F8_E4M3", "shape": [10, 32], "data_offsets": [8192, 8192 + 320]}}
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + BODY["features.0.weight"].tobytes() + raw)


def test_named_classifier_that_cannot_be_scored_is_not_replaced_silently(tmp_path: Path) -> None:
    """A float backbone beside an int8 / float8 / empty ``classifier.weight``: exit 3 naming it, never
    a backbone matrix scored in its place."""
    paths = []
    for name, head in [("int8", (HEAD * 10).astype(np.int8)), ("empty", np.zeros((0, 32), np.float32))]:
        p = tmp_path / f"{name}.safetensors"
        write_safetensors(p, {**BODY, "classifier.weight": head})
        paths.append(p)
    f8 = tmp_path / "float8.safetensors"
    _float8_header(f8)
    paths.append(f8)
    rc, results, _ = _score(*map(str, paths))
    for p in paths:
        r = results[str(p)]
        assert r["exit_code"] == 3, (p.name, r["heads"] and r["heads"][0]["layer"])
        assert "classifier.weight" in r["error"]


# -------------------------------------------------------------------------------- n = 1, dtypes

def test_single_class_head_is_scored_with_null_pair_statistics(tmp_path: Path) -> None:
    """V = 2 e_1 (1 x 32): ||VV^T - I||^2 / 1 = (4 - 1)^2 = 9; unit rows give 0; no pairs."""
    p = tmp_path / "one.safetensors"
    v = np.zeros((1, 32), np.float32)
    v[0, 0] = 2.0
    write_safetensors(p, {"classifier.weight": v})
    rc, results, lines = _score(str(p))
    assert rc == 0 and not lines
    head = results[str(p)]["heads"][0]
    assert head["num_classes"] == 1
    assert head["epsilon"] == pytest.approx(9.0, abs=1e-12)
    assert head["epsilon_normalized"] == pytest.approx(0.0, abs=1e-12)
    assert head["cosine"] is None and head["etf"] is None
    assert head["norms"]["mean"] == pytest.approx(2.0)


def _bf16_file(path: Path, v: np.ndarray) -> np.ndarray:
    """Write v rounded to bfloat16 (top half of float32); return the exact values stored."""
    top = (v.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
    header = {"classifier.weight": {"dtype": "BF16", "shape": list(v.shape), "data_offsets": [0, top.nbytes]}}
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + top.tobytes())
    return (top.astype(np.uint32) << 16).view(np.float32)


def test_half_precision_heads_are_upcast_exactly(tmp_path: Path) -> None:
    f16 = tmp_path / "f16.safetensors"
    write_safetensors(f16, {"classifier.weight": HEAD.astype(np.float16)})
    bf16 = tmp_path / "bf16.safetensors"
    stored = _bf16_file(bf16, HEAD)
    rc, results, _ = _score(str(f16), str(bf16))
    assert rc == 0
    assert results[str(f16)]["heads"][0]["epsilon"] == pytest.approx(_eps(HEAD.astype(np.float16)), rel=1e-12)
    assert results[str(f16)]["heads"][0]["dtype"] == "float16"
    assert results[str(bf16)]["heads"][0]["epsilon"] == pytest.approx(_eps(stored), rel=1e-12)
    assert results[str(bf16)]["heads"][0]["dtype"] == "bfloat16"


def test_quantized_torch_head_is_not_scored_as_float(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    warnings.filterwarnings("ignore", "torch.quantize_per_tensor", UserWarning)
    q = torch.quantize_per_tensor(torch.from_numpy(HEAD), 0.05, 0, torch.qint8)
    p = tmp_path / "quantized.pt"
    torch.save({"features.0.weight": torch.from_numpy(BODY["features.0.weight"]), "classifier.weight": q}, p)
    rc, results, lines = _score(str(p))
    r = results[str(p)]
    assert rc in (3, 4) and len(lines) == 1, (rc, r["heads"] and r["heads"][0]["layer"])
    assert "quantiz" in r["error"] and "classifier.weight" in r["error"]


def test_quantized_torch_head_via_layer_is_refused_clearly(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    warnings.filterwarnings("ignore", "torch.quantize_per_tensor", UserWarning)
    q = torch.quantize_per_tensor(torch.from_numpy(HEAD), 0.05, 0, torch.qint8)
    p = tmp_path / "quantized_only.pt"
    torch.save({"classifier.weight": q}, p)
    rc, results, lines = _score(str(p), "--layer", "classifier.weight")
    assert rc in (3, 4) and len(lines) == 1, lines
    assert "classifier.weight" in lines[0]
