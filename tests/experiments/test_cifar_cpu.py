"""``experiments/cifar_cpu.py --quick`` (issue 16, point 2) on a slice of the packed JPEG CIFAR-10."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "experiments"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_table1_gpu import _tiny_data  # noqa: E402


def test_quick_study_writes_per_run_json_tables_and_figures(tmp_path: Path) -> None:
    data, out = _tiny_data(tmp_path / "data"), tmp_path / "out"
    proc = subprocess.run([sys.executable, str(REPO / "experiments" / "cifar_cpu.py"), "--quick", "--data-dir", str(data),
                           "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = {p.name: json.loads(p.read_text()) for p in (out / "cifar_cpu").glob("*.json")}
    assert set(runs) == {"ce-seed0.json", "lre1-seed0.json"}
    ce, lre = runs["ce-seed0.json"], runs["lre1-seed0.json"]
    for r in (ce, lre):
        assert [row["epoch"] for row in r["per_epoch"]] == [0, 1]  # initialisation, then each epoch
        assert r["epsilon"] == r["per_epoch"][-1]["epsilon"] and r["epsilon"] > 0
        # 20 test images: the error is a multiple of 5 %.
        assert r["test_error_pct"] / 5 == pytest.approx(round(r["test_error_pct"] / 5))
        assert r["data"]["lossless"] is False and r["data"]["test_size"] == 20
    # Same seed, same init: epoch 0 agrees; L_re at λ = 1 then changes the head.
    assert ce["per_epoch"][0]["epsilon"] == lre["per_epoch"][0]["epsilon"]
    assert ce["epsilon"] != lre["epsilon"]
    res = json.loads((out / "cifar_cpu.json").read_text())
    assert res["stats"]["n_runs"] == 2 and len(res["stats"]["CE + L_re λ=1"]["delta_error_pp"]) == 4
    dm = res["stats"]["CE + L_re λ=1"]["delta_error_pp"][0]
    assert math.isclose(dm, lre["test_error_pct"] - ce["test_error_pct"])
    md = (out / "cifar_cpu.md").read_text()
    assert md.count("\n| CE") == 2
    for name in ("cifar_cpu_curves.png", "cifar_cpu_acc_vs_eps.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Rerunning reuses the finished runs (same settings) instead of training again.
    before = {p: p.stat().st_mtime_ns for p in (out / "cifar_cpu").glob("*.json")}
    proc = subprocess.run([sys.executable, str(REPO / "experiments" / "cifar_cpu.py"), "--quick", "--data-dir", str(data),
                           "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "epoch 1" not in proc.stderr
    assert before == {p: p.stat().st_mtime_ns for p in (out / "cifar_cpu").glob("*.json")}
    assert np.isfinite(res["wall_seconds"])
