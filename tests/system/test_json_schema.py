"""docs/json-schema.md documents exactly the fields that `wsep score --json` writes."""

from __future__ import annotations

import re
from typing import Any

from conftest import FIXTURES, REPO, run_json, run_wsep

DOC = (REPO / "docs" / "json-schema.md").read_text(encoding="utf-8")


def _documented() -> set[str]:
    return set(re.findall(r"^\| `([^`]+)` \|", DOC, flags=re.M))


def _is_gate(path: str) -> bool:
    return "gate" in re.split(r"[.\[\]]+", path)


def _paths(obj: Any, prefix: str = "") -> set[str]:
    out: set[str] = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            p = f"{prefix}.{k}" if prefix else k
            out.add(p)
            out |= _paths(v, p)
    elif isinstance(obj, list):
        for item in obj:
            if isinstance(item, (dict, list)):
                out |= _paths(item, f"{prefix}[]")
    return out


def test_every_written_field_is_documented_and_vice_versa() -> None:
    proc, doc = run_json(str(FIXTURES / "digits_mlp.safetensors"), "--top-pairs", "3")
    assert proc.returncode == 0, proc.stderr
    assert len(doc["results"][0]["heads"][0]["cosine"]["top_pairs"]) == 3
    written = {p for p in _paths(doc) if not _is_gate(p)}
    documented = {p for p in _documented() if not _is_gate(p)}
    assert written - documented == set(), "fields written but not documented"
    assert documented - written == set(), "fields documented but not written"


def test_gate_fields_are_documented_and_vice_versa(tmp_path) -> None:
    fixture = str(FIXTURES / "digits_mlp.safetensors")
    base = tmp_path / "base.json"
    proc = run_wsep("score", fixture, "--write-baseline", str(base))
    assert proc.returncode == 0, proc.stderr
    proc, doc = run_json(fixture, "--max-epsilon", "1", "--baseline", str(base))
    assert proc.returncode == 1
    written = {p for p in _paths(doc) if _is_gate(p)}
    documented = {p for p in _documented() if _is_gate(p)}
    # unmatched_baseline is empty here; its element fields are those of violations[]
    assert written - documented == set()
    assert documented - written == set()


def test_error_result_shape() -> None:
    bad = REPO / "README.md"
    proc, doc = run_json(str(bad))
    assert proc.returncode == 4
    (r,) = doc["results"]
    assert r["status"] == "error" and r["heads"] == [] and r["exit_code"] == 4
    assert "\n" not in r["error"]
    assert doc["schema_version"] == 1
