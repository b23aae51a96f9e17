"""Tuning knobs of the blocked metrics, and the read-only view of V they work on.

Every threshold is a parameter so the tests can force the blocked, tiled, multi-pass and sampled code
paths with small matrices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wsep_cli.errors import UnreadableError
from wsep_cli.metrics.backend import Backend

__all__ = [
    "MetricsConfig", "RowSource", "as_matrix", "EXACT_PAIR_LIMIT_CPU", "EXACT_PAIR_LIMIT_CUDA", "EXACT_PAIR_WORK_CPU",
    "PAIR_OVERHEAD",
]

EXACT_PAIR_LIMIT_CPU = 32_768
EXACT_PAIR_LIMIT_CUDA = 262_144
# On the CPU the exact pass also stops where it would cost more than about a second here. Its cost is
# pairs * (m + PAIR_OVERHEAD): the tile products (m multiply-adds a pair; none when n <= m, where the
# n x n Gram of the unit rows is already held) and the reductions of each cosine (sums, extremes,
# percentile windows: about as long as 128 multiply-adds, measured on a 32,768 x 79 head).
# 3e10 is a 17,000 x 79 or a 5,200 x 2,048 head; benchmarks/input_bounds.py measures the bound.
EXACT_PAIR_WORK_CPU = 3e10
PAIR_OVERHEAD = 128


@dataclass(frozen=True)
class MetricsConfig:
    """How the metrics are computed (never what they mean).

    Attributes:
        device: ``"cpu"`` (numpy) or ``"cuda"``/``"cuda:N"`` (torch, imported only then).
        backend: ``"auto"``; ``"torch"`` runs the torch code on ``device`` (the tests use it on CPU).
        block_elems: elements of V upcast to float64 at a time in the Gram pass (1M = 8 MiB).
        tile: side of the cosine tiles of the exact pair pass.
        exact_pair_limit: largest n whose pair statistics (max, percentiles, most similar pair) are
            computed exactly over all n(n-1)/2 pairs; above it they come from a seeded sample.
            ``None``: 32,768 on the CPU, 262,144 on CUDA.
        exact_pair_work: the exact pass is also skipped when n(n-1)/2 * (m + PAIR_OVERHEAD) exceeds
            this (m counts 0 when the n x n Gram is held, n <= m). ``None``: EXACT_PAIR_WORK_CPU on the
            CPU, no such limit on CUDA.
        exact_pairs: every pair exactly, whatever n and m (``--exact-pairs``; slow for big heads).
        sample_pairs: pairs in the seeded sample (the sampled path, and the percentile windows of
            the exact path).
        sample_block: rows per side of one sampled block of pairs.
        collect_cap: most cosine values held in memory by the exact percentile selection.
        collect_all: up to this many pairs (and ``collect_cap``) every cosine is collected for the
            percentiles; above it only those inside value windows from a pair sample (a 2,500-class
            head: ~20,000 values instead of 3.1M, 25 MiB less).
        svd_limit: singular values come from a full SVD of V when n*m*min(n, m) is at most this,
            else from the eigenvalues of the smaller Gram matrix.
        seed: seed of the pair sample.
        top_pairs: how many of the most similar pairs to keep (0: only the most similar one).
    """

    device: str = "cpu"
    backend: str = "auto"
    block_elems: int = 1 << 20
    tile: int = 1024
    exact_pair_limit: int | None = None
    exact_pair_work: float | None = None
    exact_pairs: bool = False
    sample_pairs: int = 1 << 22
    sample_block: int = 512
    collect_cap: int = 1 << 22
    collect_all: int = 1 << 20
    svd_limit: float = 2e7
    seed: int = 0
    top_pairs: int = 0

    def _on_cpu(self) -> bool:
        return (self.device or "cpu").lower() == "cpu"

    def pair_limit(self) -> int:
        if self.exact_pair_limit is not None:
            return self.exact_pair_limit
        return EXACT_PAIR_LIMIT_CPU if self._on_cpu() else EXACT_PAIR_LIMIT_CUDA

    def pair_work_limit(self) -> float | None:
        if self.exact_pair_work is not None:
            return self.exact_pair_work
        return EXACT_PAIR_WORK_CPU if self._on_cpu() else None

    def pairs_exact(self, n: int, m: int, gram_held: bool = False) -> bool:
        """Whether the pair statistics of an n x m head are computed over every pair (else sampled).

        ``gram_held``: the cosines are read from a held n x n Gram, so a pair costs no products.
        """
        if self.exact_pairs:
            return True
        work = self.pair_work_limit()
        per_pair = PAIR_OVERHEAD + (0 if gram_held else m)
        return n <= self.pair_limit() and (work is None or n * (n - 1) // 2 * per_pair <= work)


def as_matrix(v: object) -> np.ndarray:
    """V as a 2-D numpy array of a real dtype, without copying or upcasting it.

    Integers and booleans are accepted (converted to float64 block by block, exact below 2**53);
    complex, object and string arrays are refused.

    Raises:
        UnreadableError: not a non-empty 2-D real matrix.
    """
    arr = np.asarray(v)
    if arr.ndim != 2:
        raise UnreadableError(f"a classifier must be a 2-D matrix, got shape {tuple(arr.shape)}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise UnreadableError(f"the classifier matrix is empty (shape {tuple(arr.shape)})")
    if arr.dtype.kind not in "fiub":
        raise UnreadableError(f"the classifier matrix has dtype {arr.dtype}; a real-valued matrix is needed")
    return arr


class RowSource:
    """V (n x m, any real dtype, possibly a strided view) handed out in float64 blocks."""

    def __init__(self, v: np.ndarray, be: Backend) -> None:
        self.v = v
        self.be = be
        self.n, self.m = int(v.shape[0]), int(v.shape[1])
        self._dev = None
        if be.name == "torch" and v.nbytes <= (1 << 34):
            # On a GPU, move V once in its stored dtype; blocks are upcast there.
            self._dev = be.raw(v)  # type: ignore[attr-defined]

    def rows(self, a: int, b: int):  # noqa: ANN201 - numpy or torch
        if self._dev is not None:
            return self._dev[a:b].to(self.be.torch.float64)
        return self.be.from_numpy(self.v[a:b])

    def cols(self, a: int, b: int):  # noqa: ANN201
        if self._dev is not None:
            return self._dev[:, a:b].to(self.be.torch.float64)
        return self.be.from_numpy(self.v[:, a:b])

    def take(self, idx: np.ndarray):  # noqa: ANN201
        if self._dev is not None:
            return self._dev[self.be.index(idx)].to(self.be.torch.float64)
        return self.be.from_numpy(self.v[idx])
