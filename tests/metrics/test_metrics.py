"""Metrics against hand-derived values and an independent dense float64 reference.

The reference below builds the full n x n matrices the obvious way; the library never does. Every
code path of the library (tall and wide Gram, several Gram blocks, several tiles, multi-pass exact
percentiles, the sampled path, the torch back-end) is forced with small matrices through
``MetricsConfig``.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from wsep_cli.errors import NonFiniteError, UnreadableError, UsageError
from wsep_cli.metrics import (
    MetricsConfig,
    compute_metrics,
    epsilon,
    epsilon_floor,
    epsilon_normalized,
    epsilon_normalized_floor,
    normalize_rows,
)
from wsep_cli.metrics.backend import NumpyBackend
from wsep_cli.metrics.config import RowSource
from wsep_cli.metrics.gram import _tall, _wide

# Configs that force every blocked path on small matrices.
TINY = MetricsConfig(block_elems=37, tile=7, collect_cap=40, sample_pairs=200, sample_block=5, svd_limit=0)
CONFIGS = {
    "default": MetricsConfig(),
    "blocked": MetricsConfig(block_elems=64, tile=16, collect_cap=10**9, svd_limit=0),
    "tiny": TINY,
}


def reference(v: np.ndarray) -> dict:
    """Dense float64 reference: the definitions, computed on full n x n matrices."""
    v = np.asarray(v, dtype=np.float64)
    n, m = v.shape
    eps = float(np.sum((v @ v.T - np.eye(n)) ** 2)) / n
    norms = np.linalg.norm(v, axis=1)
    u = v / np.where(norms > 0, norms, 1.0)[:, None]
    c = u @ u.T
    out = {
        "epsilon": eps,
        "epsilon_normalized": float(np.sum((c - np.eye(n)) ** 2)) / n,
        "norms": (norms.mean(), norms.std(), norms.min(), norms.max()),
    }
    s = np.linalg.svd(v, compute_uv=False)
    out["sv"] = (s.max(), s.min(), int(np.linalg.matrix_rank(v)))
    if n > 1:
        iu = np.triu_indices(n, 1)
        vals = c[iu]
        t = -1.0 / (n - 1)
        e = np.full((n, n), t)
        np.fill_diagonal(e, 1.0)
        k = int(np.argmax(vals))
        out.update(
            mean=vals.mean(), std=vals.std(), min=vals.min(), max=vals.max(),
            abs_mean=np.abs(vals).mean(), abs_max=np.abs(vals).max(),
            pct=tuple(np.percentile(vals, [50, 95, 99])),
            pair=(int(iu[0][k]), int(iu[1][k])),
            mad=np.abs(vals - t).mean(), maxad=np.abs(vals - t).max(),
            distance=np.linalg.norm(c - e) / np.linalg.norm(e),
            equinorm=norms.std() / norms.mean(),
        )
    return out


def assert_matches(mt, ref: dict, rtol: float = 1e-9, atol: float = 1e-12) -> None:
    close = lambda a, b: np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)  # noqa: E731
    close(mt.epsilon, ref["epsilon"])
    close(mt.epsilon_normalized, ref["epsilon_normalized"])
    close((mt.norms.mean, mt.norms.std, mt.norms.min, mt.norms.max), ref["norms"])
    sv = mt.singular_values
    close((sv.max, sv.min), ref["sv"][:2])
    assert sv.rank == ref["sv"][2]
    if "mean" not in ref:
        assert mt.cosine is None and mt.etf is None
        return
    c, e = mt.cosine, mt.etf
    assert not c.estimated and c.sample_size is None
    close((c.mean, c.std, c.min, c.max, c.abs_mean, c.abs_max), tuple(ref[k] for k in ("mean", "std", "min", "max", "abs_mean", "abs_max")))
    close((c.p50, c.p95, c.p99), ref["pct"])
    assert c.most_similar.classes == ref["pair"]
    close((e.mean_angle_deviation, e.max_angle_deviation, e.distance, e.equinorm, e.equiangularity),
          (ref["mad"], ref["maxad"], ref["distance"], ref["equinorm"], ref["std"]))


# ---------------------------------------------------------------- hand-derived values

@pytest.mark.parametrize("cfg", CONFIGS.values(), ids=CONFIGS.keys())
def test_orthonormal_rows_have_zero_epsilon(cfg: MetricsConfig) -> None:
    q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((40, 12)))
    mt = compute_metrics(q.T, config=cfg)  # 12 orthonormal rows in R^40
    assert mt.epsilon == pytest.approx(0, abs=1e-12)
    assert mt.epsilon_normalized == pytest.approx(0, abs=1e-12)
    assert mt.cosine.abs_max == pytest.approx(0, abs=1e-12)
    assert mt.singular_values.condition_number == pytest.approx(1, abs=1e-10)


@pytest.mark.parametrize("c", [0.5, 1.0, 3.0])
def test_scaled_identity(c: float) -> None:
    for cfg in CONFIGS.values():
        mt = compute_metrics(c * np.eye(9), config=cfg)
        assert mt.epsilon == pytest.approx((c * c - 1) ** 2, abs=1e-12)
        assert mt.epsilon_normalized == pytest.approx(0, abs=1e-12)
        assert mt.singular_values.max == pytest.approx(c) and mt.singular_values.rank == 9


def simplex_etf(n: int, dim: int) -> np.ndarray:
    """n unit vectors with pairwise cosine -1/(n-1), in R^n (dim=n) or R^(n-1) (dim=n-1)."""
    e = np.eye(n) - 1.0 / n
    if dim == n - 1:  # coordinates in an orthonormal basis of the sum-zero hyperplane
        basis = np.linalg.qr(e)[0][:, : n - 1]
        e = e @ basis
    return e / np.linalg.norm(e, axis=1, keepdims=True)


@pytest.mark.parametrize("n,dim", [(10, 10), (10, 9), (25, 24)])
@pytest.mark.parametrize("cfg", CONFIGS.values(), ids=CONFIGS.keys())
def test_simplex_etf(n: int, dim: int, cfg: MetricsConfig) -> None:
    mt = compute_metrics(3.0 * simplex_etf(n, dim), config=cfg)
    t = -1.0 / (n - 1)
    c = mt.cosine
    for x in (c.mean, c.min, c.max, c.p50, c.p95, c.p99):
        assert x == pytest.approx(t, abs=1e-12)
    assert c.std == pytest.approx(0, abs=1e-12)
    assert mt.etf.distance == pytest.approx(0, abs=1e-12)
    assert mt.etf.equiangularity == pytest.approx(0, abs=1e-12)
    assert mt.etf.max_angle_deviation == pytest.approx(0, abs=1e-12)
    assert mt.etf.equinorm == pytest.approx(0, abs=1e-12)
    # sum over i != j of cos^2 / n = (n - 1) / (n - 1)^2
    assert mt.epsilon_normalized == pytest.approx(1.0 / (n - 1), rel=1e-12)
    if dim == n - 1:  # n > m: the simplex reaches the unit-row floor (n - m) / m = 1 / (n - 1)
        assert mt.epsilon_normalized == pytest.approx(mt.epsilon_normalized_floor, rel=1e-12)
        assert mt.singular_values.condition_number == pytest.approx(1.0, rel=1e-10)
    else:  # in R^n the simplex spans only n - 1 dimensions
        assert mt.singular_values.rank == n - 1 and mt.singular_values.condition_number is None


@pytest.mark.parametrize("cfg", CONFIGS.values(), ids=CONFIGS.keys())
def test_tight_frame_reaches_the_epsilon_floor(cfg: MetricsConfig) -> None:
    n, m = 50, 8
    q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((n, m)))  # V^T V = I_m
    mt = compute_metrics(q, config=cfg)
    assert mt.epsilon_floor == (n - m) / n
    assert mt.epsilon == pytest.approx((n - m) / n, rel=1e-12)


def test_harmonic_frame_reaches_the_unit_row_floor() -> None:
    n = 13
    ang = 2 * np.pi * np.arange(n) / n
    v = np.stack([np.cos(ang), np.sin(ang)], axis=1)  # unit-norm tight frame in R^2
    for cfg in CONFIGS.values():
        mt = compute_metrics(v, config=cfg)
        assert mt.epsilon_normalized == pytest.approx(epsilon_normalized_floor(n, 2), rel=1e-12)
        assert mt.epsilon_normalized_floor == (n - 2) / 2


def test_floors_are_lower_bounds_on_random_matrices() -> None:
    rng = np.random.default_rng(2)
    for n, m in [(30, 5), (5, 30), (12, 12)]:
        for _ in range(5):
            v = rng.standard_normal((n, m)) * rng.uniform(0.1, 2)
            assert epsilon(v) >= epsilon_floor(n, m) - 1e-12
            assert epsilon_normalized(v) >= epsilon_normalized_floor(n, m) - 1e-12


# ---------------------------------------------------------------- float64 reference, every path

SHAPES = [(2, 3), (3, 2), (10, 32), (33, 10), (64, 64), (150, 20), (20, 150)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("cfg", CONFIGS.values(), ids=CONFIGS.keys())
def test_random_matrices_match_reference(shape: tuple[int, int], cfg: MetricsConfig) -> None:
    rng = np.random.default_rng(shape[0] * 1000 + shape[1])
    v = rng.standard_normal(shape) * rng.uniform(0.05, 3.0, size=(shape[0], 1)) + 0.3
    assert_matches(compute_metrics(v, config=cfg), reference(v))


def test_torch_backend_matches_reference() -> None:
    pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    for shape in [(40, 9), (9, 40)]:
        v = rng.standard_normal(shape).astype(np.float32)
        for cfg in (MetricsConfig(backend="torch"), MetricsConfig(backend="torch", block_elems=50, tile=6, collect_cap=30, svd_limit=0)):
            assert_matches(compute_metrics(v, config=cfg), reference(v))
    # the sampled path draws the same seeded pairs on both back-ends
    v = rng.standard_normal((60, 7))
    kw = dict(exact_pair_limit=20, sample_pairs=400, sample_block=8)
    a = compute_metrics(v, config=MetricsConfig(**kw)).cosine
    b = compute_metrics(v, config=MetricsConfig(backend="torch", **kw)).cosine
    assert b.estimated and b.sample_size == a.sample_size and b.most_similar.classes == a.most_similar.classes
    np.testing.assert_allclose((b.min, b.max, b.p50, b.p99, b.mean, b.std), (a.min, a.max, a.p50, a.p99, a.mean, a.std), rtol=1e-12)


def test_both_gram_paths_agree() -> None:
    """The m x m route (blocked rows) and the n x n route (blocked columns) on the same matrices."""
    rng = np.random.default_rng(3)
    be, cfg = NumpyBackend(), MetricsConfig(block_elems=30)
    for shape in [(25, 7), (7, 25), (16, 16)]:
        v = rng.standard_normal(shape)
        v[2] = 0.0  # a zero row
        tall = _tall(RowSource(v, be), be, cfg, "x", True, True)
        wide = _wide(RowSource(v, be), be, cfg, "x", True, True)
        for a, b in [(tall.epsilon, wide.epsilon), (tall.epsilon_normalized, wide.epsilon_normalized),
                     (tall.cos_sum, wide.cos_sum), (tall.cos_sq_sum, wide.cos_sq_sum)]:
            assert a == pytest.approx(b, rel=1e-10, abs=1e-12)
        k = min(shape)
        np.testing.assert_allclose(np.sort(tall.eigenvalues)[-k:], np.sort(wide.eigenvalues)[-k:], rtol=1e-9, atol=1e-9)


def test_exact_percentiles_need_extra_passes_and_stay_exact() -> None:
    from wsep_cli.metrics.pairs import UnitRows, exact_pair_stats
    from wsep_cli.metrics.gram import gram_summary

    v = np.random.default_rng(4).standard_normal((120, 30))
    ref = reference(v)
    be = NumpyBackend()
    cfg = MetricsConfig(tile=13, collect_cap=25, sample_pairs=50, sample_block=4)
    src = RowSource(v, be)
    gs = gram_summary(src, be, cfg)
    ps, passes = exact_pair_stats(UnitRows(src, gs.inv_norms), 120, 0.0, -1 / 119, cfg, be)
    assert passes >= 2  # the windows held more than 25 values: narrowed by histograms
    np.testing.assert_allclose(ps.percentiles, ref["pct"], rtol=1e-12, atol=1e-14)


def test_zero_row_and_duplicate_rows() -> None:
    rng = np.random.default_rng(6)
    v = rng.standard_normal((12, 5))
    v[3] = 0.0
    v[7] = 2.0 * v[1]  # cosine exactly 1 with row 1
    for cfg in CONFIGS.values():
        mt = compute_metrics(v, config=cfg)
        assert_matches(mt, reference(v))
        assert mt.cosine.max == pytest.approx(1.0, abs=1e-12)
        assert mt.cosine.most_similar.classes == (1, 7)


def test_float16_and_transposed_views_equal_their_float64_values() -> None:
    v16 = np.random.default_rng(7).standard_normal((30, 12)).astype(np.float16)
    ref = reference(v16.astype(np.float64))
    assert_matches(compute_metrics(v16, config=TINY), ref)
    assert_matches(compute_metrics(np.ascontiguousarray(v16.T).T, config=TINY), ref)


def test_integer_and_bool_matrices_are_read_as_float64() -> None:
    vi = np.random.default_rng(8).integers(-5, 6, size=(9, 4)).astype(np.int32)
    assert_matches(compute_metrics(vi), reference(vi.astype(np.float64)))
    vb = np.eye(4, 6, dtype=bool)
    assert compute_metrics(vb).epsilon == 0.0
    with pytest.raises(UnreadableError):
        compute_metrics(np.ones((3, 3), dtype=np.complex128))


def test_one_class_has_no_pair_statistics() -> None:
    mt = compute_metrics(np.array([[3.0, 4.0]]))
    assert mt.cosine is None and mt.etf is None
    assert mt.epsilon == pytest.approx((25 - 1) ** 2)
    d = mt.to_dict()
    assert d["cosine"] is None and d["etf"] is None
    assert d["singular_values"]["max"] == pytest.approx(5.0)


def test_rank_deficient_has_no_condition_number() -> None:
    rng = np.random.default_rng(9)
    v = rng.standard_normal((40, 3)) @ rng.standard_normal((3, 16))  # rank 3, n > m
    for cfg in CONFIGS.values():
        sv = compute_metrics(v, config=cfg).singular_values
        assert sv.rank == 3 and sv.condition_number is None


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("shape", [(6, 4), (4, 6)])
def test_non_finite_names_the_layer(bad: float, shape: tuple[int, int]) -> None:
    v = np.ones(shape, dtype=np.float32)
    v[1, 2] = bad
    v[3, 1] = bad
    with pytest.raises(NonFiniteError, match=r"'head\.fc\.weight' holds 2 non-finite"):
        compute_metrics(v, layer="head.fc.weight", config=TINY)


def test_empty_and_non_2d_are_refused() -> None:
    for v in (np.zeros((0, 3)), np.zeros(5), np.zeros((2, 2, 2))):
        with pytest.raises(UnreadableError):
            compute_metrics(v)


def test_unknown_device_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        compute_metrics(np.eye(3), device="tpu")


def test_normalize_rows_keeps_zero_rows() -> None:
    u = normalize_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(u, [[0.6, 0.8], [0.0, 0.0]])


# ---------------------------------------------------------------- the sampled path

def test_sampled_path_is_marked_and_bounded_by_the_truth() -> None:
    rng = np.random.default_rng(10)
    v = rng.standard_normal((90, 16)) + 0.2
    ref = reference(v)
    cfg = MetricsConfig(exact_pair_limit=50, sample_pairs=3000, sample_block=16, block_elems=100)
    mt = compute_metrics(v, config=cfg)
    c = mt.cosine
    assert c.estimated and c.sample_size is not None and c.sample_size >= 3000
    # exact in both modes: epsilon, mean, std (= equiangularity), distance to the ETF
    np.testing.assert_allclose(
        (mt.epsilon, mt.epsilon_normalized, c.mean, c.std, mt.etf.distance, mt.etf.equiangularity),
        (ref["epsilon"], ref["epsilon_normalized"], ref["mean"], ref["std"], ref["distance"], ref["std"]),
        rtol=1e-9,
    )
    # sampled: inside the true range, and the reported pair really has the reported cosine
    assert ref["min"] - 1e-12 <= c.min <= c.max <= ref["max"] + 1e-12
    i, j = c.most_similar.classes
    u = normalize_rows(v)
    assert i < j and float(u[i] @ u[j]) == pytest.approx(c.max, abs=1e-12)
    assert abs(c.p50 - ref["pct"][0]) < 0.05
    # the JSON document carries the marking
    d = json.loads(json.dumps(mt.to_dict()))
    assert d["cosine"]["estimated"] is True and d["cosine"]["sample_size"] == c.sample_size
    # seeded: the same seed gives the same sample, another seed another one
    assert compute_metrics(v, config=cfg).cosine == c
    other = compute_metrics(v, config=MetricsConfig(exact_pair_limit=50, sample_pairs=3000, sample_block=16, seed=1))
    assert other.cosine != c and other.cosine.mean == pytest.approx(c.mean, rel=1e-12)


def test_sampled_path_through_the_json_report() -> None:
    from wsep_cli.report import OutputFormat, ScoreReport, render
    from wsep_cli.results import FileResult, HeadResult

    v = np.random.default_rng(11).standard_normal((70, 8)).astype(np.float16)
    mt = compute_metrics(v, config=MetricsConfig(exact_pair_limit=64, sample_pairs=500))
    head = HeadResult("fc.weight", "name", "test", 70, 8, "float16", mt)
    fr = FileResult(path="x.safetensors", format="safetensors", status="ok", exit_code=0, heads=(head,))
    doc = json.loads(render(ScoreReport(results=(fr,)), OutputFormat.JSON))
    cos = doc["results"][0]["heads"][0]["cosine"]
    assert cos["estimated"] is True and cos["sample_size"] >= 500
    exact = compute_metrics(v)
    assert exact.cosine.estimated is False and exact.to_dict()["cosine"]["sample_size"] is None


def test_exact_results_do_not_depend_on_block_and_tile_sizes() -> None:
    v = np.random.default_rng(12).standard_normal((57, 23))
    base = compute_metrics(v).to_dict()
    for cfg in CONFIGS.values():
        other = compute_metrics(v, config=cfg).to_dict()
        for key in ("epsilon", "epsilon_normalized"):
            assert other[key] == pytest.approx(base[key], rel=1e-12)
        for key, val in base["cosine"].items():
            if isinstance(val, float):
                assert other["cosine"][key] == pytest.approx(val, rel=1e-10, abs=1e-14), key
        assert math.isclose(other["etf"]["distance"], base["etf"]["distance"], rel_tol=1e-10)
