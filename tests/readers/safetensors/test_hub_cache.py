"""Sharded safetensors inside a Hugging Face cache snapshot, laid out by hand exactly as the client does.

``models--org--NAME/blobs/<sha256>`` holds the bytes, ``snapshots/<commit>/<file>`` are relative
symlinks ``../../blobs/<sha256>``, ``refs/main`` names the commit. (tests/hf/test_hf_cache_folders.py
does the same with a cache the real client downloaded.) Without transformers or the hub client.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from conftest import run_wsep
from wsep_cli.errors import UnsafeError
from wsep_cli.readers.safetensors.hub_cache import hub_cache_repo, shard_path
from wsep_cli.readers.safetensors.sharded import ShardedSafetensorsReader

COMMIT = "fedcba9876543210fedcba9876543210fedcba98"
RNG = np.random.default_rng(7)
HEAD = RNG.standard_normal((6, 16)).astype(np.float32)


def _add(repo: Path, rel: str, data: bytes) -> None:
    """Store ``data`` as a blob and link ``snapshots/COMMIT/rel`` to it, as huggingface_hub does."""
    digest = hashlib.sha256(data).hexdigest()
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    (repo / "blobs" / digest).write_bytes(data)
    link = repo / "snapshots" / COMMIT / rel
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(repo / "blobs" / digest, link.parent), link)


def cached_repo(cache: Path, name: str = "net", sub: str = "") -> Path:
    """A two-shard model in ``cache``; returns the snapshot folder (``sub``: a subfolder of the repo)."""
    repo = cache / f"models--org--{name}"
    shards = {"model-00001-of-00002.safetensors": {"body.weight": RNG.standard_normal((16, 8)).astype(np.float32)},
              "model-00002-of-00002.safetensors": {"fc.weight": HEAD}}
    tmp = cache / "tmp.safetensors"
    wmap = {}
    for shard, tensors in shards.items():
        save_file(tensors, str(tmp))
        _add(repo, f"{sub}{shard}", tmp.read_bytes())
        wmap.update(dict.fromkeys(tensors, shard))
    tmp.unlink()
    _add(repo, f"{sub}model.safetensors.index.json", json.dumps({"weight_map": wmap}).encode())
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(COMMIT)
    return repo / "snapshots" / COMMIT / sub.rstrip("/")


def test_a_snapshot_reads_through_its_blob_symlinks(tmp_path: Path) -> None:
    snap = cached_repo(tmp_path)
    assert hub_cache_repo(snap) == tmp_path.resolve() / "models--org--net"
    for spec in (snap, snap / "model.safetensors.index.json"):
        r = ShardedSafetensorsReader(spec)
        assert np.array_equal(r.load("fc.weight"), HEAD)
        r.close()


def test_a_subfolder_of_a_snapshot_counts_too(tmp_path: Path) -> None:
    snap = cached_repo(tmp_path, sub="text_encoder/")
    assert hub_cache_repo(snap) == tmp_path.resolve() / "models--org--net"
    assert np.array_equal(ShardedSafetensorsReader(snap).load("fc.weight"), HEAD)


def test_symlinks_leaving_the_repos_cache_folder_are_refused(tmp_path: Path) -> None:
    snap = cached_repo(tmp_path)
    other = cached_repo(tmp_path, name="other")
    outside = tmp_path / "elsewhere.safetensors"
    save_file({"fc.weight": HEAD}, str(outside))
    link = snap / "model-00002-of-00002.safetensors"
    for target in (os.path.relpath(os.path.realpath(other / link.name), snap), str(outside)):
        link.unlink()
        os.symlink(target, link)
        with pytest.raises(UnsafeError, match="outside this snapshot's Hugging Face cache folder"):
            ShardedSafetensorsReader(snap)
        with pytest.raises(UnsafeError):
            shard_path(snap, link.name)


def test_lookalike_folders_are_not_caches(tmp_path: Path) -> None:
    snap = cached_repo(tmp_path)
    assert hub_cache_repo(tmp_path) is None and hub_cache_repo(snap.parent) is None
    renamed = snap.parent / "main"  # a branch name, not the commit hash the client always uses
    os.rename(snap, renamed)
    assert hub_cache_repo(renamed) is None
    with pytest.raises(UnsafeError, match="outside the model's folder"):
        ShardedSafetensorsReader(renamed)
    os.rename(renamed, snap)
    os.rename(tmp_path / "models--org--net" / "blobs", tmp_path / "models--org--net" / "data")
    assert hub_cache_repo(snap) is None  # no blobs/ beside snapshots/


def test_cli_scores_the_snapshot_and_refuses_an_escape(tmp_path: Path) -> None:
    snap = cached_repo(tmp_path)
    proc = run_wsep("score", "--json", str(snap))
    assert proc.returncode == 0, proc.stderr
    (res,) = json.loads(proc.stdout)["results"]
    g = HEAD.astype(np.float64) @ HEAD.T.astype(np.float64) - np.eye(6)
    assert res["heads"][0]["layer"] == "fc.weight"
    assert res["heads"][0]["epsilon"] == pytest.approx(float((g * g).sum() / 6), rel=1e-12)
    link = snap / "model-00002-of-00002.safetensors"
    link.unlink()
    os.symlink("../../../elsewhere", link)  # tmp_path/elsewhere, beside the repo
    (tmp_path / "elsewhere").write_bytes(b"x")
    proc = run_wsep("score", str(snap))
    assert proc.returncode == 4
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("wsep: error:")]
    assert len(errors) == 1 and "Hugging Face cache folder" in errors[0] and "refusing" in errors[0]
