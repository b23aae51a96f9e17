"""Resource abuse and path escapes: each hostile file is refused with exit 4 and one line, quickly and
with bounded memory, by the installed ``wsep``.

Files are grouped by kind and each group is scored by one ``wsep score --json`` process (per-file exit
codes come from the JSON document); the group's peak RSS (``wait4``) must stay within a fixed margin
of a control run on the valid fixtures, while the bombs would need gigabytes. The child also runs
under a 1.5 GiB RLIMIT_DATA so that a regression fails with MemoryError instead of exhausting the
machine, and such a message fails the test too. Path escapes each point at a *valid* file outside the
model folder, so a reader that followed them would succeed (exit 0) and fail the test; a control
inside the folder must succeed.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from conftest import FIXTURES
from hostile_files import (
    HEAD_STORAGE,
    Run,
    deflate_zeros,
    legacy_prefix,
    nested_dicts_pickle,
    nested_lists_pickle,
    rebuild_fixture_zip,
    run_measured,
    shared_dag_pickle,
    write_safetensors,
)

BOMB = 2 << 30  # what each zip bomb inflates to
DATA_LIMIT = 3 << 29  # 1.5 GiB for the child's heap
RSS_MARGIN_MIB = 128  # allowed above the control run's peak RSS
TIMEOUT = 60  # generous: a hang, not a speed target (refusals take well under 2 s, see docs/security.md)

Builder = Callable[[Path], Path]
rng = np.random.default_rng(0)
HEAD = rng.standard_normal((10, 32)).astype(np.float32)


# ------------------------------------------------------------------------------------- safetensors

def st_huge_header_length(d: Path) -> Path:
    p = d / "huge_len.safetensors"
    write_safetensors(p, {"classifier.weight": HEAD}, declared_len=2**62)
    return p


def st_header_over_limit(d: Path) -> Path:
    """A sparse 1.1 GiB file whose header claims 1 GiB: over the 100 MiB limit, and never read."""
    p = d / "big_header.safetensors"
    with p.open("wb") as fh:
        fh.write(struct.pack("<Q", 1 << 30) + b'{"a":')
        fh.truncate((1 << 30) + (100 << 20))
    return p


def st_overlap(d: Path) -> Path:
    p = d / "overlap.safetensors"
    patch = {"classifier.bias": {"dtype": "F32", "shape": [10], "data_offsets": [40, 80]}}
    write_safetensors(p, {"classifier.weight": HEAD, "classifier.bias": np.zeros(10, np.float32)}, patch)
    return p


def st_past_end(d: Path) -> Path:
    p = d / "past_end.safetensors"
    write_safetensors(p, {"classifier.weight": HEAD},
                      {"classifier.weight": {"dtype": "F32", "shape": [10, 32], "data_offsets": [1280, 2560]}})
    return p


def st_shape_overflow(d: Path) -> Path:
    """2**32 x 2**32 float32 elements: the product overflows int64 and matches no byte range."""
    p = d / "shape_overflow.safetensors"
    write_safetensors(p, {"classifier.weight": HEAD},
                      {"classifier.weight": {"dtype": "F32", "shape": [2**32, 2**32], "data_offsets": [0, 1280]}})
    return p


def st_shape_wraps_to_size(d: Path) -> Path:
    """A shape whose product wraps modulo 2**64 to exactly the stored byte count in C arithmetic."""
    p = d / "shape_wrap.safetensors"
    write_safetensors(p, {"classifier.weight": HEAD},
                      {"classifier.weight": {"dtype": "F32", "shape": [2**62 + 320, 1], "data_offsets": [0, 1280]}})
    return p


def st_deep_json(d: Path) -> Path:
    p = d / "deep_json.safetensors"
    text = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    write_safetensors(p, {"classifier.weight": HEAD}, raw_header=text)
    return p


# --------------------------------------------------------------------------------------- zip bombs

def zip_bomb_storage(d: Path) -> Path:
    """The head's storage entry inflates to 2 GiB (its declared size) instead of 1280 bytes."""
    comp, crc = deflate_zeros(BOMB)
    p = d / "bomb_storage.pt"
    rebuild_fixture_zip(p, {HEAD_STORAGE: (comp, crc, BOMB)})
    return p


