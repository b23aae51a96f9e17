"""A bounded protobuf wire-format reader: the byte-level half of wsep's ONNX parser.

``onnx.load`` costs 0.1-0.3 s of import time and holds the whole model, initializer bytes included,
in memory. :class:`Source` reads a file through one small window with ``os.pread``; :func:`fields`
walks one message's fields and hands out length-delimited payloads as (offset, length) spans without
reading them, so a parser built on it (:mod:`wsep_cli.readers.onnx.proto`) opens a 2 GB model in
O(metadata). Packed payloads are decoded on request (:func:`packed_values`), vectorised with numpy.

Every varint, length and offset is bounds-checked; groups (deprecated, skipped as unknown fields)
nest at most :data:`MAX_GROUP_DEPTH` deep; message counts and string and list sizes are capped. Any
malformation raises :class:`WireError`, an :class:`~wsep_cli.errors.UnreadableError` (exit 4).
"""

from __future__ import annotations

import os
import struct
from typing import TYPE_CHECKING

from wsep_cli.errors import UnreadableError

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "WireError", "Source", "fields", "decode_varints", "packed_values", "int64", "int32", "text",
    "packed_ints", "packed_floats", "VARINT", "I64", "LEN", "I32", "MAX_GROUP_DEPTH", "MAX_STRING",
    "MAX_LIST_BYTES", "MAX_UNPACKED", "MAX_MESSAGES", "MASK64", "STORAGE",
]

VARINT, I64, LEN, SGROUP, EGROUP, I32 = 0, 1, 2, 3, 4, 5
WINDOW = 16 * 1024  # bytes read per window: metadata regions are dense, payloads are skipped
MAX_GROUP_DEPTH = 32
MAX_MESSAGES = 1_000_000  # nodes + attributes + tensors + ...: far above any real classifier graph
MAX_STRING = 1 << 20  # a name, op type or string attribute
MAX_LIST_BYTES = 1 << 20  # packed dims / attribute ints / floats
MAX_UNPACKED = 1 << 22  # tensor values stored as one field each (hand-made files only)
MASK64 = (1 << 64) - 1


class WireError(UnreadableError):
    """The bytes are not a well-formed protobuf message (exit 4)."""


class Source:
    """Byte ranges of one file (or an in-memory blob), read through one cached window."""

    def __init__(self, fd: int | None, size: int, blob: bytes | None = None) -> None:
        self.fd, self.size = fd, size
        self._buf, self._base = (blob, 0) if blob is not None else (b"", 0)
        self._blob = blob is not None
        self.messages = 0

    @classmethod
    def from_bytes(cls, blob: bytes) -> "Source":
        return cls(None, len(blob), bytes(blob))

    def window(self, pos: int) -> tuple[bytes, int]:
        """(buffer, file offset of its first byte) covering at least 64 bytes from ``pos`` or EOF."""
        buf, base = self._buf, self._base
        if self._blob or (base <= pos and pos + 64 <= base + len(buf)) or base + len(buf) == self.size > pos >= base:
            return buf, base
        assert self.fd is not None
        buf = os.pread(self.fd, min(WINDOW, self.size - pos), pos)
        self._buf, self._base = buf, pos
        return buf, pos

    def read(self, pos: int, n: int) -> bytes:
        """Exactly ``n`` bytes at ``pos`` (from the window when it holds them)."""
        buf, base = self._buf, self._base
        if base <= pos and pos + n <= base + len(buf):
            return buf[pos - base:pos - base + n]
        if self.fd is None or pos < 0 or pos + n > self.size:
            raise WireError(f"bytes {pos}..{pos + n} lie outside the {self.size}-byte file")
        data = os.pread(self.fd, n, pos)
        if len(data) != n:
            raise WireError(f"the file ended at byte {pos + len(data)} while {pos + n} were expected")
        return data

    def count(self) -> None:
        self.messages += 1
        if self.messages > MAX_MESSAGES:
            raise WireError(f"the model holds more than {MAX_MESSAGES} messages; refusing to parse it")


def _varint(buf: bytes, off: int, lim: int) -> tuple[int, int]:
    if off >= lim:
        raise WireError("a varint runs past the end of its message")
    b = buf[off]
    if b < 0x80:
        return b, off + 1
    result, shift = b & 0x7F, 7
    off += 1
    while True:
        if off >= lim or shift > 63:
            raise WireError("a varint is truncated or longer than 10 bytes")
        b = buf[off]
        off += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result & MASK64, off
        shift += 7


