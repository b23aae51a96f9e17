"""``wsep plot``: one PNG with four views of a classifier's geometry.

(a) the class-cosine matrix, classes ordered by hierarchical clustering (for n > 256 only the 256
most-confused classes: those with the largest cosine to another class); (b) a histogram of the
off-diagonal cosines with the simplex-ETF value -1/(n-1) marked; (c) the row norm of every class;
(d) the singular values of V. matplotlib (Agg backend) and scipy are imported only in here.

ε, the norms and the singular values come from the same blocked metrics ``wsep score`` computes
(:func:`wsep_cli.metrics.compute_metrics_detail`), so a plot of a huge head costs what scoring it
costs plus one seeded 4,096-class sample: beyond 4,096 classes the histogram and the heatmap's
candidates come from that sample (and the heatmap always holds the most similar pair the metrics
found). The figure is PNG, SVG or PDF, by the output's suffix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from wsep_cli.errors import UsageError
from wsep_cli.metrics import MetricsDetail, compute_metrics_detail, normalize_rows

if TYPE_CHECKING:
    from wsep_cli.pipeline import ScoreOptions

__all__ = [
    "MAX_HEATMAP_CLASSES", "FIGURE_FORMATS", "PlotData", "PlotSummary", "plot_data", "most_confused",
    "render_png", "render_figure", "figure_format", "plot_checkpoint",
]

MAX_HEATMAP_CLASSES = 256
FIGURE_FORMATS = ("png", "svg", "pdf")
_MAX_HIST_CLASSES = 4096  # pairs of a seeded sample of this many classes beyond it
_MAX_NORM_POINTS = 20_000  # row norms drawn (evenly spaced classes beyond it)
_BLOCK = 1024


@dataclass(frozen=True)
class PlotData:
    """Everything the four panels show, computed in float64 without matplotlib."""

    n: int
    m: int
    epsilon: float
    epsilon_normalized: float
    classes: np.ndarray  # class indices shown in (a), in clustered order
    cos_block: np.ndarray  # their cosine matrix, same order
    off_diagonal: np.ndarray  # off-diagonal cosines for (b)
    hist_sampled: bool
    norms: np.ndarray
    singular_values: np.ndarray


def confusion_ranking(u: np.ndarray) -> np.ndarray:
    """Class indices from the most to the least confused: ranked by the largest cosine to another
    class (unit rows ``u``; ties keep index order)."""
    n = u.shape[0]
    best = np.empty(n)
    for s in range(0, n, _BLOCK):  # blocks keep memory at _BLOCK x n
        c = u[s : s + _BLOCK] @ u.T
        c[np.arange(c.shape[0]), np.arange(s, s + c.shape[0])] = -np.inf
        best[s : s + _BLOCK] = c.max(axis=1)
    return np.argsort(-best, kind="stable")


def most_confused(u: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` classes whose largest cosine to another class is highest (sorted)."""
    return np.sort(confusion_ranking(u)[:k])


def _cluster_order(u: np.ndarray) -> np.ndarray:
    if u.shape[0] < 3:
        return np.arange(u.shape[0])
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import pdist

    d = np.clip(pdist(u, metric="cosine"), 0.0, None)
    return leaves_list(linkage(d, method="average", optimal_ordering=True))


def _heatmap_classes(u: np.ndarray, idx: np.ndarray, must: tuple[int, ...]) -> np.ndarray:
    """Classes (global indices) shown in (a): ``must`` plus the most confused of ``idx``, at most
    ``MAX_HEATMAP_CLASSES`` in all."""
    k = MAX_HEATMAP_CLASSES
    required = set(must)
    if len(idx) <= k and required <= set(idx.tolist()):
        return idx
    ranked = (int(c) for c in idx[confusion_ranking(u)] if int(c) not in required)
    chosen = required | {c for _, c in zip(range(k - len(required)), ranked)}
    return np.array(sorted(chosen), dtype=np.int64)


