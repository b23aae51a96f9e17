"""Container tricks: zip records that torch's reader (miniz) and a scanner may see differently, and
legacy files behind another format's magic. Zips are written by hand from real ``torch.save`` records.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from corpus_record import HEAD, Case, Payload, save_obj, shell, state_dict, zip_members
from hostile_files import legacy_prefix

_S_IFLNK = 0o120000


@dataclass(frozen=True)
class Member:
    """One zip record. ``crc``: None for the true CRC-32; ``attr``: Unix mode (high external bits);
    ``points_at``: the central entry uses another member's local header and sizes."""

    name: str
    data: bytes
    flags: int = 0
    crc: int | None = None
    attr: int = 0
    points_at: str | None = None


def write_members(path: Path, members: list[Member], *, count_delta: int = 0, prefix: bytes = b"") -> Path:
    body, central, where = bytearray(prefix), bytearray(), {}
    for m in members:
        crc = zlib.crc32(m.data) if m.crc is None else m.crc
        where[m.name] = (len(body) - len(prefix), crc, len(m.data))
        body += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, m.flags, 0, 0, 0, crc, len(m.data), len(m.data),
                            len(m.name.encode()), 0) + m.name.encode() + m.data
    for m in members:
        offset, crc, size = where[m.points_at or m.name]
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x0314, 20, m.flags, 0, 0, 0, crc, size, size,
                               len(m.name.encode()), 0, 0, 0, 0, m.attr << 16, offset) + m.name.encode()
    n = len(members) + count_delta
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(central), len(body) - len(prefix), 0)
    path.write_bytes(bytes(body + central + eocd))
    return path


def _members(obj: object = None) -> list[Member]:
    return [Member(n, d) for n, d in zip_members(state_dict() if obj is None else obj)]


def _edit(members: list[Member], suffix: str, **changes: object) -> list[Member]:
    return [replace(m, **changes) if m.name.endswith(suffix) else m for m in members]  # type: ignore[arg-type]


def _payload_pkl(marker: Path) -> bytes:
    return pickle.dumps({"fc.weight": Payload(os.system, shell(marker))}, protocol=2)


def _zip(make: Callable[[Path], list[Member]], **kw: object) -> Callable[[Path, Path, str], Path]:
    return lambda folder, marker, cid: write_members(folder / f"{cid}.pt", make(marker), **kw)  # type: ignore[arg-type]


def _twin(name: str) -> Callable[[Path], list[Member]]:
    """A payload pickle named ``name`` right after the real data.pkl (torch 2.14 then loads it)."""
    return lambda m: _members()[:1] + [Member(name, _payload_pkl(m))] + _members()[1:]


def _byteorder_case(marker: Path) -> list[Member]:
    """Storages written big-endian and the byteorder record named ``BYTEORDER``: torch's lookup
    ignores case and reads the values big-endian; a case-sensitive reader would read garbage."""
    out = []
    for m in _members():
        if "/data/" in m.name:
            m = replace(m, data=np.frombuffer(m.data, "<f4").astype(">f4").tobytes())
        if m.name.endswith("/byteorder"):
            m = replace(m, name=m.name.replace("byteorder", "BYTEORDER"), data=b"big")
        out.append(m)
    return out


def _cd_mismatch(marker: Path) -> list[Member]:
    """The central entry data.pkl points at the local header of another record (a payload pickle)."""
    members = _members() + [Member("archive/evil.pkl", _payload_pkl(marker))]
    return _edit(members, "/data.pkl", points_at="archive/evil.pkl")


def _storage_size(delta: int) -> Callable[[Path], list[Member]]:
    def make(marker: Path) -> list[Member]:
        return [replace(m, data=m.data + b"\0" * delta if delta > 0 else m.data[:delta])
                if m.name.endswith("/data/0") else m for m in _members()]

    return make


def _npy_member(marker: Path) -> list[Member]:
    buf = io.BytesIO()
    np.save(buf, np.array([Payload(os.system, shell(marker))], dtype=object), allow_pickle=True)
    return _members() + [Member("archive/data/extra.npy", buf.getvalue())]


def _expanded(folder: Path, marker: Path, cid: str) -> Path:
    """torch.ones(1).expand(20000, 4096) as the head: one 4-byte storage viewed with strides (0, 0)."""
    import torch

    sd = {"fc.weight": torch.ones(1).expand(20000, 4096), "fc.bias": torch.zeros(20000)}
    return save_obj(folder / f"{cid}.pt", sd)


def _legacy_zip_polyglot(folder: Path, marker: Path, cid: str) -> Path:
    """A legacy file with a zip (of another head) appended: both torch and wsep read the legacy part."""
    legacy = save_obj(folder / f"{cid}-part.pt", state_dict(), "legacy").read_bytes()
    return write_members(folder / f"{cid}.pt", _members(state_dict(n=5, seed=1)), prefix=legacy)


def _legacy_magic(folder: Path, marker: Path, cid: str) -> Path:
    data = save_obj(folder / f"{cid}.pt", state_dict(), "legacy").read_bytes()
    magic = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
    assert data.startswith(magic)
    (folder / f"{cid}.pt").write_bytes(pickle.dumps(0x1950A86A20F9469CFC6D, protocol=2) + data[len(magic):])
    return folder / f"{cid}.pt"


