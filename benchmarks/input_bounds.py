"""Resource bounds of ``wsep score`` on any input ≤ 10 MiB: wall time and peak memory, worst cases first.

Builds a corpus in a temporary folder (``input_bounds_corpus.py``: seeded fuzz mutations of the
bundled fixtures, the saved fuzz regressions, the hostile files of the security tests, and valid
metadata-heavy / near-10 MiB checkpoints), then scores each input with a fresh ``wsep score --json
INPUT`` process of the installed console script, as a CI gate would run it. A ~10 MiB launcher
starts each child and reads its wall time and peak RSS (``ru_maxrss`` from ``os.wait4``, KiB on
Linux; a child of this larger process would inherit its memory high-water mark). A
``sitecustomize`` probe on the child's ``PYTHONPATH`` records, at exit, which heavy libraries
(torch, timm, transformers, onnx, ...) it imported: scoring a file must import none of them.

Prints the machine, counts by exit code and by group, the 10 slowest and the 10 largest inputs with
their provenance, and whether every input stayed within the bound (2 s and 150 MB = 143.1 MiB,
the stricter reading of "MB"). It reports; it does not assert (exit 0 when it ran).

Usage:
    python benchmarks/input_bounds.py [--cases 300] [--seed 20261127] [--jobs 1] [--groups fuzz,hostile]
        [--valid torchvision_reference,onnx_node_limit] [--timeout 120]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from input_bounds_corpus import GROUPS, MAX_BYTES, REPO, Input, build_corpus  # noqa: E402
from score_speed import child_env, machine, wsep_cmd  # noqa: E402

WALL_BOUND_S = 2.0
RSS_BOUND_MIB = 150e6 / 2**20  # 150 MB
HEAVY = ("torch", "timm", "transformers", "onnx", "onnxruntime", "huggingface_hub", "scipy", "matplotlib")
EXIT_NAMES = {0: "ok", 1: "gate failed", 2: "usage error", 3: "no classifier", 4: "unreadable / unsafe",
              -9: "killed at the time limit"}

PROBE = f"""
import atexit, os, sys
_out = os.environ.get("INPUT_BOUNDS_PROBE")
if _out:
    def _report():
        with open(_out, "w") as fh:
            fh.write(",".join(sorted({{m.split(".")[0] for m in sys.modules}} & {set(HEAVY)!r})))
    atexit.register(_report)
"""

# argv: result file, probe file, time limit in s, command...; the limit kills the child, not the
# launcher; only the child is given the probe's file (the launcher runs the probe's site hook too).
LAUNCHER = r"""
import json, os, signal, sys, time
env = dict(os.environ, INPUT_BOUNDS_PROBE=sys.argv[2])
t0 = time.perf_counter()
pid = os.posix_spawn(sys.argv[4], sys.argv[4:], env)
signal.signal(signal.SIGALRM, lambda *_: os.kill(pid, signal.SIGKILL))
signal.alarm(int(sys.argv[3]))
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - t0
with open(sys.argv[1], "w") as fh:
    json.dump({"wall": wall, "peak_kib": ru.ru_maxrss, "rc": os.waitstatus_to_exitcode(status)}, fh)
