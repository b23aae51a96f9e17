"""Tensor metrics (for per-epoch tracking) against the numpy metrics and hand-derived values."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import wsep_cli  # noqa: E402
from wsep_cli.errors import UsageError  # noqa: E402
from wsep_cli.metrics import tensor as tm  # noqa: E402
from wsep_cli.metrics import compute_metrics  # noqa: E402


@pytest.mark.parametrize("shape", [(10, 32), (33, 8), (16, 16), (2, 5)], ids=str)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64])
def test_matches_numpy_metrics(shape: tuple[int, int], dtype: torch.dtype) -> None:
    g = torch.Generator().manual_seed(shape[0] * 100 + shape[1])
    w = (torch.randn(shape, generator=g) * 0.7 + 0.1).to(dtype)
    v = w.to(torch.float64).numpy()  # the exact values the tensor holds
    ref = compute_metrics(v)
    assert tm.epsilon(w).item() == pytest.approx(ref.epsilon, rel=1e-10)
    assert tm.epsilon_normalized(w).item() == pytest.approx(ref.epsilon_normalized, rel=1e-10)
    cs = tm.cosine_stats(w)
    c = ref.cosine
    for key in ("mean", "std", "min", "max", "abs_mean", "abs_max", "p50", "p95", "p99"):
        assert cs[key].item() == pytest.approx(getattr(c, key), rel=1e-9, abs=1e-12), key
    assert (cs["most_similar_i"].item(), cs["most_similar_j"].item()) == c.most_similar.classes


def test_results_are_float64_tensors_on_the_weight_device_without_a_graph() -> None:
    layer = torch.nn.Linear(12, 5)
    for value in (tm.epsilon(layer.weight), tm.epsilon_normalized(layer.weight), *tm.cosine_stats(layer.weight).values()):
        assert isinstance(value, torch.Tensor) and value.dim() == 0
        assert value.device == layer.weight.device
        assert value.grad_fn is None and not value.requires_grad
    assert tm.epsilon(layer.weight).dtype == torch.float64
    assert tm.cosine_stats(layer.weight)["most_similar_i"].dtype == torch.int64


def test_hand_derived_values() -> None:
    assert tm.epsilon(torch.eye(4)).item() == 0.0
    assert tm.epsilon(3.0 * torch.eye(4)).item() == pytest.approx(64.0)
    n, m = 20, 6
    q, _ = torch.linalg.qr(torch.randn(n, m, dtype=torch.float64))
    assert tm.epsilon(q).item() == pytest.approx((n - m) / n, rel=1e-12)  # tight frame: the floor
    e = torch.eye(7, dtype=torch.float64) - 1.0 / 7  # simplex ETF
    cs = tm.cosine_stats(e)
    assert cs["mean"].item() == pytest.approx(-1 / 6) and cs["std"].item() == pytest.approx(0, abs=1e-12)


def test_one_class_and_bad_input() -> None:
    assert tm.cosine_stats(torch.ones(1, 4)) is None
    assert tm.epsilon(torch.tensor([[3.0, 4.0]])).item() == pytest.approx(576.0)
    with pytest.raises(UsageError):
        tm.epsilon(torch.ones(3))
    with pytest.raises(UsageError):
        tm.epsilon(np.eye(3))  # numpy goes through wsep_cli.metrics


def test_conv_kernel_and_non_finite_propagate() -> None:
    w = torch.randn(6, 4, 1, 1)
    assert tm.epsilon(w).item() == pytest.approx(tm.epsilon(w[:, :, 0, 0]).item())
    w[0, 0] = float("nan")
    assert torch.isnan(tm.epsilon(w))  # training code checks for NaN itself; no exception here


def test_package_level_epsilon_dispatches() -> None:
    w = torch.randn(9, 3)
    out = wsep_cli.epsilon(w)
    assert isinstance(out, torch.Tensor)
    assert out.item() == pytest.approx(wsep_cli.epsilon(w.double().numpy()), rel=1e-12)
    assert wsep_cli.torch_metrics.epsilon is tm.epsilon
