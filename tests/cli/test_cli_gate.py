"""The CI gate: exit codes, config, baselines, compare, formats.

The first test runs the installed `wsep`; the rest run its main() in-process (conftest.run_cli), since
nothing here depends on the process.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from conftest import SHARED_DATA, run_cli, run_wsep

MNIST = SHARED_DATA / "karelnagel_denograd" / "mnist.safetensors"


def _eps(v: np.ndarray) -> float:
    """Independent float64 reference: ||V V^T - I||_F^2 / n, straight from the definition."""
    v = v.astype(np.float64)
    e = v @ v.T - np.eye(v.shape[0])
    return float((e * e).sum() / v.shape[0])


def _model(path: Path, scale: float = 1.0, seed: int = 0) -> np.ndarray:
    """A small two-layer classifier (10 classes, 32 features); returns its head as stored."""
    rng = np.random.default_rng(seed)
    head = rng.normal(size=(10, 32)) / np.sqrt(32)
    tensors = {
        "fc1.weight": (rng.normal(size=(32, 64)) / 8).astype(np.float32),
        "fc1.bias": np.zeros(32, np.float32),
        "fc2.weight": (scale * head).astype(np.float32),
        "fc2.bias": np.zeros(10, np.float32),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path))
    return tensors["fc2.weight"]


@pytest.fixture()
def model(tmp_path: Path) -> tuple[Path, float]:
    p = tmp_path / "model.safetensors"
    return p, _eps(_model(p))


def test_pass_fail_and_the_output_names_everything(model: tuple[Path, float]) -> None:
    path, eps = model
    assert run_wsep("score", str(path), "--max-epsilon", f"{eps * 1.01}").returncode == 0
    proc = run_wsep("score", str(path), "--max-epsilon", f"{eps * 0.99:.6g}")
    assert proc.returncode == 1
    line = next(x for x in proc.stdout.splitlines() if "  FAIL " in x)
    for part in (str(path), "fc2.weight", "epsilon", f"{eps:.6g}", f"{eps * 0.99:.6g}", "max-epsilon"):
        assert part in line


def test_usage_errors_are_exit_2(model: tuple[Path, float], tmp_path: Path) -> None:
    path, _ = model
    assert run_cli("score", str(tmp_path / "typo.safetensors"), "--max-epsilon", "1e9").returncode == 2
    assert run_cli("score", str(tmp_path / "*.onnx"), "--max-epsilon", "1e9").returncode == 2
    assert run_cli("score", str(path), "--config", str(tmp_path / "none.toml")).returncode == 2
    assert run_cli("score", str(path), "--max-epsilon", "-1").returncode == 2
    assert run_cli("score", str(path), "--baseline", str(tmp_path / "none.json")).returncode == 2
    (tmp_path / "pyproject.toml").write_text('[tool.wsep]\nmax-epsilom = 1\n')
    proc = run_cli("score", str(path), cwd=tmp_path)
    assert proc.returncode == 2 and "max-epsilom" in proc.stderr and proc.stderr.count("\n") == 1
    (tmp_path / "pyproject.toml").write_text('[tool.wsep]\nmax-abs-cos = "high"\n')
    proc = run_cli("score", str(path), cwd=tmp_path)
    assert proc.returncode == 2 and "max-abs-cos" in proc.stderr
    proc = run_cli("score", str(path), env={"WSEP_MAX_EPSILON": "many"})
    assert proc.returncode == 2 and "WSEP_MAX_EPSILON" in proc.stderr


def test_exit_zero_and_largest_code(model: tuple[Path, float], tmp_path: Path) -> None:
    path, eps = model
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01 definitely not a checkpoint" * 4)
    proc = run_cli("score", str(path), "--max-epsilon", f"{eps / 2}", "--exit-zero")
    assert proc.returncode == 0 and "FAIL" in proc.stdout
    assert run_cli("score", str(path), str(junk), "--max-epsilon", f"{eps / 2}").returncode == 4
    assert run_cli("score", str(path), str(junk), "--max-epsilon", f"{eps / 2}", "--exit-zero").returncode == 0
    assert run_cli("score", str(path), "--max-epsilon", "0", env={"WSEP_EXIT_ZERO": "1"}).returncode == 0


def test_pyproject_thresholds_options_env_and_glob_overrides(tmp_path: Path) -> None:
    a = tmp_path / "models" / "a.safetensors"
    b = tmp_path / "onnx_like" / "b.safetensors"
    eps_a, eps_b = _eps(_model(a, seed=1)), _eps(_model(b, seed=2, scale=2.0))
    assert eps_b > 2 * eps_a
    mid = (eps_a + eps_b) / 2
    (tmp_path / "pyproject.toml").write_text(
        f"[project]\nname = 'demo'\n\n[tool.wsep]\nmax-epsilon = {mid}\n\n"
        f'[tool.wsep.overrides."onnx_like/*.safetensors"]\nmax-epsilon = {eps_b * 1.1}\n'
    )
    rel_a, rel_b = "models/a.safetensors", "onnx_like/b.safetensors"
    assert run_cli("score", rel_a, cwd=tmp_path).returncode == 0
    assert run_cli("score", rel_a, rel_b, cwd=tmp_path).returncode == 0  # the override lifts b's limit
    (tmp_path / "models" / "deeper").mkdir()
    assert run_cli("score", "../a.safetensors", cwd=tmp_path / "models" / "deeper").returncode == 0  # found upward
    assert run_cli("score", rel_a, "--max-epsilon", f"{eps_a / 2}", cwd=tmp_path).returncode == 1  # option wins
    assert run_cli("score", rel_a, cwd=tmp_path, env={"WSEP_MAX_EPSILON": f"{eps_a / 2}"}).returncode == 1
    proc = run_cli("score", rel_b, "--json", "--max-epsilon", f"{mid}", cwd=tmp_path)
    assert proc.returncode == 1
    result = json.loads(proc.stdout)["results"][0]
    assert result["exit_code"] == 1
    gate = result["gate"]
    assert gate["passed"] is False and gate["thresholds"]["max-epsilon"] == pytest.approx(mid)
    (v,) = gate["violations"]
    assert v["layer"] == "fc2.weight" and v["metric"] == "epsilon" and v["value"] == pytest.approx(eps_b, rel=1e-6)
    assert "gate failed" in proc.stderr


def test_machine_formats(model: tuple[Path, float], tmp_path: Path) -> None:
    path, eps = model
    args = ("score", str(path), "--max-epsilon", f"{eps / 2}", "--max-abs-cos", "1.0", "--max-epsilon-normalized", "0")
    proc = run_cli(*args, "--format", "junit")
    assert proc.returncode == 1
    root = ET.fromstring(proc.stdout)
    assert root.get("tests") == "3" and root.get("failures") == "2"
    summary = tmp_path / "summary.md"
    proc = run_cli(*args, "--format", "github", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert proc.returncode == 1
    assert sum(line.startswith("::error file=") for line in proc.stdout.splitlines()) == 2
    assert "| ❌ |" in summary.read_text(encoding="utf-8")
    out = tmp_path / "report.md"
    proc = run_cli(*args, "--format", "markdown", "--output", str(out))
    assert proc.returncode == 1 and "**Gate failed** ❌" in out.read_text(encoding="utf-8")


def test_baseline_detects_a_scaled_classifier(tmp_path: Path) -> None:
    good, worse, other = tmp_path / "v1" / "model.safetensors", tmp_path / "v2" / "model.safetensors", tmp_path / "extra.safetensors"
    head = _model(good)
    _model(worse, scale=1.5)
    _model(other, seed=5)
    base = tmp_path / "base.json"
    assert run_cli("score", str(good), "--write-baseline", str(base)).returncode == 0
    assert json.loads(base.read_text())["results"][0]["heads"][0]["layer"] == "fc2.weight"
    assert run_cli("score", str(good), "--baseline", str(base)).returncode == 0
    proc = run_cli("score", str(worse), "--baseline", str(base))  # matched by file name across folders
    assert proc.returncode == 1
    assert "epsilon" in proc.stdout and f"{_eps(1.5 * head.astype(np.float64)):.4g}" in proc.stdout
    big = _eps(1.5 * head.astype(np.float64)) / _eps(head) - 1
    assert run_cli("score", str(worse), "--baseline", str(base), "--tolerance", f"{big * 1.01}").returncode == 0
    assert run_cli("score", str(good), str(other), "--baseline", str(base)).returncode == 1  # new file
    assert run_cli("score", str(good), str(other), "--baseline", str(base), "--allow-new").returncode == 0


def test_compare_generated_checkpoints(tmp_path: Path) -> None:
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    _model(a)
    _model(b, scale=1.5)
    proc = run_cli("compare", str(a), str(b))
    assert proc.returncode == 0
    eps_line = next(x for x in proc.stdout.splitlines() if x.startswith("│ epsilon "))
    assert "WORSE" in eps_line
    assert run_cli("compare", str(a), str(b), "--fail-on-regression").returncode == 1
    assert run_cli("compare", str(b), str(a), "--fail-on-regression").returncode == 0  # an improvement
    proc = run_cli("compare", str(a), str(b), "--format", "json")
    doc = json.loads(proc.stdout)
    assert doc["regressions"] == 1 and doc["heads"][0]["metrics"][0]["verdict"] == "worse"
    assert run_cli("compare", str(a), str(tmp_path / "missing.safetensors")).returncode == 2


def _scaled_mnist(tmp_path: Path) -> tuple[Path, Path]:
    if not MNIST.exists():
        pytest.skip(f"shared test data not present: {MNIST}")
    tensors = load_file(str(MNIST))
    orig, scaled = tmp_path / "orig" / "mnist.safetensors", tmp_path / "scaled" / "mnist.safetensors"
    orig.parent.mkdir()
    scaled.parent.mkdir()
    save_file(tensors, str(orig))
    tensors["layers.13.weight"] = tensors["layers.13.weight"] * np.float32(1.5)
    save_file(tensors, str(scaled))
    return orig, scaled


def test_real_checkpoint_regression_via_baseline_and_compare(tmp_path: Path) -> None:
    orig, scaled = _scaled_mnist(tmp_path)
    base = tmp_path / "base.json"
    proc = run_cli("score", str(orig), "--json")
    assert proc.returncode == 0
    base.write_text(proc.stdout)
    assert run_cli("score", str(orig), "--baseline", str(base)).returncode == 0
    proc = run_cli("score", str(scaled), "--baseline", str(base), "--format", "github")
    assert proc.returncode == 1
    errors = [x for x in proc.stdout.splitlines() if x.startswith("::error")]
    assert len(errors) == 1 and "layers.13.weight: epsilon" in errors[0]  # direction-only metrics are unchanged
    assert run_cli("compare", str(base), str(scaled), "--fail-on-regression").returncode == 1
    assert run_cli("compare", str(orig), str(orig), "--fail-on-regression").returncode == 0
