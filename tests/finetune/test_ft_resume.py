"""Training that survives (issue 6; issue 4 acceptance 5): SIGKILL after the first epoch's checkpoint
and SIGINT mid-run both resume with ``wsep finetune --resume DIR`` alone, to final weights that are
bit-identical to an uninterrupted run with the same seed."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import run_wsep, wsep_executable
from ft_helpers import bit_identical, metrics, weights

torch = pytest.importorskip("torch")

ARGS = ["--model", "lenet", "--data", "digits", "--epochs", "3", "--batch-size", "32", "--device", "cpu",
        "--quiet", "--seed", "7"]
ONE_THREAD = {"OMP_NUM_THREADS": "1"}  # the box is shared; one thread avoids OpenMP spin-waiting
SAME_KEYS = ("epoch", "lr", "train_loss", "cls_loss", "re_loss", "train_acc", "test_loss", "test_acc", "epsilon")


def _env() -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("WSEP_")}, **ONE_THREAD}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ref") / "run"
    proc = run_wsep("finetune", *ARGS, "--output", str(out), env=ONE_THREAD, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return out


def _start_and_wait_for_checkpoint(out: Path, name: str = "checkpoint.pt") -> subprocess.Popen[str]:
    proc = subprocess.Popen([*wsep_executable(), "finetune", *ARGS, "--output", str(out)], env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 300
    while not (out / name).exists():
        if proc.poll() is not None:
            pytest.fail(f"the run ended (rc {proc.returncode}) before its first checkpoint: {proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("no checkpoint within 300 s")
        time.sleep(0.005)
    return proc


def _assert_same_run(out: Path, reference: Path) -> None:
    assert bit_identical(weights(out / "model.safetensors"), weights(reference / "model.safetensors"))
    got, want = metrics(out), metrics(reference)
    assert [r["epoch"] for r in got] == [1, 2, 3]
    for g, w in zip(got, want):
        assert {k: g[k] for k in SAME_KEYS} == {k: w[k] for k in SAME_KEYS}


def test_sigkill_after_first_checkpoint_then_resume_is_bit_identical(tmp_path: Path, reference: Path) -> None:
    out = tmp_path / "run"
    proc = _start_and_wait_for_checkpoint(out)
    proc.kill()
    proc.wait(timeout=60)
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["epoch"] >= 1 and state["epoch"] < 3, "killed too late to test resuming"
    resumed = run_wsep("finetune", "--resume", str(out), env=ONE_THREAD, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    _assert_same_run(out, reference)


def test_sigint_saves_mid_run_says_how_to_resume_and_resumes_exactly(tmp_path: Path, reference: Path) -> None:
    out = tmp_path / "run"
    proc = _start_and_wait_for_checkpoint(out, "model.safetensors")  # written after the checkpoint
    time.sleep(0.05)  # most likely mid-epoch 2 now; an epoch boundary is fine too
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    last = err.strip().splitlines()[-1]
    assert "SIGINT" in last and f"wsep finetune --resume {out}" in last
    assert "Traceback" not in err
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    print(f"SIGINT checkpoint: epoch {state['epoch']} + step {state['step']}")
    assert state["epoch"] in (1, 2)
    resumed = run_wsep("finetune", "--resume", str(out), env=ONE_THREAD, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    _assert_same_run(out, reference)


def test_sigterm_stops_with_exit_143(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = _start_and_wait_for_checkpoint(out)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "SIGTERM" in err and "--resume" in err


def test_resume_without_checkpoint_is_a_one_line_error(tmp_path: Path) -> None:
    proc = run_wsep("finetune", "--resume", str(tmp_path))
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0 and "config.json" in proc.stderr
