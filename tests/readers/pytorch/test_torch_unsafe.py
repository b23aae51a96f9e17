"""Untrusted PyTorch checkpoints: code payloads and pickled modules are refused with exit 4 naming
the global, and their side effect provably never happens; malformed and abusive files (zip bombs,
memo and nesting abuse, truncation, lies about sizes) end quickly with exit 4 (issue 6)."""

from __future__ import annotations

import builtins
import os
import pickle
import resource
import struct
import subprocess
import warnings
import zipfile
from pathlib import Path

import pytest
import torch

from conftest import run_json
from wsep_cli.errors import UnreadableError, UnsafeError
from wsep_cli.readers.pytorch.reader import TorchReader
from wsep_cli.pipeline import score_file

MAGIC = 0x1950A86A20F9469CFC6C
SYS_INFO = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 8}}


class Payload:
    """Pickles as a call to ``func(*args)``, which would create ``marker`` if it ever ran."""

    def __init__(self, kind: str, marker: Path) -> None:
        self.kind, self.marker = kind, marker

    def __reduce__(self):
        m = str(self.marker)
        if self.kind == "os.system":
            return (os.system, (f"touch '{m}'",))
        if self.kind == "builtins.exec":
            return (builtins.exec, (f"open({m!r}, 'w').write('ran')",))
        return (subprocess.call, (["touch", m],))


PAYLOAD_GLOBAL = {"os.system": f"{os.name}.system", "builtins.exec": "builtins.exec",
                  "subprocess": "subprocess.call"}


def _placements(payload: Payload) -> dict[str, object]:
    sd = {"fc.weight": torch.randn(10, 4), "fc.bias": torch.randn(10)}
    return {
        "top": payload,
        "in_state_dict": {**sd, "evil": payload},
        "nested_containers": {"state_dict": sd, "extra": [{"x": (1, {"y": payload})}]},
        "optimizer_state": {"state_dict": sd, "optimizer": {
            "state": {0: {"momentum_buffer": payload}}, "param_groups": [{"lr": 0.1, "params": [0]}]}},
    }


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("kind", list(PAYLOAD_GLOBAL))
def test_payloads_are_refused_and_never_run(tmp_path: Path, kind: str, legacy: bool) -> None:
    marker = tmp_path / "marker"
    for where, obj in _placements(Payload(kind, marker)).items():
        p = tmp_path / f"{where}.pt"
        torch.save(obj, p, _use_new_zipfile_serialization=not legacy)
        with pytest.raises(UnsafeError) as e:
            TorchReader(p)
        assert f"'{PAYLOAD_GLOBAL[kind]}'" in str(e.value) and "\n" not in str(e.value), where
        res = score_file(str(p))
        assert res.exit_code == 4 and PAYLOAD_GLOBAL[kind] in res.error, where
        assert not marker.exists(), f"the payload ran ({where})"


def test_cli_refuses_payloads_and_pickled_modules(tmp_path: Path) -> None:
    """Installed ``wsep`` in a subprocess: exit 4, one line per file naming the global, nothing ran."""
    marker = tmp_path / "marker"
    files = {}
    for legacy in (False, True):
        tag = "legacy" if legacy else "zip"
        files[f"payload_{tag}"] = (Payload("os.system", marker), f"{os.name}.system")
        files[f"module_{tag}"] = (torch.nn.Sequential(torch.nn.Linear(4, 3)), "torch.nn.modules.container.Sequential")
    paths = {}
    for name, (obj, _glob) in files.items():
        paths[name] = tmp_path / f"{name}.pt"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.save(obj, paths[name], _use_new_zipfile_serialization="zip" in name)
    proc, doc = run_json(*map(str, paths.values()))
    assert proc.returncode == 4
    assert "Traceback" not in proc.stderr
    by_path = {r["path"]: r for r in doc["results"]}
    for name, (_obj, glob) in files.items():
        r = by_path[str(paths[name])]
        assert r["status"] == "error" and r["exit_code"] == 4 and f"refused to unpickle global '{glob}'" in r["error"]
    assert not marker.exists()


def _legacy_file(path: Path, obj_pickle: bytes, keys: list[str] | None = None, tail: bytes = b"") -> Path:
    parts = [pickle.dumps(MAGIC, 2), pickle.dumps(1001, 2), pickle.dumps(SYS_INFO, 2), obj_pickle,
             pickle.dumps(keys or [], 2), tail]
    path.write_bytes(b"".join(parts))
    return path


