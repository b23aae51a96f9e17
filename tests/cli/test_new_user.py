"""What a new user hit with ``wsep score``/``layers``/``plot``/``compare`` (issue 14): each test names
its point and fails on the behaviour reported there. In-process (conftest.run_cli) unless the process
matters (a terminal, the installed script)."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import shutil
import struct
import subprocess
import termios
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from conftest import FIXTURES, run_cli, run_cli_json, wsep_executable

SHARDED = FIXTURES / "digits_mlp_sharded"


def _save(path: Path, v: np.ndarray, **extra: np.ndarray) -> Path:
    save_file({"fc.weight": v.astype(np.float32), **extra}, str(path))
    return path


# ------------------------------------------------------------------ 2, 7: globs, shards and folders


def test_2_a_glob_over_a_sharded_set_scores_the_set_once(tmp_path: Path) -> None:
    models = tmp_path / "models"
    shutil.copytree(SHARDED, models / "digits_mlp_sharded")
    (models / "sub").mkdir()
    shutil.copy(FIXTURES / "digits_mlp.safetensors", models / "sub")
    proc, doc = run_cli_json("models/**/*.safetensors", "--max-abs-cos", "0.7", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # no hidden layer of a shard is gated
    got = [(r["path"], [h["layer"] for h in r["heads"]]) for r in doc["results"]]
    assert got == [("models/digits_mlp_sharded", ["classifier.weight"]),
                   ("models/sub/digits_mlp.safetensors", ["classifier.weight"])]
    assert "scored that set once" in proc.stderr


def test_7_folders_mean_a_model_or_every_checkpoint_in_them(tmp_path: Path) -> None:
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for name in ("digits_mlp.pt", "digits_mlp.onnx"):
        shutil.copy(FIXTURES / name, mixed)
    (mixed / "README.md").write_text("notes\n")
    proc, doc = run_cli_json(str(mixed))
    assert proc.returncode == 0, proc.stderr
    assert [Path(r["path"]).name for r in doc["results"]] == ["digits_mlp.onnx", "digits_mlp.pt"]

    proc, doc = run_cli_json(str(FIXTURES))  # every file named, the sharded folder once
    assert proc.returncode == 0, proc.stderr
    assert [Path(r["path"]).name for r in doc["results"]] == [
        "digits_mlp.onnx", "digits_mlp.pt", "digits_mlp.safetensors", "digits_mlp_legacy.pt", "digits_mlp_sharded"]
    table = run_cli("score", str(FIXTURES))
    assert table.returncode == 0 and table.stdout.count(" — classifier.weight") == 5
    assert "wsep: 5 files, 5 heads scored" in table.stdout

    proc, doc = run_cli_json(f"{tmp_path}/**/*")  # matches folders and a README: no exit 4
    assert proc.returncode == 0, proc.stderr
    assert len(doc["results"]) == 2 and "not checkpoints" in proc.stderr

    (tmp_path / "empty").mkdir()
    empty = run_cli("score", str(tmp_path / "empty"))
    assert empty.returncode == 2 and "holds no checkpoint" in empty.stderr


# ------------------------------------------------------------------ 4: silently accepted nonsense


def test_4_nonsense_options_are_refused_or_warned(tmp_path: Path) -> None:
    f = str(FIXTURES / "digits_mlp.safetensors")
    for args, needle in [
        (["--max-abs-cos", "1.5"], "--max-abs-cos"),
        (["--max-abs-cos", "90"], "--max-abs-cos"),
        (["--tolerance", "0.1"], "--baseline"),
        (["--json", "--format", "markdown"], "two formats"),
        (["--random-init"], "timm:NAME"),
    ]:
        proc = run_cli("score", f, *args)
        assert proc.returncode == 2 and needle in proc.stderr, (args, proc.stderr)
    labels = tmp_path / "three.txt"
    labels.write_text("a\nb\nc\n")
    for args in (["--labels", str(labels)], ["--class-names", "imagenet"]):
        proc, doc = run_cli_json(f, *args)
        (w,) = doc["results"][0]["heads"][0]["warnings"]
        assert "class names given for 10 classes" in w and "not used" in w and w in proc.stderr
    proc, doc = run_cli_json(str(FIXTURES / "digits_mlp.onnx"), "--arch", "resnet18")
    (w,) = doc["results"][0]["heads"][0]["warnings"]
    assert w.startswith("--arch resnet18 was not used") and "ONNX graph" in w


def test_4_a_threshold_below_the_floor_and_an_all_zero_head_are_named(tmp_path: Path) -> None:
    tall = _save(tmp_path / "tall.safetensors", np.random.default_rng(0).standard_normal((20, 4)))
    proc = run_cli("score", str(tall), "--max-epsilon-normalized", "0.5")
    assert proc.returncode == 1 and "can pass" in proc.stdout and "floor 4" in proc.stdout
    zero = _save(tmp_path / "zero.safetensors", np.zeros((10, 32)))
    proc, doc = run_cli_json(str(zero), "--max-abs-cos", "0.5")
    (w,) = doc["results"][0]["heads"][0]["warnings"]
    assert "every weight is zero" in w and w in proc.stderr


def test_4_plot_writes_the_format_its_suffix_names(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    f = str(FIXTURES / "digits_mlp.safetensors")
    for suffix, magic in ((".svg", b"<?xml"), (".pdf", b"%PDF"), (".png", b"\x89PNG")):
        out = tmp_path / f"g{suffix}"
        assert run_cli("plot", f, "-o", str(out)).returncode == 0
        assert out.read_bytes().startswith(magic), suffix
    proc = run_cli("plot", f, "-o", str(tmp_path / "g.jpg"))
    assert proc.returncode == 2 and ".svg" in proc.stderr and not (tmp_path / "g.jpg").exists()


# ------------------------------------------------------------------ 6, 9: errors once, with their path


def test_6_a_binary_baseline_is_a_usage_error(tmp_path: Path) -> None:
    junk = tmp_path / "base.json"
    junk.write_bytes(bytes(range(256)) * 4)
    proc = run_cli("score", str(FIXTURES / "digits_mlp.safetensors"), "--baseline", str(junk))
    assert proc.returncode == 2 and "internal error" not in proc.stderr and str(junk) in proc.stderr


def test_9_each_error_is_one_stderr_line_naming_its_file(tmp_path: Path) -> None:
    nan = _save(tmp_path / "nan.safetensors", np.full((10, 32), np.nan))
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all, but long enough to sniff")
    proc = run_cli("score", str(FIXTURES / "digits_mlp.safetensors"), str(nan), str(junk))
    assert proc.returncode == 4
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"wsep: error: {nan}:") and str(junk) in lines[1]
    assert "nan.safetensors" not in proc.stdout and "junk.pt" not in proc.stdout  # not repeated in the table
    assert "3 files, 1 head scored, 2 could not be scored" in proc.stdout


# ------------------------------------------------------------------ 5, 10, 11: what the table says


def test_10_titles_stay_whole_columns_are_honoured_and_a_verdict_ends_the_run(tmp_path: Path) -> None:
    long = tmp_path / ("a_rather_long_checkpoint_file_name_from_a_sweep_" + "x" * 30 + ".safetensors")
    shutil.copy(FIXTURES / "digits_mlp.safetensors", long)
    proc = run_cli("score", str(long), str(FIXTURES / "digits_mlp.pt"), "--max-epsilon", "100",
                   env={"COLUMNS": "60"})
    assert proc.returncode == 0, proc.stderr
    assert f"{long} [safetensors] — classifier.weight" in proc.stdout  # soft-wrapped, never cut
    table_lines = [ln for ln in proc.stdout.splitlines() if ln[:1] in "┏┃┡│└"]
    assert table_lines and max(len(ln) for ln in table_lines) <= 60
    assert proc.stdout.rstrip().splitlines()[-1] == "wsep: 2 files, 2 heads scored, gate passed (2 checks)"


def test_11_scale_note_failing_pair_and_top_pairs_by_name() -> None:
    f = str(FIXTURES / "digits_mlp.safetensors")
    proc = run_cli("score", f, "--max-abs-cos", "0.5", "--class-names", "cifar10", "--top-pairs", "2")
    assert proc.returncode == 1
    assert "epsilon carries the weights' scale" in proc.stdout and "epsilon_normalized is the scale-free" in proc.stdout
    _, doc = run_cli_json(f, "--class-names", "cifar10", "--top-pairs", "2")
    cos = doc["results"][0]["heads"][0]["cosine"]
    worst = cos["least_similar"] if -cos["least_similar"]["cosine"] > cos["most_similar"]["cosine"] else cos["most_similar"]
    i, j = worst["classes"]
    assert f"classes {i} and {j}" in proc.stdout  # the pair behind abs_max, not the signed most similar
    assert [p["cosine"] for p in cos["top_pairs"]] == sorted((p["cosine"] for p in cos["top_pairs"]), reverse=True)
    assert cos["top_pairs"][0] == cos["most_similar"] and all(p["names"] for p in cos["top_pairs"])
    first = cos["top_pairs"][0]["names"]
    assert f"({first[0]}, {first[1]})" in proc.stdout


# ------------------------------------------------------------------ 12: compare


def test_12_compare_shows_shapes_and_warns_when_they_differ(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    a = _save(tmp_path / "a.safetensors", rng.standard_normal((10, 32)))
    b = _save(tmp_path / "b.safetensors", rng.standard_normal((12, 32)))
    proc = run_cli("compare", str(a), str(b))
    assert proc.returncode == 0
    assert "[A 10 × 32, B 12 × 32]" in proc.stdout and "differ in shape" in proc.stdout
    assert "without --layer" in proc.stdout and proc.stderr == ""  # shown once, in the table
    proc = run_cli("compare", str(a), str(b), "--format", "json")
    (h,) = json.loads(proc.stdout)["heads"]
    assert "differ in shape" in h["warning"] and "differ in shape" in proc.stderr


# ------------------------------------------------------------------ 8: progress on a terminal only


def test_8_progress_shows_on_a_terminal_and_never_on_a_pipe(tmp_path: Path) -> None:
    big = _save(tmp_path / "big.safetensors", np.random.default_rng(0).standard_normal((12000, 512)))
    args = [*wsep_executable(), "score", str(big), "--json", "--exact-pairs"]  # every pair: ~4 s
    piped = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert piped.returncode == 0 and piped.stderr == ""
    leader, follower = pty.openpty()
    # A wide terminal: on a new pty's default width a long temporary path wraps the line mid-word.
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 400, 0, 0))
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSEP_") and k not in ("COLUMNS", "LINES")}
    on_tty = subprocess.run(args, stdout=subprocess.PIPE, stderr=follower, env=env, timeout=300)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    assert on_tty.returncode == 0
    seen = b"".join(chunks).decode(errors="replace")
    assert "big.safetensors" in seen and " s)" in seen, seen[:500]


# ------------------------------------------------------------------ 14: CLI polish


def test_14_help_usage_completion_version_and_debug_anywhere() -> None:
    usage = run_cli("score", "--help").stdout
    assert "Usage: wsep score [OPTIONS] PATH..." in usage and "<list[str]>" not in usage and "{" not in usage
    for cmd in ("layers", "plot"):
        text = run_cli(cmd, "--help").stdout
        assert "Exit codes" in text and "1 a gate" not in text, cmd
    assert "--random-init" in run_cli("plot", "--help").stdout
    assert "--json" in run_cli("layers", "--help").stdout
    assert "--install-completion" in run_cli("--help").stdout
    from wsep_cli import __version__

    assert run_cli("-V").stdout.strip() == f"wsep {__version__}"
    f = str(FIXTURES / "digits_mlp.safetensors")
    proc = run_cli("layers", f, "--json")
    doc = json.loads(proc.stdout)
    assert proc.returncode == 0 and [r["name"] for r in doc["candidates"] if r["chosen"]] == ["classifier.weight"]
    after = run_cli("score", f, "--debug")  # accepted after the command, as before it
    assert after.returncode == 0 and "No such option" not in after.stderr
