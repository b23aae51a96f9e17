"""Sharded safetensors: shards written by the safetensors library, values and listing against the
library, only the needed shard touched, and every shard-path escape refused with exit 4."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

from conftest import run_wsep
from wsep_cli.errors import UnreadableError, UnsafeError
from wsep_cli.readers import open_reader
from wsep_cli.readers.safetensors.sharded import ShardedSafetensorsReader

RNG = np.random.default_rng(3)


def _eps(v: np.ndarray) -> float:
    v = v.astype(np.float64)
    return float(np.linalg.norm(v @ v.T - np.eye(v.shape[0])) ** 2 / v.shape[0])


def write_sharded(folder: Path, shards: list[dict[str, np.ndarray]], index_name: str = "model.safetensors.index.json") -> Path:
    """Hugging Face layout: model-0000k-of-0000N.safetensors plus an index with a weight_map."""
    folder.mkdir(parents=True, exist_ok=True)
    weight_map, total = {}, 0
    for k, tensors in enumerate(shards, 1):
        name = f"model-{k:05d}-of-{len(shards):05d}.safetensors"
        save_file(tensors, str(folder / name), metadata={"format": "np"})
        weight_map.update({t: name for t in tensors})
        total += sum(a.nbytes for a in tensors.values())
    index = folder / index_name
    index.write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2))
    return index


def _mlp_shards() -> list[dict[str, np.ndarray]]:
    return [
        {"features.0.weight": RNG.standard_normal((32, 64)).astype(np.float32),
         "features.0.bias": RNG.standard_normal(32).astype(np.float32)},
        {"classifier.weight": RNG.standard_normal((10, 32)).astype(np.float32),
         "classifier.bias": RNG.standard_normal(10).astype(np.float32)},
    ]


def test_folder_and_index_list_and_load_like_the_library(tmp_path: Path) -> None:
    shards = _mlp_shards()
    index = write_sharded(tmp_path / "m", shards)
    for spec in (tmp_path / "m", index):
        with open_reader(spec) as r:
            assert r.format == "safetensors-sharded"
            infos = {t.name: t for t in r.tensors()}
            assert set(infos) == {n for s in shards for n in s}
            for shard_file in sorted((tmp_path / "m").glob("*.safetensors")):
                ref = load_file(str(shard_file))
                with safe_open(str(shard_file), framework="np") as lib:
                    for name in lib.keys():
                        assert infos[name].shape == tuple(lib.get_slice(name).get_shape())
                        assert np.array_equal(r.load(name), ref[name])
            assert r.metadata()["total_size"] == str(sum(a.nbytes for s in shards for a in s.values()))


def test_fp16_and_bf16_shards_from_torch(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file as torch_save

    g = torch.Generator().manual_seed(0)
    w_bf16 = torch.randn(100, 48, generator=g).to(torch.bfloat16)
    w_fp16 = torch.randn(48, 80, generator=g).to(torch.float16)
    folder = tmp_path / "llm"
    folder.mkdir()
    torch_save({"body.weight": w_fp16}, str(folder / "model-00001-of-00002.safetensors"))
    torch_save({"lm_head.weight": w_bf16}, str(folder / "model-00002-of-00002.safetensors"))
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {
        "body.weight": "model-00001-of-00002.safetensors", "lm_head.weight": "model-00002-of-00002.safetensors"}}))
    with ShardedSafetensorsReader(folder) as r:
        dtypes = {t.name: t.dtype for t in r.tensors()}
        assert dtypes == {"body.weight": "float16", "lm_head.weight": "bfloat16"}
        assert np.array_equal(r.load("lm_head.weight").view(np.uint32), w_bf16.float().numpy().view(np.uint32))
        assert np.array_equal(r.load("body.weight"), w_fp16.numpy())
    proc = run_wsep("score", "--json", "--layer", "lm_head", str(folder))
    assert proc.returncode == 0, proc.stderr
    head = json.loads(proc.stdout)["results"][0]["heads"][0]
    assert (head["layer"], head["dtype"], head["num_classes"]) == ("lm_head.weight", "bfloat16", 100)
    assert head["epsilon"] == pytest.approx(_eps(w_bf16.double().numpy()), rel=1e-12)


def test_score_finds_the_head_in_its_shard(tmp_path: Path) -> None:
    shards = _mlp_shards()
    folder = tmp_path / "m"
    write_sharded(folder, shards, index_name="pytorch_model.safetensors.index.json")
    proc = run_wsep("score", "--json", str(folder))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)["results"][0]
    assert result["format"] == "safetensors-sharded"
    assert result["heads"][0]["layer"] == "classifier.weight"
    assert result["heads"][0]["epsilon"] == pytest.approx(_eps(shards[1]["classifier.weight"]), rel=1e-12)


def test_load_touches_only_the_shard_that_holds_the_tensor(tmp_path: Path) -> None:
    """After the index is opened, shard 1 is replaced by garbage: loading from shard 2 still works,
    so shard 1 was never read; listing (which needs every header) then fails cleanly."""
    shards = _mlp_shards()
    folder = tmp_path / "m"
    write_sharded(folder, shards)
    with ShardedSafetensorsReader(folder) as r:
        (folder / "model-00001-of-00002.safetensors").write_bytes(b"\x00" * 7)
        assert np.array_equal(r.load("classifier.weight"), shards[1]["classifier.weight"])
        with pytest.raises(UnreadableError):
            r.tensors()


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux /proc/self/io")
def test_scoring_reads_headers_and_the_head_only(tmp_path: Path) -> None:
    from test_safetensors_file import score_counting_reads, sparse_safetensors

    folder = tmp_path / "big"
    folder.mkdir()
    head = RNG.standard_normal((10, 16)).astype(np.float32)
    sparse_safetensors(folder / "model-00001-of-00002.safetensors", 200 * 2**20, np.zeros((1, 1), np.float32))
    save_file({"fc.weight": head}, str(folder / "model-00002-of-00002.safetensors"))
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {
        "big": "model-00001-of-00002.safetensors", "fc.weight": "model-00002-of-00002.safetensors"}}))
    result, read = score_counting_reads(folder, head, tmp_path)
    assert result.status == "ok" and result.heads[0].layer == "fc.weight"
    assert read < 2**20, f"read {read} bytes for a 200 MB shard set"
    assert result.heads[0].metrics.epsilon == pytest.approx(_eps(head), rel=1e-12)


def test_folder_with_one_model_safetensors_opens_it(tmp_path: Path) -> None:
    w = RNG.standard_normal((5, 9)).astype(np.float32)
    (tmp_path / "m").mkdir()
    save_file({"head.weight": w}, str(tmp_path / "m" / "model.safetensors"))
    (tmp_path / "m" / "config.json").write_text("{}")
    with open_reader(tmp_path / "m") as r:
        assert r.format == "safetensors"
        assert np.array_equal(r.load("head.weight"), w)


# --- refusals ------------------------------------------------------------------------------------
def _escape_cases(tmp_path: Path) -> dict[str, Path]:
    """Each case: a folder whose index names the head's shard in a way that leaves the folder."""
    outside = tmp_path / "outside.safetensors"
    save_file({"classifier.weight": np.eye(4, 6, dtype=np.float32)}, str(outside))
    cases: dict[str, Path] = {}
    for case, shard in {
        "dotdot": "../outside.safetensors",
        "dotdot_inner": "sub/../../outside.safetensors",
        "absolute": str(outside),
        "etc_passwd": "/etc/passwd",
        "backslash_dotdot": "..\\outside.safetensors",
        "symlink_out": "link.safetensors",
        "symlinked_dir_out": "linkdir/outside.safetensors",
    }.items():
        folder = tmp_path / case
        index = write_sharded(folder, _mlp_shards())
        doc = json.loads(index.read_text())
        doc["weight_map"]["classifier.weight"] = shard
        index.write_text(json.dumps(doc))
        cases[case] = folder
    os.symlink(outside, tmp_path / "symlink_out" / "link.safetensors")
    os.symlink(tmp_path, tmp_path / "symlinked_dir_out" / "linkdir")
    return cases


