"""The bundled fixtures: regenerated deterministically, and every format scores to the same head."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from safetensors.numpy import load_file

from conftest import FIXTURES, REPO, run_json

SUMMARY = json.loads((FIXTURES / "digits_mlp.json").read_text())

FORMATS = {
    "digits_mlp.safetensors": "classifier.weight",
    "digits_mlp_sharded": "classifier.weight",
    "digits_mlp_sharded/model.safetensors.index.json": "classifier.weight",
    "digits_mlp.pt": "classifier.weight",
    "digits_mlp_legacy.pt": "classifier.weight",
    "digits_mlp.onnx": "classifier.weight",
}


def _reference_epsilon() -> float:
    v = load_file(str(FIXTURES / "digits_mlp.safetensors"))["classifier.weight"].astype(np.float64)
    return float((((v @ v.T) - np.eye(v.shape[0])) ** 2).sum() / v.shape[0])


def test_fixture_budget() -> None:
    total = sum(p.stat().st_size for p in FIXTURES.rglob("*") if p.is_file())
    assert total < 2 * 1024 * 1024


def test_summary_matches_weights() -> None:
    assert SUMMARY["epsilon"] == pytest.approx(_reference_epsilon(), rel=1e-12)
    assert SUMMARY["test_accuracy"] > 0.9


@pytest.mark.parametrize("rel,layer", sorted(FORMATS.items()))
def test_every_format_scores_the_same_head(rel: str, layer: str) -> None:
    proc, doc = run_json(str(FIXTURES / rel))
    assert proc.returncode == 0, proc.stderr
    (result,) = doc["results"]
    head = result["heads"][0]
    assert head["layer"] == layer
    assert (head["num_classes"], head["num_features"]) == (10, 32)
    assert head["epsilon"] == pytest.approx(_reference_epsilon(), rel=1e-6 if rel.endswith("onnx") else 1e-12)


# The CPUs a developer or CI runner may have, as far as one machine can pretend: the caller's own
# ATen level (which the script must override), and MKL and glibc told to use no AVX at all.
CPU_LEVELS = {
    "aten-avx2": {"ATEN_CPU_CAPABILITY": "avx2"},
    "sse4-only": {"ATEN_CPU_CAPABILITY": "avx512", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
                  "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX512F,-AVX2,-FMA,-AVX"},
}


@pytest.mark.parametrize("level", sorted(CPU_LEVELS))
def test_regeneration_is_bit_identical_on_every_cpu_level(tmp_path, level: str) -> None:
    env = {**os.environ, **CPU_LEVELS[level]}
    proc = subprocess.run([sys.executable, str(REPO / "fixtures" / "make_fixtures.py"), str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    fresh = load_file(str(tmp_path / "digits_mlp.safetensors"))
    bundled = load_file(str(FIXTURES / "digits_mlp.safetensors"))
    assert fresh.keys() == bundled.keys()
    for k in bundled:
        np.testing.assert_array_equal(fresh[k], bundled[k])
    assert json.loads((tmp_path / "digits_mlp.json").read_text()) == SUMMARY


def test_write_all_refuses_a_torch_imported_without_the_pinned_arithmetic() -> None:
    import torch

    spec = importlib.util.spec_from_file_location("make_fixtures", REPO / "fixtures" / "make_fixtures.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    if torch.backends.cpu.get_cpu_capability() == "DEFAULT" and os.environ.get("MKL_CBWR") == "COMPATIBLE":
        pytest.skip("this pytest process runs with the pinned arithmetic already")
    with pytest.raises(RuntimeError, match="as its own process"):
        mod.train()
