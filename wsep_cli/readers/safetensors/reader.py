"""safetensors reader: parses the JSON header itself and reads exactly one tensor's bytes.

Nothing but the header and the requested tensor is read, so a 2 GB file costs the same as a 2 kB one.
The header is validated before any tensor is read: length bound, dtype names, offsets inside the data
section, shape products that match the byte ranges.
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, NamedTuple

import numpy as np

from wsep_cli.errors import UnreadableError
from wsep_cli.readers.base import Reader, TensorInfo, bf16_to_float32

__all__ = ["SafetensorsReader", "parse_header", "parse_header_bytes", "check_header_length", "decode_tensor", "MAX_HEADER_BYTES"]

MAX_HEADER_BYTES = 100 * 1024 * 1024  # the limit the safetensors library itself enforces

# safetensors dtype -> (numpy dtype used to read the bytes, reported dtype name, item size)
_DTYPES: dict[str, tuple[str, str, int]] = {
    "F64": ("<f8", "float64", 8),
    "F32": ("<f4", "float32", 4),
    "F16": ("<f2", "float16", 2),
    "BF16": ("<u2", "bfloat16", 2),
    "I64": ("<i8", "int64", 8),
    "I32": ("<i4", "int32", 4),
    "I16": ("<i2", "int16", 2),
    "I8": ("i1", "int8", 1),
    "U64": ("<u8", "uint64", 8),
    "U32": ("<u4", "uint32", 4),
    "U16": ("<u2", "uint16", 2),
    "U8": ("u1", "uint8", 1),
    "BOOL": ("?", "bool", 1),
    "F8_E4M3": ("u1", "float8_e4m3fn", 1),
    "F8_E5M2": ("u1", "float8_e5m2", 1),
}


class _Entry(NamedTuple):
    """One header entry (a tuple: a header may list 100,000+ of them, and a tuple is built ~5x faster
    than a frozen dataclass and is smaller)."""

    info: TensorInfo
    raw_dtype: str
    start: int
    end: int



def parse_header(path: Path) -> tuple[dict[str, _Entry], dict[str, str], int]:
    """Read and validate a safetensors header.

    Returns:
        (entries by name, ``__metadata__``, byte offset where the data section starts)
    """
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise UnreadableError(f"{path}: too short to be a safetensors file ({size} bytes)")
        hlen = check_header_length(path, head, size)
        raw = fh.read(hlen)
    return parse_header_bytes(path, raw, size)


def check_header_length(where: object, first8: bytes, size: int) -> int:
    """The header length the first 8 bytes claim, checked against the limit and the file size."""
    (hlen,) = struct.unpack("<Q", first8)
    if hlen > MAX_HEADER_BYTES and hlen + 8 <= size:
        raise UnreadableError(
            f"{where}: safetensors header claims {hlen} bytes, over the {MAX_HEADER_BYTES}-byte "
            "limit; refusing to read it (the file is corrupt or hostile)"
        )
    if hlen + 8 > size:
        raise UnreadableError(
            f"{where}: safetensors header claims {hlen} bytes but the file has {size}; "
            "the file is truncated or not safetensors"
        )
    return int(hlen)


def parse_header_bytes(where: object, raw: bytes, size: int) -> tuple[dict[str, _Entry], dict[str, str], int]:
    """Validate the JSON header ``raw`` of a ``size``-byte safetensors file (local or remote).

    The header object is decoded one entry at a time (:func:`_header_items`) and each entry checked
    as it comes, so a 100 MiB header of 1,000,000 entries never exists as one JSON tree beside the
    entries made from it. A key given twice keeps its last value, as with ``json.loads``, but every
    value given is checked.

    Returns:
        (entries by name, ``__metadata__``, byte offset where the data section starts)
    """
    path = where
    data_start = 8 + len(raw)
    data_len = size - data_start
    entries: dict[str, _Entry] = {}
    meta_raw: object = None
    try:
        text = raw.decode("utf-8")
        if not text.lstrip(_WS_CHARS).startswith("{"):
            json.loads(text)  # the decoder's own message, or valid JSON that is not an object
            raise UnreadableError(f"{path}: safetensors header is not a JSON object")
        for name, spec in _header_items(text):
            if name == "__metadata__":
                meta_raw = spec
            else:
                entries[name] = _parse_entry(path, name, spec, data_len)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:  # ValueError: huge int literals
        raise UnreadableError(f"{path}: safetensors header is not valid JSON ({e})") from e
    meta_raw = meta_raw or {}
    if not isinstance(meta_raw, dict):
        raise UnreadableError(f"{path}: safetensors __metadata__ is not an object")
    metadata = {str(k): str(v) for k, v in meta_raw.items()}
    _check_no_overlap(path, entries)
    return entries, metadata, data_start


_WS_CHARS = " \t\n\r"
_WS = re.compile(r"[ \t\n\r]*")
_SCAN_VALUE = json.scanner.make_scanner(json.JSONDecoder())  # json.loads' own (C) value scanner


def _header_items(text: str) -> Iterator[tuple[str, object]]:
    """The (key, value) pairs of the JSON object ``text`` (which starts with ``{`` after white
    space) in order, decoded by the same scanner as ``json.loads`` and with its errors. White space
    is skipped by a regex only where there is some (``safetensors`` writes compact JSON)."""
    ws, blank, scan, string = _WS.match, _WS_CHARS, _SCAN_VALUE, json.decoder.scanstring
    i = ws(text, ws(text, 0).end() + 1).end()
    if text.startswith("}", i):
        i += 1
    else:
        while True:
            if text[i:i + 1] != '"':
                raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, i)
            key, i = string(text, i + 1)
            if text[i:i + 1] in blank:
                i = ws(text, i).end()
            if text[i:i + 1] != ":":
                raise json.JSONDecodeError("Expecting ':' delimiter", text, i)
            i += 1
            if text[i:i + 1] in blank:
                i = ws(text, i).end()
            try:
                value, i = scan(text, i)
            except StopIteration as e:
                raise json.JSONDecodeError("Expecting value", text, e.value) from None
            yield key, value
            if text[i:i + 1] in blank:
                i = ws(text, i).end()
            sep = text[i:i + 1]
            i += 1
            if sep == ",":
                if text[i:i + 1] in blank:
                    i = ws(text, i).end()
            elif sep == "}":
                break
            else:
                raise json.JSONDecodeError("Expecting ',' delimiter", text, i - 1)
    if ws(text, i).end() != len(text):
        raise json.JSONDecodeError("Extra data", text, i)


def _check_no_overlap(path: object, entries: dict[str, _Entry]) -> None:
    """Refuse byte ranges shared by two tensors (empty tensors may sit anywhere)."""
    prev_end, prev_name = 0, ""
    for e in sorted((e for e in entries.values() if e.end > e.start), key=lambda e: e.start):
        if e.start < prev_end:
            raise UnreadableError(
                f"{path}: tensors {prev_name!r} and {e.info.name!r} claim overlapping bytes; "
                "the header is corrupt"
            )
        prev_end, prev_name = e.end, e.info.name


def _parse_entry(path: object, name: str, spec: object, data_len: int) -> _Entry:
    if not isinstance(spec, dict):
        raise UnreadableError(f"{path}: safetensors entry {name!r} is not an object")
    dtype, shape, offsets = spec.get("dtype"), spec.get("shape"), spec.get("data_offsets")
    if dtype not in _DTYPES:
        raise UnreadableError(f"{path}: tensor {name!r} has unsupported dtype {dtype!r}")
    numel = _numel(shape)
    if numel < 0:
        raise UnreadableError(f"{path}: tensor {name!r} has an invalid shape {shape!r}")
    if type(offsets) is not list or len(offsets) != 2 or type(offsets[0]) is not int or type(offsets[1]) is not int:
        raise UnreadableError(f"{path}: tensor {name!r} has invalid data_offsets {offsets!r}")
    start, end = offsets
    itemsize = _DTYPES[dtype][2]
    if not (0 <= start <= end <= data_len) or end - start != numel * itemsize:
        raise UnreadableError(
            f"{path}: tensor {name!r} claims bytes {start}..{end} for shape {shape} {dtype}, "
            f"which do not fit the {data_len}-byte data section"
        )
    info = TensorInfo(name=name, shape=tuple(shape), dtype=_DTYPES[dtype][1])
    return _Entry(info=info, raw_dtype=dtype, start=start, end=end)


def _numel(shape: object) -> int:
    """The element count of a JSON shape (a list of at most 16 non-negative ints), else -1.

    ``type(d) is int`` keeps bools (and int subclasses) out, as the JSON decoder gives exact types;
    Python ints never overflow, and the product is compared against the real file by the caller."""
    if type(shape) is not list or len(shape) > 16:
        return -1
    numel = 1
    for d in shape:
        if type(d) is not int or d < 0:
            return -1
        numel *= d
    return numel


def decode_tensor(entry: _Entry, buf: bytes | np.ndarray) -> np.ndarray:
    """A tensor's values from its raw bytes (``bfloat16`` upcast exactly to ``float32``)."""
    arr = np.frombuffer(buf, dtype=_DTYPES[entry.raw_dtype][0]).reshape(entry.info.shape)
    return bf16_to_float32(arr) if entry.raw_dtype == "BF16" else arr


@dataclass
class SafetensorsReader(Reader):
    """One ``.safetensors`` file."""

    format: ClassVar[str] = "safetensors"
    _entries: dict[str, _Entry] = field(default_factory=dict, init=False, repr=False)
    _metadata: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    _data_start: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self._entries, self._metadata, self._data_start = parse_header(self.path)

    def tensors(self) -> list[TensorInfo]:
        ordered = sorted(self._entries.values(), key=lambda e: e.start)
        return [e.info for e in ordered]

    def metadata(self) -> dict[str, str]:
        return dict(self._metadata)

    def load(self, name: str) -> np.ndarray:
        try:
            entry = self._entries[name]
        except KeyError:
            raise UnreadableError(f"{self.path}: no tensor named {name!r}") from None
        with self.path.open("rb") as fh:
            fh.seek(self._data_start + entry.start)
            buf = fh.read(entry.end - entry.start)
        if len(buf) != entry.end - entry.start:
            raise UnreadableError(f"{self.path}: tensor {name!r} is truncated")
        return decode_tensor(entry, buf)
