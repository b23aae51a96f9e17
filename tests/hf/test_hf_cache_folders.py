"""Folders inside the Hugging Face download cache scored as local models (issue 12, follow-up).

The cache is written by the real huggingface_hub client (``hf_hub_download`` from
:class:`hub_server.LocalHub` on 127.0.0.1), so its layout is the client's own:
``models--org--NAME/{blobs/HASH, refs/main, snapshots/COMMIT/FILE -> ../../blobs/HASH}``. The models
are ``save_pretrained`` folders of tiny transformers configs (single file and ``max_shard_size`` shards).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

import hf_models as M  # skips without transformers / torch
from conftest import run_wsep
from hub_server import HubRepoFiles, LocalHub
from wsep_cli.pipeline import score_file

hf_hub = pytest.importorskip("huggingface_hub")

COMMIT = "89abcdef0123456789abcdef0123456789abcdef"
NAMES = ("vit", "gpt2_sharded", "bin_sharded")


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("saved")
    return {name: M.BUILDERS[name](root / name) for name in NAMES}


@pytest.fixture(scope="module")
def client_cache(saved: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every file of every repo downloaded by the client into a fresh cache (a user's full download)."""
    cache = tmp_path_factory.mktemp("hub-cache")
    with LocalHub({f"org/{n}": HubRepoFiles(p, COMMIT) for n, p in saved.items()}) as hub:
        for name, folder in saved.items():
            for f in sorted(p.name for p in folder.iterdir()):
                hf_hub.hf_hub_download(f"org/{name}", f, cache_dir=cache, endpoint=hub.url)
    return cache


@pytest.fixture()
def cache(client_cache: Path, tmp_path: Path) -> Path:
    """A private copy of the client's cache (symlinks kept as symlinks) that a test may tamper with."""
    copy = tmp_path / "hub"
    shutil.copytree(client_cache, copy, symlinks=True)
    return copy


def snapshot(cache: Path, name: str) -> Path:
    return cache / f"models--org--{name}" / "snapshots" / COMMIT


def _score(*paths: Path | str, env: dict[str, str] | None = None) -> tuple[Any, list[dict[str, Any]]]:
    proc = run_wsep("score", "--json", *map(str, paths), env=env)
    return proc, json.loads(proc.stdout)["results"]


def test_the_cache_is_the_clients_layout(client_cache: Path) -> None:
    snap = snapshot(client_cache, "gpt2_sharded")
    links = sorted(snap.iterdir())
    assert links and all(p.is_symlink() and os.readlink(p).startswith("../../blobs/") for p in links)
    assert (client_cache / "models--org--gpt2_sharded" / "refs" / "main").read_text() == COMMIT


@pytest.mark.parametrize("name,member,fmt,layer", [
    ("vit", "model.safetensors", "safetensors", "classifier.weight"),
    ("gpt2_sharded", "model.safetensors.index.json", "safetensors-sharded", "transformer.wte.weight"),
    ("bin_sharded", "pytorch_model.bin.index.json", "pytorch-sharded", "classifier.weight"),
])
def test_snapshot_folder_and_its_files_score_like_the_saved_folder(
        saved: dict[str, Path], client_cache: Path, name: str, member: str, fmt: str, layer: str) -> None:
    want = score_file(str(saved[name])).heads[0]
    snap = snapshot(client_cache, name)
    for spec in (snap, snap / member):  # the folder, and the file a user would name inside it
        proc, (res,) = _score(spec)
        assert res["path"] == str(snap if member.endswith(".index.json") else spec)
        assert proc.returncode == 0, proc.stderr
        assert (res["format"], res["heads"][0]["layer"]) == (fmt, layer), spec
        assert res["heads"][0]["epsilon"] == want.metrics.epsilon
        if res["path"] == str(snap):  # the folder, or its index (which names the folder's set)
            assert res["heads"][0]["reason"] == want.reason  # config.json read through its symlink too
        else:  # model.safetensors named alone is read by its content, as in any folder
            assert spec.name == "model.safetensors" and "config.json" not in res["heads"][0]["reason"]


