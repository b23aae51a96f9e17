"""Paper Table 1 (ResNet-32, CIFAR-10, CE vs CE + L_re at λ = 0.001) on one H100/H200 in one command.

Stages, each under one deadline (``--budget-s``, default 510 s, so the whole command ends inside 9 min):

1. *setup*: decode the packed JPEG CIFAR-10 from ``--data-dir`` once (the runs reuse the cache).
2. *bench* (issue 16, 3a): ``wsep finetune``'s own step on the GPU, ResNet-32, CIFAR-10-shaped data,
   CE vs CE + L_re, batch 128 and 512, bf16 autocast, channels_last, eager and ``torch.compile``
   (compile time reported separately): img/s and the L_re overhead in %.
3. *probe*: the same eager step in P = 1, 2, 4 processes at once on the one GPU; the P with the
   highest total img/s (> 5 % above fewer processes) places the Table 1 runs.
4. *table*: 2 seeds x {λ = 0, λ = 0.001} of ``python -m wsep_cli finetune --model resnet32
   --data cifar10-jpeg:DIR`` (the library trainer, bf16, paper SGD recipe and step schedule), with
   the most epochs that the probe says fit before the deadline. Runs still going at the deadline
   are stopped (SIGTERM: checkpoint, exit 143); what finished is kept and labelled.

Everything goes to ``--out`` as JSON + Markdown after every stage (``table1_gpu.json``, ``table1_gpu.md``,
``log.txt``); run folders go to ``--runs-dir`` (default ``/tmp/wsep_table1_runs``: too many files for $OUT).
The data are the lossy JPEG copy (quality 75): error rates are not the lossless benchmark's.

    python experiments/table1_gpu.py --prepare            # here, once: copy the .npz into data/cifar10_npz/
    python3 experiments/table1_gpu.py --out $OUT           # on the GPU machine (carry data/cifar10_npz)
    python experiments/table1_gpu.py --dry-run --data-dir D --out O   # CPU, tiny schedule (the CI test)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, machine, md_table, mean_std, write_json  # noqa: E402

DATA = REPO / "data" / "cifar10_npz"
SHA256 = {"cifar10_train_yoongikim_jpeg.npz": "441ef69613de2495fc679261743ef536efdc024c665981266302df609ece5737",
          "cifar10_test_yoongikim_jpeg.npz": "1dbb954aa3765fc11a40a381303ed540614b162727d13a87d5f301c7084ebb45"}
PAPER = {"CE": 8.09, "CE + L_re": 5.94}  # paper Table 1, ResNet-32, C10+ error %
EFFICIENCY = 0.6  # trainer img/s relative to the bare step (eval, logging, checkpoints): a guess, see the JSON


def prepare(src: Path, dest: Path = DATA, repo: Path = REPO) -> str:
    """Copy the two packed files (sha256-checked) into ``dest`` and git-ignore it via .git/info/exclude."""
    import hashlib
    import shutil

    dest.mkdir(parents=True, exist_ok=True)
    for name, want in SHA256.items():
        got = hashlib.sha256((src / name).read_bytes()).hexdigest()
        if got != want:
            raise SystemExit(f"{src / name}: sha256 {got} is not the published {want}")
        shutil.copyfile(src / name, dest / name)
    rel = "/" + dest.resolve().relative_to(repo.resolve()).as_posix() + "/"
    excl = Path(subprocess.run(["git", "rev-parse", "--git-path", "info/exclude"], cwd=repo, capture_output=True,
                               text=True, check=True).stdout.strip())
    excl = excl if excl.is_absolute() else repo / excl
    lines = excl.read_text().splitlines() if excl.is_file() else []
    if rel not in lines:
        excl.parent.mkdir(parents=True, exist_ok=True)
        excl.write_text("\n".join([*lines, rel]) + "\n")
    return rel


class Report:
    """The JSON + Markdown results, rewritten after every stage so that a kill keeps what was done."""

    def __init__(self, out: Path, meta: dict[str, Any]) -> None:
        self.out, self.data = out, {**meta, "stages": {}}
        out.mkdir(parents=True, exist_ok=True)
        self.logf = (out / "log.txt").open("a")

    def log(self, line: str) -> None:
        print(line, flush=True)
        self.logf.write(line + "\n")
        self.logf.flush()

    def stage(self, name: str, value: Any) -> None:
        self.data["stages"][name] = value
        write_json(self.out / "table1_gpu.json", self.data)
        (self.out / "table1_gpu.md").write_text(render(self.data))


def _fmt(ms: tuple[float, float], spec: str) -> str:
    return "—" if math.isnan(ms[0]) else f"{ms[0]:{spec}} ± {ms[1]:{spec}}"


def render(d: dict[str, Any]) -> str:
    st = d["stages"]
    out = [f"# Table 1 on one GPU ({d.get('device')}): `{d.get('command')}`", "",
           f"Data: {d.get('data_form', '?')}. Budget {d.get('budget_s')} s; wall so far {d.get('wall_s', 0):.0f} s.", ""]
    if "setup" in st:
        out += [f"Setup: {json.dumps(st['setup'])}", ""]
    if "bench" in st:
        rows = [(("compiled" if r["compiled"] else "eager"), r["batch_size"], r["loss"],
                 f"{r['images_per_second']:.0f}" if "images_per_second" in r else r.get("skipped") or r.get("error", "?"),
                 f"{r['lre_overhead_pct']:+.1f}" if "lre_overhead_pct" in r else "",
                 f"{r['compile_s']:.1f}" if r.get("compile_s") is not None else "") for r in st["bench"]]
        out += ["## Throughput (`train_step`, ResNet-32, " + ("bf16 autocast, channels_last)" if d.get("cuda") else "CPU fp32)"),
                "", md_table(["mode", "batch", "loss", "img/s (median block)", "L_re overhead %", "compile s"], rows), ""]
    if "probe" in st:
        p = st["probe"]
        out += ["## Concurrent processes on the one device (eager CE, batch 128)", "",
                md_table(["processes", "total img/s"], [(k, f"{v:.0f}" if v else "failed") for k, v in p["total"].items()]),
                "", f"Chosen: {p['chosen']} at a time.", ""]
    if "table" in st:
        t = st["table"]
        out += [f"## Table 1: {t['epochs']} epochs, seeds {t['seeds']}, {t['parallel']} at a time",
                "", t["markdown"], "", md_table(["run", "status", "epochs done", "test error %", "ε", "wall s"],
                                                [(r["name"], r["status"], r["epochs_done"], r.get("test_error_pct", "—"),
                                                  r.get("epsilon", "—"), f"{r['seconds'] or 0:.0f}") for r in t["runs"]]), ""]
    return "\n".join(out) + "\n"


def _probe(args: argparse.Namespace, counts: tuple[int, ...], seconds: float, rep: Report) -> dict[str, Any]:
    total: dict[int, float | None] = {}
    tmp = Path(args.out) / "probe"
    tmp.mkdir(parents=True, exist_ok=True)
    for p in counts:
        go = tmp / f"go-{p}"
        files = [tmp / f"p{p}-{i}.json" for i in range(p)]
        procs = [subprocess.Popen([sys.executable, __file__, "--probe-worker", str(f), "--device", args.device,
                                   "--probe-batch", str(args.probe_batch), "--probe-go", str(go),
                                   "--probe-seconds", repr(seconds)], cwd=REPO) for f in files]
        limit = time.perf_counter() + 90
        while (not all(f.with_suffix(".ready").is_file() for f in files) and time.perf_counter() < limit
               and all(pr.poll() is None for pr in procs)):
            time.sleep(0.05)
        go.write_text(repr(time.time() + 0.2))  # all warmed up: start together
        codes = []
        for pr in procs:
            try:
                codes.append(pr.wait(timeout=seconds + 60))
            except subprocess.TimeoutExpired:
                pr.kill()
                codes.append(-9)
        if any(codes) or not all(f.is_file() for f in files):
            total[p] = None
        else:
            total[p] = sum(json.loads(f.read_text())["images_per_second"] for f in files)
        rep.log(f"probe: {p} process(es): total {total[p] or 0:.0f} img/s")
    chosen = 1
    for p in sorted(k for k, v in total.items() if v):
        if total[p] > 1.05 * (total.get(chosen) or 0):  # type: ignore[operator]
            chosen = p
    return {"seconds_per_probe": seconds, "batch_size": args.probe_batch, "total": total, "chosen": chosen}


def _epochs_that_fit(remaining_s: float, per_run_ips: float, n_runs: int, parallel: int, n_train: int,
                     n_test: int, startup_s: float) -> int:
    waves = math.ceil(n_runs / parallel)
    per_epoch_images = n_train + n_test / 3  # evaluation is forward-only: about a third of a training step
    budget = remaining_s / waves - startup_s
    return max(1, min(300, int(budget * per_run_ips * EFFICIENCY / per_epoch_images)))


def _table(args: argparse.Namespace, sizes: tuple[int, int], parallel: int, per_run_ips: float,
           deadline: float, rep: Report) -> dict[str, Any]:
    from _report import paired
    from _runs import Job, launch, read_run

    seeds = tuple(range(args.seeds))
    conds = (("CE", 0.0), ("CE + L_re", 0.001))
    n_runs = len(seeds) * len(conds)
    startup = 30.0 if args.device == "cuda" else 8.0
    epochs = args.epochs or _epochs_that_fit(deadline - time.perf_counter(), per_run_ips, n_runs, parallel,
                                             sizes[0], sizes[1], startup)
    rep.log(f"table: {epochs} epochs, {n_runs} runs, {parallel} at a time, {per_run_ips:.0f} img/s per run measured")
    runs_dir = Path(args.runs_dir)
    jobs = []
    for seed in seeds:
        for cond, lam in conds:
            name = f"{'lre' if lam else 'ce'}-seed{seed}"
            argv = [sys.executable, "-m", "wsep_cli", "finetune", "--model", "resnet32", "--data",
                    f"cifar10-jpeg:{args.data_dir}", "--epochs", str(epochs), "--lambda", f"{lam:g}", "--seed", str(seed),
                    "--device", args.device, "--batch-size", str(args.batch_size), "--output", str(runs_dir / name),
                    "--overwrite", "--quiet"]
            jobs.append(Job(name, argv, runs_dir / f"{name}.log", extra={"condition": cond, "lambda": lam, "seed": seed}))
    env = {**os.environ, "WSEP_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    launch(jobs, parallel, deadline, cwd=REPO, env=env)
    rows = []
    for j in jobs:
        r = read_run(runs_dir / j.name)
        row = {"name": j.name, **j.extra, "status": j.status, "returncode": j.returncode, "seconds": j.seconds,
               "epochs_planned": epochs, "epochs_done": r["epochs_done"], "per_epoch": r["per_epoch"],
               "finished": r["epochs_done"] == epochs, "runtime": (r.get("resolved") or {}).get("runtime")}
        if r["per_epoch"]:
            last = r["per_epoch"][-1]
            row.update(test_error_pct=round(100 * (1 - last["test_acc"]), 3), epsilon=last["epsilon"],
                       epsilon_normalized=last["epsilon_normalized"], re_loss=last["re_loss"],
                       images_per_second=last.get("images_per_second"), **{k: v for k, v in r.get("head", {}).items()
                                                                             if k in ("cosine_mean", "row_norm_mean")})
        rows.append(row)
    done = [r for r in rows if r["finished"]]
    lines = []
    for cond, _ in conds:
        rs = [r for r in done if r["condition"] == cond]
        d = "—"
        if cond != "CE" and rs:
            ce = [r for r in done if r["condition"] == "CE"]
            dm, ds, p, n = paired(rs, ce, "test_error_pct")
            d = f"{dm:+.2f} ± {ds:.2f} (n = {n}{', p = %.2g' % p if p == p else ''})" if n else "—"
        lines.append((cond, len(rs), _fmt(mean_std(r["test_error_pct"] for r in rs), ".2f"), d,
                      _fmt(mean_std(r["epsilon"] for r in rs), ".4g"), _fmt(mean_std(r["epsilon_normalized"] for r in rs), ".3f"),
                      _fmt(mean_std(r.get("cosine_mean", math.nan) for r in rs), ".4f"), f"{PAPER[cond]:.2f}"))
    md = md_table(["condition", "finished runs", f"test error % (JPEG CIFAR-10, {epochs} ep.)", "Δ error vs CE (pp, paired)",
                   "ε(V)", "ε_normalized", "cos mean", "paper C10+ error % (300 ep., lossless)"], lines)
    return {"epochs": epochs, "seeds": list(seeds), "parallel": parallel, "per_run_ips_estimate": per_run_ips,
            "efficiency_assumed": EFFICIENCY, "runs": rows, "markdown": md}


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    deadline = t0 + args.budget_s
    import torch

    from _gpu_bench import BenchPlan, bench
    from wsep_cli.finetune.packed import FORM, decode_packed, resolve_packed

    cuda = torch.cuda.is_available() and not args.dry_run
    args.device = "cuda" if cuda else "cpu"
    if cuda:
        torch.backends.cudnn.benchmark = True
    rep = Report(Path(args.out), {"command": " ".join([Path(sys.executable).name, *sys.argv]), "budget_s": args.budget_s,
                                  "device": torch.cuda.get_device_name(0) if cuda else "cpu", "cuda": cuda,
                                  "machine": machine(), "data_form": FORM, "dry_run": args.dry_run})

    def mark(name: str, value: Any) -> None:
        rep.data["wall_s"] = time.perf_counter() - t0
        rep.stage(name, value)

    ts = time.perf_counter()
    folder = resolve_packed(Path(args.data_dir))
    args.data_dir = str(folder)
    (xtr, _), (xte, _) = (decode_packed(folder / "cifar10_train_yoongikim_jpeg.npz"),
                          decode_packed(folder / "cifar10_test_yoongikim_jpeg.npz"))
    sizes = (int(xtr.shape[0]), int(xte.shape[0]))
    mark("setup", {"data_dir": str(folder), "train": sizes[0], "test": sizes[1], "decode_s": round(time.perf_counter() - ts, 2)})
    rep.log(f"setup: {sizes[0]} train / {sizes[1]} test images, {time.perf_counter() - ts:.1f} s")
    plan = (BenchPlan(batch_sizes=(8, 16), compile_modes=(False,), warmup=1, block_s=0.0, min_steps=1, repeats=1)
            if args.dry_run else BenchPlan())
    bench_end = t0 + args.budget_s * (0.1 if args.dry_run else 0.4)
    rows = bench(plan, torch.device(args.device), bench_end, rep.log)
    if args.dry_run:
        rows.append({"compiled": True, "loss": "both", "batch_size": 0, "skipped": "dry run: torch.compile on CPU takes minutes"})
    mark("bench", rows)
    probe = _probe(args, (1, 2) if args.dry_run else (1, 2, 4), 1.0 if args.dry_run else 8.0, rep)
    mark("probe", probe)
    parallel = args.parallel or probe["chosen"]
    total = probe["total"].get(parallel) or next((v for v in probe["total"].values() if v), 1000.0)
    table = _table(args, sizes, parallel, total / parallel, deadline - args.margin_s, rep)
    mark("table", table)
    rep.log(table["markdown"])
    rep.log(f"done in {time.perf_counter() - t0:.0f} s")
    return 0 if all(r["status"] in ("done", "stopped", "not started") for r in table["runs"]) else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=str(DATA), help="folder with the packed .npz files (default data/cifar10_npz)")
    ap.add_argument("--out", default=str(REPO / "runs" / "table1_gpu"), help="JSON + Markdown results")
    ap.add_argument("--runs-dir", default=None, help="run folders (default /tmp/wsep_table1_runs; OUT/runs with --dry-run)")
    ap.add_argument("--budget-s", type=float, default=510.0, help="stop everything by then (default 510)")
    ap.add_argument("--margin-s", type=float, default=None, help="end the runs this long before the budget (default 20)")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=None, help="default: the most that fit (1 with --dry-run)")
    ap.add_argument("--parallel", type=int, default=None, help="runs at once (default: the probe's choice)")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--dry-run", action="store_true", help="CPU, tiny bench and probe, 1 epoch (the CI test)")
    ap.add_argument("--prepare", nargs="?", const=str(REPO / ".." / "shared" / "data" / "yoongikim_cifar10_npz"),
                    default=None, metavar="SRC", help="copy the packed files into data/cifar10_npz and exit")
    ap.add_argument("--probe-worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--device", default="cuda", help=argparse.SUPPRESS)
    ap.add_argument("--probe-batch", type=int, default=128, help=argparse.SUPPRESS)
    ap.add_argument("--probe-go", default="", help=argparse.SUPPRESS)
    ap.add_argument("--probe-seconds", type=float, default=8.0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.probe_worker:
        from _gpu_bench import probe_worker

        probe_worker(args.device, "resnet32", args.probe_batch, Path(args.probe_go), args.probe_seconds,
                     Path(args.probe_worker))
        return 0
    if args.prepare:
        rel = prepare(Path(args.prepare))
        print(f"copied to {DATA} (ignored by .git/info/exclude as {rel}); on the GPU machine run, with carry "
              f"[\"data/cifar10_npz\"]: PYTHONUNBUFFERED=1 python3 experiments/table1_gpu.py --out $OUT")
        return 0
    if args.dry_run:
        args.epochs = args.epochs or 1
        args.probe_batch = 8
    args.margin_s = args.margin_s if args.margin_s is not None else (20.0 if not args.dry_run else 2.0)
    args.runs_dir = args.runs_dir or (str(Path(args.out) / "runs") if args.dry_run else "/tmp/wsep_table1_runs")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
