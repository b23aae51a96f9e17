"""`compare`: pairing, per-metric direction, regressions, and loading each side."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from wsep_cli.gate.baseline import Baseline, BaselineFile, BaselineHead
from wsep_cli.gate.compare import compare, is_report
from wsep_cli.pipeline import compare_side
from wsep_cli.errors import ExitCode, WsepError


def _side(source: str, *files: tuple[str, dict[str, dict[str, float]]]) -> Baseline:
    return Baseline(source, tuple(BaselineFile(p, tuple(BaselineHead(l, m) for l, m in heads.items())) for p, heads in files))


def test_changes_directions_and_regressions() -> None:
    a = _side("a", ("a.pt", {"fc": {"epsilon": 2.0, "cosine.abs_max": 0.5, "norms.mean": 1.0, "etf.distance": 0.3}}))
    b = _side("b", ("b.pt", {"fc": {"epsilon": 3.0, "cosine.abs_max": 0.25, "norms.mean": 2.0, "etf.distance": 0.3}}))
    cmp = compare(a, b)
    (h,) = cmp.heads
    got = {c.metric: (c.change, c.relative, c.verdict, c.regression) for c in h.changes}
    assert got == {
        "epsilon": (1.0, 0.5, "worse", True),
        "cosine.abs_max": (-0.25, -0.5, "better", False),
        "norms.mean": (1.0, 1.0, "", False),  # no direction for norms
        "etf.distance": (0.0, 0.0, "same", False),
    }
    assert [c.metric for _, c in cmp.regressions] == ["epsilon"]
    assert compare(a, b, tolerance=0.6).regressions == ()


def test_worse_non_gated_metric_is_not_a_regression() -> None:
    a = _side("a", ("m", {"fc": {"etf.distance": 0.1}}))
    b = _side("b", ("m", {"fc": {"etf.distance": 0.2}}))
    (c,) = compare(a, b).heads[0].changes
    assert c.verdict == "worse" and not c.regression


def test_single_heads_pair_even_with_different_names() -> None:
    a = _side("a", ("model.pt", {"fc.weight": {"epsilon": 1.0}}))
    b = _side("b", ("model.onnx", {"/fc/Gemm": {"epsilon": 1.0}}))
    (h,) = compare(a, b).heads
    assert (h.layer_a, h.layer_b, h.file_a, h.file_b) == ("fc.weight", "/fc/Gemm", "model.pt", "model.onnx")


def test_multi_file_reports_pair_by_name_and_list_one_sided_heads() -> None:
    a = _side("a", ("x/m1.pt", {"head": {"epsilon": 1.0}, "head_dist": {"epsilon": 1.0}}), ("x/gone.pt", {"fc": {"epsilon": 1.0}}))
    b = _side("b", ("y/m1.pt", {"head": {"epsilon": 0.5}, "head_aux": {"epsilon": 1.0}}), ("y/new.pt", {"fc": {"epsilon": 1.0}}))
    heads = compare(a, b).heads
    summary = [(h.file_a, h.file_b, h.layer_a, h.layer_b, bool(h.changes)) for h in heads]
    assert summary == [
        ("x/m1.pt", "y/m1.pt", "head", "head", True),
        ("x/m1.pt", "y/m1.pt", "head_dist", None, False),
        ("x/m1.pt", "y/m1.pt", None, "head_aux", False),
        (None, "y/new.pt", None, "fc", False),
        ("x/gone.pt", None, "fc", None, False),
    ]
    assert "(no such head)" in heads[1].title


def test_compare_side_scores_checkpoints_and_reads_reports(tmp_path: Path) -> None:
    ckpt = tmp_path / "m.safetensors"
    save_file({"fc.weight": (2.0 * np.eye(4)).astype(np.float32)}, str(ckpt))  # epsilon = (4-1)^2 = 9
    side = compare_side(str(ckpt))
    assert side.files[0].heads[0].metrics["epsilon"] == pytest.approx(9.0)
    report = tmp_path / "r.json"
    report.write_text(json.dumps({"results": [{"path": "m", "heads": [{"layer": "fc.weight", "epsilon": 8.0}]}]}))
    assert is_report(report) and not is_report(ckpt)
    assert compare_side(str(report)).files[0].heads[0].metrics == {"epsilon": 8.0}
    assert compare(compare_side(str(report)), side).regressions[0][1].metric == "epsilon"


def test_compare_side_errors_keep_their_exit_codes(tmp_path: Path) -> None:
    with pytest.raises(WsepError) as e:
        compare_side(str(tmp_path / "missing.safetensors"))
    assert e.value.exit_code == ExitCode.USAGE
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01 not a checkpoint at all")
    with pytest.raises(WsepError) as e:
        compare_side(str(junk))
    assert e.value.exit_code == ExitCode.UNREADABLE
    not_report = tmp_path / "other.json"
    not_report.write_text('{"hello": 1}')
    assert not is_report(not_report)


def test_to_dict_is_json_serialisable() -> None:
    a = _side("a", ("m", {"fc": {"epsilon": 0.0, "cosine.abs_max": 0.5}}))
    b = _side("b", ("m", {"fc": {"epsilon": 1.0, "cosine.abs_max": 0.5}}))
    d = json.loads(json.dumps(compare(a, b).to_dict(), allow_nan=False))
    eps = d["heads"][0]["metrics"][0]
    assert eps == {"metric": "epsilon", "a": 0.0, "b": 1.0, "change": 1.0, "relative_change": None,
                   "verdict": "worse", "regression": True}
    assert d["regressions"] == 1
