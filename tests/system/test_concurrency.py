"""Concurrency and load through the installed ``wsep``.

- 16 ``wsep score --json`` processes at once on the same files (every fixture format) all exit 0 with
  empty stderr and byte-identical JSON: readers open files read-only and share no state.
- 200 files in one call hold memory flat: the peak RSS (``wait4``) of a 200-file run exceeds that of a
  20-file run by less than a fixed margin, although each file carries an 8 MiB backbone that a reader
  keeping file contents (or whole mapped files) alive would accumulate (180 x 8 MiB = 1.4 GiB).
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from conftest import FIXTURES, run_wsep
from hostile_files import run_measured, write_safetensors

FILES = ["digits_mlp.safetensors", "digits_mlp.pt", "digits_mlp_legacy.pt", "digits_mlp.onnx",
         "digits_mlp_sharded"]
GROWTH_MARGIN_MIB = 64


def test_16_concurrent_processes_agree() -> None:
    args = ["score", "--json", *(str(FIXTURES / f) for f in FILES)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        procs = list(pool.map(lambda _: run_wsep(*args, timeout=300), range(16)))
    for p in procs:
        assert p.returncode == 0, p.stderr
        assert p.stderr == ""
    outputs = {p.stdout for p in procs}
    assert len(outputs) == 1, "concurrent runs disagree"
    doc = json.loads(outputs.pop())
    assert [r["status"] for r in doc["results"]] == ["ok"] * len(FILES)
    assert len({r["heads"][0]["epsilon"] for r in doc["results"] if r["format"] != "onnx"}) == 1


@pytest.fixture(scope="module")
def many_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """200 distinct paths (hard links) over four formats; the safetensors one has an 8 MiB backbone."""
    d = tmp_path_factory.mktemp("many")
    rng = np.random.default_rng(0)
    big = d / "big.safetensors"
    write_safetensors(big, {"backbone.weight": rng.standard_normal((2048, 1024)).astype(np.float32),
                            "classifier.weight": rng.standard_normal((10, 1024)).astype(np.float32)})
    sources = [big, FIXTURES / "digits_mlp.pt", FIXTURES / "digits_mlp_legacy.pt", FIXTURES / "digits_mlp.onnx"]
    out = []
    for i in range(200):
        src = sources[i % len(sources)]
        dst = d / f"m{i:03d}{src.suffix}"
        try:
            os.link(src, dst)
        except OSError:  # another filesystem: copy instead
            dst.write_bytes(src.read_bytes())
        out.append(dst)
    return out


def test_200_files_hold_memory_flat(many_files: list[Path]) -> None:
    small = run_measured("score", "--json", *map(str, many_files[:20]), timeout=300)
    large = run_measured("score", "--json", *map(str, many_files), timeout=300)
    for run, n in ((small, 20), (large, 200)):
        assert run.returncode == 0, run.stderr[-2000:]
        assert len(json.loads(run.stdout)["results"]) == n
    print(f"[load] peak RSS: 20 files {small.maxrss_mib:.0f} MiB ({small.wall_s:.1f} s), "
          f"200 files {large.maxrss_mib:.0f} MiB ({large.wall_s:.1f} s)")
    assert large.maxrss_mib - small.maxrss_mib < GROWTH_MARGIN_MIB, (small.maxrss_mib, large.maxrss_mib)
