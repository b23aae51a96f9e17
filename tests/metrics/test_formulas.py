"""The formulas both metric paths share (wsep_cli.metrics.formulas), checked on numpy and on torch
against numpy's own definitions, and the paths checked to use them rather than copies."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from wsep_cli.metrics import compute, formulas, gram, pairs
from wsep_cli.metrics.formulas import (
    PERCENTILES,
    epsilon_from_tall_gram,
    epsilon_from_wide_gram,
    percentile_of_sorted,
    safe_divisor,
    squeeze_kernel_shape,
)

finite = st.floats(-1e6, 1e6, allow_nan=False, width=64)


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, st.integers(1, 60), elements=finite), st.floats(0, 100))
def test_percentile_is_numpys_linear_percentile(values: np.ndarray, q: float) -> None:
    srt = np.sort(values)
    assert percentile_of_sorted(srt, q) == np.percentile(values, q)


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, st.integers(1, 40), elements=finite))
def test_percentile_on_torch_is_the_same_number(values: np.ndarray) -> None:
    torch = pytest.importorskip("torch")
    srt = torch.sort(torch.from_numpy(values)).values
    for q in PERCENTILES:
        assert percentile_of_sorted(srt, q).item() == np.percentile(values, q)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 12), st.integers(1, 12), st.integers(0, 2**32 - 1))
def test_both_gram_forms_give_the_direct_epsilon(n: int, m: int, seed: int) -> None:
    v = np.random.default_rng(seed).normal(size=(n, m))
    direct = float(((v @ v.T - np.eye(n)) ** 2).sum()) / n
    tall = epsilon_from_tall_gram(float(((v.T @ v) ** 2).sum()), float((v * v).sum()), n)
    g = v @ v.T
    d = np.diag(g).copy()
    np.fill_diagonal(g, 0.0)
    wide = epsilon_from_wide_gram(float((g * g).sum()), float(((d - 1.0) ** 2).sum()), n)
    assert wide == pytest.approx(direct, rel=1e-12, abs=1e-12)
    assert tall == pytest.approx(direct, rel=1e-9, abs=1e-9)


def test_safe_divisor_keeps_zero_rows_zero_on_numpy_and_torch() -> None:
    norms = np.array([0.0, 2.0, 0.5])
    assert safe_divisor(norms, np.where).tolist() == [1.0, 2.0, 0.5]
    torch = pytest.importorskip("torch")
    assert safe_divisor(torch.from_numpy(norms), torch.where).tolist() == [1.0, 2.0, 0.5]


def test_kernel_shapes() -> None:
    assert squeeze_kernel_shape((5, 3, 1, 1)) == (5, 3)
    assert squeeze_kernel_shape((5, 3, 1)) == (5, 3)
    assert squeeze_kernel_shape((5, 3)) == (5, 3)
    assert squeeze_kernel_shape((5, 3, 3, 3)) == (5, 3, 3, 3)


def test_both_paths_use_the_shared_formulas() -> None:
    """One definition: neither path carries its own percentile, lerp or unit-row rule."""
    torch = pytest.importorskip("torch")  # noqa: F841
    from wsep_cli.metrics import tensor

    assert tensor.percentile_of_sorted is formulas.percentile_of_sorted
    assert tensor.safe_divisor is formulas.safe_divisor and compute.safe_divisor is formulas.safe_divisor
    assert pairs.lerp is formulas.lerp and pairs.percentile_ranks is formulas.percentile_ranks
    assert gram.epsilon_from_tall_gram is formulas.epsilon_from_tall_gram
    for module in (tensor, pairs, gram, compute):
        src = inspect.getsource(module)
        assert "def lerp" not in src and "def _lerp" not in src and "math.floor" not in src, module.__name__


def test_torch_path_agrees_on_a_conv1d_kernel_and_zero_rows() -> None:
    torch = pytest.importorskip("torch")
    from wsep_cli.metrics import compute_metrics
    from wsep_cli.metrics import tensor as tm

    w = torch.randn(7, 5, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    w[2] = 0.0
    ref = compute_metrics(w[:, :, 0].numpy())
    assert tm.epsilon(w).item() == pytest.approx(ref.epsilon, rel=1e-12)
    assert tm.epsilon_normalized(w).item() == pytest.approx(ref.epsilon_normalized, rel=1e-12)
    cs = tm.cosine_stats(w)
    assert cs["p95"].item() == pytest.approx(ref.cosine.p95, rel=1e-12, abs=1e-15)
    assert cs["mean"].item() == pytest.approx(ref.cosine.mean, rel=1e-12, abs=1e-15)
