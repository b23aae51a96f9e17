"""`wsep plot`: the panels' data on planted geometry, and a real PNG of sensible size."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from conftest import run_wsep
from wsep_cli.metrics import epsilon
from wsep_cli.plots import MAX_HEATMAP_CLASSES, most_confused, plot_data, render_png

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _orthonormal_rows(n: int, m: int, seed: int = 0) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(m, n)))
    return q.T  # n x m, orthonormal rows


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_clustering_puts_similar_classes_next_to_each_other() -> None:
    base = _orthonormal_rows(2, 8)
    rng = np.random.default_rng(1)
    v = np.stack([base[i % 2] + 0.05 * rng.normal(size=8) for i in range(6)])  # groups {0,2,4} and {1,3,5}
    order = list(plot_data(v).classes)
    assert sorted(order) == list(range(6))
    groups = [i % 2 for i in order]
    assert groups in ([0, 0, 0, 1, 1, 1], [1, 1, 1, 0, 0, 0])


def test_most_confused_finds_the_planted_pairs() -> None:
    u = _orthonormal_rows(50, 64)
    u[40] = 0.9 * u[10] + np.sqrt(1 - 0.81) * u[40]  # cos(10, 40) = 0.9
    u[4] = 0.5 * u[3] + np.sqrt(0.75) * u[4]  # cos(3, 4) = 0.5
    assert list(most_confused(u, 2)) == [10, 40]
    assert list(most_confused(u, 4)) == [3, 4, 10, 40]


def test_large_n_shows_the_most_confused_classes() -> None:
    n = MAX_HEATMAP_CLASSES + 44
    v = 2.0 * _orthonormal_rows(n, n + 20)
    v[123] = v[7] + 0.1 * v[123]
    d = plot_data(v)
    assert len(d.classes) == MAX_HEATMAP_CLASSES and {7, 123} <= set(d.classes.tolist())
    assert d.cos_block.shape == (MAX_HEATMAP_CLASSES, MAX_HEATMAP_CLASSES)
    assert d.off_diagonal.size == n * (n - 1) // 2 and not d.hist_sampled
    assert d.norms[0] == pytest.approx(2.0)
    np.testing.assert_allclose(d.singular_values, np.linalg.svd(v, compute_uv=False))
    assert d.epsilon == pytest.approx(epsilon(v))


def test_histogram_samples_classes_beyond_4096() -> None:
    v = np.random.default_rng(2).normal(size=(4100, 8))
    d = plot_data(v)
    assert d.hist_sampled and d.off_diagonal.size == 4096 * 4095 // 2


def test_render_png_is_a_real_four_panel_png(tmp_path: Path) -> None:
    v = np.random.default_rng(3).normal(size=(12, 32)) / np.sqrt(32)
    out = render_png(plot_data(v), tmp_path / "p.png", file="m.safetensors", layer="fc.weight", names=[f"c{i}" for i in range(12)])
    w, h = _png_size(out)
    assert 800 <= w <= 3000 and 700 <= h <= 3000
    assert 20_000 < out.stat().st_size < 3_000_000
    import matplotlib.image as mpimg

    img = mpimg.imread(out)[..., :3]
    hh, ww = img.shape[0] // 2, img.shape[1] // 2
    for quadrant in (img[:hh, :ww], img[:hh, ww:], img[hh:, :ww], img[hh:, ww:]):
        assert (quadrant.min(axis=2) < 0.5).mean() > 0.01  # every panel draws something dark


def test_wsep_plot_command(tmp_path: Path) -> None:
    ckpt = tmp_path / "m.safetensors"
    v = np.random.default_rng(4).normal(size=(10, 24)).astype(np.float32)
    save_file({"body.weight": np.ones((24, 5), np.float32), "fc.weight": v}, str(ckpt))
    out = tmp_path / "out.png"
    proc = run_wsep("plot", str(ckpt), "-o", str(out), "--layer", "fc.weight")
    assert proc.returncode == 0, proc.stderr
    assert _png_size(out)[0] >= 800
    assert "fc.weight" in proc.stdout and f"{epsilon(v.astype(np.float64)):.6g}" in proc.stdout
    assert run_wsep("plot", str(tmp_path / "missing.safetensors"), "-o", str(out)).returncode == 2
    assert run_wsep("plot", str(ckpt), "-o", str(tmp_path / "no" / "dir" / "x.png")).returncode == 2


def test_a_head_above_the_exact_pair_limit_plots_from_the_sampled_metrics(tmp_path: Path) -> None:
    """n > EXACT_PAIR_LIMIT_CPU: the plot uses the same blocked, sampled metrics as ``score`` (same ε,
    estimated pair statistics) and draws a bounded subsample that still holds the most similar pair."""
    from conftest import run_cli, run_cli_json
    from wsep_cli.metrics import compute_metrics_detail
    from wsep_cli.metrics.config import EXACT_PAIR_LIMIT_CPU

    n, m = EXACT_PAIR_LIMIT_CPU + 7232, 16
    v = np.random.default_rng(6).normal(size=(n, m)).astype(np.float32)
    detail = compute_metrics_detail(v)
    cos = detail.metrics.cosine
    assert cos is not None and cos.estimated  # beyond the exact-pair limit the pair statistics are sampled
    d = plot_data(v, detail)
    assert len(d.classes) == MAX_HEATMAP_CLASSES
    assert set(cos.most_similar.classes) <= set(d.classes.tolist())
    assert d.hist_sampled and d.off_diagonal.size == 4096 * 4095 // 2
    assert d.norms.shape == (n,) and d.singular_values.shape == (m,)
    ckpt = tmp_path / "wide.safetensors"
    save_file({"fc.weight": v}, str(ckpt))
    out = tmp_path / "wide.png"
    proc = run_cli("plot", str(ckpt), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert _png_size(out)[0] >= 800
    _, doc = run_cli_json(str(ckpt))
    score_eps = doc["results"][0]["heads"][0]["epsilon"]
    assert score_eps == pytest.approx(epsilon(v.astype(np.float64)), rel=1e-12)
    assert f"epsilon {score_eps:.6g}" in proc.stdout  # the plot reports the number score gives
