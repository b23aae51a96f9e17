"""A baseline or comparison whose pair statistics are over every pair on one side and from the seeded
sample on the other (a head past the CPU work limit, ``--exact-pairs`` on one side only, or a
baseline written by a wsep before the work limit).

A sampled maximum never exceeds the exact one, so the gate compares only where that decides the
answer and otherwise fails saying how to score like with like.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from conftest import run_cli, run_json
from wsep_cli.gate.baseline import baseline_from_document, baseline_from_results
from wsep_cli.gate.checks import evaluate
from wsep_cli.gate.compare import compare
from wsep_cli.metrics import compute_metrics
from wsep_cli.metrics.config import MetricsConfig
from wsep_cli.results import FileResult, HeadResult

_SAMPLED = MetricsConfig(exact_pair_work=1, sample_pairs=500, sample_block=10)  # 300 classes: 500 of 44,850 pairs


def _planted(n: int = 300, m: int = 32) -> np.ndarray:
    """Random rows plus one near-duplicate pair (cos ~0.9999) that a 500-pair sample misses."""
    v = np.random.default_rng(7).standard_normal((n, m))
    v[n - 1] = v[0] + 0.01 * v[1]
    return v


def _result(v: np.ndarray, cfg: MetricsConfig | None = None, path: str = "a.safetensors") -> FileResult:
    metrics = compute_metrics(v, config=cfg) if cfg is not None else compute_metrics(v)
    head = HeadResult("fc.weight", "name", "test", v.shape[0], v.shape[1], "float32", metrics)
    return FileResult(path, "safetensors", "ok", 0, heads=(head,))


def _abs_max_check(report):
    (c,) = [c for c in report.checks if c.metric == "cosine.abs_max"]
    return c


def test_the_planted_pair_is_missed_by_the_sample() -> None:
    v = _planted()
    exact, sampled = _result(v).heads[0].metrics.cosine, _result(v, _SAMPLED).heads[0].metrics.cosine
    assert not exact.estimated and sampled.estimated and sampled.sample_size == 500
    assert exact.abs_max > 0.999 > sampled.abs_max  # the premise of the tests below


def test_exact_baseline_and_sampled_run_is_not_comparable() -> None:
    v = _planted()
    rep = evaluate([_result(v, _SAMPLED)], baseline=baseline_from_results([_result(v)]))
    c = _abs_max_check(rep)
    assert not c.passed and c.rule == "baseline-method" and c in rep.violations
    for part in ("cosine.abs_max not comparable", "from a sample of 500 pairs", "over every pair", "--exact-pairs"):
        assert part in c.message
    assert all(x.passed for x in rep.checks if x.metric != "cosine.abs_max")  # epsilon is exact either way


def test_sampled_baseline_and_exact_run_asks_for_an_exact_baseline() -> None:
    v = _planted()
    rep = evaluate([_result(v)], baseline=baseline_from_results([_result(v, _SAMPLED)]))
    c = _abs_max_check(rep)
    assert not c.passed and c.rule == "baseline-method"
    assert "rewrite the baseline with `wsep score --exact-pairs --write-baseline FILE`" in c.message


def test_a_sampled_value_past_an_exact_limit_is_a_real_regression() -> None:
    worse = _planted()
    rep = evaluate([_result(worse, _SAMPLED)], baseline=baseline_from_results([_result(np.eye(300, 32))]))
    c = _abs_max_check(rep)
    assert not c.passed and c.rule == "baseline" and "so its exact value is at least as large" in c.message


def test_an_exact_value_within_a_sampled_limit_passes() -> None:
    base = _planted()
    rep = evaluate([_result(np.eye(300, 32))], baseline=baseline_from_results([_result(base, _SAMPLED)]))
    c = _abs_max_check(rep)
    assert c.passed and c.rule == "baseline" and "the baseline's value is from a sample" in c.message


def test_same_method_on_both_sides_compares_as_before() -> None:
    v = _planted()
    for cfg in (None, _SAMPLED):
        rep = evaluate([_result(v, cfg)], baseline=baseline_from_results([_result(v, cfg)]))
        c = _abs_max_check(rep)
        assert c.passed and c.rule == "baseline" and c.detail == "tolerance 0"


def test_a_report_without_the_estimated_field_compares_as_before() -> None:
    v = _planted()
    doc = {"results": [{"path": "a.safetensors", "status": "ok",
                        "heads": [{"layer": "fc.weight", "epsilon": 1e9, "cosine": {"abs_max": 1.0}}]}]}
    base = baseline_from_document(doc, source="old.json")
    assert base.files[0].heads[0].sampled is None
    c = _abs_max_check(evaluate([_result(v, _SAMPLED)], baseline=base))
    assert c.passed and c.rule == "baseline"


def test_compare_warns_when_only_one_side_is_sampled() -> None:
    v = _planted()
    mixed = compare(baseline_from_results([_result(v)]), baseline_from_results([_result(v, _SAMPLED)]))
    (w,) = mixed.warnings
    assert "A's pair statistics are over every pair, B's from a seeded sample" in w and "--exact-pairs" in w
    same = compare(baseline_from_results([_result(v, _SAMPLED)]), baseline_from_results([_result(v, _SAMPLED)]))
    assert same.warnings == ()


@pytest.fixture(scope="module")
def big_head(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """17,500 x 79: past the CPU work limit, so sampled unless --exact-pairs; one planted near-duplicate pair."""
    v = np.random.default_rng(5).standard_normal((17_500, 79)).astype(np.float32)
    v[-1] = v[0] + np.float32(0.01) * v[1]
    path = tmp_path_factory.mktemp("big") / "head.safetensors"
    save_file({"fc.weight": v}, str(path))
    return path


def test_the_installed_cli_gate_and_compare_name_the_mismatch(big_head: Path, tmp_path: Path) -> None:
    base = tmp_path / "base.json"
    proc = run_cli("score", str(big_head), "--json", "--write-baseline", str(base))
    assert proc.returncode == 0, proc.stderr
    proc, doc = run_json(str(big_head), "--baseline", str(base))  # sampled against sampled: unchanged
    assert proc.returncode == 0, proc.stderr
    assert doc["results"][0]["heads"][0]["cosine"]["abs_max"] < 0.99  # the sample misses the planted pair
    proc = run_cli("score", str(big_head), "--exact-pairs", "--baseline", str(base))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "cosine.abs_max not comparable with the baseline" in proc.stdout
    assert "--exact-pairs --write-baseline" in proc.stdout
    proc = run_cli("compare", str(base), str(big_head), "--exact-pairs", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert "B's from" not in proc.stderr and "A's pair statistics are from" not in proc.stderr
    assert "B's pair statistics are over every pair, A's from a seeded sample" in proc.stderr


def test_exact_pairs_from_the_config_file_and_the_environment(big_head: Path, tmp_path: Path) -> None:
    """A CI keeps ``exact-pairs = true`` in [tool.wsep] so its baseline and its runs agree."""
    (tmp_path / "pyproject.toml").write_text("[tool.wsep]\nexact-pairs = true\n", encoding="utf-8")

    def estimated(*args: str, env: dict[str, str] | None = None) -> bool:
        proc, doc = run_json(str(big_head), *args, cwd=tmp_path, env=env)
        assert proc.returncode == 0, proc.stderr
        return doc["results"][0]["heads"][0]["cosine"]["estimated"]

    assert estimated() is False
    assert estimated("--no-exact-pairs") is True
    assert estimated(env={"WSEP_EXACT_PAIRS": "0"}) is True


def test_compare_fail_on_regression_uses_the_sample_bound() -> None:
    v, eye = _planted(), np.eye(300, 32)

    def regressed(a: FileResult, b: FileResult) -> bool:
        c = compare(baseline_from_results([a]), baseline_from_results([b]))
        return any(ch.metric == "cosine.abs_max" for _, ch in c.regressions)

    assert regressed(_result(v), _result(v, _SAMPLED))  # exact A, sampled B (lower): undecided, so flagged
    assert regressed(_result(v, _SAMPLED), _result(v))  # sampled A, exact B (higher): undecided
    assert regressed(_result(eye), _result(v, _SAMPLED))  # sampled B above exact A: a real regression
    assert not regressed(_result(v, _SAMPLED), _result(eye))  # exact B below sampled A: not one
    assert not regressed(_result(v, _SAMPLED), _result(v, _SAMPLED))  # same method: compared as before