def test_shard_names_leaving_the_folder_are_refused(tmp_path: Path) -> None:
    for case, folder in _escape_cases(tmp_path).items():
        with pytest.raises(UnsafeError):
            ShardedSafetensorsReader(folder)
        with pytest.raises(UnsafeError):
            ShardedSafetensorsReader(folder / "model.safetensors.index.json")


def test_symlink_to_a_shard_inside_the_folder_is_fine(tmp_path: Path) -> None:
    shards = _mlp_shards()
    folder = tmp_path / "m"
    index = write_sharded(folder, shards)
    (folder / "store").mkdir()
    os.replace(folder / "model-00002-of-00002.safetensors", folder / "store" / "blob")
    os.symlink("store/blob", folder / "model-00002-of-00002.safetensors")
    with open_reader(index) as r:
        assert np.array_equal(r.load("classifier.weight"), shards[1]["classifier.weight"])


def test_escapes_and_broken_indexes_exit_4_with_one_line(tmp_path: Path) -> None:
    bad = dict(_escape_cases(tmp_path))
    for case, text in {
        "index_not_json": "{ weight_map: nope",
        "no_weight_map": json.dumps({"metadata": {}}),
        "shard_not_string": json.dumps({"weight_map": {"fc.weight": 3}}),
        "missing_shard": json.dumps({"weight_map": {"fc.weight": "nope.safetensors"}}),
    }.items():
        (tmp_path / case).mkdir()
        (tmp_path / case / "model.safetensors.index.json").write_text(text)
        bad[case] = tmp_path / case
    lying = tmp_path / "lying_index"
    index = write_sharded(lying, _mlp_shards())
    doc = json.loads(index.read_text())
    doc["weight_map"]["ghost.weight"] = "model-00001-of-00002.safetensors"
    index.write_text(json.dumps(doc))
    bad["tensor_not_in_shard"] = lying
    (tmp_path / "empty_folder").mkdir()

    proc = run_wsep("score", "--json", *(str(p) for p in bad.values()))
    assert proc.returncode == 4
    results = {r["path"]: r for r in json.loads(proc.stdout)["results"]}
    for case, p in bad.items():
        assert (results[str(p)]["status"], results[str(p)]["exit_code"]) == ("error", 4), case
    for case in ("dotdot", "absolute", "etc_passwd", "symlink_out"):
        assert "refusing" in results[str(bad[case])]["error"], case
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == len(bad) and "Traceback" not in proc.stderr
    empty = run_wsep("score", "--json", str(tmp_path / "empty_folder"))  # nothing to read: a usage error
    assert empty.returncode == 2 and "holds no checkpoint" in empty.stderr and empty.stdout == ""
