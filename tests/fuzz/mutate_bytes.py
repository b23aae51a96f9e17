"""Format-agnostic byte mutators and a pickle-opcode mutator, all driven by a seeded ``random.Random``.

Every mutator takes the original bytes and an RNG and returns new bytes; none of them reads global
state, so a case is reproducible from (seed, case index) alone.
"""

from __future__ import annotations

import io
import pickle
import pickletools
import random
import struct
from collections.abc import Callable

__all__ = [
    "INTERESTING",
    "GENERIC",
    "pick_pos",
    "splice",
    "pickle_ops",
    "mutate_pickle",
]

# Boundary values that break length checks, sign handling and size arithmetic.
INTERESTING: tuple[int, ...] = (
    0, 1, 2, 7, 8, 15, 16, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000,
    0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x100000000, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1,
)


def pick_pos(data: bytes, rng: random.Random, head_bias: int = 2048) -> int:
    """A position, half the time inside the first ``head_bias`` bytes where the headers live."""
    if not data:
        return 0
    if rng.random() < 0.5:
        return rng.randrange(min(len(data), head_bias))
    return rng.randrange(len(data))


def bit_flip(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3, 8, 32))):
        p = pick_pos(data, rng)
        if p < len(out):
            out[p] ^= 1 << rng.randrange(8)
    return bytes(out)


