"""``experiments/table1_gpu.py`` (issue 16, point 3): the GPU script's dry run on CPU, its deadline
stop, its schedule arithmetic and its data preparation, so that it cannot break unnoticed."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

REPO = Path(__file__).resolve().parents[2]
EXP = REPO / "experiments"
PACKED = REPO / ".." / "shared" / "data" / "yoongikim_cifar10_npz"
sys.path.insert(0, str(EXP))

from wsep_cli.finetune import packed  # noqa: E402


def _tiny_data(folder: Path) -> Path:
    """4 train and 2 test images per class: a slice of the real files, else JPEGs made here."""
    if (PACKED / packed.PACKED_FILES["train"]).is_file():
        for split, k in (("train", 4), ("test", 2)):
            packed.slice_packed(PACKED / packed.PACKED_FILES[split], folder / packed.PACKED_FILES[split], k)
        return folder
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, n in (("train", 40), ("test", 20)):
        blobs = []
        for img in rng.integers(0, 256, (n, 32, 32, 3)).astype(np.uint8):
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, "JPEG", quality=75)
            blobs.append(buf.getvalue())
        packed.write_packed(folder / packed.PACKED_FILES[split], blobs, np.arange(n) % 10)
    return folder


def _epsilon(v: np.ndarray) -> float:
    g = v @ v.T - np.eye(v.shape[0])
    return float((g * g).sum() / v.shape[0])


def test_dry_run_on_cpu_end_to_end(tmp_path: Path) -> None:
    data, out = _tiny_data(tmp_path / "data"), tmp_path / "out"
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(EXP / "table1_gpu.py"), "--dry-run", "--seeds", "1", "--data-dir",
                           str(data), "--out", str(out), "--budget-s", "300"], cwd=REPO, capture_output=True,
                          text=True, timeout=400)
    print(f"table1_gpu.py --dry-run: {time.perf_counter() - t0:.1f} s wall")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    res = json.loads((out / "table1_gpu.json").read_text())
    st = res["stages"]
    assert st["setup"]["train"] == 40 and st["setup"]["test"] == 20
    timed = [r for r in st["bench"] if "images_per_second" in r]
    assert {(r["batch_size"], r["loss"]) for r in timed} == {(8, "CE"), (8, "CE + L_re"), (16, "CE"), (16, "CE + L_re")}
    assert all(r["images_per_second"] > 0 for r in timed)
    for r in timed:
        if r["loss"] == "CE + L_re":  # the overhead is the ratio of the two medians, as a percentage
            ce = next(c for c in timed if c["batch_size"] == r["batch_size"] and c["loss"] == "CE")
            assert r["lre_overhead_pct"] == pytest.approx(100 * (ce["images_per_second"] / r["images_per_second"] - 1))
    assert set(st["probe"]["total"]) == {"1", "2"} and all(v > 0 for v in st["probe"]["total"].values())
    table = st["table"]
    assert table["epochs"] == 1 and len(table["runs"]) == 2
    for r in table["runs"]:
        assert r["status"] == "done" and r["finished"] and r["epochs_done"] == 1
        run = out / "runs" / r["name"]
        last = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()][-1]
        assert r["test_error_pct"] == pytest.approx(100 * (1 - last["test_acc"]), abs=1e-3)
        from safetensors.numpy import load_file

        v = load_file(str(run / "model.safetensors"))["linear.weight"].astype(np.float64)
        assert r["epsilon"] == pytest.approx(_epsilon(v), rel=1e-9)  # what the JSON says is what was saved
        cfg = json.loads((run / "config.json").read_text())
        assert cfg["config"]["lambda"] == r["lambda"] and cfg["resolved"]["data"]["lossless"] is False
    md = (out / "table1_gpu.md").read_text()
    assert "L_re overhead" in md and "JPEG" in md and "| CE + L_re |" in md


def test_runs_still_going_at_the_deadline_are_stopped_and_later_ones_not_started(tmp_path: Path) -> None:
    from _runs import Job, launch

    py = sys.executable
    jobs = [Job("quick", [py, "-c", "pass"], tmp_path / "quick.log"),
            Job("slow", [py, "-c", "import time; time.sleep(60)"], tmp_path / "slow.log"),
            Job("late", [py, "-c", "pass"], tmp_path / "late.log")]
    jobs[0].argv = [py, "-c", "import time; time.sleep(0.2)"]
    t0 = time.perf_counter()
    launch(jobs, 2, time.perf_counter() + 3.0, cwd=tmp_path, grace_s=5.0)
    assert time.perf_counter() - t0 < 20
    # "quick" ends first and frees its slot, so "late" starts too; "slow" is stopped at the deadline.
    assert jobs[0].status == "done" and jobs[0].returncode == 0
    assert jobs[1].status == "stopped" and jobs[1].returncode != 0
    assert jobs[2].status == "done"
    jobs2 = [Job(n, [py, "-c", "import time; time.sleep(60)"], tmp_path / f"{n}.log") for n in ("a", "b")]
    launch(jobs2, 1, time.perf_counter() + 1.0, cwd=tmp_path, grace_s=5.0)
    assert [j.status for j in jobs2] == ["stopped", "not started"]


def test_schedule_fits_the_time_left() -> None:
    from table1_gpu import EFFICIENCY, _epochs_that_fit

    # 400 s left, 4 runs 4 at a time, 10,000 img/s per run, 30 s start-up: (400 - 30) * 10k * eff / 53,333.
    e = _epochs_that_fit(400, 10_000, 4, 4, 50_000, 10_000, 30)
    assert e == int(370 * 10_000 * EFFICIENCY / (50_000 + 10_000 / 3))
    assert _epochs_that_fit(400, 10_000, 4, 2, 50_000, 10_000, 30) < e  # two waves: fewer epochs each
    assert _epochs_that_fit(1, 10, 4, 4, 50_000, 10_000, 30) == 1  # never below one epoch


@pytest.mark.skipif(not (PACKED / packed.PACKED_FILES["train"]).is_file(), reason="packed CIFAR-10 absent")
def test_prepare_copies_checked_files_and_git_ignores_them(tmp_path: Path) -> None:
    from table1_gpu import prepare

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    dest = tmp_path / "data" / "cifar10_npz"
    assert prepare(PACKED, dest, repo=tmp_path) == "/data/cifar10_npz/"
    assert prepare(PACKED, dest, repo=tmp_path) == "/data/cifar10_npz/"  # idempotent
    assert (tmp_path / ".git" / "info" / "exclude").read_text().splitlines().count("/data/cifar10_npz/") == 1
    status = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=tmp_path, capture_output=True, text=True)
    assert "!! data/" in status.stdout  # ignored, so never committed
    assert (dest / packed.PACKED_FILES["train"]).stat().st_size == 15_328_816
