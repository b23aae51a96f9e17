"""Matplotlib figures for the experiments (Agg backend, PNG, small files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

__all__ = ["pca3", "plot_latent_pca", "plot_sweep", "plot_acc_vs_eps", "plot_eps_curves"]

_COLORS = ("tab:green", "tab:red", "tab:blue", "tab:orange", "tab:purple")


def pca3(x: np.ndarray) -> np.ndarray:
    """The first three principal-component scores of the rows of ``x`` (float64, centred)."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=0, keepdims=True)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    k = min(3, vt.shape[0])
    z = x @ vt[:k].T
    return np.pad(z, ((0, 0), (0, 3 - k))) if k < 3 else z


def plot_latent_pca(
    panels: Sequence[tuple[str, np.ndarray, np.ndarray]],
    classes: Sequence[int],
    path: Path,
    title: str,
    max_points: int = 300,
) -> None:
    """One 3-D PCA scatter per (label, features α, targets), restricted to ``classes`` (paper Fig. 2)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(3.2 * len(panels), 3.4), dpi=90)
    rng = np.random.default_rng(0)
    for i, (label, feats, y) in enumerate(panels):
        keep = np.isin(y, classes)
        z, yk = pca3(feats[keep]), y[keep]
        ax = fig.add_subplot(1, len(panels), i + 1, projection="3d")
        for c, col in zip(classes, _COLORS):
            idx = np.flatnonzero(yk == c)
            idx = rng.permutation(idx)[:max_points]
            ax.scatter(z[idx, 0], z[idx, 1], z[idx, 2], s=3, c=col, label=str(c), depthshade=False)
        ax.set_title(label, fontsize=8)
        ax.tick_params(labelsize=5)
        if i == 0:
            ax.legend(fontsize=6, loc="upper left", markerscale=3)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def plot_sweep(
    xs: Sequence[float],
    series: dict[str, tuple[Sequence[float], Sequence[float]]],
    path: Path,
    title: str,
    baselines: dict[str, tuple[float, float]] | None = None,
) -> None:
    """One panel per metric: mean ± std against λ (log x axis), with CE-only reference bands."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(series), figsize=(3.4 * len(series), 2.9), dpi=90)
    axes = np.atleast_1d(axes)
    for ax, (name, (mean, std)) in zip(axes, series.items()):
        ax.errorbar(xs, mean, yerr=std, marker="o", ms=3, capsize=2, lw=1, label="CE + λ·L_re")
        if baselines and name in baselines:
            m, s = baselines[name]
            ax.axhline(m, color="k", lw=0.8, ls="--", label="CE only")
            ax.axhspan(m - s, m + s, color="k", alpha=0.1)
        ax.set_xscale("log")
        ax.set_xlabel("λ", fontsize=8)
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=6)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def plot_acc_vs_eps(groups: dict[str, tuple[Sequence[float], Sequence[float]]], path: Path, title: str) -> None:
    """Test accuracy against ε(V), one colour per condition, one point per seed (paper Fig. 4's claim).

    Pass learned heads only: a fixed orthonormal head has ε = 0, off any log axis.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.6, 3.2), dpi=90)
    for name, (eps, acc) in groups.items():
        ax.scatter(eps, acc, s=12, label=name)
    ax.set_xscale("log")
    _finish(fig, ax, path, title, xlabel="ε(V)", ylabel="test accuracy")


def plot_eps_curves(curves: dict[str, np.ndarray], path: Path, title: str) -> None:
    """ε(V) after each epoch (epoch 0 = initialisation), mean ± std over seeds (paper Fig. 3 (c))."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.6, 3.2), dpi=90)
    for name, c in curves.items():
        x = np.arange(c.shape[1])
        m, s = c.mean(axis=0), c.std(axis=0, ddof=1) if c.shape[0] > 1 else np.zeros(c.shape[1])
        ax.plot(x, m, lw=1.2, label=name)
        ax.fill_between(x, m - s, m + s, alpha=0.2)
    ax.set_yscale("log")
    _finish(fig, ax, path, title, xlabel="epoch", ylabel="ε(V)")


def _finish(fig: Any, ax: Any, path: Path, title: str, *, xlabel: str, ylabel: str) -> None:
    """Shared styling of the small one-axis figures, then save and close."""
    import matplotlib.pyplot as plt

    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
