"""Every experiment script runs end to end in its CI-sized ``--quick`` mode, as a subprocess.

Besides exit code 0, each test checks what the script wrote against independent expectations
(shapes of the result, numbers that follow from the definitions, files that must exist), so a
script that runs but measures nonsense fails.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
EXP = REPO / "experiments"
SHARED = REPO / ".." / "shared" / "data"


def _run(script: str, *args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, str(EXP / script), *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, f"{script} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    return proc


def _png_ok(path: Path) -> None:
    assert path.is_file(), path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size < 200_000


def test_survey_quick(tmp_path: Path) -> None:
    if not SHARED.is_dir():
        pytest.skip("../shared/data is absent")
    _run("survey.py", "--quick", "--out", str(tmp_path))
    rows = json.loads((tmp_path / "survey.json").read_text())["rows"]
    by = {r["file"]: r for r in rows}
    res32 = by["akamaster_pytorch_resnet_cifar10/resnet32-d509ac18.th"]
    assert res32["status"] == "ok", res32.get("error")
    head = res32["heads"][0]
    assert (head["num_classes"], head["num_features"]) == (10, 64)
    # ε is (1/n) Σ (σ_k² − 1)² over V Vᵀ's eigenvalues: the spectral form must agree with wsep's ε.
    d = head["diagnostics"]
    assert math.isclose(d["epsilon_spectral"], head["epsilon"], rel_tol=1e-9)
    # Best-scale ε can never exceed ε itself (c = 1 is one of the scales).
    assert d["epsilon_best_scale"] <= head["epsilon"] + 1e-12
    # Published figures sit beside the measurement.
    assert "7.37" in res32["published"]
    assert (tmp_path / "survey.md").read_text().count("|") > 20


def test_lenet_digits_quick(tmp_path: Path) -> None:
    have_mnist = (SHARED / "facebookarchive_models_mnist").is_dir()
    _run("lenet_digits.py", "--quick", "--out", str(tmp_path), *([] if have_mnist else ["--no-mnist"]))
    res = json.loads((tmp_path / "lenet_digits.json").read_text())
    ds = res["datasets"]["digits"]
    names = [r["condition"] for r in ds["summary"]]
    assert names[0] == "CE" and names[-1].startswith("fixed QR")
    runs = ds["runs"]
    assert {r["seed"] for r in runs} == {0, 1}
    qr = [r for r in runs if r["config"]["fixed_qr"]]
    # The paper's fixed QR layer has orthonormal rows and is never updated: ε = 0 to rounding.
    assert qr and all(r["epsilon"] < 1e-10 for r in qr)
    ce = [r for r in runs if r["variant"] == "CE"]
    assert all(0.0 <= r["test_acc"] <= 1.0 for r in runs)
    assert all(r["epsilon"] > 1e-3 for r in ce)  # a learned head is not orthonormal
    # ε after the last epoch is the reported ε; before training it is that of PyTorch's default init.
    assert all(math.isclose(r["epsilon_curve"][-1], r["epsilon"]) for r in runs)
    assert all(len(r["epsilon_curve"]) == 2 for r in runs)
    for name in ("fig2_digits_pca.png", "lambda_digits.png", "acc_vs_eps_digits.png", "eps_curve_digits.png"):
        _png_ok(tmp_path / name)
    if have_mnist:  # the MNIST test set, split deterministically into train and test
        mn = res["datasets"]["mnist"]
        assert mn["data"]["train_size"] == 400 and mn["data"]["test_size"] == 500
        _png_ok(tmp_path / "fig2_mnist_pca.png")


def test_ablation_quick(tmp_path: Path) -> None:
    _run("ablation.py", "--quick", "--out", str(tmp_path))
    res = json.loads((tmp_path / "ablation.json").read_text())
    rows = {r["condition"]: r for r in res["summary"]}
    assert {"CE", "reverse KL(Q‖P)", "T=2", "detach α (V learns)"} <= set(rows)
    # Paired differences use the same seeds for every variant.
    assert all(r["n"] == 2 for r in rows.values())
    assert rows["reverse KL(Q‖P)"]["delta_acc"][3] == 2
    _png_ok(tmp_path / "ablation_lambda_digits.png")


def test_table1_quick(tmp_path: Path) -> None:
    _run("table1_resnet32.py", "--quick", "--out", str(tmp_path))
    res = json.loads((tmp_path / "table1.json").read_text())
    assert res["failed"] == {}
    assert {r["variant"] for r in res["runs"]} == {"ResNet-32", "ResNet-32 + L_re"}
    for r in res["runs"]:
        assert r["epochs"] == 1
        assert math.isclose(r["test_error_pct"], 100 * (1 - r["test_acc"]))
        # The trained head read back with wsep's scorer gives the ε that metrics.jsonl logged.
        from wsep_cli.pipeline import score_file

        run_dir = tmp_path / "runs" / ("lre-lambda0.001-seed0" if r["config"]["lam"] else "ce-lambda0-seed0")
        scored = score_file(str(run_dir / "model.safetensors")).heads[0].metrics.epsilon
        assert math.isclose(scored, r["epsilon"], rel_tol=1e-5)
    # A second invocation finds both runs finished and trains nothing.
    proc = _run("table1_resnet32.py", "--quick", "--out", str(tmp_path))
    assert "start" not in proc.stderr


def test_reverse_kl_mirrors_library_loss() -> None:
    """The ablation's script-local reverse KL is the library's forward KL with P and Q swapped."""
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(EXP))
    try:
        from _train import epsilon_penalty, reverse_reconstruction_loss
    finally:
        sys.path.remove(str(EXP))
    g = torch.Generator().manual_seed(0)
    alpha = torch.randn(5, 7, generator=g, dtype=torch.float64)
    v = torch.randn(3, 7, generator=g, dtype=torch.float64)
    y = torch.tensor([0, 2, 1, 1, 0])
    p = torch.softmax(alpha / 2.0, 1).numpy()
    q = torch.softmax(v[y] / 2.0, 1).numpy()
    want = float(np.mean(np.sum(q * np.log(q / p), axis=1)))
    got = float(reverse_reconstruction_loss(alpha, y, v, temperature=2.0))
    assert math.isclose(got, want, rel_tol=1e-6)
    vn = v.numpy()
    e = vn @ vn.T - np.eye(3)
    assert math.isclose(float(epsilon_penalty(v)), float(np.sum(e * e) / 3), rel_tol=1e-12)
