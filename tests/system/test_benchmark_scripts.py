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


def test_input_bounds_reports_every_input_once_and_no_heavy_import() -> None:
    """benchmarks/input_bounds.py on a tiny corpus: its counts add up, its worst-case tables are
    sorted and as long as they say, its verdict counts the rows over the bound, and no child
    imported torch, timm or the other heavy libraries (a property of ``wsep score``, not a time)."""
    proc = subprocess.run(
        [sys.executable, "benchmarks/input_bounds.py", "--cases", "5", "--groups", "fuzz,corpus,valid",
         "--valid", "safetensors_big_metadata,sharded_folder"],
        capture_output=True, text=True, cwd=REPO, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert re.search(r"^machine: .*load average", out, re.M) and re.search(r"^load average: .* at the end$", out, re.M)
    total = int(re.search(r"^inputs: (\d+) \(fuzz 5, corpus (\d+), valid 2\)", out, re.M).group(1))
    corpus = len([p for p in (REPO / "tests" / "corpus").iterdir() if not p.name.endswith(".note") and p.name != "README.md"])
    assert total == 5 + corpus + 2, out
    by_code = re.findall(r"^\| (-?\d+) \| [^|]+ \| (\d+) \|$", out, re.M)
    assert sum(int(n) for _, n in by_code) == total and f"| **all** | | **{total}** |" in out
    groups = dict(re.findall(r"^\| (fuzz|corpus|valid|\*\*all\*\*) \| (\d+) \|", out, re.M))
    assert groups == {"fuzz": "5", "corpus": str(corpus), "valid": "2", "**all**": str(total)}, groups
    for title, col in (("wall time", 0), ("peak RSS", 1)):
        block = out.split(f"Worst {min(10, total)} by {title}:")[1].split("\n\n")[1]
        rows = [r.split(" | ") for r in block.splitlines()[2:]]
        assert len(rows) == min(10, total), block
        values = [float(r[1 + col]) for r in rows]
        assert values == sorted(values, reverse=True) and all(v > 0 for v in values), block
    assert "input_bounds_valid.sharded_folder" in out and "seed=20261127 index=4" in out  # provenance
    met, n = map(int, re.search(r"met by (\d+) of (\d+) inputs", out).groups())
    assert n == total and total - met == len(re.findall(r"^- over: ", out, re.M))
    assert re.search(r"^verdict: (every input within the bound|\d+ inputs over the bound)$", out, re.M)
    assert re.search(r"^heavy modules imported \(torch, timm, .*\): none, in every child$", out, re.M), out
    assert "tracebacks on stderr: 0" in out
