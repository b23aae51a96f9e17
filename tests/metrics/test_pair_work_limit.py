"""When the pair statistics are exact and when sampled: the class limit, the CPU work limit, --exact-pairs.

The work limit keeps every input of <= 10 MB within 2 s on a 2-core CPU (issue 15, point 3): a
32,768 x 79 head took 7 s with every pair exact; it is now sampled unless ``--exact-pairs`` is given.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from conftest import run_json
from wsep_cli.metrics import compute_metrics
from wsep_cli.metrics.config import EXACT_PAIR_WORK_CPU, PAIR_OVERHEAD, MetricsConfig

from test_metrics import reference


def _work(n: int, per_pair: int) -> int:
    return n * (n - 1) // 2 * per_pair


def test_the_default_limits() -> None:
    cpu, cuda = MetricsConfig(), MetricsConfig(device="cuda")
    assert cpu.pairs_exact(17_000, 79) and not cpu.pairs_exact(17_500, 79)  # the work limit
    assert cpu.pairs_exact(5_200, 2_048) and not cpu.pairs_exact(5_300, 2_048)
    assert not cpu.pairs_exact(32_768, 79)  # exact before the work limit, 7 s here
    assert not cpu.pairs_exact(32_769, 1)  # the class limit still holds for tiny m
    assert cuda.pairs_exact(32_768, 79) and cuda.pairs_exact(262_144, 1_024) and not cuda.pairs_exact(262_145, 1)
    # a held n x n Gram (n <= m) makes a pair cost only its reductions
    assert not cpu.pairs_exact(4_000, 8_000) and cpu.pairs_exact(4_000, 8_000, gram_held=True)
    forced = MetricsConfig(exact_pairs=True)
    assert forced.pairs_exact(10**6, 10**4) and MetricsConfig(device="cuda", exact_pairs=True).pairs_exact(10**7, 1)
    assert _work(17_000, 79 + PAIR_OVERHEAD) <= EXACT_PAIR_WORK_CPU < _work(17_500, 79 + PAIR_OVERHEAD)


@pytest.mark.parametrize("n, m", [(60, 8), (40, 64)], ids=["tiles", "held-gram"])
def test_the_work_limit_switches_to_the_sample_at_its_edge(n: int, m: int) -> None:
    v = np.random.default_rng(n).standard_normal((n, m)) + 0.1
    per_pair = PAIR_OVERHEAD + (m if n > m else 0)
    edge = _work(n, per_pair)
    kw = dict(sample_pairs=300, sample_block=8)
    at_edge = compute_metrics(v, config=MetricsConfig(exact_pair_work=edge, **kw))
    past = compute_metrics(v, config=MetricsConfig(exact_pair_work=edge - 1, **kw))
    forced = compute_metrics(v, config=MetricsConfig(exact_pair_work=edge - 1, exact_pairs=True, **kw))
    ref = reference(v)
    assert not at_edge.cosine.estimated and at_edge.cosine.sample_size is None
    assert at_edge.cosine.max == pytest.approx(ref["max"], abs=1e-12)
    assert at_edge.cosine.p99 == pytest.approx(ref["pct"][2], abs=1e-12)
    assert past.cosine.estimated and past.cosine.sample_size >= 300
    assert forced.cosine == at_edge.cosine  # --exact-pairs: the same numbers as an exact run
    # exact either way: epsilon, mean, std
    assert (past.epsilon, past.cosine.mean) == pytest.approx((at_edge.epsilon, at_edge.cosine.mean), rel=1e-12)


def _blocked_max(v: np.ndarray, block: int = 2048) -> float:
    """max cos(v_i, v_j), i < j, in float64 by row blocks (no n x n array)."""
    u = v.astype(np.float64)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    best = -np.inf
    for a in range(0, len(u), block):
        c = u[a:a + block] @ u[a:].T
        c[np.tril_indices(c.shape[0], 0, c.shape[1])] = -np.inf  # i >= j
        best = max(best, float(c.max()))
    return best


def test_exact_pairs_flag_through_the_installed_cli(tmp_path: Path) -> None:
    """17,500 x 79 is past the CPU work limit: sampled by default, every pair with --exact-pairs."""
    v = np.random.default_rng(3).standard_normal((17_500, 79)).astype(np.float32)
    path = tmp_path / "head.safetensors"
    save_file({"fc.weight": v}, str(path))
    proc, doc = run_json(str(path))
    assert proc.returncode == 0, proc.stderr
    sampled = doc["results"][0]["heads"][0]["cosine"]
    assert sampled["estimated"] is True and sampled["sample_size"] > 0
    proc, doc = run_json("--exact-pairs", str(path))
    assert proc.returncode == 0, proc.stderr
    exact = doc["results"][0]["heads"][0]["cosine"]
    assert exact["estimated"] is False and exact["sample_size"] is None
    assert exact["max"] == pytest.approx(_blocked_max(v), abs=1e-12) and exact["max"] >= sampled["max"]
    assert exact["mean"] == pytest.approx(sampled["mean"], rel=1e-12)  # exact from the Gram in both