def zip_bomb_pickle(d: Path) -> Path:
    comp, crc = deflate_zeros(BOMB)
    p = d / "bomb_pickle.pt"
    rebuild_fixture_zip(p, {"data.pkl": (comp, crc, BOMB)})
    return p


def zip_bomb_lying_size(d: Path) -> Path:
    """Declares the right 1280 bytes but the stream inflates to 2 GiB (its CRC is of those 2 GiB)."""
    comp, crc = deflate_zeros(BOMB)
    p = d / "bomb_lying.pt"
    rebuild_fixture_zip(p, {HEAD_STORAGE: (comp, crc, 1280)})
    return p


# ----------------------------------------------------------------------------------------- pickles

def _zip_with_pickle(d: Path, name: str, pkl: bytes) -> Path:
    p = d / name
    rebuild_fixture_zip(p, {"data.pkl": pkl})
    return p


def _legacy_with_pickle(d: Path, name: str, pkl: bytes) -> Path:
    p = d / name
    p.write_bytes(legacy_prefix() + pkl + b"\x80\x02]q\x00.")
    return p


def pkl_nested_lists_zip(d: Path) -> Path:
    return _zip_with_pickle(d, "nested_lists.pt", nested_lists_pickle(100_000))


def pkl_nested_dicts_zip(d: Path) -> Path:
    return _zip_with_pickle(d, "nested_dicts.pt", nested_dicts_pickle(100_000))


def pkl_nested_lists_legacy(d: Path) -> Path:
    return _legacy_with_pickle(d, "nested_lists_legacy.pt", nested_lists_pickle(100_000))


def pkl_shared_dag(d: Path) -> Path:
    """60 levels of [x, x] through the memo: 2**60 paths for a walker that does not track identity."""
    return _zip_with_pickle(d, "shared_dag.pt", shared_dag_pickle(60))


def pkl_huge_bytes_claim(d: Path) -> Path:
    """BINBYTES8 claiming 2**62 bytes: must not allocate what the pickle claims."""
    return _zip_with_pickle(d, "huge_claim.pt", b"\x80\x04\x8e" + struct.pack("<Q", 2**62) + b"abc.")


def legacy_storage_count(d: Path) -> Path:
    """A legacy raw storage whose element count says 2**60."""
    data = bytearray((FIXTURES / "digits_mlp_legacy.pt").read_bytes())
    p = d / "legacy_count.pt"
    # the raw storages follow the fifth pickle: u64 element count, then the elements
    import io
    import pickletools

    f = io.BytesIO(bytes(data))
    for _ in range(5):
        for _op in pickletools.genops(f):
            pass
    at = f.tell()
    data[at:at + 8] = struct.pack("<Q", 2**60)
    p.write_bytes(bytes(data))
    return p


GROUPS: dict[str, dict[str, Builder]] = {
    "safetensors": {f.__name__: f for f in (st_huge_header_length, st_header_over_limit, st_overlap, st_past_end,
                                            st_shape_overflow, st_shape_wraps_to_size, st_deep_json)},
    "zip-bombs": {f.__name__: f for f in (zip_bomb_storage, zip_bomb_pickle, zip_bomb_lying_size)},
    "pickles": {f.__name__: f for f in (pkl_nested_lists_zip, pkl_nested_dicts_zip, pkl_nested_lists_legacy,
                                        pkl_shared_dag, pkl_huge_bytes_claim, legacy_storage_count)},
}
ALL_CASES = [(g, name) for g, cases in GROUPS.items() for name in cases]
# A naive walker would never finish these; no tensor is in them, so "no classifier" (3) is fine too.
ALLOWED_CODES: dict[str, tuple[int, ...]] = {"pkl_shared_dag": (3, 4)}
# The message says what was refused (case-insensitive), not just "unreadable".
SAYS: dict[str, str] = {"st_header_over_limit": "limit", "st_overlap": "overlap", "pkl_nested_lists_zip": "nest",
                        "pkl_nested_dicts_zip": "nest", "pkl_nested_lists_legacy": "nest"}


@pytest.fixture(scope="module")
def control_rss() -> float:
    """Peak RSS of ``wsep`` scoring every valid fixture in one process."""
    files = ["digits_mlp.safetensors", "digits_mlp.pt", "digits_mlp_legacy.pt", "digits_mlp.onnx",
             "digits_mlp_sharded"]
    run = run_measured("score", "--json", *(str(FIXTURES / f) for f in files), timeout=TIMEOUT)
    assert run.returncode == 0, run.stderr
    return run.maxrss_mib