def test_a_shard_inside_a_snapshot_scores_its_set(saved: dict[str, Path], client_cache: Path) -> None:
    snap = snapshot(client_cache, "gpt2_sharded")
    proc, (res,) = _score(snap / "model-00001-of-00013.safetensors")
    assert proc.returncode == 0, proc.stderr
    assert res["path"] == str(snap) and res["format"] == "safetensors-sharded"
    assert "part of the model in" in proc.stderr


def _blob(link: Path) -> Path:
    return Path(os.path.realpath(link))


@pytest.mark.parametrize("name,shard_of", [("gpt2_sharded", "transformer.wte.weight"),
                                           ("bin_sharded", "classifier.weight")])
def test_a_symlink_leaving_the_repos_cache_folder_is_refused(cache: Path, name: str, shard_of: str) -> None:
    snap = snapshot(cache, name)
    index = next(snap.glob("*.index.json"))
    shard = json.loads(index.read_text())["weight_map"][shard_of]
    other = _blob(snapshot(cache, "vit") / "model.safetensors")  # a blob of another repo, same cache
    (snap / shard).unlink()
    os.symlink(os.path.relpath(other, snap), snap / shard)
    proc, (res,) = _score(snap)
    assert proc.returncode == 4 and res["exit_code"] == 4
    assert "outside this snapshot's Hugging Face cache folder" in res["error"] and "refusing" in res["error"]
    assert str(other) in res["error"] and "Traceback" not in proc.stderr


def test_an_index_naming_blobs_with_dotdot_is_refused(cache: Path) -> None:
    """Inside a cache, shard names are still checked as names: no '..' even when it stays in the repo."""
    snap = snapshot(cache, "gpt2_sharded")
    index = snap / "model.safetensors.index.json"
    doc = json.loads(index.read_text())
    head_shard = doc["weight_map"]["transformer.wte.weight"]
    doc["weight_map"]["transformer.wte.weight"] = os.readlink(snap / head_shard)  # ../../blobs/HASH
    index.unlink()
    index.write_text(json.dumps(doc))
    proc, (res,) = _score(snap)
    assert proc.returncode == 4 and "climbs out of the folder with '..'" in res["error"]


def test_a_lookalike_folder_outside_the_cache_keeps_the_strict_rule(saved: dict[str, Path], tmp_path: Path) -> None:
    """A snapshot-shaped path whose revision is no commit hash is a plain folder: symlinks stay inside it."""
    repo = tmp_path / "models--org--fake"
    snap = repo / "snapshots" / "main"
    (repo / "blobs").mkdir(parents=True)
    shutil.copytree(saved["gpt2_sharded"], snap)
    index = snap / "model.safetensors.index.json"
    head_shard = json.loads(index.read_text())["weight_map"]["transformer.wte.weight"]
    os.replace(snap / head_shard, repo / "blobs" / "head")
    os.symlink("../../blobs/head", snap / head_shard)
    proc, (res,) = _score(snap)
    assert proc.returncode == 4 and "outside the model's folder" in res["error"]


def test_hf_spec_offline_reads_the_cached_shards(saved: dict[str, Path], client_cache: Path, tmp_path: Path) -> None:
    env = {"HF_HOME": str(tmp_path / "home"), "HF_HUB_CACHE": str(client_cache), "HF_HUB_OFFLINE": "1",
           "HF_HUB_DISABLE_TELEMETRY": "1", "HF_TOKEN": "", "HF_ENDPOINT": "http://127.0.0.1:9"}
    proc, (res,) = _score("hf:org/gpt2_sharded", env=env)
    assert proc.returncode == 0, proc.stderr
    assert res["heads"][0]["epsilon"] == score_file(str(saved["gpt2_sharded"])).heads[0].metrics.epsilon
    assert res["source"]["commit"] == COMMIT and res["source"]["bytes_downloaded"] == 0
    assert not (client_cache / ".wsep-ranges").exists()  # whole cached shards were read, nothing fetched
