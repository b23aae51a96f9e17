"""CIFAR-10 at CPU scale (issue 16, point 2): ResNet-20, CE vs CE + λ·L_re (λ = 0.001, the paper's,
and λ = 1, where L_re mattered on LeNet), paired seeds, per-epoch test error, ε, ε_normalized,
mean cosine, row norms and L_re.

Sized to finish in <= 45 min wall on one thread of a shared 2-core CPU (measured: see
docs/evidence.md): ResNet-20 (the shallowest CIFAR ResNet in wsep's registry; ResNet-32 is 1.7x slower
per image here), a class-balanced 4,000-image subset of the packed JPEG training set, 2,000 test
images (200 per class), 6 epochs, the paper's SGD recipe (lr 0.1, momentum 0.9, wd 1e-4, batch 128,
lr / 10 at 1/3, 2/3, 5/6), crop + flip. Runs go seed by seed (all conditions of seed 0 first), each
written to ``experiments/results/cifar_cpu/<condition>-seed<k>.json`` when it ends, and skipped when
rerun, so a stopped study resumes and a partial one still has complete pairs.

    python experiments/cifar_cpu.py                         # full study (~30-45 min, 1 thread)
    python experiments/cifar_cpu.py --quick --out /tmp/q    # CI: 2 conditions, 1 seed, 1 epoch, tiny slice
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, machine, md_table, mean_std, write_json  # noqa: E402
from _report import paired, spearman  # noqa: E402

PACKED = REPO / ".." / "shared" / "data" / "yoongikim_cifar10_npz"
CONDITIONS = (("CE", 0.0), ("CE + L_re λ=0.001", 0.001), ("CE + L_re λ=1", 1.0))


@dataclass(frozen=True)
class Study:
    model: str = "resnet20"
    train_per_class: int = 400
    test_per_class: int = 200
    epochs: int = 6
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    seeds: tuple[int, ...] = (0, 1, 2)
    subset_seed: int = 0


def _subset(y: Any, per_class: int, seed: int) -> Any:
    """Indices of the first ``per_class`` images of each class under a fixed permutation."""
    import torch

    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    keep = torch.cat([perm[y[perm] == c][:per_class] for c in range(10)])
    return keep[torch.randperm(len(keep), generator=torch.Generator().manual_seed(seed + 1))]


def load(study: Study, data_dir: Path) -> Any:
    """The packed JPEG CIFAR-10 through wsep's loader, cut to the study's balanced subsets."""
    from wsep_cli.finetune.config import FinetuneConfig
    from wsep_cli.finetune.data import TensorSplit, load_data
    from wsep_cli.finetune.models import model_spec

    b = load_data(FinetuneConfig(output="-", model=study.model, data=f"cifar10-jpeg:{data_dir}"), model_spec(study.model))
    tr, te = _subset(b.train.y, study.train_per_class, study.subset_seed), _subset(b.test.y, study.test_per_class, study.subset_seed)
    b.train, b.test = TensorSplit(b.train.x[tr], b.train.y[tr]), TensorSplit(b.test.x[te], b.test.y[te])
    return b


def _head_row(head: Any) -> dict[str, float]:
    from wsep_cli.metrics import compute_metrics

    mt = compute_metrics(head.weight.detach().double().numpy())
    return {"epsilon": mt.epsilon, "epsilon_normalized": mt.epsilon_normalized,
            "cosine_mean": mt.cosine.mean if mt.cosine else 0.0, "row_norm_mean": mt.norms.mean}


def train_one(study: Study, bundle: Any, name: str, lam: float, seed: int) -> dict[str, Any]:
    """One run; per-epoch rows of test error and head metrics (epoch 0 = initialisation)."""
    import torch
    import torch.nn.functional as F

    from wsep_cli.finetune.augment import apply_flip, normalize, plan_epoch, random_crop
    from wsep_cli.finetune.config import FinetuneConfig
    from wsep_cli.finetune.head import find_classifier
    from wsep_cli.finetune.loss import reconstruction_loss
    from wsep_cli.finetune.models import build_model, model_spec

    torch.manual_seed(seed)
    model = build_model(model_spec(study.model), 10, 3)
    head = find_classifier(model).attach()
    opt = torch.optim.SGD(model.parameters(), lr=study.lr, momentum=study.momentum, weight_decay=study.weight_decay)
    milestones = FinetuneConfig(output="-", epochs=study.epochs).milestones()
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=0.1)
    mean, std = torch.tensor(bundle.mean).view(-1, 1, 1), torch.tensor(bundle.std).view(-1, 1, 1)
    x, y, n = bundle.train.x, bundle.train.y, len(bundle.train)
    rows = [{"epoch": 0, "test_error_pct": _test_error(model, bundle, mean, std), **_head_row(head)}]
    t0 = time.perf_counter()
    for epoch in range(study.epochs):
        model.train()
        plan = plan_epoch(n, seed, epoch, bundle.pad, bundle.flip)
        sums, steps, te = np.zeros(3), 0, time.perf_counter()
        for i in range(0, n, study.batch_size):
            sl = slice(i, i + study.batch_size)
            idx = plan.order[sl]
            xb = apply_flip(random_crop(x[idx], bundle.pad, plan.dx[sl], plan.dy[sl]), plan.flip[sl])
            logits = model(normalize(xb, mean, std))
            ce = F.cross_entropy(logits, y[idx])
            re = reconstruction_loss(head.features(), y[idx], head.weight)
            loss = ce + lam * re if lam > 0 else ce
            if not torch.isfinite(loss):
                raise FloatingPointError(f"{name} seed {seed}: non-finite loss at epoch {epoch + 1}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sums += (float(ce.detach()), float(re.detach()), float((logits.detach().argmax(1) == y[idx]).float().mean()))
            steps += 1
        sched.step()
        rows.append({"epoch": epoch + 1, "lr": opt.param_groups[0]["lr"], "train_ce": sums[0] / steps,
                     "train_re_loss": sums[1] / steps, "train_error_pct": 100 * (1 - sums[2] / steps),
                     "test_error_pct": _test_error(model, bundle, mean, std), **_head_row(head),
                     "seconds": time.perf_counter() - te})
        print(f"[cifar_cpu] {name} seed {seed} epoch {epoch + 1}: test error {rows[-1]['test_error_pct']:.2f} %, "
              f"ε {rows[-1]['epsilon']:.4g}, L_re {rows[-1]['train_re_loss']:.4g} ({rows[-1]['seconds']:.0f} s)",
              file=sys.stderr, flush=True)
    return {"condition": name, "lambda": lam, "seed": seed, "study": asdict(study), "per_epoch": rows,
            **{k: rows[-1][k] for k in ("test_error_pct", "epsilon", "epsilon_normalized", "cosine_mean",
                                        "row_norm_mean", "train_re_loss", "train_ce")},
            "seconds": time.perf_counter() - t0, "machine": machine(), "data": bundle.describe()}


def _test_error(model: Any, bundle: Any, mean: Any, std: Any) -> float:
    import torch

    from wsep_cli.finetune.augment import normalize

    model.eval()
    wrong = 0
    with torch.no_grad():
        for i in range(0, len(bundle.test), 500):
            logits = model(normalize(bundle.test.x[i:i + 500], mean, std))
            wrong += int((logits.argmax(1) != bundle.test.y[i:i + 500]).sum())
    return 100 * wrong / len(bundle.test)


def summarize(runs: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """Markdown table (mean ± sample std over seeds, paired Δ vs CE with the paired t-test p) and stats."""
    by = {c: sorted((r for r in runs if r["condition"] == c), key=lambda r: r["seed"]) for c, _ in CONDITIONS}
    rows, stats = [], {}
    for c, _ in CONDITIONS:
        rs = by[c]
        if not rs:
            continue
        d = "—"
        if c != "CE" and by["CE"]:
            dm, ds, p, n = paired(rs, by["CE"], "test_error_pct")
            de = paired(rs, by["CE"], "epsilon")
            stats[c] = {"delta_error_pp": [dm, ds, p, n], "delta_epsilon": list(de)}
            d = f"{dm:+.2f} ± {ds:.2f}" + (f" (p = {p:.2g}, n = {n})" if not math.isnan(p) else f" (n = {n})")
        f = lambda k, spec: "{:{s}} ± {:{s}}".format(*mean_std(r[k] for r in rs), s=spec)  # noqa: E731
        rows.append((c, len(rs), f("test_error_pct", ".2f"), d, f("epsilon", ".4g"), f("epsilon_normalized", ".4f"),
                     f("cosine_mean", ".4f"), f("row_norm_mean", ".3f"), f("train_re_loss", ".4g")))
    rho = spearman([r["epsilon"] for r in runs], [100 - r["test_error_pct"] for r in runs])
    rho_n = spearman([r["epsilon_normalized"] for r in runs], [100 - r["test_error_pct"] for r in runs])
    stats["spearman_eps_acc"], stats["spearman_epsn_acc"], stats["n_runs"] = rho, rho_n, len(runs)
    md = md_table(["condition", "n seeds", "test error %", "Δ error vs CE (pp, paired)", "ε(V)", "ε_normalized",
                   "cos mean", "row norm", "train L_re (last epoch)"], rows)
    md += (f"\n\nSpearman ρ(ε, accuracy) over all {len(runs)} runs: {rho[0]:+.2f} (p = {rho[1]:.2g}); "
           f"ρ(ε_normalized, accuracy): {rho_n[0]:+.2f} (p = {rho_n[1]:.2g}).")
    return md, stats


def plot(runs: list[dict[str, Any]], folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    colors = dict(zip((c for c, _ in CONDITIONS), ("tab:blue", "tab:orange", "tab:red")))
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2), dpi=90)
    for c, _ in CONDITIONS:
        rs = [r for r in runs if r["condition"] == c]
        if not rs:
            continue
        for ax, key in zip(axes, ("test_error_pct", "epsilon", "epsilon_normalized")):
            m = np.array([[row[key] for row in r["per_epoch"]] for r in rs])
            ep = np.arange(m.shape[1])
            ax.plot(ep, m.mean(0), color=colors[c], label=f"{c} (n={len(rs)})")
            ax.fill_between(ep, m.min(0), m.max(0), color=colors[c], alpha=0.2)
            ax.set_xlabel("epoch")
            ax.set_title(key.replace("_pct", " %"))
    axes[1].set_yscale("log")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    p1 = folder / "cifar_cpu_curves.png"
    fig.savefig(p1)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(4.2, 3.2), dpi=90)
    for c, _ in CONDITIONS:
        rs = [r for r in runs if r["condition"] == c]
        ax.scatter([r["epsilon"] for r in rs], [100 - r["test_error_pct"] for r in rs], color=colors[c], label=c, s=18)
    ax.set_xscale("log")
    ax.set_xlabel("ε(V) after training")
    ax.set_ylabel("test accuracy %")
    ax.legend(fontsize=7)
    fig.tight_layout()
    p2 = folder / "cifar_cpu_acc_vs_eps.png"
    fig.savefig(p2)
    plt.close(fig)
    return [p1, p2]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=PACKED)
    ap.add_argument("--out", type=Path, default=REPO / "experiments" / "results")
    ap.add_argument("--figures", type=Path, default=None, help="default docs/figures (OUT with --quick)")
    ap.add_argument("--quick", action="store_true", help="CI: CE and λ=1, seed 0, 1 epoch, 4 train / 2 test per class")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    study = Study(train_per_class=4, test_per_class=2, epochs=1, seeds=(0,)) if args.quick else Study()
    conds = (CONDITIONS[0], CONDITIONS[2]) if args.quick else CONDITIONS
    t0 = time.perf_counter()
    bundle = load(study, args.data_dir)
    print(f"[cifar_cpu] data: {len(bundle.train)} train / {len(bundle.test)} test ({bundle.form}), "
          f"{time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    run_dir = args.out / "cifar_cpu"
    runs = []
    for seed in study.seeds:
        for name, lam in conds:
            f = run_dir / f"{'ce' if lam == 0 else f'lre{lam:g}'}-seed{seed}.json"
            if f.is_file() and json.loads(f.read_text()).get("study") == json.loads(json.dumps(asdict(study))):
                runs.append(json.loads(f.read_text()))
                continue
            runs.append(train_one(study, bundle, name, lam, seed))
            write_json(f, runs[-1])
    md, stats = summarize(runs)
    figs = plot(runs, args.figures or (args.out if args.quick else REPO / "docs" / "figures"))
    cmd = "python experiments/cifar_cpu.py" + (" --quick" if args.quick else "")
    write_json(args.out / "cifar_cpu.json", {"study": asdict(study), "conditions": [c for c, _ in conds], "stats": stats,
                                             "runs": [{k: v for k, v in r.items() if k != "per_epoch"} for r in runs],
                                             "wall_seconds": time.perf_counter() - t0, "command": cmd, "machine": machine()})
    (args.out / "cifar_cpu.md").write_text(f"# {cmd}\n\n{md}\n")
    print(md)
    print(f"[cifar_cpu] {len(runs)} runs, {time.perf_counter() - t0:.0f} s wall; figures {', '.join(map(str, figs))}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
