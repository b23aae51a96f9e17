"""Statistics of cos(v_i, v_j) over pairs i < j: exactly by streamed tiles, or from a seeded sample.

Exact path (n up to ``MetricsConfig.pair_limit()``): the upper triangle of U U^T is produced tile by
tile (``tile`` x ``tile``), each tile reduced at once (sums, extremes, most similar pair) and fed to
:class:`~wsep_cli.metrics.select.ExactSelector` for the percentiles; no n x n array is ever held.

Sampled path: blocks of pairs (I x J with I, J disjoint random row sets) drawn with a seeded
generator until ``sample_pairs`` pairs are reached.

The mean and standard deviation need no pairs at all; the caller has them exactly from the Gram.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from wsep_cli.metrics.backend import Backend
from wsep_cli.metrics.config import MetricsConfig, RowSource
from wsep_cli.metrics.formulas import PERCENTILES, lerp, percentile_ranks
from wsep_cli.metrics.select import ExactSelector

__all__ = ["PairStats", "UnitRows", "GramPairs", "exact_pair_stats", "sampled_pair_stats", "percentile_ranks"]



class UnitRows:
    """Cosine blocks from the unit rows of V (recomputed per block: O(block * m), cheap next to a tile)."""

    def __init__(self, src: RowSource, inv_norms: Any) -> None:
        self.src, self.inv = src, inv_norms

    def left(self, a: int, b: int) -> Any:
        return self.src.rows(a, b) * self.inv[a:b, None]

    def tile(self, left: Any, a: int, b: int, c: int, d: int) -> Any:
        return left @ (self.src.rows(c, d) * self.inv[c:d, None]).T

    def cross(self, i: np.ndarray, j: np.ndarray) -> Any:
        ii, jj = self.src.be.index(i), self.src.be.index(j)
        return (self.src.take(i) * self.inv[ii, None]) @ (self.src.take(j) * self.inv[jj, None]).T


class GramPairs:
    """Cosine blocks read from a precomputed U U^T (n <= m: it exists anyway)."""

    def __init__(self, unit_gram: Any, be: Backend) -> None:
        self.g, self.be = unit_gram, be

    def left(self, a: int, b: int) -> Any:
        return None

    def tile(self, left: Any, a: int, b: int, c: int, d: int) -> Any:
        return self.g[a:b, c:d]

    def cross(self, i: np.ndarray, j: np.ndarray) -> Any:
        return self.g[self.be.index(i)][:, self.be.index(j)]


@dataclass(frozen=True)
class PairStats:
    """Pair statistics except the mean/std (exact from the Gram). ``sq_dev_sum``: sum (c - mu)^2."""

    count: int
    total: float
    sq_dev_sum: float  # around the shift mu given to the accumulator
    abs_sum: float
    min: float
    max: float
    max_pair: tuple[int, int]
    etf_abs_dev_sum: float  # sum |c + 1/(n-1)|
    percentiles: tuple[float, float, float]
    min_pair: tuple[int, int] = (-1, -1)
    top: tuple[tuple[float, int, int], ...] = ()  # the largest cosines, (value, i, j), descending


def _pair(rows: Any, cols: Any, at: int) -> tuple[int, int]:
    i, j = rows(at), cols(at)
    return (i, j) if i < j else (j, i)


class _Acc:
    """Streaming reduction of chunks of cosine values (ties broken towards the smaller pair)."""

    def __init__(self, mu: float, target: float, be: Any = None, top_k: int = 0) -> None:
        self.mu, self.t = mu, target
        self.be, self.top_k = be, top_k
        self.count = 0
        self.total = self.sq = self.abs = self.dev = 0.0
        self.mn, self.mx = math.inf, -math.inf
        self.best: tuple[float, int, int] = (-math.inf, -1, -1)
        self.worst: tuple[float, int, int] = (math.inf, -1, -1)
        self.top: list[tuple[float, int, int]] = []
        self._buf = np.empty(0)

    def add(self, vals: Any, rows: Any, cols: Any) -> None:
        """vals: 1-D chunk; rows/cols: numpy arrays or callables mapping a flat index to the pair."""
        k = int(vals.shape[0])
        if k == 0:
            return
        self.count += k
        self.total += float(vals.sum())
        if isinstance(vals, np.ndarray):  # in place in one scratch buffer: same sums, no temporaries
            if self._buf.shape[0] < k:
                self._buf = np.empty(k)
            b = self._buf[:k]
            self.sq += float(np.multiply(np.subtract(vals, self.mu, out=b), b, out=b).sum())
            self.abs += float(np.abs(vals, out=b).sum())
            self.dev += float(np.abs(np.subtract(vals, self.t, out=b), out=b).sum())
        else:
            d = vals - self.mu
            self.sq += float((d * d).sum())
            self.abs += float(abs(vals).sum())
            self.dev += float(abs(vals - self.t).sum())
        at = int(vals.argmax())
        mx = float(vals[at])
        i, j = _pair(rows, cols, at)
        if mx > self.best[0] or (mx == self.best[0] and (i, j) < self.best[1:]):
            self.best = (mx, i, j)
        self.mx = max(self.mx, mx)
        at = int(vals.argmin())
        mn = float(vals[at])
        i, j = _pair(rows, cols, at)
        if mn < self.worst[0] or (mn == self.worst[0] and (i, j) < self.worst[1:]):
            self.worst = (mn, i, j)
        self.mn = min(self.mn, mn)
        if self.top_k:
            idx = self.be.top_indices(vals, self.top_k)
            picked = self.be.to_numpy(vals[self.be.index(idx)])
            self.top += [(float(v), *_pair(rows, cols, int(k))) for v, k in zip(picked, idx)]
            self.top = sorted(self.top, key=lambda e: (-e[0], e[1], e[2]))[: self.top_k]

    def result(self, percentiles: tuple[float, float, float]) -> PairStats:
        return PairStats(
            count=self.count,
            total=self.total,
            sq_dev_sum=self.sq,
            abs_sum=self.abs,
            min=self.mn,
            max=self.mx,
            max_pair=(self.best[1], self.best[2]),
            etf_abs_dev_sum=self.dev,
            percentiles=percentiles,
            min_pair=(self.worst[1], self.worst[2]),
            top=tuple(self.top),
        )


def _tiles(source: Any, n: int, tile: int, be: Backend) -> Iterator[tuple[Any, Any, Any]]:
    """(values, row_of, col_of) for every tile of the strict upper triangle of U U^T."""
    for a in range(0, n, tile):
        b = min(n, a + tile)
        left = source.left(a, b)
        for c in range(a, n, tile):
            d = min(n, c + tile)
            blk = source.tile(left, a, b, c, d)
            if c == a:
                vals, i0, i1 = be.triu_values(blk)
                yield vals, (lambda k, i0=i0, a=a: int(i0[k]) + a), (lambda k, i1=i1, a=a: int(i1[k]) + a)
            else:
                w = d - c
                yield blk.reshape(-1), (lambda k, w=w, a=a: a + k // w), (lambda k, w=w, c=c: c + k % w)


def sample_blocks(n: int, pairs: int, block: int, seed: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Disjoint random row sets (I, J), |I| = |J| = b, until ``pairs`` pairs; seeded, deterministic."""
    rng = np.random.default_rng(seed)
    b = max(1, min(block, n // 2))
    done = 0
    while done < pairs:
        perm = rng.permutation(n)
        for k in range(n // (2 * b)):
            yield perm[2 * k * b:(2 * k + 1) * b], perm[(2 * k + 1) * b:(2 * k + 2) * b]
            done += b * b
            if done >= pairs:
                return


def _sample(source: Any, n: int, cfg: MetricsConfig, pairs: int) -> Iterator[tuple[Any, Any, Any]]:
    for i, j in sample_blocks(n, pairs, cfg.sample_block, cfg.seed):
        w = len(j)
        yield source.cross(i, j).reshape(-1), (lambda k, i=i, w=w: int(i[k // w])), (lambda k, j=j, w=w: int(j[k % w]))


def _windows(source: Any, n: int, cfg: MetricsConfig, be: Backend, ranks: list[int], total: int) -> dict[int, tuple[float, float]]:
    """Value windows that very likely hold each rank, from a pair sample (correctness never depends on it)."""
    vals = np.sort(be.concat([v for v, _, _ in _sample(source, n, cfg, min(cfg.sample_pairs, 1 << 20, total))]))
    s = len(vals)
    out = {}
    for r in ranks:
        q = r / max(1, total - 1)
        delta = 6.0 * math.sqrt(max(q * (1 - q), 1.0 / s) / s) + 4.0 / s
        lo = -math.inf if q - delta <= 0 else float(vals[int((q - delta) * (s - 1))])
        hi = math.inf if q + delta >= 1 else float(vals[int(math.ceil((q + delta) * (s - 1)))])
        out[r] = (lo, hi)
    return out


def exact_pair_stats(source: Any, n: int, mu: float, target: float, cfg: MetricsConfig, be: Backend) -> tuple[PairStats, int]:
    """All n(n-1)/2 pairs, streamed. Returns the stats and the number of passes over the tiles."""
    total = n * (n - 1) // 2
    spec = [percentile_ranks(total, q) for q in PERCENTILES]
    ranks = sorted({r for lo, hi, _ in spec for r in (lo, hi)})
    windows = None if total <= min(cfg.collect_cap, cfg.collect_all) else _windows(source, n, cfg, be, ranks, total)
    sel = ExactSelector(ranks, windows, cfg.collect_cap, be)
    acc = _Acc(mu, target, be, cfg.top_pairs)
    for vals, rows, cols in _tiles(source, n, cfg.tile, be):
        acc.add(vals, rows, cols)
        sel.visit(vals)
    passes = 1
    while not sel.end_pass():
        passes += 1
        for vals, _, _ in _tiles(source, n, cfg.tile, be):
            sel.visit(vals)
    pct = tuple(lerp(sel.result[lo], sel.result[hi], t) for lo, hi, t in spec)
    return acc.result(pct), passes  # type: ignore[arg-type]


def sampled_pair_stats(source: Any, n: int, mu: float, target: float, cfg: MetricsConfig, be: Backend) -> PairStats:
    """Pair statistics over a seeded sample of about ``cfg.sample_pairs`` pairs."""
    acc = _Acc(mu, target, be, cfg.top_pairs)
    parts: list[Any] = []
    b = max(1, min(cfg.sample_block, n // 2))
    size = -(-cfg.sample_pairs // (b * b)) * b * b  # what sample_blocks draws
    values = np.empty(size) if be.name == "numpy" else None  # filled in place: the sample is held once
    at = 0
    for vals, rows, cols in _sample(source, n, cfg, cfg.sample_pairs):
        acc.add(vals, rows, cols)
        if values is not None and at + vals.shape[0] <= size:
            values[at:at + vals.shape[0]] = vals
            at += vals.shape[0]
        else:
            parts.append(vals)
    if values is None:
        pct = tuple(float(p) for p in np.percentile(be.concat(parts), PERCENTILES))
    else:  # partitioned in place: no copy of a 4M-value sample
        values = np.concatenate([values[:at], *parts]) if parts else values[:at]
        pct = tuple(float(p) for p in np.percentile(values, PERCENTILES, overwrite_input=True))
    return acc.result(pct)  # type: ignore[arg-type]
