"""Survey: score every real third-party checkpoint in ../shared/data with wsep's library.

For each checkpoint it records what ``wsep score`` reports (ε, ε_normalized, cosine statistics, ETF
distance, singular values) through :func:`wsep_cli.pipeline.score_file`, plus three diagnostics computed
here from the same head matrix (read with wsep's own reader and locator):

- ``row_sum_ratio`` = ‖Σᵢ vᵢ‖ / sqrt(Σᵢ ‖vᵢ‖²): ≈ 1 for independent random rows, 0 when the class
  vectors sum to zero. Softmax cross-entropy gradients sum to zero over classes, so with weight decay
  Σᵢ vᵢ decays geometrically and a trained head drifts towards a rank-(n-1), sum-zero matrix.
- ``epsilon_spectral`` = (1/n) Σₖ (σₖ² − 1)² over the n eigenvalues of V Vᵀ: the same number as ε (a
  check), which shows that ε measures only how far V's singular values are from 1.
- ``epsilon_best_scale`` = min over c of ε(c·V) = 1 − tr(G)² / (n ‖G‖²_F), G = V Vᵀ: the part of ε a
  global rescaling of the head cannot remove.

Reference values printed beside them: any V whose rows sum to zero has ε ≥ 1/n and unit-row ε ≥ 1/(n−1)
(both reached by a simplex ETF); a PyTorch-default-initialised head (U(−1/√m, 1/√m)) of the same shape
gives the random-init row.

Usage:
    python experiments/survey.py                 # full: writes experiments/results/survey.json, prints markdown
    python experiments/survey.py --quick --out D # CI-sized: fewer random-init draws, output under D
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from _common import REPO, head_diagnostics, machine, md_table, shared_data_dir, write_json

__all__ = ["PUBLISHED", "random_init_reference", "survey", "main"]

# Published figures for the checkpoints (from ../shared/data/SOURCES.md).
PUBLISHED: dict[str, str] = {
    "akamaster_pytorch_resnet_cifar10/resnet20-12fca82f.th": "CIFAR-10 test error 8.27 % (README)",
    "akamaster_pytorch_resnet_cifar10/resnet32-d509ac18.th": "CIFAR-10 test error 7.37 % (README)",
    "karelnagel_denograd/mnist.safetensors": "MNIST test accuracy ~99.2 % (SOURCES.md)",
    "microsoft_windows_machine_learning/myFirstModel.pth": "tutorial CIFAR-10 CNN (no figure published)",
    "microsoft_windows_machine_learning/ImageClassifier.onnx": "same tutorial CNN, earlier run (no figure)",
}
_CHECKPOINT_SUFFIXES = (".th", ".pth", ".pt", ".onnx", ".safetensors")
_CIFAR10_FOLDERS = ("akamaster_pytorch_resnet_cifar10", "microsoft_windows_machine_learning")


def random_init_reference(n: int, m: int, draws: int, seed: int = 0) -> dict[str, Any]:
    """ε, ε_normalized, mean cosine and row-sum ratio of PyTorch-default heads U(−1/√m, 1/√m)."""
    from wsep_cli.metrics import compute_metrics

    rng = np.random.default_rng(seed)
    eps, epsn, cos, ratio = [], [], [], []
    bound = 1.0 / np.sqrt(m)
    for _ in range(draws):
        v = rng.uniform(-bound, bound, size=(n, m))
        mt = compute_metrics(v)
        eps.append(mt.epsilon)
        epsn.append(mt.epsilon_normalized)
        cos.append(mt.cosine.mean if mt.cosine else 0.0)
        ratio.append(head_diagnostics(v)["row_sum_ratio"])
    return {
        "draws": draws,
        "epsilon": [float(np.mean(eps)), float(np.std(eps, ddof=1))],
        "epsilon_normalized": [float(np.mean(epsn)), float(np.std(epsn, ddof=1))],
        "cosine_mean": [float(np.mean(cos)), float(np.std(cos, ddof=1))],
        "row_sum_ratio": [float(np.mean(ratio)), float(np.std(ratio, ddof=1))],
    }


def _load_heads(spec: str) -> list[np.ndarray]:
    """The located head matrices of one file, read with wsep's reader and locator."""
    from wsep_cli.locate import load_head_matrix, locate
    from wsep_cli.readers import open_reader

    with open_reader(spec) as reader:
        return [load_head_matrix(reader, h) for h in locate(reader)]