@pytest.fixture(scope="module")
def group_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Run, dict[str, Path]]]:
    out: dict[str, tuple[Run, dict[str, Path]]] = {}
    for group, builders in GROUPS.items():
        d = tmp_path_factory.mktemp(group)
        paths = {name: build(d) for name, build in builders.items()}
        run = run_measured("score", "--json", *map(str, paths.values()), timeout=TIMEOUT, data_limit=DATA_LIMIT)
        print(f"[abuse] {group}: {len(paths)} files in {run.wall_s:.2f} s, peak RSS {run.maxrss_mib:.0f} MiB")
        out[group] = (run, paths)
    return out


@pytest.mark.parametrize("group,name", ALL_CASES, ids=[n for _, n in ALL_CASES])
def test_refused_with_exit_4(group: str, name: str, group_runs: dict[str, tuple[Run, dict[str, Path]]]) -> None:
    run, paths = group_runs[group]
    assert run.returncode in (3, 4), run.stderr[-2000:]
    results = {r["path"]: r for r in json.loads(run.stdout)["results"]}
    r = results[str(paths[name])]
    assert r["exit_code"] in ALLOWED_CODES.get(name, (4,)), r
    assert r["error"] and "\n" not in r["error"]
    assert "MemoryError" not in r["error"] and "RecursionError" not in r["error"], r["error"]
    assert SAYS.get(name, "").lower() in r["error"].lower(), r["error"]
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_memory_stays_bounded(group: str, group_runs: dict[str, tuple[Run, dict[str, Path]]],
                              control_rss: float) -> None:
    run, paths = group_runs[group]
    assert len(run.err_lines) == len(paths), run.stderr[-2000:]
    assert run.maxrss_mib < control_rss + RSS_MARGIN_MIB, (run.maxrss_mib, control_rss)


# ------------------------------------------------------------------------------ path escapes: ONNX

def _onnx_model(weight_entries: dict[str, str] | None) -> bytes:
    """x (1x32) -> Gemm(W 10x32, transB=1) -> logits; W inline or external."""
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(HEAD, "classifier.weight")
    if weight_entries is not None:
        w.ClearField("raw_data")
        w.data_location = TensorProto.EXTERNAL
        for k, v in weight_entries.items():
            w.external_data.add(key=k, value=v)
    b = numpy_helper.from_array(np.zeros(10, np.float32), "classifier.bias")
    node = helper.make_node("Gemm", ["x", "classifier.weight", "classifier.bias"], ["logits"], transB=1)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 32])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])], [w, b])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _onnx_case(root: Path, name: str, entries: dict[str, str], setup: Callable[[Path, Path], None] | None = None) -> Path:
    """A model folder root/name/ holding model.onnx; a valid weights.bin waits outside in root/outside/."""
    outside = root / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "weights.bin").write_bytes(HEAD.tobytes())
    folder = root / name
    folder.mkdir()
    if setup:
        setup(folder, outside)
    (folder / "model.onnx").write_bytes(_onnx_model(entries))
    return folder / "model.onnx"


def _inside(folder: Path, outside: Path) -> None:
    (folder / "weights.bin").write_bytes(HEAD.tobytes() + b"\0" * 64)


ONNX_CASES: dict[str, tuple[dict[str, str], Callable[[Path, Path], None] | None]] = {
    "dotdot": ({"location": "../outside/weights.bin"}, None),
    "absolute": ({"location": "ABS"}, None),
    "symlink_file": ({"location": "weights.bin"},
                     lambda f, o: os.symlink(o / "weights.bin", f / "weights.bin")),
    "symlink_dir": ({"location": "sub/weights.bin"}, lambda f, o: os.symlink(o, f / "sub")),
    "offset_past_eof": ({"location": "weights.bin", "offset": "4096", "length": "1280"}, _inside),
    "length_past_eof": ({"location": "weights.bin", "offset": "0", "length": "999999999"}, _inside),
    "length_mismatch": ({"location": "weights.bin", "offset": "0", "length": "1344"}, _inside),
    "negative_offset": ({"location": "weights.bin", "offset": "-64", "length": "1280"}, _inside),
}


