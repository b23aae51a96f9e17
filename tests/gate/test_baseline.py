"""Baselines: reading `wsep score --json` documents, and pairing files by path or file name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from wsep_cli.gate.baseline import (
    Baseline,
    BaselineFile,
    baseline_from_document,
    load_baseline,
    match_files,
)
from wsep_cli.errors import ExitCode, UsageError
from wsep_cli.metrics.registry import flatten_head
from wsep_cli.report import OutputFormat, ScoreReport, render
from wsep_cli.pipeline import score_file


def _files(*paths: str) -> Baseline:
    return Baseline("b.json", tuple(BaselineFile(p, ()) for p in paths))


def test_flatten_head_keeps_registered_numbers_and_drops_the_rest() -> None:
    head = {
        "layer": "fc", "located_by": "name", "num_classes": 10, "dtype": "float32", "epsilon": 0.5,
        "cosine": {"abs_max": 0.25, "estimated": False, "sample_size": None, "most_similar": {"cosine": 0.2}},
        "etf": None, "singular_values": {"rank": 3, "condition_number": None},
    }
    assert flatten_head(head) == {
        "epsilon": 0.5, "cosine.abs_max": 0.25, "singular_values.rank": 3.0,
    }


def test_round_trip_through_the_real_json_report(tmp_path: Path) -> None:
    v = np.array([[2.0, 0.0], [0.0, 2.0], [1.0, 1.0]], dtype=np.float32)
    ckpt = tmp_path / "m.safetensors"
    save_file({"fc.weight": v}, str(ckpt))
    result = score_file(str(ckpt))
    path = tmp_path / "base.json"
    path.write_text(render(ScoreReport(results=(result,)), OutputFormat.JSON), encoding="utf-8")
    base = load_baseline(path)
    (f,) = base.files
    assert f.path == str(ckpt) and f.ok
    m = f.head("fc.weight").metrics
    # hand-derived: V V^T = [[4,0,2],[0,4,2],[2,2,2]]; minus I squared: 9+9+1 + 2*(0+4+4) = 35; / 3
    assert m["epsilon"] == pytest.approx(35 / 3)
    assert m["cosine.abs_max"] == pytest.approx(1 / np.sqrt(2))
    assert f.head("nope") is None


@pytest.mark.parametrize(
    "doc, fragment",
    [
        ([], 'no "results"'),
        ({"results": {}}, 'no "results"'),
        ({"results": [{"heads": []}]}, 'no "path"'),
        ({"results": [{"path": "a", "heads": {}}]}, "not a list"),
        ({"results": [{"path": "a", "heads": [{"epsilon": 1}]}]}, 'no "layer"'),
    ],
)
def test_malformed_documents_are_usage_errors(doc: object, fragment: str) -> None:
    with pytest.raises(UsageError) as e:
        baseline_from_document(doc, source="b.json")
    assert fragment in str(e.value) and "b.json" in str(e.value) and "--write-baseline" in str(e.value)
    assert e.value.exit_code == ExitCode.USAGE


def test_unreadable_or_invalid_json_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read"):
        load_baseline(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(UsageError, match="not valid JSON"):
        load_baseline(bad)


def test_error_results_are_kept_but_marked() -> None:
    base = baseline_from_document({"results": [{"path": "x", "status": "error", "heads": []}]}, source="b")
    assert base.files[0].ok is False


def test_match_exact_path_first_then_unique_file_name() -> None:
    base = _files("models/a.pt", "old/b.pt", "./c.pt")
    m = match_files(["models/a.pt", "new/b.pt", "c.pt", "d.pt"], base)
    assert {k: v.path for k, v in m.pairs.items()} == {"models/a.pt": "models/a.pt", "new/b.pt": "old/b.pt", "c.pt": "./c.pt"}
    assert m.unmatched == ()


def test_ambiguous_file_names_do_not_match() -> None:
    base = _files("x/model.pt", "y/model.pt")
    m = match_files(["z/model.pt"], base)
    assert m.pairs == {} and [f.path for f in m.unmatched] == ["x/model.pt", "y/model.pt"]
    m2 = match_files(["p/model.pt", "q/model.pt"], _files("old/model.pt"))
    assert m2.pairs == {}


def test_exact_match_is_not_stolen_by_a_name_match() -> None:
    base = _files("a/m.pt", "b/m.pt")
    m = match_files(["b/m.pt"], base)
    assert m.pairs["b/m.pt"].path == "b/m.pt" and [f.path for f in m.unmatched] == ["a/m.pt"]


def test_timm_specs_match_by_spec() -> None:
    m = match_files(["timm:resnet18"], _files("timm:resnet18", "timm:resnet50"))
    assert list(m.pairs) == ["timm:resnet18"] and m.unmatched[0].path == "timm:resnet50"


def test_written_document_is_json(tmp_path: Path) -> None:
    doc = {"results": [{"path": "a", "status": "ok", "heads": [{"layer": "fc", "epsilon": 1.5}]}]}
    p = tmp_path / "b.json"
    p.write_text(json.dumps(doc), encoding="utf-8")
    assert load_baseline(p).files[0].heads[0].metrics == {"epsilon": 1.5}
