"""One reading -> locating -> scoring path for score, layers, plot and compare (issue 13, point 1):
the same head and the same exit code for every fixture, corpus and real file; a bug in locating is an
internal error, never "malformed input"; the package's stages import no CLI code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import FIXTURES, REPO, SHARED_DATA, run_cli, run_cli_json

FILES = sorted(
    [p for p in FIXTURES.iterdir() if p.suffix in (".safetensors", ".pt", ".onnx") or p.is_dir()]
    + [p for p in (REPO / "tests" / "corpus").iterdir() if p.suffix != ".note"]
    + [SHARED_DATA / rel for rel in (
        "akamaster_pytorch_resnet_cifar10/resnet20-12fca82f.th",
        "microsoft_windows_machine_learning/myFirstModel.pth",
        "microsoft_windows_machine_learning/ImageClassifier.onnx",
        "karelnagel_denograd/mnist.safetensors",
    )]
)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_score_layers_and_plot_choose_the_same_head_and_code(path: Path, tmp_path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared/data)")
    pytest.importorskip("matplotlib")
    from wsep_cli.errors import WsepError
    from wsep_cli.pipeline import ScoreOptions, list_layers
    from wsep_cli.plots import plot_checkpoint

    proc, doc = run_cli_json(str(path))
    (result,) = doc["results"]
    try:
        listing = list_layers(str(path))
        layers_head = next((r.name for r in listing.rows if r.chosen), None)
        layers_code = 3 if listing.error else 0
    except WsepError as e:
        layers_head, layers_code = None, int(e.exit_code)
    try:
        plotted = plot_checkpoint(str(path), tmp_path / "p.png", ScoreOptions())
        plot_head, plot_code = plotted.layer, 0
    except WsepError as e:
        plot_head, plot_code = None, int(e.exit_code)
    score_head = result["heads"][0]["layer"] if result["heads"] else None
    assert plot_head == score_head and plot_code == result["exit_code"] == proc.returncode
    if result["exit_code"] in (0, 3):  # layers lists what it can read, also when nothing is a head
        assert layers_head == score_head and layers_code == result["exit_code"]
    elif layers_code == 0:  # values score refuses (NaN, overflow): layers reads no values, names the same head
        assert f"'{layers_head}'" in result["error"]
    else:
        assert layers_code == result["exit_code"]


def test_plot_refuses_overflowing_weights_like_score() -> None:
    pytest.importorskip("matplotlib")
    huge = REPO / "tests" / "corpus" / "safetensors-crash-huge-float64.safetensors"
    score = run_cli("score", str(huge))
    plot = run_cli("plot", str(huge), "-o", "/dev/null.png")
    assert score.returncode == plot.returncode == 4
    assert "overflow" in plot.stderr and "internal error" not in plot.stderr


def test_a_bug_in_locate_is_an_internal_error_not_a_malformed_file(monkeypatch: pytest.MonkeyPatch) -> None:
    import wsep_cli.pipeline.heads as pipeline

    def broken(*_a: object, **_k: object) -> None:
        raise ValueError("a bug in the locator")

    monkeypatch.setattr(pipeline, "locate", broken)
    proc = run_cli("score", str(FIXTURES / "digits_mlp.safetensors"))
    assert "internal error: ValueError: a bug in the locator" in proc.stderr
    assert "malformed" not in proc.stderr and "unreadable" not in proc.stderr


def test_no_library_module_imports_the_cli() -> None:
    offenders = []
    for py in (REPO / "wsep_cli").rglob("*.py"):
        if "cli" in py.relative_to(REPO / "wsep_cli").parts[:1] or py.name == "__main__.py":
            continue  # the CLI itself, and `python -m wsep_cli` which runs it
        for node in ast.walk(ast.parse(py.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else (
                [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            offenders += [f"{py.name}: {n}" for n in names if n == "wsep_cli.cli" or n.startswith("wsep_cli.cli.")]
    assert offenders == []