def fields(src: Source, start: int, end: int):  # type: ignore[no-untyped-def]
    """Yield ``(number, wire, a, b, data)`` for each field of the message in ``[start, end)``.

    VARINT: ``a`` = value. I32/I64: ``a`` = the raw 4/8 bytes. LEN: ``a`` = file offset, ``b`` =
    length, ``data`` = the bytes when short (<= 4 KiB) and already in the window, else None.
    Groups (deprecated, never in ONNX) are skipped; unmatched group ends raise :class:`WireError`.
    """
    groups: list[int] = []
    buf, base = src.window(start) if start < end else (b"", start)
    off, lim = start - base, min(len(buf), end - base)
    stop = end - base
    while off < stop:
        if off + 24 > lim and lim < stop:  # a field header may cross the window: slide it
            pos = base + off
            buf, base = src.window(pos)
            off, lim, stop = pos - base, min(len(buf), end - base), end - base
            if off >= lim:  # the file is shorter than it was when opened
                raise WireError(f"the file ended at byte {base + lim}, inside a message that ends at {end}")
        at = off
        key = buf[off]
        if key < 0x80:
            off += 1
        else:
            key, off = _varint(buf, off, lim)
        num, wire = key >> 3, key & 7
        if num == 0 or key > 0xFFFFFFFF:
            raise WireError(f"invalid field tag {key} at byte {base + at}")
        if wire == LEN:
            if off < lim and buf[off] < 0x80:
                n = buf[off]
                off += 1
            else:
                n, off = _varint(buf, off, lim)
            if n > stop - off:
                raise WireError(f"field {num} at byte {base + at} claims {n} bytes; its message has {stop - off} left")
            if not groups:
                data = buf[off:off + n] if n <= 4096 and off + n <= lim else None
                yield num, wire, base + off, n, data
            off += n
        elif wire == VARINT:
            value, off = _varint(buf, off, lim)
            if not groups:
                yield num, wire, value, 0, None
        elif wire == I32 or wire == I64:
            width = 4 if wire == I32 else 8
            if off + width > lim:
                raise WireError(f"a fixed-width field runs past the end of its message at byte {base + at}")
            off += width
            if not groups:
                yield num, wire, buf[off - width:off], 0, None
        elif wire == SGROUP:
            if len(groups) >= MAX_GROUP_DEPTH:
                raise WireError(f"groups nested more than {MAX_GROUP_DEPTH} deep at byte {base + at}")
            groups.append(num)
        elif wire == EGROUP and groups and groups[-1] == num:
            groups.pop()
        else:
            raise WireError(f"invalid wire type {wire} (field {num}) at byte {base + at}")
    if groups or off != stop:
        raise WireError(f"a message ends inside a group or field at byte {base + off}")


def int64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def int32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def text(src: Source, at: int, n: int, data: bytes | None = None) -> str:
    if data is None:
        if n > MAX_STRING:
            raise WireError(f"a {n}-byte name or string at byte {at} is longer than {MAX_STRING} bytes")
        data = src.read(at, n)
    return data.decode("utf-8", errors="backslashreplace")


def packed_ints(src: Source, at: int, n: int) -> list[int]:
    if n > MAX_LIST_BYTES:
        raise WireError(f"a {n}-byte packed list at byte {at} is longer than {MAX_LIST_BYTES} bytes")
    data, off, out = src.read(at, n), 0, []
    while off < n:
        v, off = _varint(data, off, n)
        out.append(int64(v))
    return out


def packed_floats(src: Source, at: int, n: int) -> list[float]:
    if n > MAX_LIST_BYTES or n % 4:
        raise WireError(f"a packed float list at byte {at} has {n} bytes (not a multiple of 4, or too long)")
    return list(struct.unpack(f"<{n // 4}f", src.read(at, n)))


# --------------------------------------------------------------------------- packed payloads
STORAGE = {4: "<f4", 5: "<i4", 7: "<i8", 10: "<f8", 11: "<u8"}  # TensorProto field -> element type
_CHUNK = 4 << 20


def decode_varints(data: bytes) -> "np.ndarray":
    """Every varint in ``data`` (a packed field) as uint64, vectorised; raises when one is cut off."""
    import numpy as np

    a = np.frombuffer(data, dtype=np.uint8)
    if a.size == 0:
        return np.zeros(0, np.uint64)
    if a[-1] & 0x80:
        raise WireError("a packed varint list ends inside a varint")
    ends = np.flatnonzero(a < 0x80)
    starts = np.concatenate(([0], ends[:-1] + 1))
    lengths = ends - starts + 1
    if int(lengths.max()) > 10:
        raise WireError("a packed varint is longer than 10 bytes")
    shift = (np.arange(a.size, dtype=np.int64) - np.repeat(starts, lengths)) * 7
    vals = (a & 0x7F).astype(np.uint64) << shift.astype(np.uint64)
    return np.add.reduceat(vals, starts)


def packed_values(src: Source, field_no: int, at: int, n: int) -> "np.ndarray":
    """A packed TensorProto storage field (4 float, 10 double: fixed width; else varints as uint64)."""
    import numpy as np

    if field_no in (4, 10):  # fixed width
        width = 4 if field_no == 4 else 8
        if n % width:
            raise WireError(f"a packed field of {n} bytes at byte {at} is not a multiple of {width}")
        return np.frombuffer(src.read(at, n), dtype=STORAGE[field_no])
    pieces, pos, end = [], at, at + n
    while pos < end:  # chunked, so a large list never needs 8x its size in temporaries
        data = src.read(pos, min(_CHUNK, end - pos))
        if pos + len(data) < end:
            ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) < 0x80)
            if ends.size == 0:
                raise WireError("a packed varint is longer than 10 bytes")
            data = data[:int(ends[-1]) + 1]
        pieces.append(decode_varints(data))
        pos += len(data)
    return np.concatenate(pieces) if pieces else np.zeros(0, np.uint64)
