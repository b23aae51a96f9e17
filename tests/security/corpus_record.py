"""The bypass corpus's building blocks: the case record, payload objects, a tiny pickle assembler,
and real ``torch.save`` checkpoints with a hand-written fragment spliced into their pickle.

torch is imported lazily (the builders need it; reading this module does not).
"""

from __future__ import annotations

import io
import pickletools
import re
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HEAD = ("fc.weight", 10)  # what a read case's scored head must be (the checkpoints' own head)
PLACEHOLDER = "@@wsep-corpus-fragment@@"


@dataclass(frozen=True)
class Case:
    """One corpus entry.

    ``build(folder, marker)`` writes the file and returns its path; a payload in it would create
    ``marker``. ``refused`` is a regex the one-line message must match (wsep exits 4); ``None`` means
    a read (exit 0) whose head must be ``head`` with the values torch loads. ``live``: the payload
    provably runs under ``torch.load(weights_only=False)`` (the test checks that too).
    """

    id: str
    technique: str
    build: Callable[[Path, Path], Path]
    refused: str | None = None
    head: tuple[str, int] | None = None
    live: bool = False


def names(dotted: str) -> str:
    """Regex for a refused global as a message spells it (protocol 2 writes ``__builtin__``)."""
    module, _, name = dotted.rpartition(".")
    mod = "(builtins|__builtin__)" if module == "builtins" else re.escape(module)
    return rf"{mod}\W{{1,3}}{re.escape(name)}\b"


class Payload:
    """Pickles as ``fn(*args)``; callable, so that a payload may be the callable of another one."""

    def __init__(self, fn: Any, *args: Any) -> None:
        self.fn, self.args = fn, args

    def __reduce__(self) -> tuple[Any, ...]:
        return self.fn, self.args

    def __call__(self, *args: Any) -> None:  # pragma: no cover - never called, only pickled
        raise AssertionError("a payload is only pickled")


def shell(marker: Path) -> str:
    return f"touch '{marker}'"


def python(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').close()"


# ------------------------------------------------------------------ a tiny protocol 2-4 assembler

def U(text: str) -> bytes:  # noqa: N802 - BINUNICODE
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def I(n: int) -> bytes:  # noqa: N802, E743 - BININT
    return b"J" + struct.pack("<i", n)


def G(module: str, name: str) -> bytes:  # noqa: N802 - GLOBAL
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def T(*items: bytes) -> bytes:  # noqa: N802 - MARK ... TUPLE
    return b"(" + b"".join(items) + b"t"


def call(fn: bytes, *args: bytes) -> bytes:
    return fn + T(*args) + b"R"


def put(i: int) -> bytes:
    return b"r" + struct.pack("<I", i)


def get(i: int) -> bytes:
    return b"j" + struct.pack("<I", i)


def literal(obj: Any) -> bytes:
    """Opcodes pushing ``obj`` (plain data only), with no memo use, to splice anywhere."""
    import pickle

    body = pickletools.optimize(pickle.dumps(obj, protocol=3))[2:-1]
    assert not any(op.name.endswith(("GET", "PUT")) or op.name == "MEMOIZE"
                   for op, _, _ in pickletools.genops(body + b".")), "shared objects need the memo"
    return body


# ------------------------------------------------------------------ real torch.save checkpoints

def state_dict(n: int = 10, seed: int = 0) -> dict[str, Any]:
    import torch

    g = torch.Generator().manual_seed(seed)
    return {"fc.weight": torch.randn(n, 32, generator=g), "fc.bias": torch.zeros(n)}


def zip_members(obj: Any, protocol: int = 2) -> list[tuple[str, bytes]]:
    """``torch.save(obj)`` in zip format, as (name, bytes) per record."""
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf, pickle_protocol=protocol)
    buf.seek(0)
    with zipfile.ZipFile(buf) as zf:
        return [(i.filename, zf.read(i)) for i in zf.infolist()]


def max_memo(pkl: bytes) -> int:
    idx = [arg for op, arg, _ in pickletools.genops(pkl) if op.name in ("BINPUT", "LONG_BINPUT", "PUT")]
    return max(idx, default=-1)


def unframe(pkl: bytes) -> bytes:
    """The same pickle without FRAME opcodes (optional in protocol 4), so that it can be edited."""
    out, last = bytearray(), 0
    for op, _, pos in pickletools.genops(pkl):
        if op.name == "FRAME":
            out += pkl[last:pos]
            last = pos + 9
    return bytes(out + pkl[last:])


def splice(pkl: bytes, fragment: bytes | Callable[[int], bytes]) -> bytes:
    """Replace the placeholder string in ``pkl`` by ``fragment`` (opcodes leaving one object). A
    callable fragment gets the first memo index the pickle leaves free (protocol 2: no MEMOIZE)."""
    pkl = unframe(pkl)
    raw = PLACEHOLDER.encode()
    for op in (U(PLACEHOLDER), b"\x8c" + bytes([len(raw)]) + raw):
        if op in pkl:
            body = fragment(max_memo(pkl) + 1) if callable(fragment) else fragment
            return pkl.replace(op, body, 1)
    raise AssertionError("no placeholder in the pickle")


def with_fragment(fragment: bytes | Callable[[int], bytes], protocol: int = 2) -> list[tuple[str, bytes]]:
    """A real state_dict checkpoint whose ``extra`` entry is ``fragment``."""
    members = zip_members({**state_dict(), "extra": PLACEHOLDER}, protocol)
    return [(n, splice(d, fragment) if n.endswith("/data.pkl") else d) for n, d in members]


def save_obj(path: Path, obj: Any, fmt: str = "zip") -> Path:
    import torch

    torch.save(obj, path, _use_new_zipfile_serialization=(fmt == "zip"))
    return path
