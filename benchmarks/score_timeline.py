"""Where the wall time of one ``wsep score --json FILE`` goes, phase by phase (median of several runs).

Each run is a fresh process that starts the real console-script entry point (``wsep_cli.cli.launch``)
with a few library functions wrapped to record ``time.perf_counter()`` (CLOCK_MONOTONIC, shared by
all processes on Linux) on entry and exit; the parent records the spawn and the exit. Nothing else
is changed, so the phases add up to the command's wall time (plus the wrappers' few microseconds).

Usage:
    python benchmarks/score_timeline.py FILE [--runs 9]

Without FILE it writes the benchmark's 2 GB safetensors file (a 1000 x 2048 head) to a temp dir.
Results are recorded in docs/benchmarks.md ("Where the time goes").
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from score_speed import child_env, machine, make_big_safetensors  # noqa: E402

CHILD = r"""
import time
t_first = time.perf_counter()
import atexit, json, sys
marks = {"interpreter ready": t_first}
out_path, target = sys.argv[1], sys.argv[2]
from wsep_cli.cli import startup
startup.begin()
import wsep_cli.cli.app
marks["typer + CLI imported"] = time.perf_counter()
import wsep_cli.metrics.compute as M, wsep_cli.pipeline.heads as S, wsep_cli.report as R
marks["numpy + scoring modules imported"] = time.perf_counter()

def wrap(mod, name, label):
    fn = getattr(mod, name)
    def timed(*a, **k):
        marks.setdefault(label + " start", time.perf_counter())
        try:
            return fn(*a, **k)
        finally:
            marks[label + " end"] = time.perf_counter()
    setattr(mod, name, timed)

wrap(S, "load_head_matrix", "read head")
wrap(M, "gram_summary", "Gram")
wrap(M, "_cosine_and_etf", "pair statistics")
wrap(R, "render", "render")
atexit.register(lambda: json.dump(marks, open(out_path, "w")))
sys.argv = ["wsep", "score", "--json", target]
from wsep_cli.cli.launch import main
main()
"""

PHASES = [
    ("python start-up (interpreter, site)", "spawn", "interpreter ready"),
    ("typer + wsep CLI imports", "interpreter ready", "typer + CLI imported"),
    ("numpy + scoring modules imports", "typer + CLI imported", "numpy + scoring modules imported"),
    ("options, config, open file, locate head", "numpy + scoring modules imported", "read head start"),
    ("read the head's bytes", "read head start", "read head end"),
    ("Gram V V^T, its eigenvalues, the epsilons", "Gram start", "Gram end"),
    ("pair statistics (all cosines, percentiles)", "pair statistics start", "pair statistics end"),
    ("singular values, report, render JSON", "pair statistics end", "render end"),
    ("write, interpreter exit", "render end", "exit"),
]


def one_run(target: Path, env: dict[str, str], tmp: Path) -> dict[str, float]:
    out = tmp / "marks.json"
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, str(out), str(target)], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    t_exit = time.perf_counter()
    if proc.returncode != 0:
        raise SystemExit(f"wsep score failed (exit {proc.returncode}): {proc.stderr.strip()[-300:]}")
    marks = json.loads(out.read_text())
    marks.update(spawn=t0, exit=t_exit)
    return marks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file", nargs="?", type=Path, help="checkpoint to score (default: a 2 GB safetensors file)")
    ap.add_argument("--runs", type=int, default=9, help="timed runs (median per phase), after one warm-up")
    args = ap.parse_args()
    print(f"machine: {machine()}")
    print(f"command: python benchmarks/score_timeline.py {' '.join(sys.argv[1:])}".rstrip())
    with tempfile.TemporaryDirectory(prefix="wsep-timeline-") as tmp:
        d = Path(tmp)
        target = args.file or make_big_safetensors(d)
        env = child_env(d / "pycache")
        one_run(target, env, d)  # warm-up: page cache and .pyc files
        runs = [one_run(target, env, d) for _ in range(args.runs)]
    print(f"\nfile: {target.name if args.file else '2 GB safetensors, 1000 x 2048 float32 head'}; "
          f"median of {args.runs} runs\n\n| phase | ms |\n|---|---|")
    for label, a, b in PHASES:
        print(f"| {label} | {statistics.median(r[b] - r[a] for r in runs) * 1e3:.0f} |")
    print(f"| **wall** | **{statistics.median(r['exit'] - r['spawn'] for r in runs) * 1e3:.0f}** |")
    print(f"\nload average after: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