"""


@dataclass(frozen=True)
class Result:
    inp: Input
    wall_s: float
    rss_mib: float
    rc: int
    heavy: str  # heavy modules the child imported, "" for none, "?" when it left no report
    traceback: bool

    @property
    def within(self) -> bool:
        return self.wall_s <= WALL_BOUND_S and self.rss_mib <= RSS_BOUND_MIB


def score_measured(inp: Input, env: dict[str, str], work: Path, timeout: int) -> Result:
    """One fresh ``wsep score --json`` of ``inp``, measured by the launcher."""
    fd, tmp = tempfile.mkstemp(dir=work, suffix=".json")
    os.close(fd)
    result, probe = Path(tmp), Path(tmp).with_suffix(".probe")
    try:
        proc = subprocess.run([sys.executable, "-c", LAUNCHER, str(result), str(probe), str(timeout), *wsep_cmd(),
                               "score", "--json", str(inp.path)], capture_output=True, text=True,
                              env=env, cwd=work, stdin=subprocess.DEVNULL)
        r = json.loads(result.read_text())
        heavy = probe.read_text() if probe.exists() else "?"
    finally:
        result.unlink(missing_ok=True)
        probe.unlink(missing_ok=True)
    return Result(inp, r["wall"], r["peak_kib"] / 1024, r["rc"], heavy, "Traceback" in proc.stderr)


def child_environment(work: Path) -> dict[str, str]:
    """The child's environment: no WSEP_* settings, .pyc files in a private cache, the probe first
    on PYTHONPATH (after it, whatever PYTHONPATH says, e.g. a worktree)."""
    probe_dir = work / "probe"
    probe_dir.mkdir()
    (probe_dir / "sitecustomize.py").write_text(PROBE)
    env = child_env(work / "pycache")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(probe_dir), env.get("PYTHONPATH", "")) if p)
    return env


# ----------------------------------------------------------------------------------------- report

def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def _mib(nbytes: int) -> str:
    return f"{nbytes / 2**20:.2f} MiB" if nbytes >= 2**20 else f"{nbytes / 1024:.1f} KiB"


def print_counts(results: list[Result]) -> None:
    print("\n| exit code | meaning | inputs |\n|---|---|---|")
    for rc, n in sorted(Counter(r.rc for r in results).items()):
        print(f"| {rc} | {EXIT_NAMES.get(rc, 'other')} | {n} |")
    print(f"| **all** | | **{len(results)}** |")
    print("\n| group | inputs | median wall s | max wall s | median peak RSS MiB | max peak RSS MiB | over the bound |")
    print("|---|---|---|---|---|---|---|")
    groups = [(g, [r for r in results if r.inp.group == g]) for g in GROUPS] + [("**all**", results)]
    for g, rs in groups:
        if rs:
            print(f"| {g} | {len(rs)} | {statistics.median(r.wall_s for r in rs):.3f} | {max(r.wall_s for r in rs):.3f} | "
                  f"{statistics.median(r.rss_mib for r in rs):.1f} | {max(r.rss_mib for r in rs):.1f} | "
                  f"{sum(not r.within for r in rs)} |")


def print_worst(results: list[Result], by: str, n: int = 10) -> None:
    key = (lambda r: r.wall_s) if by == "wall" else (lambda r: r.rss_mib)
    title = "wall time" if by == "wall" else "peak RSS"
    print(f"\nWorst {min(n, len(results))} by {title}:\n")
    print("| rank | wall s | peak RSS MiB | exit | size | group | input (provenance) |\n|---|---|---|---|---|---|---|")
    for i, r in enumerate(sorted(results, key=key, reverse=True)[:n], 1):
        print(f"| {i} | {r.wall_s:.3f} | {r.rss_mib:.1f} | {r.rc} | {_mib(r.inp.size)} | {r.inp.group} | {r.inp.origin} |")


def print_verdict(results: list[Result]) -> None:
    heavy = [r for r in results if r.heavy]
    print(f"\nheavy modules imported ({', '.join(HEAVY)}): "
          + ("none, in every child" if not heavy else f"in {len(heavy)} children"))
    for r in heavy[:10]:
        print(f"- {r.heavy or '?'}: {r.inp.origin}")
    tb = [r for r in results if r.traceback]
    print(f"tracebacks on stderr: {len(tb)}" + "".join(f"\n- {r.inp.origin}" for r in tb[:10]))
    over = [r for r in results if not r.within]
    print(f"bound: wall <= {WALL_BOUND_S:.1f} s and peak RSS <= 150 MB ({RSS_BOUND_MIB:.1f} MiB): met by "
          f"{len(results) - len(over)} of {len(results)} inputs (max wall {max(r.wall_s for r in results):.3f} s, "
          f"max peak RSS {max(r.rss_mib for r in results):.1f} MiB)")
    for r in over:
        print(f"- over: {r.wall_s:.3f} s, {r.rss_mib:.1f} MiB, exit {r.rc}: {r.inp.origin}")
    print("verdict: " + ("every input within the bound" if not over else f"{len(over)} inputs over the bound"))


# ------------------------------------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=300, help="fuzz cases (default 300)")
    ap.add_argument("--seed", type=int, default=20261127, help="fuzz seed (default: the fuzz tests' seed)")
    ap.add_argument("--jobs", type=int, default=1, help="children at once (default 1: timings undisturbed)")
    ap.add_argument("--groups", default=",".join(GROUPS), help=f"which inputs (default {','.join(GROUPS)})")
    ap.add_argument("--valid", default="", help="comma-separated builders of input_bounds_valid.py (default all)")
    ap.add_argument("--timeout", type=int, default=120, help="kill a child after this many seconds (default 120)")
    args = ap.parse_args()
    groups = tuple(g for g in args.groups.split(",") if g)
    if not groups or set(groups) - set(GROUPS):
        ap.error(f"--groups takes a comma-separated subset of {','.join(GROUPS)}")
    work = Path(tempfile.mkdtemp(prefix="wsep-bounds-"))
    try:
        valid = tuple(v for v in args.valid.split(",") if v)
        corpus = build_corpus(work / "inputs", args.seed, args.cases, groups, valid)
        env = child_environment(work)
        print(f"machine: {machine()}")
        print(f"command: {' '.join(wsep_cmd())} score --json INPUT, one fresh process per input, {args.jobs} at a time")
        print(f"inputs: {len(corpus.inputs)} ({', '.join(f'{g} {sum(i.group == g for i in corpus.inputs)}' for g in groups)}),"
              f" each <= {MAX_BYTES / 2**20:.0f} MiB; fuzz seed {args.seed}, {args.cases} cases")
        print(f"left out: {'; '.join(corpus.left_out) or 'none'}")
        score_measured(Input(REPO / "fixtures" / "digits_mlp.pt", "warm-up", "", 0), env, work, args.timeout)
        start_load = _load()
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            results = list(pool.map(lambda i: score_measured(i, env, work, args.timeout), corpus.inputs))
        print(f"load average: {start_load} at the start, {_load()} at the end")
        if not results:
            print("no inputs")
            return
        print_counts(results)
        print_worst(results, "wall")
        print_worst(results, "rss")
        print_verdict(results)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
