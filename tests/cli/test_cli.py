"""The installed `wsep` command: entry points, exit codes, several files, help text."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from safetensors.numpy import save_file

from conftest import FIXTURES, REPO, run_json, run_wsep


def test_python_dash_m_matches_console_script() -> None:
    a = run_wsep("--version")
    b = subprocess.run([sys.executable, "-m", "wsep_cli", "--version"], capture_output=True, text=True)
    assert a.returncode == b.returncode == 0
    assert a.stdout == b.stdout and a.stdout.startswith("wsep ")


def test_help_lists_exit_codes() -> None:
    proc = run_wsep("score", "--help")
    assert proc.returncode == 0
    for code in ("0 ok", "1 a gate", "2 usage", "3 no classifier", "4 unreadable"):
        assert code in " ".join(proc.stdout.split())


def test_missing_path_is_usage_error() -> None:
    proc = run_wsep("score", "does/not/exist.safetensors")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_glob_matching_nothing_is_usage_error(tmp_path) -> None:
    proc = run_wsep("score", str(tmp_path / "*.safetensors"))
    assert proc.returncode == 2


def test_one_bad_file_does_not_stop_the_others_and_largest_code_wins(tmp_path) -> None:
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\x00\x01not a checkpoint" * 10)
    no_head = tmp_path / "no_head.safetensors"
    save_file({"bn.weight": np.ones(4, np.float32)}, str(no_head))
    good = FIXTURES / "digits_mlp.safetensors"
    proc, doc = run_json(str(good), str(no_head), str(garbage))
    assert proc.returncode == 4
    codes = [r["exit_code"] for r in doc["results"]]
    assert codes == [0, 3, 4]
    assert doc["results"][0]["heads"][0]["layer"] == "classifier.weight"
    assert "Traceback" not in proc.stderr
    proc, _ = run_json(str(good), str(no_head))
    assert proc.returncode == 3


def test_glob_expands_in_sorted_order(tmp_path) -> None:
    rng = np.random.default_rng(1)
    for name in ("b", "a"):
        save_file({"fc.weight": rng.standard_normal((3, 5)).astype(np.float32)}, str(tmp_path / f"{name}.safetensors"))
    proc, doc = run_json(str(tmp_path / "*.safetensors"))
    assert proc.returncode == 0
    assert [r["path"].rsplit("/", 1)[-1] for r in doc["results"]] == ["a.safetensors", "b.safetensors"]


def test_layer_option_and_layers_command(tmp_path) -> None:
    rng = np.random.default_rng(2)
    v = rng.standard_normal((4, 6))
    p = tmp_path / "m.safetensors"
    save_file({"fc.weight": rng.standard_normal((3, 6)).astype(np.float32), "proj.weight": v.astype(np.float64)}, str(p))
    proc, doc = run_json(str(p), "--layer", "proj")
    assert proc.returncode == 0
    head = doc["results"][0]["heads"][0]
    assert head["layer"] == "proj.weight" and head["located_by"] == "option"
    ref = float((((v @ v.T) - np.eye(4)) ** 2).sum() / 4)
    assert abs(head["epsilon"] - ref) <= 1e-12 * ref
    listing = run_wsep("layers", str(p))
    assert listing.returncode == 0
    chosen = [line for line in listing.stdout.splitlines() if line.startswith(" *")]
    assert len(chosen) == 1 and "fc.weight" in chosen[0]


def test_readme_first_command_fixture_exists() -> None:
    first = (REPO / "README.md").read_text().split("```bash", 1)[1].split("```", 1)[0]
    assert "wsep score fixtures/digits_mlp.safetensors" in first
    assert (FIXTURES / "digits_mlp.safetensors").exists()
