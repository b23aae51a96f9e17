"""Loss-variant ablation of L_re on LeNet-5 / sklearn digits: what each design choice does to ε and accuracy.

All variants use the same seeds, data, schedule and code as ``lenet_digits.py`` (runs they share —
CE and the library's L_re at λ ∈ {0.001, 0.01, 0.1, 1} — are read from its on-disk cache when present).
At λ = 1, where L_re measurably changes training (at the paper's λ = 0.001 it does not), the
ablation varies one thing at a time:

- KL direction: the paper's KL(P ‖ Q) (library) vs the reverse KL(Q ‖ P) (script-local);
- temperature T ∈ {0.5, 1, 2, 5} (library ``temperature=``);
- gradient path: both α and V (paper), V only (``detach="features"``), α only (``detach="weight"``);
- λ sweep 0.001 … 10;
- a control that is not in the paper: CE + 0.01·ε(V), penalising the metric directly (script-local).

Usage:
    python experiments/ablation.py               # full (about 5 min of CPU on top of lenet_digits)
    python experiments/ablation.py --quick --out /tmp/q
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from _common import REPO, machine, write_json

__all__ = ["variants", "main"]

LAM = 1.0


def variants(quick: bool) -> list[Any]:
    """CE, the paper's L_re at λ = 1, then one change at a time; λ sweep last."""
    from _train import Variant

    if quick:
        return [Variant("CE"), Variant("L_re λ=1 (paper form)", lam=LAM),
                Variant("reverse KL(Q‖P)", lam=LAM, direction="reverse"),
                Variant("T=2", lam=LAM, temperature=2.0),
                Variant("detach α (V learns)", lam=LAM, detach="features"),
                Variant("CE + 0.01·ε(V) (control)", eps_penalty=0.01), Variant("λ=0.001", lam=0.001)]
    return [
        Variant("CE"),
        Variant("L_re λ=1 (paper form)", lam=LAM),
        Variant("reverse KL(Q‖P)", lam=LAM, direction="reverse"),
        Variant("T=0.5", lam=LAM, temperature=0.5),
        Variant("T=2", lam=LAM, temperature=2.0),
        Variant("T=5", lam=LAM, temperature=5.0),
        Variant("detach α (V learns)", lam=LAM, detach="features"),
        Variant("detach V (α learns)", lam=LAM, detach="weight"),
        Variant("CE + 0.01·ε(V) (control)", eps_penalty=0.01),
        Variant("λ=0.001", lam=0.001),
        Variant("λ=0.01", lam=0.01),
        Variant("λ=0.1", lam=0.1),
        Variant("λ=10", lam=10.0),
    ]


def _sweep_figure(rows: list[dict[str, Any]], path: Path) -> None:
    from _plots import plot_sweep

    by = {r["condition"]: r for r in rows}
    pts = sorted((r["config"]["lam"], r) for r in rows
                 if r["config"]["lam"] > 0 and r["config"]["temperature"] == 1.0 and r["config"]["detach"] is None
                 and r["config"]["direction"] == "forward")
    if len(pts) < 2 or "CE" not in by:
        return
    keys = ("test_acc", "epsilon", "epsilon_normalized", "fisher_ratio")
    series = {k: ([r[k][0] for _, r in pts], [r[k][1] for _, r in pts]) for k in keys}
    plot_sweep([lam for lam, _ in pts], series, path, "digits, LeNet-5: λ sweep (mean ± std over seeds)",
               baselines={k: by["CE"][k] for k in keys})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="CI-sized: 2 seeds, 1 epoch on 400 images, 6 variants")
    ap.add_argument("--out", type=Path, default=REPO / "experiments" / "results")
    ap.add_argument("--figures", type=Path, default=None, help="figure folder (default docs/figures; --quick: OUT)")
    ap.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (default 5; --quick 2)")
    ap.add_argument("--epochs", type=int, default=None, help="epochs (default 20, as lenet_digits; --quick 1)")
    ap.add_argument("--jobs", type=int, default=1, help="parallel training processes, 1 thread each (default 1)")
    args = ap.parse_args(argv)

    import torch

    from _report import summarize, summary_table
    from _train import Schedule, digits_bundle
    from lenet_digits import _correlations, run_dataset

    torch.set_num_threads(1)
    seeds = list(range(args.seeds or (2 if args.quick else 5)))
    sched = Schedule(epochs=args.epochs or (1 if args.quick else 20))
    bundle = digits_bundle(n_train=400 if args.quick else None)
    fig_dir = args.figures or (args.out if args.quick else REPO / "docs" / "figures")
    t0 = time.perf_counter()
    runs = run_dataset("digits", bundle, variants(args.quick), seeds, sched,
                       None if args.quick else args.out / "cache", args.jobs)
    rows = summarize(runs, reference="CE")
    _sweep_figure(rows, fig_dir / "ablation_lambda_digits.png")
    md = (f"### Ablation — LeNet-5 on digits, {sched.epochs} epochs, seeds {seeds[0]}..{seeds[-1]}\n\n"
          + summary_table(rows))
    write_json(args.out / "ablation.json", {
        "quick": args.quick, "seeds": seeds, "schedule": sched.__dict__, "data": bundle.describe(),
        "summary": rows, "correlation_eps_acc": _correlations(runs),
        "runs": [{k: v for k, v in r.items() if not k.startswith("_")} for r in runs],
        "wall_seconds": time.perf_counter() - t0, "train_seconds_sum": sum(r["seconds"] for r in runs),
        "machine": machine(),
    })
    (args.out / "ablation.md").write_text(md + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
