"""``numpy.linalg.eigvalsh`` of a 1000 x 1000 Gram matrix on one and on two BLAS threads, with 0, 1
and 2 other busy processes: why wsep computes the singular values on one thread.

Each busy process is a ``python -c "while True: pass"`` that the script starts and stops itself.
Figures are the median (and the worst) of ``--repeats`` calls in this process.

Usage:
    python benchmarks/eigvalsh_threads.py [--n 1000] [--repeats 7]

Results are recorded in docs/benchmarks.md ("Where the time goes").
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from score_speed import machine  # noqa: E402


def timed(g: np.ndarray, repeats: int) -> tuple[float, float]:
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.linalg.eigvalsh(g)
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), max(ts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="matrix size (the Gram of an n x 2n head)")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    print(f"machine: {machine()}")
    print(f"command: python benchmarks/eigvalsh_threads.py {' '.join(sys.argv[1:])}".rstrip())
    v = np.random.default_rng(0).standard_normal((args.n, 2 * args.n))
    g = v @ v.T
    print("\n| busy processes | 2 BLAS threads: median / worst (s) | 1 BLAS thread: median / worst (s) |\n|---|---|---|")
    for busy in (0, 1, 2):
        hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
        try:
            time.sleep(0.5)
            two = timed(g, args.repeats)
            with threadpool_limits(1, user_api="blas"):
                one = timed(g, args.repeats)
        finally:
            for h in hogs:
                h.kill()
                h.wait()
        print(f"| {busy} | {two[0]:.3f} / {two[1]:.3f} | {one[0]:.3f} / {one[1]:.3f} |", flush=True)
    print(f"\nload average after: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
