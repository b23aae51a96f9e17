"""Paper Fig. 2 / Fig. 4 analogue on CPU: LeNet-5 trained with CE, CE + λ·L_re, and a fixed QR layer.

Datasets (both offline):
- ``digits``: scikit-learn's 8×8 digits through wsep's loader (1,437 train / 360 test, 28×28).
- ``mnist-test-split``: the official MNIST test set from ../shared/data (when present), split by a
  fixed permutation into 8,000 training and 2,000 test images (this machine has no MNIST train set).

Conditions (same seeds, same code, paper's SGD recipe: lr 0.1, momentum 0.9, wd 1e-4, batch 128,
lr ÷10 at 1/3, 2/3, 5/6 of the run):
- ``CE``: plain softmax cross-entropy;
- ``CE + L_re λ=…``: Eq. 10 with the library's ``reconstruction_loss`` (λ = 0.001 is the paper's);
- ``fixed QR``: the paper's Fig. 2 (b): last layer set to a QR-orthogonal matrix (Eq. 2), not updated.

Reported per condition: test accuracy, ε(V), ε_normalized, mean cosine, row norms, row-sum ratio,
Fisher ratio of the test-set latent features α, the training L_re; paired Δ accuracy vs CE. Figures:
3-D PCA of α for classes 0, 1, 5 (paper Fig. 2), accuracy and ε against λ, accuracy against ε.

Usage:
    python experiments/lenet_digits.py            # full (about 10 min on 2 idle cores)
    python experiments/lenet_digits.py --quick --out /tmp/q   # CI-sized: 2 seeds, 1 epoch, 400 images
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from _common import REPO, machine, shared_data_dir, write_json

__all__ = ["conditions", "run_dataset", "main"]

LAMBDAS_FULL = (0.001, 0.01, 0.1, 1.0)
FIG2_CLASSES = (0, 1, 5)


def conditions(lambdas: tuple[float, ...]) -> list[Any]:
    """CE, CE + L_re at each λ, fixed QR — in table order."""
    from _train import Variant

    return ([Variant("CE")] + [Variant(f"CE + L_re λ={lam:g}", lam=lam) for lam in lambdas]
            + [Variant("fixed QR (Eq. 2)", fixed_qr=True)])


def run_dataset(name: str, bundle: Any, variants: list[Any], seeds: list[int], sched: Any,
                cache: Path | None, jobs: int = 1) -> list[dict[str, Any]]:
    """Every (variant, seed) run; the first seed keeps its test features for the PCA figure."""
    from _train import run_many

    tasks = [(v, s, s == seeds[0]) for v in variants for s in seeds]
    return run_many(tasks, name, bundle, sched, cache, jobs)


def _figures(name: str, runs: list[dict[str, Any]], rows: list[dict[str, Any]], lambdas: tuple[float, ...],
             fig_dir: Path, title: str, max_points: int = 300) -> list[str]:
    import numpy as np

    from _plots import plot_acc_vs_eps, plot_eps_curves, plot_latent_pca, plot_sweep
    from _report import group

    g = group(runs)
    keep = [k for k in g if k == "CE" or k.endswith(("λ=0.001", "λ=1")) or k.startswith("fixed")]
    panels = [(k, g[k][0]["_features"], g[k][0]["_targets"]) for k in keep if "_features" in g[k][0]]
    paths = []
    p = fig_dir / f"fig2_{name}_pca.png"
    plot_latent_pca(panels, FIG2_CLASSES, p, f"{title}: test-set α, PCA to 3-D, classes 0/1/5 (seed {runs[0]['seed']})",
                    max_points=max_points)
    paths.append(p)
    by = {r["condition"]: r for r in rows}
    lam_rows = [by[f"CE + L_re λ={lam:g}"] for lam in lambdas if f"CE + L_re λ={lam:g}" in by]
    if len(lam_rows) > 1 and "CE" in by:
        series = {k: ([r[k][0] for r in lam_rows], [r[k][1] for r in lam_rows])
                  for k in ("test_acc", "epsilon", "epsilon_normalized", "fisher_ratio")}
        p = fig_dir / f"lambda_{name}.png"
        plot_sweep([r["config"]["lam"] for r in lam_rows], series, p, f"{title}: CE + λ·L_re (mean ± std over seeds)",
                   baselines={k: by["CE"][k] for k in series})
        paths.append(p)
    p = fig_dir / f"acc_vs_eps_{name}.png"
    plot_acc_vs_eps({k: ([r["epsilon"] for r in v], [r["test_acc"] for r in v]) for k, v in g.items()
                     if not v[0]["config"]["fixed_qr"]}, p, f"{title}: one point per run (learned heads)")
    paths.append(p)
    p = fig_dir / f"eps_curve_{name}.png"
    plot_eps_curves({k: np.array([r["epsilon_curve"] for r in g[k]]) for k in keep if not k.startswith("fixed")}, p,
                    f"{title}: ε(V) during training")
    paths.append(p)
    return [str(x) for x in paths]


def _correlations(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Spearman ρ(ε, accuracy): all learned-head runs pooled, and within CE (paper: lower ε ↔ higher acc)."""
    from _report import group, spearman

    learned = [r for r in runs if not r["config"].get("fixed_qr")]
    ce = group(runs).get("CE", [])
    return {
        "pooled_learned_heads": spearman([r["epsilon"] for r in learned], [r["test_acc"] for r in learned]),
        "pooled_n": len(learned),
        "within_CE": spearman([r["epsilon"] for r in ce], [r["test_acc"] for r in ce]),
        "within_CE_n": len(ce),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="CI-sized: 2 seeds, 1 epoch on 400 images, fewer conditions")
    ap.add_argument("--out", type=Path, default=REPO / "experiments" / "results")
    ap.add_argument("--figures", type=Path, default=None, help="figure folder (default docs/figures; --quick: OUT)")
    ap.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (default 5; --quick 2)")
    ap.add_argument("--epochs", type=int, default=None, help="digits epochs (default 20; --quick 1)")
    ap.add_argument("--mnist-epochs", type=int, default=None, help="MNIST-split epochs (default 6; --quick 1)")
    ap.add_argument("--no-mnist", action="store_true", help="skip the MNIST test-set split")
    ap.add_argument("--jobs", type=int, default=1, help="parallel training processes, 1 thread each (default 1)")
    args = ap.parse_args(argv)

    import torch

    from _report import summarize, summary_table
    from _train import Schedule, digits_bundle, mnist_split_bundle

    torch.set_num_threads(1)
    seeds = list(range(args.seeds or (2 if args.quick else 5)))
    lambdas = (0.001, 1.0) if args.quick else LAMBDAS_FULL
    fig_dir = args.figures or (args.out if args.quick else REPO / "docs" / "figures")
    cache = None if args.quick else args.out / "cache"
    digits = digits_bundle(n_train=400 if args.quick else None)
    datasets: list[tuple[str, str, Any, Any, tuple[float, ...]]] = [
        ("digits", "sklearn digits", digits, Schedule(epochs=args.epochs or (1 if args.quick else 20)), lambdas)]
    shared = shared_data_dir()
    mnist_dir = shared / "facebookarchive_models_mnist" if shared else None
    if not args.no_mnist and mnist_dir is not None and mnist_dir.is_dir():
        n_train = 400 if args.quick else 8000
        mlam = (1.0,) if args.quick else (0.001, 1.0)
        mnist = mnist_split_bundle(mnist_dir, n_train, 500 if args.quick else None)
        datasets.append(("mnist", "MNIST test set, 8k/2k split", mnist,
                         Schedule(epochs=args.mnist_epochs or (1 if args.quick else 6)), mlam))

    result: dict[str, Any] = {"quick": args.quick, "seeds": seeds, "datasets": {}}
    md: list[str] = []
    t0 = time.perf_counter()
    for name, title, bundle, sched, lams in datasets:
        runs = run_dataset(name, bundle, conditions(lams), seeds, sched, cache, args.jobs)
        rows = summarize(runs, reference="CE")
        figs = _figures(name, runs, rows, lams, fig_dir, title, 60 if args.quick else 300)
        result["datasets"][name] = {
            "title": title, "data": bundle.describe(), "schedule": sched.__dict__, "summary": rows,
            "correlation_eps_acc": _correlations(runs), "figures": figs,
            "runs": [{k: v for k, v in r.items() if not k.startswith("_")} for r in runs],
        }
        md += [f"### {title} — LeNet-5, {sched.epochs} epochs, seeds {seeds[0]}..{seeds[-1]}", "",
               summary_table(rows), ""]
    result["wall_seconds"] = time.perf_counter() - t0  # this invocation (cached runs cost ~0)
    result["train_seconds_sum"] = sum(r["seconds"] for d in result["datasets"].values() for r in d["runs"])
    result["machine"] = machine()
    write_json(args.out / "lenet_digits.json", result)
    (args.out / "lenet_digits.md").write_text("\n".join(md))
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
