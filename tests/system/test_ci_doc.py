"""docs/ci.md shows the `gate` objects that `wsep score --json` really writes (issue 14, point 14)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file

from conftest import REPO, run_cli_json

DOC = (REPO / "docs" / "ci.md").read_text(encoding="utf-8")


def _shape(obj: Any) -> Any:
    """Keys (recursively) and value kinds, not values."""
    if isinstance(obj, dict):
        return {k: _shape(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_shape(obj[0])] if obj else []
    return type(obj).__name__ if obj is not None else "null"


def _documented_result_gate() -> dict[str, Any]:
    block = re.search(r"```json\n\s*\"gate\": (\{.*?\n\s*\})\n\s*```", DOC, flags=re.S)
    assert block, "docs/ci.md lost its gate example"
    return json.loads(block.group(1))


def test_the_documented_gate_objects_are_the_emitted_ones(tmp_path: Path) -> None:
    f = tmp_path / "a.safetensors"
    save_file({"fc.weight": (0.5 * np.eye(4, 8)).astype(np.float32)}, str(f))
    base = tmp_path / "base.json"
    base.write_text(json.dumps(run_cli_json(str(f))[1]))
    proc, doc = run_cli_json(str(f), "--max-epsilon", "0.2", "--max-abs-cos", "0.35",
                             "--baseline", str(base), "--tolerance", "0.02")
    assert proc.returncode == 1
    emitted = doc["results"][0]["gate"]
    documented = _documented_result_gate()
    assert _shape(documented) == _shape(emitted)
    top = re.search(r"The top-level object is\s+`\{([^`]*)`", DOC)
    assert top, "docs/ci.md no longer describes the top-level gate object"
    assert re.findall(r'"(\w+)"', top.group(1)) == list(doc["gate"])