@pytest.fixture(scope="module")
def onnx_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, dict[str, Path]]:
    root = tmp_path_factory.mktemp("onnx")
    paths = {}
    for name, (entries, setup) in {**ONNX_CASES, "control": ({"location": "weights.bin", "offset": "0",
                                                                "length": "1280"}, _inside)}.items():
        if entries.get("location") == "ABS":
            entries = {**entries, "location": str(root / "outside" / "weights.bin")}
        paths[name] = _onnx_case(root, name, entries, setup)
    return run_measured("score", "--json", *map(str, paths.values()), timeout=TIMEOUT), paths


@pytest.mark.parametrize("name", sorted(ONNX_CASES))
def test_onnx_external_data_escape_is_refused(name: str, onnx_run: tuple[Run, dict[str, Path]]) -> None:
    run, paths = onnx_run
    results = {r["path"]: r for r in json.loads(run.stdout)["results"]}
    r = results[str(paths[name])]
    assert r["exit_code"] == 4, r
    assert r["error"] and "\n" not in r["error"] and "internal error" not in run.stderr


def test_onnx_external_data_inside_folder_is_read(onnx_run: tuple[Run, dict[str, Path]]) -> None:
    """The control: the same external layout inside the folder scores, with the right epsilon."""
    run, paths = onnx_run
    r = {r["path"]: r for r in json.loads(run.stdout)["results"]}[str(paths["control"])]
    assert r["exit_code"] == 0, r
    v = HEAD.astype(np.float64)
    assert r["heads"][0]["epsilon"] == pytest.approx(((v @ v.T - np.eye(10)) ** 2).sum() / 10, rel=1e-9)


# --------------------------------------------------------------------------- path escapes: sharded

def _sharded_case(root: Path, name: str, shard_name: str | None, setup: Callable[[Path, Path], None] | None) -> Path:
    """root/name/ holds an index whose head shard is ``shard_name``; a valid shard waits outside."""
    outside = root / "outside"
    outside.mkdir(exist_ok=True)
    write_safetensors(outside / "head.safetensors", {"classifier.weight": HEAD})
    folder = root / name
    folder.mkdir()
    write_safetensors(folder / "body.safetensors", {"features.weight": np.ones((32, 64), np.float32)})
    if setup:
        setup(folder, outside)
    if shard_name == "ABS":
        shard_name = str(outside / "head.safetensors")
    wm = {"features.weight": "body.safetensors", "classifier.weight": shard_name or "head.safetensors"}
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": wm}))
    return folder


SHARD_CASES: dict[str, tuple[str, Callable[[Path, Path], None] | None]] = {
    "dotdot": ("../outside/head.safetensors", None),
    "absolute": ("ABS", None),
    "symlink": ("head.safetensors", lambda f, o: os.symlink(o / "head.safetensors", f / "head.safetensors")),
    "symlink_dir": ("sub/head.safetensors", lambda f, o: os.symlink(o, f / "sub")),
    "nested_dotdot": ("sub/../../outside/head.safetensors", lambda f, o: (f / "sub").mkdir()),
}


@pytest.fixture(scope="module")
def sharded_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, dict[str, Path]]:
    root = tmp_path_factory.mktemp("sharded")
    paths = {name: _sharded_case(root, name, shard, setup) for name, (shard, setup) in SHARD_CASES.items()}
    paths["control"] = _sharded_case(
        root, "control", None,
        lambda f, o: write_safetensors(f / "head.safetensors", {"classifier.weight": HEAD}))
    return run_measured("score", "--json", *map(str, paths.values()), timeout=TIMEOUT), paths


@pytest.mark.parametrize("name", sorted(SHARD_CASES))
def test_shard_outside_folder_is_refused(name: str, sharded_run: tuple[Run, dict[str, Path]]) -> None:
    run, paths = sharded_run
    r = {r["path"]: r for r in json.loads(run.stdout)["results"]}[str(paths[name])]
    assert r["exit_code"] == 4, r
    assert r["error"] and "\n" not in r["error"] and "internal error" not in run.stderr


def test_shard_inside_folder_is_read(sharded_run: tuple[Run, dict[str, Path]]) -> None:
    run, paths = sharded_run
    r = {r["path"]: r for r in json.loads(run.stdout)["results"]}[str(paths["control"])]
    assert r["exit_code"] == 0, r
    assert r["heads"][0]["layer"] == "classifier.weight"
