"""What a new user hit in ``wsep finetune`` (issue 14, points 3 and 13): partial ``--init`` weights in
``--eval-only``, "1 epochs", a finished run resumed in silence, ``--epochs`` raised on resume, and a
missing path reported only after the torch import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, run_wsep
from ft_helpers import metrics

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def one_epoch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    out = tmp_path_factory.mktemp("ft") / "run"
    proc = run_wsep("finetune", "--model", "lenet", "--data", "digits", "--epochs", "1", "--device", "cpu",
                    "--output", str(out), timeout=600)
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_one_epoch_is_singular(one_epoch: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    _, proc = one_epoch
    said = proc.stdout + proc.stderr
    assert "done: 1 epoch," in said and "1 epochs" not in said


def test_a_finished_run_says_so_and_epochs_can_be_raised_not_lowered(
    one_epoch: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    src, _ = one_epoch
    out = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(src), str(out)], check=True)
    again = run_wsep("finetune", "--resume", str(out), timeout=300)
    assert again.returncode == 0, again.stderr
    said = again.stdout + again.stderr
    assert "already finished (1 epoch)" in said and "--epochs N" in said
    assert [r["epoch"] for r in metrics(out)] == [1]
    longer = run_wsep("finetune", "--resume", str(out), "--epochs", "2", timeout=600)
    assert longer.returncode == 0, longer.stderr
    assert [r["epoch"] for r in metrics(out)] == [1, 2]
    assert json.loads((out / "config.json").read_text())["config"]["epochs"] == 2
    lower = run_wsep("finetune", "--resume", str(out), "--epochs", "1", timeout=300)
    assert lower.returncode == 2 and "--epochs" in lower.stderr and len(lower.stderr.strip().splitlines()) == 1


def test_eval_only_refuses_weights_that_do_not_fit_unless_asked(
    one_epoch: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    from safetensors.numpy import load_file, save_file

    src, _ = one_epoch
    full = load_file(str(src / "model.safetensors"))
    partial = tmp_path / "partial.safetensors"
    save_file({k: v for k, v in full.items() if not k.startswith("fc3.")}, str(partial))
    args = ["finetune", "--model", "lenet", "--data", "digits", "--init", str(partial), "--eval-only", "--device", "cpu"]
    refused = run_wsep(*args, "--output", str(tmp_path / "a"), timeout=300)
    assert refused.returncode == 2, refused.stderr
    assert "--partial-init" in refused.stderr and "test accuracy" not in refused.stdout + refused.stderr
    allowed = run_wsep(*args, "--partial-init", "--output", str(tmp_path / "b"), timeout=300)
    assert allowed.returncode == 0, allowed.stderr
    assert "test accuracy" in allowed.stdout + allowed.stderr
    whole = run_wsep("finetune", "--model", "lenet", "--data", "digits", "--init", str(src / "model.safetensors"),
                     "--eval-only", "--device", "cpu", "--output", str(tmp_path / "c"), timeout=300)
    assert whole.returncode == 0, whole.stderr


_PROBE = """
import sys
sys.argv = ["wsep", "finetune", "--model", "lenet", "--data", "digits", "--init", sys.argv[1], "--output", sys.argv[2]]
from wsep_cli.cli.launch import main
try:
    main()
except SystemExit as e:
    print(e.code, "torch" in sys.modules)
"""


def test_a_missing_init_path_is_reported_before_torch_is_imported(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", _PROBE, str(tmp_path / "nope.pt"), str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.stdout.split() == ["2", "False"], proc.stdout + proc.stderr
    assert "nope.pt" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
