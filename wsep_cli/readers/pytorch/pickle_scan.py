"""Validate a pickle's opcodes before any object is built (a fast, table-driven walk).

Refuses what would abuse memory or is never written by ``torch.save``: a pickle longer than its
limit or a length field claiming more, memo indices beyond the number of opcodes so far (CPython's
unpickler would allocate a memo table that large), MARK nesting deeper than ``MAX_MARK_DEPTH``, unknown
opcodes and the copyreg extension registry. The walk is a tight loop over bytes driven by an
opcode table (~10x faster than ``pickletools.genops``).
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from wsep_cli.errors import UnreadableError, UnsafeError

__all__ = ["scan_pickle", "MAX_PICKLE_BYTES", "MAX_MARK_DEPTH", "MAX_MEMO_INDEX", "OPCODE_ARGS", "OPCODES_POPPING_MARK"]

MAX_PICKLE_BYTES = 256 * 1024 * 1024
MAX_MARK_DEPTH = 1000
MAX_MEMO_INDEX = 10_000_000

# The argument layout of every pickle opcode (protocols 0-5), as documented in :mod:`pickletools`.
# Written out here because importing pickletools costs ~20 ms of ``wsep score`` start-up;
# tests/readers/pytorch/test_pickle_scan.py checks this table against pickletools.opcodes.
OPCODE_ARGS: dict[int, bytes] = {
    0: b"\x97\x98N\x88\x89]ael)t\x85\x86\x87}dsu\x8f\x90\x9102(1\x94\x93Rbo\x81\x92.Q",  # no argument
    1: b"Khq\x82\x80",  # BININT1 BINGET BINPUT EXT1 PROTO
    2: b"M\x83",  # BININT2 EXT2
    4: b"Jjr\x84",  # BININT LONG_BINGET LONG_BINPUT EXT4
    8: b"G\x95",  # BINFLOAT FRAME
    -1: b"ILSVFgpP",  # one line: INT LONG STRING UNICODE FLOAT GET PUT PERSID
    -2: b"ci",  # two lines: GLOBAL INST
    -11: b"\x8aUC\x8c",  # 1-byte length: LONG1 SHORT_BINSTRING SHORT_BINBYTES SHORT_BINUNICODE
    -14: b"\x8bTBX",  # 4-byte length: LONG4 BINSTRING BINBYTES BINUNICODE
    -18: b"\x8e\x96\x8d",  # 8-byte length: BINBYTES8 BYTEARRAY8 BINUNICODE8
}
OPCODES_POPPING_MARK = b"eltdu\x90\x911io"  # APPENDS LIST TUPLE DICT SETITEMS ADDITEMS FROZENSET POP_MARK INST OBJ

# kind per opcode byte: None unknown; 0 no argument; n > 0 fixed n bytes; -1 one line; -2 two lines;
# -(10 + k): a k-byte little-endian length, then that many bytes
_KIND: list[int | None] = [None] * 256
for _kind, _codes in OPCODE_ARGS.items():
    for _c in _codes:
        _KIND[_c] = _kind
_POPS_MARK = bytearray(256)
for _c in OPCODES_POPPING_MARK:
    _POPS_MARK[_c] = 1
_MARK, _STOP = ord("("), ord(".")
_PUT1, _PUT4, _PUT0 = ord("q"), ord("r"), ord("p")
_EXT = {0x82, 0x83, 0x84}


class _Truncated(Exception):
    pass


class _Buffer:
    """The pickle's bytes, read from ``fh`` in growing chunks, never past ``limit``."""

    def __init__(self, fh: BinaryIO, limit: int) -> None:
        self.fh, self.limit = fh, limit
        self.data = bytearray()
        self.chunk = 1 << 16
        self.eof = False

    def need(self, end: int) -> None:
        while len(self.data) < end:
            if end > self.limit:
                raise OverflowError
            if self.eof:
                raise _Truncated
            got = self.fh.read(min(self.chunk, self.limit + 1 - len(self.data)))
            self.chunk = min(self.chunk * 2, 1 << 24)
            if not got:
                self.eof = True
            self.data += got


def scan_pickle(fh: BinaryIO, *, path: Path, what: str, limit: int = MAX_PICKLE_BYTES) -> bytes:
    """Validate the pickle that starts at ``fh``'s position; return its bytes.

    Leaves ``fh`` just after the pickle's STOP opcode.

    Raises:
        UnreadableError: malformed, truncated, too large or abusive pickle.
        UnsafeError: the pickle uses the copyreg extension registry.
    """
    start = fh.tell()
    buf = _Buffer(fh, limit)
    try:
        end = _walk(buf, path, what)
    except OverflowError:
        raise UnreadableError(
            f"{path}: {what} is larger than {limit} bytes or claims a larger field; refused"
        ) from None
    except _Truncated:
        raise UnreadableError(f"{path}: {what} is truncated (no STOP opcode before the end)") from None
    except (ValueError, IndexError) as e:
        raise UnreadableError(f"{path}: {what} is not a valid pickle ({e})") from e
    fh.seek(start + end)
    return bytes(buf.data[:end])


def _walk(buf: _Buffer, path: Path, what: str) -> int:
    data, pos, ops, marks = buf.data, 0, 0, 0
    kinds, pops_mark = _KIND, _POPS_MARK
    while True:
        if pos >= len(data):
            buf.need(pos + 1)
        code = data[pos]
        pos += 1
        ops += 1
        kind = kinds[code]
        if kind == 0:
            if code == _MARK:
                marks += 1
                if marks > MAX_MARK_DEPTH:
                    raise UnreadableError(f"{path}: {what} nests deeper than {MAX_MARK_DEPTH} levels; refused")
            elif pops_mark[code]:
                marks -= 1
            elif code == _STOP:
                return pos
        elif kind is None:
            raise ValueError(f"unknown opcode {code:#04x} at byte {pos - 1}")
        elif kind > 0:
            if pos + kind > len(data):
                buf.need(pos + kind)
            if code in (_PUT1, _PUT4):
                _check_memo(int.from_bytes(data[pos:pos + kind], "little"), ops, path, what)
            elif code in _EXT:
                raise UnsafeError(
                    f"{path}: {what} uses the copyreg extension registry; refused, torch.save never writes it"
                )
            pos += kind
        elif kind <= -10:
            width = -kind - 10
            if pos + width > len(data):
                buf.need(pos + width)
            n = int.from_bytes(data[pos:pos + width], "little", signed=width == 4 and code in (ord("T"), 0x8B))
            if n < 0:
                raise ValueError(f"negative length {n} at byte {pos}")
            pos += width + n
            if pos > len(data):
                buf.need(pos)
        else:
            for _ in range(-kind):
                nl = data.find(b"\n", pos)
                while nl < 0:
                    buf.need(len(data) + 1)
                    nl = data.find(b"\n", pos)
                if code == _PUT0:
                    _check_memo(int(bytes(data[pos:nl])), ops, path, what)
                pos = nl + 1


def _check_memo(index: int, ops: int, path: Path, what: str) -> None:
    if not 0 <= index <= min(ops, MAX_MEMO_INDEX):
        raise UnreadableError(
            f"{path}: {what} stores memo index {index} after {ops} opcodes; "
            "the pickle is corrupt or built to exhaust memory"
        )