def plot_data(v: np.ndarray, detail: MetricsDetail | None = None) -> PlotData:
    """The panels' data for V (n classes x m features); ``detail`` from the metrics if already computed."""
    d = detail or compute_metrics_detail(v)
    n, m = v.shape
    sampled = n > _MAX_HIST_CLASSES
    idx = np.sort(np.random.default_rng(0).choice(n, _MAX_HIST_CLASSES, replace=False)) if sampled else np.arange(n)
    us = normalize_rows(np.asarray(v[idx], dtype=np.float64))
    off = (us @ us.T)[np.triu_indices(len(idx), k=1)]
    cos = d.metrics.cosine
    must = tuple(cos.most_similar.classes) if cos is not None and cos.most_similar is not None and n > 2 else ()
    shown = _heatmap_classes(us, idx, must if n > MAX_HEATMAP_CLASSES else ())
    ushown = normalize_rows(np.asarray(v[shown], dtype=np.float64))
    order = _cluster_order(ushown)
    shown, ushown = shown[order], ushown[order]
    return PlotData(
        n=n,
        m=m,
        epsilon=d.metrics.epsilon,
        epsilon_normalized=d.metrics.epsilon_normalized,
        classes=shown,
        cos_block=ushown @ ushown.T,
        off_diagonal=off,
        hist_sampled=sampled,
        norms=d.norms,
        singular_values=d.singular_values,
    )


def _heatmap(ax, fig, d: PlotData, names: list[str] | None) -> None:  # type: ignore[no-untyped-def]
    c = d.cos_block.copy()
    np.fill_diagonal(c, np.nan)  # the diagonal (1) would swamp the colour scale
    lim = float(np.nanmax(np.abs(c))) if c.size > 1 else 1.0
    import matplotlib

    cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="0.8")  # grey diagonal, unlike cos = 0 (white)
    im = ax.imshow(c, cmap=cmap, vmin=-lim, vmax=lim, interpolation="nearest")
    k = len(d.classes)
    if k <= 40:
        labels = [names[i] if names else str(i) for i in d.classes]
        ax.set_xticks(range(k), labels, rotation=90, fontsize=7)
        ax.set_yticks(range(k), labels, fontsize=7)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    pool = f"a {_MAX_HIST_CLASSES}-class sample of {d.n}" if d.hist_sampled else f"{d.n}"
    sub = f"{k} most-confused of {pool} classes" if k < d.n else f"{d.n} classes"
    ax.set_title(f"(a) class cosines, clustered ({sub})", fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="cos(v_i, v_j)  (diagonal grey)")


