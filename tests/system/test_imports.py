"""Start-up hygiene: the fast paths never import the heavy libraries (issue 2 acc. 4, issue 5 acc. 1).

Each check runs the real CLI (``python -X importtime -m wsep_cli ...``, the same ``main`` as the
console script) in a fresh process and reads the list of every module it imported from
``-X importtime``; nothing is injected into the process.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURES, REPO, shared_file

# Never on the scoring paths: each costs 0.3-8 s of import time.
HEAVY = ("torch", "torchvision", "timm", "onnx", "onnxscript", "matplotlib")
# Also kept off `wsep --help` and `wsep score --json` for speed (typer would pull in pydantic;
# rich only draws tables; scipy is not needed by the metrics).
SLOW = ("pydantic", "rich", "scipy", "sklearn")


def imported_modules(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSEP_")}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "wsep_cli", *args],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=120, stdin=subprocess.DEVNULL,
    )
    mods = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            mods.add(line.rsplit("|", 1)[1].strip())
    assert "wsep_cli.cli.app" in mods, proc.stderr[-2000:]
    return proc, mods


def roots(mods: set[str], banned: tuple[str, ...]) -> list[str]:
    return sorted({m for m in mods if m.split(".")[0] in banned})


def test_help_imports_nothing_heavy() -> None:
    proc, mods = imported_modules("--help")
    assert proc.returncode == 0
    assert roots(mods, HEAVY + SLOW) == []
    assert "numpy" not in mods  # help needs no numbers at all


def test_score_safetensors_json_imports_nothing_heavy() -> None:
    proc, mods = imported_modules("score", "--json", str(FIXTURES / "digits_mlp.safetensors"))
    assert proc.returncode == 0, proc.stderr[-500:]
    assert json.loads(proc.stdout)["results"][0]["status"] == "ok"
    assert roots(mods, HEAVY + SLOW) == []


def test_score_safetensors_table_imports_nothing_heavy() -> None:
    proc, mods = imported_modules("score", str(FIXTURES / "digits_mlp.safetensors"))
    assert proc.returncode == 0
    assert roots(mods, HEAVY) == []


def test_score_sharded_safetensors_imports_nothing_heavy() -> None:
    proc, mods = imported_modules("score", "--json", str(FIXTURES / "digits_mlp_sharded"))
    assert proc.returncode == 0, proc.stderr[-500:]
    assert roots(mods, HEAVY + SLOW) == []


def _needs_reader(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not written yet")


@pytest.mark.parametrize("name", ["digits_mlp.pt", "digits_mlp_legacy.pt"])
def test_score_pytorch_files_without_torch(name: str) -> None:
    _needs_reader("wsep_cli.readers.pytorch.reader")
    path = FIXTURES / name
    if not path.exists():
        pytest.skip(f"fixture {name} not built")
    proc, mods = imported_modules("score", "--json", str(path))
    assert proc.returncode == 0, proc.stderr[-500:]
    assert roots(mods, HEAVY + SLOW) == []
    assert "pickletools" not in mods  # ~20 ms; the opcode table is written out in _pickle_scan


def test_score_without_gate_settings_skips_the_gate_modules() -> None:
    """No threshold and no baseline: the gate and baseline code is never loaded (start-up time)."""
    proc, mods = imported_modules("score", "--json", str(FIXTURES / "digits_mlp.safetensors"))
    assert proc.returncode == 0, proc.stderr[-500:]
    assert {"wsep_cli.gate.checks", "wsep_cli.gate.verdicts", "wsep_cli.gate.baseline"} & mods == set()
    proc, mods = imported_modules("score", "--json", "--max-epsilon", "1e9", str(FIXTURES / "digits_mlp.safetensors"))
    assert proc.returncode == 0, proc.stderr[-500:]
    assert "wsep_cli.gate.checks" in mods


def test_score_real_resnet32_without_torch() -> None:
    _needs_reader("wsep_cli.readers.pytorch.reader")
    path = shared_file("akamaster_pytorch_resnet_cifar10/resnet32-d509ac18.th")
    proc, mods = imported_modules("score", "--json", str(path))
    assert proc.returncode == 0, proc.stderr[-500:]
    head = json.loads(proc.stdout)["results"][0]["heads"][0]
    assert head["num_classes"] == 10 and head["num_features"] == 64
    assert roots(mods, HEAVY + SLOW) == []


@pytest.mark.parametrize("rel", ["fixtures/digits_mlp.onnx", "shared:microsoft_windows_machine_learning/ImageClassifier.onnx"])
def test_score_onnx_without_onnx_or_torch(rel: str) -> None:
    """The ONNX reader parses protobuf with wsep's own wire reader: neither onnx nor torch is imported."""
    _needs_reader("wsep_cli.readers.onnx.reader")
    path = shared_file(rel.split(":", 1)[1]) if rel.startswith("shared:") else REPO / rel
    proc, mods = imported_modules("score", "--json", str(path))
    assert proc.returncode == 0, proc.stderr[-500:]
    assert json.loads(proc.stdout)["results"][0]["heads"][0]["layer"] in ("classifier.weight", "fc1.weight")
    assert roots(mods, HEAVY + SLOW) == []
    assert "google" not in {m.split(".")[0] for m in mods}  # no protobuf runtime either


def test_metrics_module_never_imports_torch() -> None:
    code = (
        "import sys, numpy as np\n"
        "from wsep_cli.metrics import compute_metrics\n"
        "compute_metrics(np.random.default_rng(0).standard_normal((50, 8)))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'scipy', 'sklearn')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_fast_typer_keeps_option_semantics(tmp_path: Path) -> None:
    """A bad float is still a usage error (exit 2); a good one still gates."""
    from conftest import run_wsep

    st = str(FIXTURES / "digits_mlp.safetensors")
    bad = run_wsep("score", "--max-epsilon", "abc", st)
    assert bad.returncode == 2 and "--max-epsilon" in bad.stderr
    gate = run_wsep("score", "--json", "--max-epsilon", "1e-9", st)
    assert gate.returncode == 1
    ok = run_wsep("score", "--json", "--max-epsilon", "1e9", "-o", str(tmp_path / "r.json"), st)
    assert ok.returncode == 0 and json.loads((tmp_path / "r.json").read_text())["results"]
