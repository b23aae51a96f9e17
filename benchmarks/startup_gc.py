"""Start-up with and without the paused garbage collector of ``wsep_cli/cli/startup.py``.

Each variant is a fresh ``python -c`` that imports what ``wsep score --json`` imports (numpy, typer,
wsep's scoring, config and JSON report modules) and exits; the variants run interleaved, and the
script prints the median wall and CPU time (user + system, from ``os.wait4``) of each:

- ``collector on``: plain imports;
- ``paused, then frozen``: ``startup.begin()`` before the imports, ``startup.ready()`` after, as the
  console script does.

Usage:
    python benchmarks/startup_gc.py [--runs 15]

Results are recorded in docs/benchmarks.md ("What made start-up fast").
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from score_speed import child_env, machine  # noqa: E402

IMPORTS = "import numpy, typer, wsep_cli.cli.app, wsep_cli.pipeline, wsep_cli.gate.config, wsep_cli.report.json_report"
VARIANTS = {
    "collector on": IMPORTS,
    "paused, then frozen": f"from wsep_cli.cli import startup; startup.begin(); {IMPORTS}; startup.ready()",
}


def one(code: str, env: dict[str, str]) -> tuple[float, float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {code}")
    return wall, ru.ru_utime + ru.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15, help="interleaved runs per variant (median reported)")
    args = ap.parse_args()
    print(f"machine: {machine()}")
    print(f"command: python benchmarks/startup_gc.py {' '.join(sys.argv[1:])}".rstrip())
    with tempfile.TemporaryDirectory(prefix="wsep-gc-") as tmp:
        env = child_env(Path(tmp) / "pycache")
        for code in VARIANTS.values():
            one(code, env)  # warm-up: .pyc files
        got: dict[str, list[tuple[float, float]]] = {k: [] for k in VARIANTS}
        for _ in range(args.runs):
            for name, code in VARIANTS.items():
                got[name].append(one(code, env))
    print(f"\nmedian of {args.runs} interleaved runs\n\n| start-up | wall (s) | CPU (s) |\n|---|---|---|")
    for name, xs in got.items():
        print(f"| {name} | {statistics.median(w for w, _ in xs):.3f} | {statistics.median(c for _, c in xs):.3f} |")
    print(f"\nload average after: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
