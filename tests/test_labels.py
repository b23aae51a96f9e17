"""Class names for the most similar pair: --labels FILE and the built-in lists."""

from __future__ import annotations

import numpy as np
from safetensors.numpy import save_file

from conftest import run_json, run_wsep
from wsep_cli._class_names import CIFAR100, imagenet1k
from wsep_cli.labels import CIFAR10


def _head_with_known_pair(tmp_path, n: int):
    rng = np.random.default_rng(0)
    v = rng.standard_normal((n, 3 * n))
    v[n - 1] = v[1] + 0.01 * rng.standard_normal(3 * n)  # classes 1 and n-1 nearly parallel
    p = tmp_path / "m.safetensors"
    save_file({"fc.weight": v.astype(np.float32)}, str(p))
    return p


def test_builtin_lists_have_the_right_sizes() -> None:
    assert len(CIFAR10) == 10 and len(set(CIFAR10)) == 10
    assert len(CIFAR100) == 100 and len(set(CIFAR100)) == 100 and list(CIFAR100) == sorted(CIFAR100)
    names = imagenet1k()
    assert len(names) == 1000 and names[0] == "tench" and names[1] == "goldfish"


def test_labels_file_names_the_most_similar_pair(tmp_path) -> None:
    p = _head_with_known_pair(tmp_path, 5)
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\nc\nd\ne\n")
    proc, doc = run_json(str(p), "--labels", str(labels))
    assert proc.returncode == 0, proc.stderr
    ms = doc["results"][0]["heads"][0]["cosine"]["most_similar"]
    assert ms["classes"] == [1, 4] and ms["names"] == ["b", "e"]


def test_cifar10_names_apply_only_when_n_matches(tmp_path) -> None:
    p = _head_with_known_pair(tmp_path, 10)
    _, doc = run_json(str(p), "--class-names", "cifar10")
    assert doc["results"][0]["heads"][0]["cosine"]["most_similar"]["names"] == ["automobile", "truck"]
    q = _head_with_known_pair(tmp_path / "..", 5)
    _, doc = run_json(str(q), "--class-names", "cifar10")
    assert doc["results"][0]["heads"][0]["cosine"]["most_similar"]["names"] is None


def test_unknown_builtin_list_is_usage_error(tmp_path) -> None:
    p = _head_with_known_pair(tmp_path, 4)
    assert run_wsep("score", str(p), "--class-names", "nope").returncode == 2
    assert run_wsep("score", str(p), "--labels", str(tmp_path / "missing.txt")).returncode == 2