def _histogram(ax, d: PlotData) -> None:  # type: ignore[no-untyped-def]
    counts, _, _ = ax.hist(d.off_diagonal, bins=min(80, max(10, d.off_diagonal.size // 4)), color="#4477aa")
    nonzero = counts[counts > 0]
    if nonzero.size and nonzero.max() / nonzero.min() > 100:
        ax.set_yscale("log")  # keeps the few most-similar pairs in the tail visible
    etf = -1.0 / (d.n - 1)
    ax.axvline(etf, color="#cc3311", linestyle="--", label=f"simplex ETF −1/(n−1) = {etf:.3g}")
    ax.axvline(0.0, color="0.5", linewidth=0.8)
    ax.legend(fontsize=8, loc="best", framealpha=0.9)
    sample = f", {_MAX_HIST_CLASSES}-class sample" if d.hist_sampled else ""
    ax.set_title(f"(b) off-diagonal cosines ({d.off_diagonal.size} pairs{sample})", fontsize=10)
    ax.set_xlabel("cosine")
    ax.set_ylabel("pairs")


def _norms(ax, d: PlotData, names: list[str] | None) -> None:  # type: ignore[no-untyped-def]
    x = np.arange(d.n)
    if d.n <= 100:
        ax.bar(x, d.norms, color="#228833")
        if d.n <= 20:
            ax.set_xticks(x, names if names else [str(i) for i in x], rotation=90 if names else 0, fontsize=8)
    else:
        step = max(1, d.n // _MAX_NORM_POINTS)  # evenly spaced classes: the figure cannot show more
        ax.plot(x[::step], d.norms[::step], ".", markersize=2, color="#228833")
    ax.axhline(float(d.norms.mean()), color="0.3", linestyle="--", linewidth=1, label=f"mean {d.norms.mean():.3g}")
    ax.axhline(1.0, color="#cc3311", linestyle=":", linewidth=1, label="unit norm")
    ax.legend(fontsize=8, loc="best", framealpha=0.9)
    ax.set_title("(c) row norm ‖v_i‖ per class", fontsize=10)
    ax.set_xlabel("class")
    ax.set_ylabel("norm")


def _singular(ax, d: PlotData) -> None:  # type: ignore[no-untyped-def]
    s = d.singular_values
    ax.plot(np.arange(1, s.size + 1), s, "o-" if s.size <= 100 else "-", markersize=3, color="#aa3377")
    ax.axhline(1.0, color="#cc3311", linestyle=":", linewidth=1, label="1 (orthonormal rows: ε = 0)")
    if s.min() > 0 and s.max() / s.min() > 50:
        ax.set_yscale("log")
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title(f"(d) singular values of V ({d.n}×{d.m})", fontsize=10)
    ax.set_xlabel("index")
    ax.set_ylabel("singular value")


def figure_format(out: Path) -> str:
    """The figure format named by ``out``'s suffix.

    Raises:
        UsageError: a suffix other than .png, .svg or .pdf (exit 2).
    """
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in FIGURE_FORMATS:
        raise UsageError(f"--output {out}: name a .png, .svg or .pdf file (the suffix picks the format)")
    return fmt


def render_figure(d: PlotData, out: Path, *, file: str, layer: str, names: list[str] | None = None) -> Path:
    """Draw the four panels into ``out`` (about 1400 x 1150 pixels as PNG; SVG or PDF by suffix)."""
    fmt = figure_format(out)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(13, 10.5), dpi=110)
    try:
        _heatmap(axes[0, 0], fig, d, names)
        _histogram(axes[0, 1], d)
        _norms(axes[1, 0], d, names)
        _singular(axes[1, 1], d)
        fig.suptitle(
            f"{file} — {layer}\nε = {d.epsilon:.6g}    ε_normalized = {d.epsilon_normalized:.6g}", fontsize=12
        )
        fig.tight_layout(rect=(0, 0, 1, 0.95))
        fig.savefig(out, format=fmt)
    finally:
        plt.close(fig)
    return out


render_png = render_figure  # the PNG case of render_figure (a .png output)


@dataclass(frozen=True)
class PlotSummary:
    """What ``wsep plot`` drew."""

    spec: str
    output: Path
    layer: str
    epsilon: float
    epsilon_normalized: float
    others: tuple[str, ...]  # further heads of the file, not drawn


def plot_checkpoint(
    spec: str, out: Path, opts: "ScoreOptions", *, stage: "Callable[[str], None] | None" = None
) -> PlotSummary:
    """Locate and score the primary (or ``--layer``) head exactly as ``wsep score`` does, then draw it.

    Raises:
        UsageError: a bad output path or suffix (exit 2), before anything is read.
        NoClassifierError, UnreadableError, NonFiniteError: as ``wsep score`` (exit 3 / 4).
    """
    from wsep_cli.extras import require
    from wsep_cli.pipeline import class_names, measure_head, open_heads

    require("plot", "wsep plot")
    figure_format(out)
    if not out.parent.is_dir():
        raise UsageError(f"--output {out}: the folder {out.parent} does not exist")
    note = stage or (lambda _s: None)
    note(f"reading {spec}")
    with open_heads(spec, opts) as opened:
        head = opened.heads[0]
        note(f"metrics of {head.layer}")
        measured = measure_head(opened, head, opts)
        note("sampling the class cosines")
        data = plot_data(measured.matrix, measured.detail)
        others = tuple(h.layer for h in opened.heads[1:])
        labels = class_names(opened, opts)
    names = list(labels) if labels is not None and len(labels) == data.n else None
    note(f"drawing {out}")
    try:
        render_figure(data, out, file=Path(spec).name, layer=head.layer, names=names)
    except OSError as e:
        raise UsageError(f"--output {out}: cannot write ({e.strerror or e})") from e
    return PlotSummary(spec, out, head.layer, data.epsilon, data.epsilon_normalized, others)
