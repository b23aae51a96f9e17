"""The benchmark scripts still run (they print figures; nothing here checks a time)."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import FIXTURES, REPO


def test_score_timeline_phases_add_up_on_the_fixture() -> None:
    proc = subprocess.run(
        [sys.executable, "benchmarks/score_timeline.py", str(FIXTURES / "digits_mlp.safetensors"), "--runs", "2"],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = dict(re.findall(r"^\| (.+?) \| \**(\d+)\** \|$", proc.stdout, flags=re.M))
    assert "Gram V V^T, its eigenvalues, the epsilons" in rows and "read the head's bytes" in rows, proc.stdout
    wall = int(rows.pop("**wall**"))
    assert wall > 0 and sum(map(int, rows.values())) <= wall + 5  # medians of parts vs median of the whole