def set_bytes(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    p = pick_pos(data, rng)
    n = rng.choice((1, 2, 4, 8, 16))
    fill = rng.choice((b"\x00", b"\xff", b"\x7f", None))
    chunk = fill * n if fill else bytes(rng.randrange(256) for _ in range(n))
    out[p:p + n] = chunk
    return bytes(out)


def interesting_int(data: bytes, rng: random.Random) -> bytes:
    width, fmt = rng.choice(((1, "<B"), (2, "<H"), (4, "<I"), (8, "<Q"), (4, ">I"), (8, ">Q")))
    value = rng.choice(INTERESTING) & ((1 << (8 * width)) - 1)
    p = pick_pos(data, rng)
    return data[:p] + struct.pack(fmt, value) + data[p + width:]


def truncate(data: bytes, rng: random.Random) -> bytes:
    mode = rng.random()
    if mode < 0.4:
        cut = rng.randrange(min(len(data), 1024) or 1)
    elif mode < 0.7:
        cut = max(0, len(data) - rng.randrange(1, 65))
    else:
        cut = rng.randrange(len(data) or 1)
    return data[:cut]


def delete_chunk(data: bytes, rng: random.Random) -> bytes:
    p = pick_pos(data, rng)
    return data[:p] + data[p + rng.choice((1, 2, 4, 16, 256, 4096)):]


def insert_chunk(data: bytes, rng: random.Random) -> bytes:
    p = pick_pos(data, rng)
    n = rng.choice((1, 2, 4, 16, 256))
    if rng.random() < 0.5 and len(data) > n:  # duplicate existing bytes
        s = rng.randrange(len(data) - n)
        chunk = data[s:s + n]
    else:
        chunk = bytes(rng.randrange(256) for _ in range(n))
    return data[:p] + chunk + data[p:]


GENERIC: dict[str, Callable[[bytes, random.Random], bytes]] = {
    "bit_flip": bit_flip,
    "set_bytes": set_bytes,
    "interesting_int": interesting_int,
    "truncate": truncate,
    "delete_chunk": delete_chunk,
    "insert_chunk": insert_chunk,
}


def splice(a: bytes, b: bytes, rng: random.Random) -> bytes:
    """The head of ``a`` joined to the tail of ``b`` (b may be another format)."""
    i = pick_pos(a, rng, head_bias=len(a))
    j = rng.randrange(len(b) or 1)
    return a[:i] + b[j:]


# ---------------------------------------------------------------------------------- pickle opcodes

_OPCODE_BYTES = [op.code.encode("latin-1") for op in pickletools.opcodes]

# Whole-op snippets worth inserting: stack/memo abuse, framing lies, calls and persistent ids.
_SNIPPETS: tuple[bytes, ...] = (
    b"(", b"}", b"]", b")", b"N", b"0", b"2", b"1", b"e", b"u", b"s", b"t", b"R", b"b", b"\x81",
    b"\x85", b"\x86", b"\x87", b"Q", b"h\xff", b"j\xff\xff\xff\x7f", b"q\xff", b"\x94", b".",
    b"\x95\xff\xff\xff\xff\xff\xff\xff\x7f", b"\x82\x01", b"J\xff\xff\xff\xff", b"\x8a\x00",
    b"\x8a\x09" + b"\xff" * 9, b"\x8c\x02os\x8c\x06system\x93", b"cos\nsystem\n",
    b"cbuiltins\neval\n", b"ctorch\nFloatStorage\n", b"ccollections\nOrderedDict\n",
)

_STRINGS: tuple[str, ...] = (
    "", "x", "0", "99", "-1", "torch", "os", "system", "FloatStorage", "DoubleStorage", "HalfStorage",
    "BFloat16Storage", "ByteStorage", "LongStorage", "QInt8Storage", "BoolStorage", "ComplexFloatStorage",
    "classifier.weight", "state_dict", "optimizer", "cuda:0", "meta", "mps", "storage",
    "_rebuild_tensor_v2", "_rebuild_parameter", "_rebuild_qtensor", "collections", "OrderedDict",
    "../../../etc/passwd", "/etc/passwd", "\x00", "é" * 3, "x" * 10000,
)

_GLOBALS: tuple[tuple[str, str], ...] = (
    ("builtins", "bytearray"), ("builtins", "set"), ("builtins", "frozenset"), ("argparse", "Namespace"),
    ("numpy", "dtype"), ("numpy", "ndarray"), ("numpy._core.multiarray", "scalar"), ("_codecs", "encode"),
    ("__torch__.Net", "Net"), ("torch._utils", "_rebuild_parameter_with_state"),
    ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_parameter"),
    ("torch._utils", "_rebuild_tensor"), ("torch", "FloatStorage"), ("torch", "HalfStorage"),
    ("torch", "BFloat16Storage"), ("torch", "LongStorage"), ("torch", "Size"),
    ("collections", "OrderedDict"), ("torch._utils", "_rebuild_qtensor"), ("torch", "device"),
    ("os", "system"), ("builtins", "eval"), ("posix", "system"), ("builtins", "getattr"),
    ("torch.nn.modules.linear", "Linear"), ("numpy.core.multiarray", "_reconstruct"), ("", ""),
    ("torch", ""), ("__builtin__", "set"),
)


def _fast_pickle(obj: object) -> bytes:
    """``obj`` pickled (protocol 2) without memo opcodes, minus PROTO and STOP: a self-contained call."""
    buf = io.BytesIO()
    p = pickle.Pickler(buf, 2)
    p.fast = True  # no BINPUT/BINGET: the snippet cannot clash with the host pickle's memo
    p.dump(obj)
    return buf.getvalue()[2:-1]


def _call_snippets() -> tuple[bytes, ...]:
    """Calls of the non-tensor globals a checkpoint may name, benign and hostile, each followed by POP."""
    import argparse
    import collections

    import numpy as np

    arr = _fast_pickle(np.zeros(3, np.float32))
    shape3 = b"K\x01K\x03\x85"
    assert shape3 in arr
    big = (2**40).to_bytes(6, "little")
    hostile = (
        arr.replace(shape3, b"K\x01\x8a\x06" + big + b"\x85"),  # a 2**40-element array over 12 bytes
        arr.replace(shape3, b"K\x01J\xff\xff\xff\xff\x85"),  # negative shape
        b"cbuiltins\nbytearray\n\x8a\x06" + big + b"\x85R",  # bytearray(2**40)
        b"c__builtin__\nset\n]K\x01a\x85R",
        _fast_pickle(np.array([1, "a"], dtype=object)),
    )
    benign = tuple(_fast_pickle(o) for o in (
        np.arange(4, dtype=np.int64).reshape(2, 2), np.float64(1.5), np.dtype("f4"),
        argparse.Namespace(lr=0.1, arch="x"), collections.OrderedDict(a=1), {1, 2}, frozenset([3]),
        bytearray(b"ab"), complex(1, 2), slice(1, 2),
    ))
    return tuple(s + b"0" for s in (arr, *hostile, *benign))


_CALLS: tuple[bytes, ...] = ()


def pickle_ops(data: bytes) -> list[tuple[str, object, int, int]]:
    """(opcode name, argument, start, end) for each op of the first pickle in ``data``."""
    ops = list(pickletools.genops(data))
    out = []
    for k, (op, arg, pos) in enumerate(ops):
        end = ops[k + 1][2] if k + 1 < len(ops) else pos + 1
        out.append((op.name, arg, pos, end))
    return out


def _encode_str(s: str) -> bytes:
    raw = s.encode("utf-8", "surrogatepass")
    return (b"\x8c" + bytes([len(raw)]) if len(raw) < 256 else b"X" + struct.pack("<I", len(raw))) + raw


def _encode_int(v: int) -> bytes:
    if 0 <= v < 256:
        return b"K" + bytes([v])
    if -(2**31) <= v < 2**31:
        return b"J" + struct.pack("<i", v)
    raw = v.to_bytes((v.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(raw)]) + raw


def mutate_pickle(data: bytes, rng: random.Random) -> bytes:
    """One opcode-aware edit of a pickle: replace, delete, duplicate, swap, or rewrite an argument."""
    try:
        ops = pickle_ops(data)
    except Exception:  # noqa: BLE001 - not a clean pickle: fall back to bytes
        return bit_flip(data, rng)
    if not ops:
        return data
    name, arg, s, e = ops[rng.randrange(len(ops))]
    mode = rng.randrange(11)
    if mode == 0:  # change the opcode byte, keep its argument bytes
        return data[:s] + rng.choice(_OPCODE_BYTES) + data[s + 1:]
    if mode == 1:
        return data[:s] + data[e:]
    if mode == 2:
        return data[:e] + data[s:e] + data[e:]
    if mode == 3:
        _, _, s2, e2 = ops[rng.randrange(len(ops))]
        if s2 > e:
            return data[:s] + data[s2:e2] + data[e:s2] + data[s:e] + data[e2:]
        return data[:s] + data[e:]
    if mode == 4:  # truncate at an op boundary
        return data[:s]
    if mode == 5:
        return data[:s] + rng.choice(_SNIPPETS) + data[s:]
    if mode == 9:  # a complete call (numpy, Namespace, bytearray, set ...) whose result is popped
        global _CALLS
        _CALLS = _CALLS or _call_snippets()
        return data[:s] + rng.choice(_CALLS) + data[s:]
    # rewrite an argument of the same kind (ints, strings, globals), or any op as an int/str
    ints = [o for o in ops if isinstance(o[1], int) and o[0] not in ("PROTO", "FRAME")]
    strs = [o for o in ops if isinstance(o[1], str) and o[0] not in ("GLOBAL",)]
    globs = [o for o in ops if o[0] in ("GLOBAL", "STACK_GLOBAL")]
    if mode == 6 and ints:
        _, _, s, e = rng.choice(ints)
        v = rng.choice(INTERESTING) * rng.choice((1, -1))
        return data[:s] + _encode_int(v) + data[e:]
    if mode == 7 and strs:
        _, _, s, e = rng.choice(strs)
        return data[:s] + _encode_str(rng.choice(_STRINGS)) + data[e:]
    if globs:
        gname, _, s, e = rng.choice(globs)
        mod, attr = rng.choice(_GLOBALS)
        if gname == "GLOBAL":
            return data[:s] + f"c{mod}\n{attr}\n".encode() + data[e:]
        return data[:s] + _encode_str(mod) + _encode_str(attr) + b"\x93" + data[e:]
    return bit_flip(data, rng)
