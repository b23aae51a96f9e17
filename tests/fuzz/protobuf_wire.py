"""A minimal protobuf wire-format codec, enough to mutate serialized ONNX models field by field.

Messages are parsed into a tree of :class:`Field` (tag number, wire type, value); length-delimited
values that parse cleanly as messages are kept as sub-trees, so a mutation deep inside the graph
re-serializes with every enclosing length recomputed (the reader then sees a well-formed protobuf
with wrong *content*), while other mutations deliberately leave a length wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Field", "parse", "serialize", "encode_varint", "walk"]

VARINT, I64, LEN, I32 = 0, 1, 2, 5


@dataclass
class Field:
    """One field: ``value`` is an int (varint), bytes (fixed / leaf LEN) or a list of Fields."""

    number: int
    wire: int
    value: int | bytes | list["Field"]
    children: bool = field(default=False)


def encode_varint(v: int) -> bytes:
    """Protobuf varint; negative ints use 10-byte two's complement like protobuf does."""
    if v < 0:
        v += 1 << 64
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("bad varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, pos


def parse(buf: bytes, depth: int = 0) -> list[Field]:
    """Parse ``buf`` as a message; raises ValueError when it is not one."""
    out: list[Field] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ValueError("field number 0")
        if wire == VARINT:
            v, pos = _varint(buf, pos)
            out.append(Field(number, wire, v))
        elif wire == I64:
            out.append(Field(number, wire, buf[pos:pos + 8]))
            pos += 8
        elif wire == I32:
            out.append(Field(number, wire, buf[pos:pos + 4]))
            pos += 4
        elif wire == LEN:
            n, pos = _varint(buf, pos)
            if pos + n > len(buf):
                raise ValueError("length past end")
            raw = buf[pos:pos + n]
            pos += n
            sub: list[Field] | None = None
            if depth < 6 and raw:
                try:
                    sub = parse(raw, depth + 1)
                except ValueError:
                    sub = None
            out.append(Field(number, wire, sub if sub is not None else raw, children=sub is not None))
        else:
            raise ValueError(f"wire type {wire}")
        if pos > len(buf):
            raise ValueError("field past end")
    return out


def serialize(fields: list[Field]) -> bytes:
    """The exact inverse of :func:`parse` for unmodified trees."""
    out = bytearray()
    for f in fields:
        out += encode_varint((f.number << 3) | f.wire)
        if f.wire == VARINT:
            assert isinstance(f.value, int)
            out += encode_varint(f.value)
        elif f.wire in (I64, I32):
            assert isinstance(f.value, bytes)
            out += f.value
        else:
            raw = serialize(f.value) if isinstance(f.value, list) else bytes(f.value)  # type: ignore[arg-type]
            out += encode_varint(len(raw)) + raw
    return bytes(out)


def walk(fields: list[Field], path: tuple[int, ...] = ()) -> list[tuple[tuple[int, ...], list[Field], int]]:
    """Every field as (path of field numbers, the list holding it, its index there)."""
    found: list[tuple[tuple[int, ...], list[Field], int]] = []
    for i, f in enumerate(fields):
        p = (*path, f.number)
        found.append((p, fields, i))
        if isinstance(f.value, list):
            found.extend(walk(f.value, p))
    return found
