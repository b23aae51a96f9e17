"""``torchrun --nproc_per_node 2`` on the CPU (gloo): both ranks train and end with identical weights
(issue 4, acceptance 4)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ft_helpers import metrics, weights

pytest.importorskip("torch")


def test_two_gloo_ranks_end_with_identical_weights(tmp_path: Path) -> None:
    torchrun = shutil.which("torchrun")
    cmd = [torchrun] if torchrun else [sys.executable, "-m", "torch.distributed.run"]
    out = tmp_path / "ddp"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSEP_")}
    env["OMP_NUM_THREADS"] = "1"
    proc = subprocess.run(
        [*cmd, "--standalone", "--nproc_per_node", "2", "-m", "wsep_cli", "finetune", "--model", "lenet",
         "--data", "digits", "--epochs", "2", "--batch-size", "64", "--device", "cpu", "--quiet", "--output", str(out)],
        capture_output=True, text=True, env=env, timeout=600, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = json.loads((out / "ddp_ranks.json").read_text())
    assert ranks["world_size"] == 2 and len(ranks["state_sha256"]) == 2
    assert ranks["state_sha256"][0] == ranks["state_sha256"][1]
    # rank 0's digest is the digest of the saved model: the file is what every rank holds
    import hashlib

    h = hashlib.sha256()
    for k, v in sorted(weights(out / "model.safetensors").items()):
        h.update(k.encode())
        h.update(v.tobytes())
    assert h.hexdigest() == ranks["state_sha256"][0]
    rows = metrics(out)
    assert [r["epoch"] for r in rows] == [1, 2]
    assert rows[-1]["test_acc"] > 0.5  # trained (10 classes: chance is 0.1)
    assert proc.stdout.count("done:") == 1  # only rank 0 reports