def _legacy_tar(folder: Path, marker: Path, cid: str) -> Path:
    """torch's pre-1.0 tar format: torch.load tries it first and unpickles its 'storages' member."""
    path = folder / f"{cid}.pt"
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT, encoding="latin-1") as tar:
        for name, data in (("\x80" + "x" * 20, legacy_prefix()), ("storages", _payload_pkl(marker))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _case(cid: str, technique: str, build: Callable[[Path, Path, str], Path], refused: str | None,
          live: bool = False) -> Case:
    return Case(f"zip-{cid}" if not cid.startswith("legacy") else cid, technique,
                lambda folder, marker: build(folder, marker, cid), refused, HEAD if refused is None else None, live)


def cases() -> list[Case]:
    flags = {0x1: "encrypted", 0x20: "compressed patched data", 0x40: "strongly encrypted"}
    out = [_case(f"flag-{bit:#x}", f"zip general-purpose flag bit {bit:#x} ({what}) on data.pkl",
                 _zip(lambda m, bit=bit: _edit(_members(), "/data.pkl", flags=bit)), rf"{what} \(flag bit {bit:#x}\)")
           for bit, what in flags.items()]
    return out + [
        _case("crc-pickle", "a wrong CRC-32 on data.pkl", _zip(lambda m: _edit(_members(), "/data.pkl", crc=1)),
              r"CRC"),
        _case("crc-storage", "a wrong CRC-32 on the head's storage record (neither reader checks it)",
              _zip(lambda m: _edit(_members(), "/data/0", crc=1)), None),
        _case("duplicate-data-pkl", "two central-directory entries named data.pkl; torch loads the second, a payload",
              _zip(_twin("archive/data.pkl")), r"appears twice", live=True),
        _case("case-twin", "archive/DATA.pkl beside data.pkl: miniz ignores case and torch loads DATA.pkl",
              _zip(_twin("archive/DATA.pkl")), r"differ only in letter case", live=True),
        _case("byteorder-case", "the byteorder record named BYTEORDER (big-endian storages)",
              _zip(_byteorder_case), None),
        _case("eocd-count", "an end record whose entry count disagrees with the central directory",
              _zip(lambda m: _members(), count_delta=-1), r"end record"),
        _case("cd-name-mismatch", "central entry data.pkl pointing at the local header of a payload record",
              _zip(_cd_mismatch), r"differ", live=True),
        _case("extra-pickle", "a payload pickle in archive/extra.pkl, which torch never reads (benign)",
              _zip(lambda m: _members() + [Member("archive/extra.pkl", _payload_pkl(m))]), None),
        _case("no-data-pkl", "the only pickle is archive/model.pkl (no data.pkl)",
              _zip(lambda m: [replace(x, name=x.name.replace("data.pkl", "model.pkl")) for x in _members()]),
              r"without a <folder>/data\.pkl"),
        _case("outside-folder", "an entry other/data.pkl outside the first entry's folder",
              _zip(lambda m: _members() + [Member("other/data.pkl", _payload_pkl(m))]), r"outside the archive folder"),
        _case("dotdot-name", "a member named archive/../evil.pkl",
              _zip(lambda m: _members() + [Member("archive/../evil.pkl", _payload_pkl(m))]), r"leaves the archive folder"),
        _case("symlink", "data.pkl stored as a symbolic link entry (Unix mode 0o120777)",
              _zip(lambda m: _edit(_members(), "/data.pkl", attr=_S_IFLNK | 0o777)), r"symbolic link"),
        _case("storage-larger", "a storage record 4 bytes longer than the pickle declares",
              _zip(_storage_size(4)), r"should hold"),
        _case("storage-smaller", "a storage record 4 bytes shorter than the pickle declares",
              _zip(_storage_size(-4)), r"should hold"),
        _case("expand-head", "a 20000 x 4096 head whose strides (0, 0) repeat one stored float (an 81 kB file)",
              _expanded, r"strides \(0, 0\) repeat them"),
        _case("object-npy", "an object-dtype .npy (pickled payload) as an extra archive record (benign)",
              _zip(_npy_member), None),
        _case("object-array", "an object-dtype numpy array holding a payload, inside the state_dict",
              lambda folder, marker, cid: save_obj(folder / f"{cid}.pt", {**state_dict(), "extra": np.array(
                  [Payload(os.system, shell(marker))], dtype=object)}), r"posix\W{1,3}system", live=True),
        _case("object-array-plain", "an object-dtype numpy array of plain values",
              lambda folder, marker, cid: save_obj(folder / f"{cid}.pt", {**state_dict(), "extra": np.array(
                  [1, "a"], dtype=object)}), r"object arrays are refused"),
        _case("legacy-zip-polyglot", "a legacy file with a zip of another head appended", _legacy_zip_polyglot, None),
        _case("legacy-magic", "a legacy file whose magic number is off by one", _legacy_magic, r"wrong magic number"),
        _case("legacy-tar", "torch's pre-1.0 tar format with a payload 'storages' member, first byte 0x80",
              _legacy_tar, r"tar archive", live=True),
    ]
