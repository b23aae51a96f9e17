"""Single-file safetensors: exact values against the safetensors library and torch, and refusal of
every malformed header class with exit 4 and one line (issue 2 readers, issue 6 resource abuse)."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

from conftest import bytes_read_so_far, run_wsep
from wsep_cli.errors import UnreadableError
from wsep_cli.readers.safetensors.reader import SafetensorsReader
from wsep_cli.results import FileResult

RNG = np.random.default_rng(0)


def _raw(path: Path, header: bytes | dict, data: bytes = b"", hlen: int | None = None) -> Path:
    """A safetensors-shaped file written byte by byte (for malformed headers)."""
    body = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(body) if hlen is None else hlen) + body + data)
    return path


def _header(path: Path) -> tuple[dict, bytes]:
    blob = path.read_bytes()
    (n,) = struct.unpack("<Q", blob[:8])
    return json.loads(blob[8 : 8 + n]), blob[8 + n :]


# --- exact values --------------------------------------------------------------------------------
def test_fp32_fp16_values_and_listing_match_the_library(tmp_path: Path) -> None:
    tensors = {
        "fc.weight": RNG.standard_normal((10, 7)).astype(np.float32),
        "fc.bias": RNG.standard_normal(10).astype(np.float32),
        "emb": RNG.standard_normal((3, 4, 1, 1)).astype(np.float16),
        "steps": np.arange(5, dtype=np.int64),
        "empty": np.zeros((0, 3), dtype=np.float32),
    }
    path = tmp_path / "m.safetensors"
    save_file(tensors, str(path), metadata={"arch": "resnet18"})
    ref = load_file(str(path))
    with SafetensorsReader(path) as r, safe_open(str(path), framework="np") as lib:
        infos = {t.name: t for t in r.tensors()}
        assert set(infos) == set(lib.keys())
        for name in lib.keys():
            assert infos[name].shape == tuple(lib.get_slice(name).get_shape())
            got = r.load(name)
            assert got.dtype == ref[name].dtype and np.array_equal(got, ref[name])
        assert r.metadata() == {"arch": "resnet18"}


def test_bf16_upcast_is_exact_against_torch(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file as torch_save

    w = torch.randn(12, 9, generator=torch.Generator().manual_seed(1)).to(torch.bfloat16)
    w[0, :3] = torch.tensor([float("1e-40"), -0.0, 3.0e38])  # subnormal, signed zero, near max
    path = tmp_path / "bf16.safetensors"
    torch_save({"head.weight": w, "h16": w.to(torch.float16)}, str(path))
    with SafetensorsReader(path) as r:
        info = {t.name: t for t in r.tensors()}
        assert info["head.weight"].dtype == "bfloat16" and info["h16"].dtype == "float16"
        got = r.load("head.weight")
        assert got.dtype == np.float32
        assert np.array_equal(got.view(np.uint32), w.float().numpy().view(np.uint32))
        assert np.array_equal(r.load("h16"), w.to(torch.float16).numpy())


def test_header_length_with_low_byte_0x80_is_not_taken_for_a_pickle(tmp_path: Path) -> None:
    """The first byte of a safetensors file is its header length's low byte; 0x80 is also the
    pickle protocol opcode. Such a valid file must still be read as safetensors."""
    from wsep_cli.readers.sniff import Format, sniff

    path = _valid(tmp_path)
    assert path.read_bytes()[0] == 0x80
    assert sniff(path) is Format.SAFETENSORS
    proc = run_wsep("score", "--json", str(path))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["results"][0]["heads"][0]["layer"] == "fc.weight"


# --- malformed input -----------------------------------------------------------------------------
def _valid(tmp_path: Path) -> Path:
    path = tmp_path / "ok.safetensors"
    save_file({"a": np.ones((4, 4), np.float32), "fc.weight": np.eye(3, 4, dtype=np.float32)}, str(path))
    return path


def _edit(tmp_path: Path, name: str, fn) -> Path:  # type: ignore[no-untyped-def]
    header, data = _header(_valid(tmp_path))
    fn(header)
    return _raw(tmp_path / name, header, data)


def _malformed(tmp_path: Path) -> dict[str, Path]:
    valid = _valid(tmp_path)
    blob = valid.read_bytes()
    cases = {
        "huge_header_length": _raw(tmp_path / "huge.safetensors", b"{}", b"x" * 64, hlen=2**62),
        "header_not_json": _raw(tmp_path / "nojson.safetensors", b"{not json at all" + b" " * 8),
        "header_not_object": _raw(tmp_path / "list.safetensors", b"[1, 2, 3]"),
        "entry_not_object": _raw(tmp_path / "entry.safetensors", b'{"a": 1}'),
        "deeply_nested_header": _raw(tmp_path / "deep.safetensors", b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
        "huge_int_literal": _raw(tmp_path / "bigint.safetensors", b'{"a":{"dtype":"F32","shape":[' + b"9" * 5000 + b'],"data_offsets":[0,4]}}'),
        "offsets_outside_file": _edit(tmp_path, "outside.safetensors", lambda h: h["a"].update(data_offsets=[0, 10**9])),
        "offsets_overlap": _edit(tmp_path, "overlap.safetensors", lambda h: h["fc.weight"].update(
            data_offsets=[h["a"]["data_offsets"][0] + 4, h["a"]["data_offsets"][0] + 52])),
        "negative_offset": _edit(tmp_path, "neg.safetensors", lambda h: h["a"].update(data_offsets=[-64, 0])),
        "shape_product_overflow": _edit(tmp_path, "overflow.safetensors", lambda h: h["a"].update(shape=[2**40, 2**40])),
        "shape_mismatch": _edit(tmp_path, "mismatch.safetensors", lambda h: h["a"].update(shape=[4, 5])),
        "bad_dtype": _edit(tmp_path, "dtype.safetensors", lambda h: h["a"].update(dtype="F33")),
        "bool_shape": _edit(tmp_path, "boolshape.safetensors", lambda h: h["a"].update(shape=[True, 16])),
        "truncated": tmp_path / "trunc.safetensors",
        "ends_inside_header": tmp_path / "short.safetensors",
    }
    cases["truncated"].write_bytes(blob[: len(blob) - 20])
    cases["ends_inside_header"].write_bytes(blob[:40])
    return cases


CASES = [
    "huge_header_length", "header_not_json", "header_not_object", "entry_not_object", "deeply_nested_header",
    "huge_int_literal",
    "offsets_outside_file", "offsets_overlap", "negative_offset", "shape_product_overflow", "shape_mismatch",
    "bad_dtype", "bool_shape", "truncated", "ends_inside_header",
]


@pytest.mark.parametrize("case", CASES)
def test_malformed_header_raises_unreadable(tmp_path: Path, case: str) -> None:
    path = _malformed(tmp_path)[case]
    with pytest.raises(UnreadableError):
        SafetensorsReader(path)


def test_malformed_files_exit_4_with_one_line_each(tmp_path: Path) -> None:
    """One `wsep score` call over every malformed file plus a good one: each gets its own error."""
    cases = _malformed(tmp_path)
    (tmp_path / "good").mkdir()
    good = _valid(tmp_path / "good")
    proc = run_wsep("score", "--json", str(good), *(str(p) for p in cases.values()))
    assert proc.returncode == 4, proc.stderr
    doc = json.loads(proc.stdout)
    by_path = {r["path"]: r for r in doc["results"]}
    assert by_path[str(good)]["status"] == "ok"
    for case, p in cases.items():
        r = by_path[str(p)]
        assert (r["status"], r["exit_code"]) == ("error", 4), case
        assert "\n" not in r["error"]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == len(cases) and all(line.startswith("wsep: error: ") for line in lines)
    assert "Traceback" not in proc.stderr


# --- only the header and one tensor are read --------------------------------------------------------
def sparse_safetensors(path: Path, big_bytes: int, head: np.ndarray) -> Path:
    """A file whose first tensor is ``big_bytes`` of (sparse, unwritten) zeros and last is ``head``."""
    n_big = big_bytes // 4
    header = {
        "big": {"dtype": "F32", "shape": [n_big], "data_offsets": [0, n_big * 4]},
        "fc.weight": {"dtype": "F32", "shape": list(head.shape), "data_offsets": [n_big * 4, n_big * 4 + head.nbytes]},
    }
    body = json.dumps(header).encode()
    body += b" " * (-len(body) % 8)
    with path.open("wb") as fh:
        fh.write(struct.pack("<Q", len(body)) + body)
        fh.truncate(8 + len(body) + n_big * 4)  # a hole: no disk, no write
        fh.seek(0, os.SEEK_END)
        fh.write(head.astype("<f4").tobytes())
    return path


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux /proc/self/io")
def score_counting_reads(target: Path, head: np.ndarray, tmp_path: Path) -> tuple[FileResult, int]:
    """Score ``target``; also the bytes that scoring read. A small file with ``head`` is scored first:
    first-use imports read files too, and they must not count."""
    from wsep_cli.pipeline import score_file

    warm = tmp_path / "warm.safetensors"
    save_file({"fc.weight": head}, str(warm))
    assert score_file(str(warm)).status == "ok"
    before = bytes_read_so_far()
    result = score_file(str(target))
    return result, bytes_read_so_far() - before


def test_scoring_reads_header_and_head_only(tmp_path: Path) -> None:
    head = RNG.standard_normal((10, 16)).astype(np.float32)
    path = sparse_safetensors(tmp_path / "sparse.safetensors", 200 * 2**20, head)
    ref = load_file(str(path))["fc.weight"]  # the library agrees the file is valid
    assert np.array_equal(ref, head)
    result, read = score_counting_reads(path, head, tmp_path)
    assert result.status == "ok" and result.heads[0].layer == "fc.weight"
    assert read < 1 * 2**20, f"read {read} bytes of a {path.stat().st_size}-byte file"
    v = head.astype(np.float64)
    assert result.heads[0].metrics.epsilon == pytest.approx(np.linalg.norm(v @ v.T - np.eye(10)) ** 2 / 10, rel=1e-12)