def _score_one(path: Path, root: Path, draws: int) -> dict[str, Any]:
    from wsep_cli.labels import load_labels
    from wsep_cli.pipeline import ScoreOptions, score_file

    rel = path.relative_to(root).as_posix()
    labels = load_labels(None, "cifar10") if rel.startswith(_CIFAR10_FOLDERS) else None
    t0 = time.perf_counter()
    try:
        res = score_file(str(path), ScoreOptions(labels=labels))
    except ImportError as e:  # a reader module wsep does not ship (yet): report, don't stop
        return {"file": rel, "published": PUBLISHED.get(rel, ""), "status": "error",
                "error": f"wsep has no reader for this format here ({e})", "heads": []}
    row: dict[str, Any] = {"file": rel, "published": PUBLISHED.get(rel, ""), **res.to_dict()}
    row["seconds"] = time.perf_counter() - t0
    if res.status != "ok":
        return row
    for head, v in zip(row["heads"], _load_heads(str(path))):
        head["diagnostics"] = head_diagnostics(v)
        head["random_init"] = random_init_reference(v.shape[0], v.shape[1], draws)
    return row


def survey(root: Path, draws: int) -> list[dict[str, Any]]:
    """Score every checkpoint file under ``root`` (sorted), errors kept as rows."""
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in _CHECKPOINT_SUFFIXES)
    return [_score_one(p, root, draws) for p in files]


def _max_pair(h: dict[str, Any]) -> str:
    ms = h["cosine"]["most_similar"]
    pair = "/".join(ms["names"]) if ms.get("names") else "/".join(str(c) for c in ms["classes"])
    return f"{ms['cosine']:.3f} ({pair})"


def _markdown(rows: list[dict[str, Any]]) -> str:
    ok = [(r, h) for r in rows if r["status"] == "ok" for h in r["heads"]]
    t1 = md_table(
        ["checkpoint", "head (n × m)", "ε", "ε_normalized", "cos mean ± std", "cos max (pair)", "ETF dist.",
         "row norm mean", "σ_min / σ_max", "row-sum ratio", "ε at best scale", "published"],
        [
            (
                r["file"], f"`{h['layer']}` ({h['num_classes']} × {h['num_features']})",
                f"{h['epsilon']:.4g}", f"{h['epsilon_normalized']:.4g}",
                f"{h['cosine']['mean']:.4f} ± {h['cosine']['std']:.4f}", _max_pair(h),
                f"{h['etf']['distance']:.3f}", f"{h['norms']['mean']:.3f}",
                f"{h['singular_values']['min']:.3g} / {h['singular_values']['max']:.3g}",
                f"{h['diagnostics']['row_sum_ratio']:.3g}", f"{h['diagnostics']['epsilon_best_scale']:.4g}",
                r["published"],
            )
            for r, h in ok
        ],
    )
    t2 = md_table(
        ["checkpoint", "1/n (sum-zero ε floor)", "1/(n−1) (ETF ε_norm)", "−1/(n−1)",
         "random init ε", "random init ε_norm", "random init cos mean", "random init row-sum ratio"],
        [
            (
                r["file"], f"{h['diagnostics']['sum_zero_floor']:.4g}",
                f"{h['diagnostics']['etf_epsilon_normalized']:.4g}", f"{-1.0 / (h['num_classes'] - 1):.4f}",
                "{:.4g} ± {:.2g}".format(*h["random_init"]["epsilon"]),
                "{:.4g} ± {:.2g}".format(*h["random_init"]["epsilon_normalized"]),
                "{:.4f} ± {:.4f}".format(*h["random_init"]["cosine_mean"]),
                "{:.3g} ± {:.2g}".format(*h["random_init"]["row_sum_ratio"]),
            )
            for r, h in ok
        ],
    )
    errs = [f"- {r['file']}: not scored ({r['error']})" for r in rows if r["status"] != "ok"]
    return "\n\n".join([t1, t2] + (["\n".join(errs)] if errs else []))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="CI-sized: 5 random-init draws instead of 200")
    ap.add_argument("--data", type=Path, default=None, help="folder to survey (default ../shared/data)")
    ap.add_argument("--out", type=Path, default=REPO / "experiments" / "results")
    args = ap.parse_args(argv)
    root = args.data or shared_data_dir()
    if root is None or not root.is_dir():
        print("survey: ../shared/data is absent; nothing to score", file=sys.stderr)
        return 0
    rows = survey(root.resolve(), draws=5 if args.quick else 200)
    write_json(args.out / "survey.json", {"machine": machine(), "quick": args.quick, "rows": rows})
    md = _markdown(rows)
    (args.out / "survey.md").write_text(md + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
