"""``hf:ORG/NAME[@REV]`` and ``timm:NAME.TAG`` against the real huggingface_hub client (issue 12, parts 2-3).

The Hub is :class:`hub_server.LocalHub` on 127.0.0.1 (``HF_ENDPOINT``), serving real files written by
``save_pretrained`` with Range support; it counts every body byte it sends. The cache is the one the
client itself lays out under ``HF_HOME``; nothing is written into it by hand.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

import hf_models as M  # skips without transformers / torch
from conftest import REPO, run_wsep
from hub_server import HubRepoFiles, LocalHub
from wsep_cli.pipeline import score_file

hf_hub = pytest.importorskip("huggingface_hub")

COMMIT = "0123456789abcdef0123456789abcdef01234567"
TOKEN = "hf_local_test_token"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("repos")
    return {name: M.BUILDERS[name](root / name) for name in ("vit", "gpt2_sharded", "bin_only")}


@pytest.fixture()
def hub(models: dict[str, Path]) -> Iterator[LocalHub]:
    repos = {
        "org/vit": HubRepoFiles(models["vit"], COMMIT),
        "org/gpt2-sharded": HubRepoFiles(models["gpt2_sharded"], COMMIT),
        "org/gated": HubRepoFiles(models["vit"], COMMIT, gated_token=TOKEN),
        "org/bin-only": HubRepoFiles(models["bin_only"], COMMIT),
    }
    with LocalHub(repos) as h:
        yield h


def _env(hub: LocalHub | None, home: Path, **extra: str) -> dict[str, str]:
    env = {"HF_HOME": str(home), "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
           "HF_TOKEN": "", "HF_ENDPOINT": hub.url if hub is not None else "http://127.0.0.1:9"}
    env.update(extra)
    return env


def _score(spec: str, env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    proc = run_wsep("score", "--json", spec, *args, env=env)
    doc = json.loads(proc.stdout)
    return proc, doc["results"][0]


def _header_len(path: Path) -> int:
    return struct.unpack("<Q", path.read_bytes()[:8])[0]


def _tensor_bytes(path: Path, name: str) -> int:
    hlen = _header_len(path)
    header = json.loads(path.read_bytes()[8:8 + hlen])
    start, end = header[name]["data_offsets"]
    return end - start


def test_remote_reads_only_the_header_and_the_head(hub: LocalHub, models: dict[str, Path], tmp_path: Path) -> None:
    folder = models["gpt2_sharded"]
    proc, res = _score("hf:org/gpt2-sharded", _env(hub, tmp_path / "home"))
    assert proc.returncode == 0, proc.stderr
    local = score_file(str(folder))
    assert res["heads"][0]["layer"] == "transformer.wte.weight"
    assert res["heads"][0]["epsilon"] == local.heads[0].metrics.epsilon
    assert res["format"] == "safetensors-sharded"
    wmap = json.loads((folder / "model.safetensors.index.json").read_text())["weight_map"]
    head_shard = wmap["transformer.wte.weight"]
    expected = {("org/gpt2-sharded", "config.json"): (folder / "config.json").stat().st_size,
                ("org/gpt2-sharded", "model.safetensors.index.json"):
                    (folder / "model.safetensors.index.json").stat().st_size}
    for shard in set(wmap.values()):
        expected[("org/gpt2-sharded", shard)] = 8 + _header_len(folder / shard)
    expected[("org/gpt2-sharded", head_shard)] += _tensor_bytes(folder / head_shard, "transformer.wte.weight")
    assert dict(hub.served) == expected
    weights_total = sum((folder / s).stat().st_size for s in set(wmap.values()))
    moved = sum(v for (_, f), v in hub.served.items() if f.endswith(".safetensors"))
    assert moved < weights_total and res["source"]["bytes_downloaded"] == moved
    assert res["source"] == {"kind": "hub", "repo": "org/gpt2-sharded", "revision": "main", "commit": COMMIT,
                             "bytes_downloaded": moved}
    assert all(rng for method, path, rng in hub.requests if method == "GET" and path.endswith(".safetensors"))


def test_second_run_and_offline_read_the_cache(hub: LocalHub, tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc, first = _score("hf:org/vit", _env(hub, home))
    assert proc.returncode == 0, proc.stderr
    hub.served.clear()
    proc, again = _score("hf:org/vit", _env(hub, home))
    assert proc.returncode == 0 and hub.total_served() == 0  # a HEAD for the branch, no body byte
    assert again["source"]["bytes_downloaded"] == 0
    proc, offline = _score("hf:org/vit", _env(None, home, HF_HUB_OFFLINE="1"))
    assert proc.returncode == 0, proc.stderr
    assert offline["heads"][0]["epsilon"] == first["heads"][0]["epsilon"]
    assert offline["heads"][0]["cosine"]["most_similar"]["names"] is not None  # id2label from the cached config
    assert (home / "hub" / "models--org--vit" / "refs" / "main").read_text() == COMMIT  # the client's own layout


def test_offline_from_a_cache_the_client_downloaded(hub: LocalHub, models: dict[str, Path], tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    for name in ("config.json", "model.safetensors"):  # a user's earlier full download, by the client
        hf_hub.hf_hub_download("org/vit", name, cache_dir=cache, endpoint=hub.url)
    proc, res = _score("hf:org/vit", _env(None, tmp_path / "home", HF_HUB_CACHE=str(cache), HF_HUB_OFFLINE="1"))
    assert proc.returncode == 0, proc.stderr
    assert res["heads"][0]["epsilon"] == score_file(str(models["vit"])).heads[0].metrics.epsilon
    assert not (cache / ".wsep-ranges").exists()  # the whole cached file was read, nothing fetched


def test_revision_pins_a_commit(hub: LocalHub, tmp_path: Path) -> None:
    proc, res = _score("hf:org/vit", _env(hub, tmp_path / "home"), "--revision", COMMIT)
    assert proc.returncode == 0, proc.stderr
    assert (res["source"]["revision"], res["source"]["commit"]) == (COMMIT, COMMIT)
    proc, res = _score(f"hf:org/vit@{COMMIT}", _env(hub, tmp_path / "home"))
    assert proc.returncode == 0 and res["source"]["commit"] == COMMIT


@pytest.mark.parametrize("spec,extra,code,words", [
    ("hf:org/vit", {"HF_HUB_OFFLINE": "1"}, 2, "not in the local Hugging Face cache"),
    ("hf:org/missing", {}, 2, "no such model repo"),
    ("hf:org/gated", {}, 2, "gated"),
    ("hf:org/bin-only", {}, 4, "no model.safetensors"),
    ("hf:org/vit@nope", {}, 2, "no such revision"),
    ("hf:org//vit", {}, 2, "not a Hugging Face repo id"),
])
def test_errors_are_one_line(hub: LocalHub, tmp_path: Path, spec: str, extra: dict[str, str], code: int,
                             words: str) -> None:
    proc = run_wsep("score", spec, env=_env(hub, tmp_path / "home", **extra))
    assert proc.returncode == code, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("wsep: error:")]
    assert len(errors) == 1 and words in errors[0] and spec in errors[0]
    assert "Traceback" not in proc.stderr


def test_gated_repo_with_a_token(hub: LocalHub, tmp_path: Path) -> None:
    proc, res = _score("hf:org/gated", _env(hub, tmp_path / "home", HF_TOKEN=TOKEN))
    assert proc.returncode == 0, proc.stderr
    assert res["heads"][0]["layer"] == "classifier.weight"


def _imported_roots(args: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("WSEP_")}
    full.update(env)
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "wsep_cli", *args], capture_output=True,
                          text=True, cwd=REPO, env=full, timeout=120, stdin=subprocess.DEVNULL)
    mods = {line.rsplit("|", 1)[1].strip().split(".")[0] for line in proc.stderr.splitlines()
            if line.startswith("import time:") and line.count("|") == 2}
    return proc, mods


def test_timm_tagged_name_reads_the_hub_repo_without_torch(tmp_path: Path) -> None:
    timm = pytest.importorskip("timm")
    from timm.models._hub import save_for_hf

    M.torch.manual_seed(0)
    model = timm.create_model("test_vit", pretrained=False, num_classes=6)
    save_for_hf(model, str(tmp_path / "repo"), safe_serialization=True)
    with LocalHub({"timm/test_vit.r160_in1k": HubRepoFiles(tmp_path / "repo", COMMIT)}) as h:
        proc, mods = _imported_roots(["score", "--json", "timm:test_vit.r160_in1k"], _env(h, tmp_path / "home"))
    assert proc.returncode == 0, proc.stderr[-1500:]
    (res,) = json.loads(proc.stdout)["results"]
    assert res["heads"][0]["layer"] == "head.weight" and res["source"]["repo"] == "timm/test_vit.r160_in1k"
    assert "pretrained_cfg" in res["heads"][0]["reason"]
    assert {"torch", "timm"} & mods == set()
    assert "huggingface_hub" in mods


def test_local_files_never_import_the_hub_client(models: dict[str, Path]) -> None:
    proc, mods = _imported_roots(["score", "--json", str(models["vit"])], {})
    assert proc.returncode == 0, proc.stderr[-1500:]
    assert {"huggingface_hub", "torch", "timm", "transformers"} & mods == set()