def _zip_with_pickle(path: Path, data_pkl: bytes, extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", data_pkl)
        z.writestr("archive/byteorder", b"little")
        for k, v in (extra or {}).items():
            z.writestr(f"archive/{k}", v)
    return path


def _hand_pickles(marker: Path) -> dict[str, tuple[bytes, str]]:
    """Pickles no torch.save writes, each naming a dangerous callable a different way."""
    cmd = f"touch {marker}".encode()
    return {
        "stack_global_p4": (b"\x80\x04\x8c\x05posix\x8c\x06system\x93\x8c" + bytes([len(cmd)]) + cmd + b"\x85R.",
                            "posix.system"),
        "inst_p0": (b"(S'" + cmd + b"'\nios\nsystem\n.", "os.system"),
        "getattr_trick": (b"\x80\x02cbuiltins\ngetattr\n(cbuiltins\n__import__\nX\x02\x00\x00\x00ost"
                          b"X\x06\x00\x00\x00systemtR.", "builtins.getattr"),
        "py2_names": (b"\x80\x02c__builtin__\neval\nX\x02\x00\x00\x001+\x85R.", "builtins.eval"),
        "fake_torchscript_class": (b"\x80\x02c__torch__\nEvil\n)\x81.", "__torch__.Evil"),
    }


def test_hand_written_pickles_are_refused(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    for name, (data, glob) in _hand_pickles(marker).items():
        for p in (_zip_with_pickle(tmp_path / f"{name}.pt", data), _legacy_file(tmp_path / f"{name}.th", data)):
            with pytest.raises(UnsafeError, match=f"'{glob}'"):
                TorchReader(p)
    ext = _zip_with_pickle(tmp_path / "ext.pt", b"\x80\x02\x82\x01.")  # copyreg extension registry
    with pytest.raises(UnsafeError, match="extension registry"):
        TorchReader(ext)
    assert not marker.exists()


def test_torchscript_archive_with_payload_is_refused(tmp_path: Path) -> None:
    """Inside a TorchScript archive __torch__ classes are inert, but os.system is still refused."""
    marker = tmp_path / "marker"
    data, _ = _hand_pickles(marker)["stack_global_p4"]
    p = _zip_with_pickle(tmp_path / "ts.pt", data, {"constants.pkl": pickle.dumps((), 2), "code/__torch__.py": b""})
    with pytest.raises(UnsafeError, match="'posix.system'"):
        TorchReader(p)
    assert not marker.exists()


# ---------------------------------------------------------------- resource abuse and malformed files

def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_zip_bomb_declared_size_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "bomb.pt"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data.pkl", pickle.dumps({}, 2))
    raw = bytearray(p.read_bytes())
    # claim ~4 GB uncompressed for a ~10-byte deflate stream, in the local and the central header
    for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = raw.index(sig)
        raw[at + off:at + off + 4] = struct.pack("<I", 0xFFFFFFF0)
    p.write_bytes(bytes(raw))
    with pytest.raises(UnsafeError, match="zip bomb"):
        TorchReader(p)


def test_real_zip_bomb_storage_reads_only_what_it_needs(tmp_path: Path) -> None:
    """A deflated 64 MB storage record: loading a small tensor from its start decompresses ~nothing."""
    src = tmp_path / "src.pt"
    torch.save({"fc.weight": torch.zeros(16 * 2**20)[: 10 * 4].view(10, 4)}, src)
    p = tmp_path / "deflated.pt"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info))
    assert p.stat().st_size < 2**20
    before = _peak_rss_mib()
    with TorchReader(p) as r:
        assert r.load("fc.weight").shape == (10, 4)
    assert _peak_rss_mib() - before < 32


def test_memo_index_abuse_is_refused_without_allocating(tmp_path: Path) -> None:
    """CPython's unpickler would allocate a 4 GiB memo table for this 10-byte pickle."""
    evil = b"\x80\x02Nr" + struct.pack("<I", 0x0FFFFFFF) + b"."
    before = _peak_rss_mib()
    for p in (_zip_with_pickle(tmp_path / "memo.pt", evil), _legacy_file(tmp_path / "memo.th", evil)):
        with pytest.raises(UnreadableError, match="memo index"):
            TorchReader(p)
    assert _peak_rss_mib() - before < 256


