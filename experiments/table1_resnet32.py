"""Paper Table 1, ResNet-32 row: CIFAR-10 with and without L_re (λ = 0.001), several seeds, via `wsep finetune`.

Every run is one ``wsep finetune --model resnet32 --data cifar10 --lambda {0|0.001} --seed S`` subprocess
(the library trainer, unchanged); this script only schedules the runs, resumes unfinished ones, and
reads each run's last ``metrics.jsonl`` line into a Table-1-style summary (error %, ε, ε_normalized;
mean ± std over seeds, paired Δ with vs without L_re).

Modes:
- ``--mode paper``: the paper's schedule — 300 epochs, batch 128, lr 0.1 ÷10 at epochs 100/200/250,
  momentum 0.9, wd 1e-4, standard crop + flip ("C10+"); seeds 0-4. Hours of GPU time.
- ``--mode short``: a first reading that fits in about 8 minutes of one H100 — 30 epochs with the same
  step schedule (÷10 at 10/20/25), seeds 0-1, the four runs side by side on the one GPU (``--parallel 4``;
  a ResNet-32 at batch 128 leaves most of an H100 idle).
- ``--quick``: CI-sized check on CPU — ``--data synthetic:64 --epochs 1``, seed 0, both conditions.

CIFAR-10 must already be in ``--data-dir`` (``cifar-10-batches-py/``) when the machine is offline;
``wsep finetune`` says so and exits 2 otherwise.

Usage:
    python experiments/table1_resnet32.py --mode short --data-dir /path/with/cifar10 --out runs/t1
    python experiments/table1_resnet32.py --quick --out /tmp/q
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from _common import REPO, machine, md_table, write_json
from _report import paired, summarize

__all__ = ["Plan", "PLANS", "commands", "read_run", "main"]

PAPER = {"ResNet-32": (8.09, 6.55e-08), "ResNet-32 + L_re": (5.94, 3.57e-08)}  # C10+ error %, ε(W)^avg


@dataclass(frozen=True)
class Plan:
    """What to run: data, schedule and seeds; both conditions (λ = 0 and λ = 0.001) per seed."""

    data: str
    epochs: int
    seeds: tuple[int, ...]
    parallel: int
    device: str
    lambdas: tuple[float, ...] = (0.0, 0.001)
    extra: tuple[str, ...] = ()


PLANS: dict[str, Plan] = {
    "paper": Plan("cifar10", 300, (0, 1, 2, 3, 4), 4, "auto"),
    "short": Plan("cifar10", 30, (0, 1), 4, "auto"),
    "quick": Plan("synthetic:64", 1, (0,), 1, "cpu"),
}


def _run_name(lam: float, seed: int) -> str:
    return f"{'lre' if lam > 0 else 'ce'}-lambda{lam:g}-seed{seed}"


def _finished(run_dir: Path, epochs: int) -> bool:
    m = run_dir / "metrics.jsonl"
    if not m.is_file():
        return False
    lines = [ln for ln in m.read_text().splitlines() if ln.strip()]
    return bool(lines) and json.loads(lines[-1]).get("epoch") == epochs


def commands(plan: Plan, out: Path, data_dir: str | None) -> list[tuple[str, Path, list[str] | None]]:
    """(name, run folder, argv) per run; argv None when the run has already finished."""
    wsep = [sys.executable, "-m", "wsep_cli"]
    cmds = []
    for seed in plan.seeds:
        for lam in plan.lambdas:
            name, d = _run_name(lam, seed), out / "runs" / _run_name(lam, seed)
            if _finished(d, plan.epochs):
                cmds.append((name, d, None))
            elif (d / "checkpoint.pt").is_file():
                cmds.append((name, d, wsep + ["finetune", "--resume", str(d), "--quiet"]))
            else:
                argv = wsep + ["finetune", "--model", "resnet32", "--data", plan.data, "--epochs", str(plan.epochs),
                               "--lambda", f"{lam:g}", "--seed", str(seed), "--device", plan.device,
                               "--output", str(d), "--overwrite", "--quiet", *plan.extra]
                if data_dir:
                    argv += ["--data-dir", data_dir]
                cmds.append((name, d, argv))
    return cmds


def _launch(cmds: list[tuple[str, Path, list[str] | None]], parallel: int) -> dict[str, int]:
    """Run the pending commands, ``parallel`` at a time; each run's output goes to its log.txt."""
    pending = [(n, d, a) for n, d, a in cmds if a is not None]
    running: list[tuple[str, subprocess.Popen[bytes], Any]] = []
    codes: dict[str, int] = {}
    while pending or running:
        while pending and len(running) < parallel:
            name, d, argv = pending.pop(0)
            d.mkdir(parents=True, exist_ok=True)
            log = (d.parent / f"{name}.log").open("ab")
            print(f"table1: start {name}: {' '.join(argv[1:])}", file=sys.stderr, flush=True)
            running.append((name, subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=REPO), log))
        time.sleep(0.5)
        for item in list(running):
            name, proc, log = item
            if proc.poll() is not None:
                log.close()
                codes[name] = int(proc.returncode)
                print(f"table1: {name} exited {proc.returncode}", file=sys.stderr, flush=True)
                running.remove(item)
    return codes


