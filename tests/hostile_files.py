"""Builders for hostile checkpoints, and a ``wsep`` runner that measures the child's peak memory.

Used by the security tests (test_malicious, test_resource_abuse, test_edge_inputs, test_concurrency).
Nothing here imports torch: zip checkpoints are rebuilt from the bundled fixture's members, so the
pickles and storages are the ones ``torch.save`` really wrote.
"""

from __future__ import annotations

import io
import json
import os
import pickletools
import resource
import signal
import struct
import subprocess
import tempfile
import threading
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from conftest import FIXTURES, wsep_executable

__all__ = [
    "Run",
    "run_measured",
    "write_zip",
    "deflate_zeros",
    "fixture_zip_members",
    "rebuild_fixture_zip",
    "legacy_prefix",
    "nested_lists_pickle",
    "nested_dicts_pickle",
    "shared_dag_pickle",
    "write_safetensors",
]

PT_PREFIX = "digits_mlp"
HEAD_STORAGE = f"{PT_PREFIX}/data/4"  # classifier.weight in digits_mlp.pt's state_dict (10 x 32 float32)


@dataclass(frozen=True)
class Run:
    """One finished ``wsep`` process."""

    returncode: int
    stdout: str
    stderr: str
    maxrss_mib: float
    wall_s: float

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def _limit_data(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


def run_measured(*args: str, timeout: float = 60, data_limit: int = 3 << 30, cwd: Path | None = None) -> Run:
    """Run the installed ``wsep`` and return its exit code, output and peak RSS (from ``wait4``).

    ``data_limit`` caps the child's heap (RLIMIT_DATA) so that a reader bug that tries to inflate a
    bomb fails with MemoryError instead of taking the machine down; tests check for that message too.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSEP_") and k != "GITHUB_STEP_SUMMARY"}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen(
            [*wsep_executable(), *args], stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env,
            cwd=cwd, preexec_fn=lambda: _limit_data(data_limit),
        )
        killer = threading.Timer(timeout, lambda: os.kill(proc.pid, signal.SIGKILL))
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)  # keep Popen from waiting again
        wall = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        return Run(proc.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace"),
                   usage.ru_maxrss / 1024, wall)


# ------------------------------------------------------------------------------------------- zip

def deflate_zeros(nbytes: int, chunk: int = 1 << 24) -> tuple[bytes, int]:
    """A raw deflate stream of ``nbytes`` zeros and its CRC-32, built without compressing it all.

    A full flush after each chunk makes chunks independent, so one compressed chunk is repeated.
    """
    assert nbytes % chunk == 0
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(b"\0" * chunk) + c.flush(zlib.Z_FULL_FLUSH)
    reps = nbytes // chunk
    crc = 0
    zeros = b"\0" * chunk
    for _ in range(reps):
        crc = zlib.crc32(zeros, crc)
    return block * reps + b"\x03\x00", crc  # final empty fixed block ends the stream


def write_zip(path: Path, entries: list[tuple[str, bytes | tuple[bytes, int, int]]]) -> None:
    """Write a zip by hand. An entry is (name, raw bytes) stored, or (name, (deflated, crc, size)).

    The declared uncompressed size is whatever the tuple says, so entries may lie about it.
    """
    body = bytearray()
    central = bytearray()
    for name, blob in entries:
        raw_name = name.encode()
        if isinstance(blob, tuple):
            data, crc, usize = blob
            method = 8
        else:
            data, crc, usize, method = blob, zlib.crc32(blob), len(blob), 0
        offset = len(body)
        body += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, crc,
                            min(len(data), 0xFFFFFFFF), min(usize, 0xFFFFFFFF), len(raw_name), 0)
        body += raw_name + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0, crc,
                               min(len(data), 0xFFFFFFFF), min(usize, 0xFFFFFFFF), len(raw_name), 0, 0, 0,
                               0, 0, offset)
        central += raw_name
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), len(body), 0)
    path.write_bytes(bytes(body + central + eocd))


def fixture_zip_members() -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(FIXTURES / "digits_mlp.pt") as zf:
        return [(i.filename, zf.read(i)) for i in zf.infolist()]


def rebuild_fixture_zip(path: Path, replace: dict[str, bytes | tuple[bytes, int, int]]) -> None:
    """digits_mlp.pt with some members replaced (``data.pkl`` is matched by its short name)."""
    entries: list[tuple[str, bytes | tuple[bytes, int, int]]] = []
    for name, blob in fixture_zip_members():
        short = name.split("/", 1)[1]
        entries.append((name, replace.get(name, replace.get(short, blob))))
    write_zip(path, entries)


# ----------------------------------------------------------------------------------------- pickles

def legacy_prefix() -> bytes:
    """The first three pickles of a legacy checkpoint (magic number, protocol, sys_info)."""
    data = (FIXTURES / "digits_mlp_legacy.pt").read_bytes()
    f = io.BytesIO(data)
    for _ in range(3):
        for _op in pickletools.genops(f):
            pass
    return data[: f.tell()]


def nested_lists_pickle(depth: int) -> bytes:
    """[[[[...]]]] ``depth`` levels deep, built without recursion (EMPTY_LIST pushes, then APPENDs)."""
    return b"\x80\x02" + b"]" * (depth + 1) + b"a" * depth + b"."


def nested_dicts_pickle(depth: int) -> bytes:
    """{0: {0: {0: ...}}} ``depth`` levels deep."""
    return b"\x80\x02}" + b"K\x00}" * depth + b"s" * depth + b"."


def shared_dag_pickle(levels: int) -> bytes:
    """{"state_dict": L} with L_k = [L_(k-1), L_(k-1)]: tiny, but 2**levels paths for a naive walker."""
    out = bytearray(b"\x80\x02}X\n\x00\x00\x00state_dict]q\x00")
    for k in range(1, levels + 1):
        out += b"0(h" + bytes([k - 1]) + b"h" + bytes([k - 1]) + b"lq" + bytes([k])
    return bytes(out + b"s.")


# ------------------------------------------------------------------------------------- safetensors

def write_safetensors(path: Path, tensors: dict[str, np.ndarray], header_patch: dict[str, object] | None = None,
                      raw_header: bytes | None = None, declared_len: int | None = None) -> None:
    """A safetensors file written by hand, so its header can say anything."""
    codes = {"float32": "F32", "float16": "F16", "float64": "F64", "int8": "I8", "uint8": "U8", "int32": "I32"}
    header: dict[str, object] = {}
    blobs = []
    offset = 0
    for name, arr in tensors.items():
        raw = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": codes[arr.dtype.name], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header.update(header_patch or {})
    text = raw_header if raw_header is not None else json.dumps(header).encode()
    n = len(text) if declared_len is None else declared_len
    path.write_bytes(struct.pack("<Q", n) + text + b"".join(blobs))
