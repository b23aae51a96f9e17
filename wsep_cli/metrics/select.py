"""Exact order statistics of a stream of values that can be replayed, in bounded memory.

The cosine tiles of an n x n head are far too many to hold (n = 32,768 gives 5.4e8 pairs), but they
can be recomputed. :class:`ExactSelector` finds the values of given ranks exactly:

1. First pass: each wanted rank has a value window (from a pair sample, or everything when the stream
   is small); values inside it are collected and values below it counted. When the rank falls inside
   its window and the window held at most ``cap`` values, a sort of the collected values answers it.
2. Otherwise the rank is narrowed over integer keys (a monotone map of the float64 bits), 16 bits per
   extra pass: a 65,536-bin histogram of the key interval picks the bin that holds the rank, until
   the interval is small enough to collect or holds a single key (equal values need no collection).

Every decision uses counts from the pass that produced them, so the result is exact.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wsep_cli.metrics.backend import Backend

__all__ = ["ExactSelector", "float_to_key", "key_to_float", "MAX_PASSES"]

_LOW63 = 0x7FFF_FFFF_FFFF_FFFF
_KMIN, _KMAX = -(1 << 63), (1 << 63) - 1
_DIGITS = 1 << 16
MAX_PASSES = 12


def float_to_key(x: float) -> int:
    """Monotone map float64 -> int64: a < b (as floats) iff key(a) < key(b) (-0.0 sorts before 0.0)."""
    (bits,) = struct.unpack("<q", struct.pack("<d", x))
    return bits ^ _LOW63 if bits < 0 else bits


def key_to_float(k: int) -> float:
    bits = k ^ _LOW63 if k < 0 else k
    return struct.unpack("<d", struct.pack("<q", bits))[0]


@dataclass
class _Group:
    """Ranks that share one interval: a float window (first pass) or a key interval (later passes)."""

    ranks: list[int]
    lo: float = -np.inf  # float window, inclusive
    hi: float = np.inf
    klo: int | None = None  # key interval, inclusive (None: the float window is used)
    khi: int | None = None
    histogram: bool = False
    below: int = 0
    inside: int = 0
    overflow: bool = False
    parts: list[Any] = field(default_factory=list)
    hist: np.ndarray | None = None

    def reset(self) -> None:
        self.below = self.inside = 0
        self.overflow = False
        self.parts = []
        self.hist = np.zeros(_DIGITS, dtype=np.int64) if self.histogram else None

    def shift(self) -> int:
        assert self.klo is not None and self.khi is not None
        s = 0
        while (self.khi >> s) - (self.klo >> s) >= _DIGITS:
            s += 1
        return s


class ExactSelector:
    """Exact values of the given 0-based ranks of a replayable stream of float64 values.

    Usage: call :meth:`visit` with every chunk of a pass, then :meth:`end_pass`; repeat the pass
    while it returns False. :attr:`result` maps rank -> value.

    Args:
        ranks: wanted ranks, each in [0, total).
        windows: per rank, a (lo, hi) value window guessed to hold it; None collects everything.
        cap: most values collected at once.
        be: the back-end the chunks live on.
    """

    def __init__(
        self,
        ranks: list[int],
        windows: dict[int, tuple[float, float]] | None,
        cap: int,
        be: Backend,
    ) -> None:
        self.cap = max(1, int(cap))
        self.be = be
        self.result: dict[int, float] = {}
        self.passes = 0
        self.groups: list[_Group] = []
        self._masks = (np.empty(0, dtype=bool), np.empty(0, dtype=bool))
        uniq = sorted(set(ranks))
        if windows is None:
            self.groups = [_Group(ranks=uniq)]
        else:
            by_window: dict[tuple[float, float], list[int]] = {}
            for r in uniq:
                by_window.setdefault(windows[r], []).append(r)
            self.groups = [_Group(ranks=rs, lo=w[0], hi=w[1]) for w, rs in by_window.items()]
        for g in self.groups:
            g.reset()

    @property
    def done(self) -> bool:
        return not self.groups

    def visit(self, vals: Any) -> None:
        """Account for one chunk (a 1-D float64 array on the back-end)."""
        keys = None
        for g in self.groups:
            if g.klo is None and isinstance(vals, np.ndarray):
                sel = self._window_numpy(g, vals)
            elif g.klo is None:
                mask = None
                if g.lo != -np.inf:
                    g.below += int((vals < g.lo).sum())
                    mask = vals >= g.lo
                if g.hi != np.inf:
                    mask = vals <= g.hi if mask is None else mask & (vals <= g.hi)
                sel = vals if mask is None else vals[mask]
            else:
                if keys is None:
                    bits = self.be.view_int64(vals)
                    keys = self.be.where(bits < 0, bits ^ _LOW63, bits)
                g.below += int((keys < g.klo).sum())
                mask = (keys >= g.klo) & (keys <= g.khi)
                if g.histogram:
                    s = g.shift()
                    digits = (keys[mask] >> s) - (g.klo >> s)
                    g.hist += self.be.bincount(digits, _DIGITS)
                    g.inside += int(mask.sum())
                    continue
                sel = vals[mask]
            k = int(sel.shape[0])
            g.inside += k  # while not overflowed, every value inside has been collected
            if not g.overflow and k:
                if g.inside > self.cap:
                    g.overflow, g.parts = True, []
                else:
                    g.parts.append(sel)

    def _window_numpy(self, g: _Group, vals: np.ndarray) -> np.ndarray:
        """The values of ``vals`` inside g's float window (counting those below), in reused masks.

        The cosines are finite (V is checked first), so "not >= lo" is "< lo".
        """
        k = int(vals.shape[0])
        if self._masks[0].shape[0] < k:
            self._masks = (np.empty(k, dtype=bool), np.empty(k, dtype=bool))
        m1, m2 = self._masks[0][:k], self._masks[1][:k]
        if g.lo == -np.inf and g.hi == np.inf:
            return vals
        if g.lo != -np.inf:
            np.greater_equal(vals, g.lo, out=m1)
            g.below += k - int(np.count_nonzero(m1))
            if g.hi != np.inf:
                np.logical_and(m1, np.less_equal(vals, g.hi, out=m2), out=m1)
        else:
            np.less_equal(vals, g.hi, out=m1)
        return vals[m1]

    def end_pass(self) -> bool:
        """Resolve what this pass allows; True when every rank has its value."""
        self.passes += 1
        nxt: dict[tuple[int, int, bool], _Group] = {}
        for g in self.groups:
            for r, klo, khi, below, inside in self._narrow(g):
                if klo == khi:
                    self.result[r] = key_to_float(klo)
                    continue
                hist = inside < 0 or inside > self.cap  # unknown or too many: narrow first
                key = (klo, khi, hist)
                if key not in nxt:
                    nxt[key] = _Group(ranks=[], klo=klo, khi=khi, histogram=hist)
                nxt[key].ranks.append(r)
        self.groups = list(nxt.values())
        for g in self.groups:
            g.reset()
        if self.groups and self.passes >= MAX_PASSES:
            raise RuntimeError("exact percentile selection did not converge (non-deterministic tiles?)")
        return self.done

    def _narrow(self, g: _Group) -> list[tuple[int, int, int, int, int]]:
        """Resolve ranks of g into self.result; return (rank, klo, khi, below, inside) for the rest."""
        out: list[tuple[int, int, int, int, int]] = []
        glo = g.klo if g.klo is not None else float_to_key(g.lo)
        ghi = g.khi if g.khi is not None else float_to_key(g.hi)
        collected = None
        if not g.histogram and not g.overflow:
            collected = self.be.concat(g.parts)
            g.parts = []  # the chunks are in ``collected`` now: hold them once, not twice
            kth = sorted({r - g.below for r in g.ranks if 0 <= r - g.below < collected.shape[0]})
            if kth:  # a partial sort places exactly the wanted order statistics (in place)
                collected = _partitioned(collected, kth)
        for r in g.ranks:
            rr = r - g.below
            if rr < 0:  # the value lies below the interval (a wrong guessed window)
                out.append((r, _KMIN, glo - 1, 0, -1))
            elif rr >= g.inside:
                out.append((r, ghi + 1, _KMAX, g.below + g.inside, -1))
            elif collected is not None:
                self.result[r] = float(collected[rr])
            elif not g.histogram:  # overflowed: narrow by histogram next pass
                out.append((r, glo, ghi, g.below, g.inside))
            else:
                assert g.hist is not None
                cum = np.cumsum(g.hist)
                j = int(np.searchsorted(cum, rr, side="right"))
                s, base = g.shift(), glo >> g.shift()
                lo = max(glo, (base + j) << s)
                hi = min(ghi, ((base + j + 1) << s) - 1)
                below = g.below + (int(cum[j - 1]) if j else 0)
                out.append((r, lo, hi, below, int(g.hist[j])))
        return out


def _partitioned(values: Any, kth: list[int]) -> Any:
    """``values`` partially sorted so that each ``kth`` position holds its order statistic; numpy
    arrays in place (a chunk's worth of memory instead of a copy), others as a partitioned copy."""
    if isinstance(values, np.ndarray) and values.flags.writeable:
        values.partition(kth)
        return values
    return np.partition(np.asarray(values), kth)