def read_run(run_dir: Path, lam: float, seed: int) -> dict[str, Any]:
    """The last metrics.jsonl line of a run, as a row for :func:`_report.summarize`."""
    lines = [json.loads(ln) for ln in (run_dir / "metrics.jsonl").read_text().splitlines() if ln.strip()]
    last = lines[-1]
    return {
        "variant": "ResNet-32 + L_re" if lam > 0 else "ResNet-32", "seed": seed, "config": {"lam": lam},
        "test_acc": last["test_acc"], "test_error_pct": 100 * (1 - last["test_acc"]), "epsilon": last["epsilon"],
        "epsilon_normalized": last["epsilon_normalized"], "epochs": last["epoch"],
        "seconds": sum(x.get("seconds", 0.0) for x in lines),
        "images_per_second": last.get("images_per_second"),
        "runtime": json.loads((run_dir / "config.json").read_text()).get("resolved", {}).get("runtime", {}),
        "cosine_mean": float("nan"), "row_norm_mean": float("nan"), "row_sum_ratio": float("nan"),
        "fisher_ratio": float("nan"), "train_re_loss": last.get("re_loss", float("nan")),
    }


def _table(runs: list[dict[str, Any]], plan: Plan) -> str:
    rows = summarize(runs, reference="ResNet-32")
    by_name = {r["variant"]: [x for x in runs if x["variant"] == r["variant"]] for r in runs}
    out = []
    for r in rows:
        errs = [x["test_error_pct"] for x in by_name[r["condition"]]]
        m_err = sum(errs) / len(errs)
        s_err = 100 * r["test_acc"][1]
        d = "—"
        if "delta_acc" in r:
            dm, ds, p, _ = paired(by_name[r["condition"]], by_name["ResNet-32"], "test_error_pct")
            d = f"{dm:+.2f} ± {ds:.2f}" + (f" (p = {p:.2g})" if p == p else "")
        paper_err, paper_eps = PAPER[r["condition"]]
        out.append((r["condition"], r["n"], f"{m_err:.2f} ± {s_err:.2f}", d,
                    f"{r['epsilon'][0]:.4g} ± {r['epsilon'][1]:.2g}",
                    f"{r['epsilon_normalized'][0]:.4g} ± {r['epsilon_normalized'][1]:.2g}",
                    f"{paper_err:.2f}", f"{paper_eps:.3g}"))
    return md_table(["model", "n seeds", f"error % ({plan.data}, {plan.epochs} ep.)", "Δ error vs CE (pp, paired)",
                     "ε(V)", "ε_normalized", "paper C10+ error %", "paper ε(W)"], out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=sorted(PLANS), default="short")
    ap.add_argument("--quick", action="store_true", help="same as --mode quick (CPU, synthetic:64, 1 epoch)")
    ap.add_argument("--data", default=None, help="override the plan's --data (e.g. synthetic:256)")
    ap.add_argument("--data-dir", default=None, help="folder holding cifar-10-batches-py/")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1")
    ap.add_argument("--parallel", type=int, default=None, help="runs at once on the device")
    ap.add_argument("--device", default=None, help="auto, cpu, cuda or cuda:N")
    ap.add_argument("--compile", action="store_true", help="pass --compile to wsep finetune")
    ap.add_argument("--out", type=Path, default=REPO / "runs" / "table1")
    args = ap.parse_args(argv)
    plan = PLANS["quick" if args.quick else args.mode]
    plan = replace(
        plan, data=args.data or plan.data, epochs=args.epochs or plan.epochs,
        seeds=tuple(range(args.seeds)) if args.seeds else plan.seeds, parallel=args.parallel or plan.parallel,
        device=args.device or plan.device, extra=("--compile",) if args.compile else (),
    )
    t0 = time.perf_counter()
    cmds = commands(plan, args.out, args.data_dir)
    codes = _launch(cmds, plan.parallel)
    failed = {n: c for n, c in codes.items() if c != 0}
    runs = [read_run(d, lam, seed) for (n, d, _), (seed, lam) in
            zip(cmds, [(s, lam) for s in plan.seeds for lam in plan.lambdas]) if n not in failed]
    md = _table(runs, plan) if runs else "(no finished runs)"
    write_json(args.out / "table1.json", {"plan": plan.__dict__, "runs": runs, "failed": failed,
                                          "wall_seconds": time.perf_counter() - t0, "machine": machine()})
    (args.out / "table1.md").write_text(md + "\n")
    print(md)
    if failed:
        print(f"table1: {len(failed)} run(s) failed: {failed}; see {args.out / 'runs'}/*.log", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