@pytest.mark.parametrize("data,match", [
    (b"\x80\x02" + b"]" * 50_000 + b"a" * 49_999 + b".", "deeper than"),   # nested lists, no MARKs
    (b"\x80\x02" + b"(" * 50_000 + b".", "deeper than"),                    # MARK nesting
], ids=["nested_lists", "marks"])
def test_deep_nesting_is_refused(tmp_path: Path, data: bytes, match: str) -> None:
    for p in (_zip_with_pickle(tmp_path / "deep.pt", data), _legacy_file(tmp_path / "deep.th", data)):
        with pytest.raises(UnreadableError, match=match):
            TorchReader(p)


def test_memo_dag_bomb_is_linear(tmp_path: Path) -> None:
    """40 levels of 10 references to the same list: 10**40 paths, a few hundred bytes of pickle."""
    x: list = [torch.zeros(0)]
    for _ in range(40):
        x = [x] * 10
    p = tmp_path / "dag.pt"
    torch.save({"state_dict": x}, p)
    with TorchReader(p) as r:
        assert [t.name for t in r.tensors()] == ["0." * 40 + "0"]
    assert score_file(str(p)).exit_code == 3  # nothing that could be a classifier


def _valid_zip(tmp_path: Path) -> Path:
    p = tmp_path / "ok.pt"
    torch.save({"fc.weight": torch.randn(10, 4)}, p)
    return p


def test_malformed_files_exit_4(tmp_path: Path) -> None:
    ok = _valid_zip(tmp_path)
    cases: dict[str, Path] = {}
    cases["truncated_zip"] = tmp_path / "trunc.pt"
    cases["truncated_zip"].write_bytes(ok.read_bytes()[: ok.stat().st_size // 2])
    legacy = tmp_path / "legacy.pt"
    torch.save({"fc.weight": torch.randn(10, 4)}, legacy, _use_new_zipfile_serialization=False)
    cases["truncated_legacy"] = tmp_path / "trunc.th"
    cases["truncated_legacy"].write_bytes(legacy.read_bytes()[:-20])
    cases["short_storage"] = tmp_path / "short.pt"
    with zipfile.ZipFile(ok) as zin, zipfile.ZipFile(cases["short_storage"], "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info.filename, data[:-8] if "/data/" in info.filename else data)
    cases["plain_pickle"] = tmp_path / "plain.pkl"
    cases["plain_pickle"].write_bytes(pickle.dumps({"a": 1}, 2))
    cases["zip_without_pickle"] = tmp_path / "other.zip"
    with zipfile.ZipFile(cases["zip_without_pickle"], "w") as z:
        z.writestr("readme.txt", "hello")
    # a tensor whose view reaches past its 4-element storage
    view_past_end = (b"\x80\x02ctorch._utils\n_rebuild_tensor\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\n"
                     b"X\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x04NtQK\x00K\x0a\x85K\x01\x85tR.")
    cases["view_past_storage"] = _legacy_file(tmp_path / "view.th", view_past_end, ["0"],
                                              struct.pack("<q", 4) + b"\x00" * 16)
    for name, p in cases.items():
        res = score_file(str(p))
        assert res.status == "error" and res.exit_code == 4, (name, res.error)
        assert "\n" not in res.error and str(p) in res.error, name
    proc, doc = run_json(*(str(p) for p in cases.values()))
    assert proc.returncode == 4 and "Traceback" not in proc.stderr
    assert [r["exit_code"] for r in doc["results"]] == [4] * len(cases)


def test_unsupported_tensor_kinds_are_clear(tmp_path: Path) -> None:
    """Quantized tensors are listed but refused on load; sparse ones refuse the file, naming the kind."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # quantized dtypes are deprecated in torch
        q = torch.quantize_per_tensor(torch.randn(10, 4), 0.1, 0, torch.qint8)
    p = tmp_path / "q.pt"
    torch.save({"fc.weight": q, "w": torch.randn(3, 3)}, p)
    with TorchReader(p) as r:
        assert {t.name: t.dtype for t in r.tensors()} == {"fc.weight": "qint8", "w": "float32"}
        with pytest.raises(UnreadableError, match="quantized dtype qint8"):
            r.load("fc.weight")
    s = tmp_path / "sparse.pt"
    torch.save({"fc.weight": torch.randn(10, 4).to_sparse()}, s)
    with pytest.raises(UnreadableError, match="sparse tensors"):
        TorchReader(s)
    assert score_file(str(s)).exit_code == 4
