"""The gate on results scored from matrices whose metrics are known by hand.

V = s * I_n has epsilon = (s^2 - 1)^2, unit-row epsilon 0 and no cosine between classes. Two unit
rows at angle t have |cos| = |cos t|.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from wsep_cli.gate.baseline import baseline_from_results
from wsep_cli.errors import ExitCode
from wsep_cli.gate.checks import evaluate
from wsep_cli.gate.verdicts import Thresholds, worse_than
from wsep_cli.metrics import compute_metrics
from wsep_cli.results import FileResult, HeadResult


def _head(layer: str, v: np.ndarray) -> HeadResult:
    return HeadResult(layer, "name", "test", v.shape[0], v.shape[1], "float32", compute_metrics(v))


def _file(path: str, *heads: HeadResult) -> FileResult:
    return FileResult(path, "safetensors", "ok", 0, heads=heads)


def _scaled_identity(s: float, n: int = 3) -> np.ndarray:
    return s * np.eye(n)


def _angle(deg: float) -> np.ndarray:
    t = math.radians(deg)
    return np.array([[1.0, 0.0, 0.0], [math.cos(t), math.sin(t), 0.0]])


def test_threshold_pass_and_fail_on_hand_derived_epsilon() -> None:
    r = _file("a.safetensors", _head("fc.weight", _scaled_identity(2.0)))  # epsilon = (4 - 1)^2 = 9
    assert evaluate([r], thresholds=Thresholds(max_epsilon=9.5)).passed
    rep = evaluate([r], thresholds=Thresholds(max_epsilon=8.5))
    assert not rep.passed and rep.exit_code == ExitCode.GATE_FAILED
    (v,) = rep.violations
    assert (v.path, v.layer, v.rule, v.metric, v.limit) == ("a.safetensors", "fc.weight", "max-epsilon", "epsilon", 8.5)
    assert v.value == pytest.approx(9.0)
    for part in ("a.safetensors", "fc.weight", "epsilon", "= 9 ", "8.5", "max-epsilon"):
        assert part in v.message


def test_abs_cos_and_normalized_thresholds() -> None:
    r = _file("m.pt", _head("head", _angle(60.0)))  # |cos| = 0.5; unit-row epsilon = 2 * 0.25 / 2 = 0.25
    rep = evaluate([r], thresholds=Thresholds(max_abs_cos=0.45, max_epsilon_normalized=0.3))
    assert [c.rule for c in rep.violations] == ["max-abs-cos"]
    assert rep.violations[0].value == pytest.approx(0.5)
    assert evaluate([r], thresholds=Thresholds(max_abs_cos=0.55, max_epsilon_normalized=0.3)).passed
    assert not evaluate([r], thresholds=Thresholds(max_epsilon_normalized=0.2)).passed


def test_value_equal_to_limit_passes() -> None:
    r = _file("a", _head("fc", _scaled_identity(1.0)))  # epsilon exactly 0
    assert evaluate([r], thresholds=Thresholds(max_epsilon=0.0)).passed


def test_every_head_is_checked() -> None:
    r = _file("deit.pt", _head("head.weight", _scaled_identity(1.0)), _head("head_dist.weight", _scaled_identity(2.0)))
    rep = evaluate([r], thresholds=Thresholds(max_epsilon=1.0))
    assert len(rep.checks) == 2
    assert [c.layer for c in rep.violations] == ["head_dist.weight"]


def test_error_results_get_no_checks_and_no_thresholds_means_no_checks() -> None:
    bad = FileResult("x.bin", None, "error", 4, error="x.bin: unreadable")
    rep = evaluate([bad], thresholds=Thresholds(max_epsilon=0.0))
    assert rep.passed and rep.for_path("x.bin").checks == ()
    ok = _file("a", _head("fc", _scaled_identity(3.0)))
    assert evaluate([ok]).checks == ()


def test_per_path_thresholds() -> None:
    a = _file("models/a.onnx", _head("fc", _scaled_identity(2.0)))
    b = _file("models/b.pt", _head("fc", _scaled_identity(2.0)))
    rep = evaluate([a, b], thresholds=lambda p: Thresholds(max_epsilon=10.0 if p.endswith(".onnx") else 1.0))
    assert rep.for_path("models/a.onnx").passed
    assert not rep.for_path("models/b.pt").passed
    assert rep.for_path("models/b.pt").thresholds.max_epsilon == 1.0


def test_baseline_regression_and_tolerance() -> None:
    old = baseline_from_results([_file("a.safetensors", _head("fc", _scaled_identity(2.0)))])  # 9
    new = _file("a.safetensors", _head("fc", _scaled_identity(math.sqrt(1 + math.sqrt(9.9)))))  # 9.9: +10 %
    rep = evaluate([new], baseline=old)
    assert [(c.rule, c.metric) for c in rep.violations] == [("baseline", "epsilon")]
    v = rep.violations[0]
    assert v.baseline == pytest.approx(9.0) and v.value == pytest.approx(9.9) and v.limit == pytest.approx(9.0)
    assert not evaluate([new], baseline=old, tolerance=0.09).passed
    assert evaluate([new], baseline=old, tolerance=0.11).passed
    better = _file("a.safetensors", _head("fc", _scaled_identity(1.5)))
    assert evaluate([better], baseline=old).passed


def test_baseline_ignores_float32_rounding_but_not_real_changes() -> None:
    assert not worse_than(9.0 * (1 + 1e-7), 9.0, 0.0)
    assert worse_than(9.0 * (1 + 1e-5), 9.0, 0.0)
    assert not worse_than(1e-13, 0.0, 0.0) and worse_than(1e-9, 0.0, 0.0)


def test_baseline_matches_by_file_name_across_folders() -> None:
    old = baseline_from_results([_file("/ci/run1/models/a.safetensors", _head("fc", _scaled_identity(2.0)))])
    rep = evaluate([_file("models/a.safetensors", _head("fc", _scaled_identity(3.0)))], baseline=old)
    assert [c.rule for c in rep.violations] == ["baseline"]


@pytest.mark.parametrize("allow_new", [False, True])
def test_heads_and_files_on_one_side_fail_unless_allowed(allow_new: bool) -> None:
    old = baseline_from_results(
        [
            _file("a.pt", _head("fc", _scaled_identity(2.0)), _head("aux", _scaled_identity(2.0))),
            _file("gone.pt", _head("fc", _scaled_identity(2.0))),
        ]
    )
    cur = [
        _file("a.pt", _head("fc", _scaled_identity(2.0)), _head("extra", _scaled_identity(2.0))),
        _file("new.pt", _head("fc", _scaled_identity(2.0))),
    ]
    rep = evaluate(cur, baseline=old, allow_new=allow_new)
    one_sided = sorted((c.path, c.layer or "", c.rule) for c in rep.checks if c.metric is None)
    assert one_sided == [
        ("a.pt", "aux", "missing-head"),
        ("a.pt", "extra", "new-head"),
        ("gone.pt", "", "missing-file"),
        ("new.pt", "", "new-file"),
    ]
    assert rep.passed is allow_new
    assert all(("--allow-new" in c.message) for c in rep.checks if c.metric is None)


def test_verdict_dict_and_summary_lines() -> None:
    r = _file("a.safetensors", _head("fc.weight", _scaled_identity(2.0)))
    v = evaluate([r], thresholds=Thresholds(max_epsilon=1.0, max_abs_cos=0.5)).for_path("a.safetensors")
    d = v.to_dict()
    assert d["passed"] is False and d["checks"] == 2
    assert d["thresholds"] == {"max-epsilon": 1.0, "max-epsilon-normalized": None, "max-abs-cos": 0.5}
    assert d["violations"][0]["rule"] == "max-epsilon" and d["violations"][0]["limit"] == 1.0
    lines = v.summary_lines()
    assert lines[0] == "gate: a.safetensors: FAILED (1 of 2 checks)"
    assert lines[1] == "  FAIL a.safetensors fc.weight: epsilon = 9 > 1 (max-epsilon)"


def test_for_unknown_path_is_an_empty_passing_verdict() -> None:
    v = evaluate([]).for_path("nowhere")
    assert v.passed and v.checks == () and v.summary_lines() == ["gate: nowhere: no thresholds or baseline apply"]
