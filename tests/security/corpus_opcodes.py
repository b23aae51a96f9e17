"""Opcode tricks: call sites other than GLOBAL+REDUCE, memo indirection, BUILD/SETITEM on objects that
are not what the opcode expects, dotted names, streams that do not end where they seem to, and
memo-expansion bombs. Each is hand-assembled and spliced into a real ``torch.save`` state_dict.
"""

from __future__ import annotations

import pickle
import pickletools
import re
import struct
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from corpus_record import (
    HEAD, Case, G, I, Payload, T, U, call, get, names, put, python, shell, state_dict,
    with_fragment, zip_members,
)
from hostile_files import write_zip

BIG = 16 << 20  # the memoized string of the amplification bombs (deflates to ~16 kB in the zip)


Fragment = Callable[[Path, int], bytes]  # (marker, first free memo index) -> opcodes leaving one object


def _zip(fragment: Fragment | bytes, protocol: int = 2) -> Callable[[Path, Path, str], Path]:
    def build(folder: Path, marker: Path, cid: str) -> Path:
        body = fragment if isinstance(fragment, bytes) else (lambda base: fragment(marker, base))
        path = folder / f"{cid}.pt"
        write_zip(path, with_fragment(body, protocol))
        return path

    return build


def _case(cid: str, technique: str, build: Callable[[Path, Path, str], Path], refused: str | None,
          live: bool = False) -> Case:
    return Case(f"op-{cid}", technique, lambda folder, marker: build(folder, marker, cid), refused,
                HEAD if refused is None else None, live)


def _data_pkl(folder: Path, cid: str, edit: Callable[[bytes], bytes], obj: object = None, protocol: int = 2) -> Path:
    """A checkpoint whose whole data.pkl is edited by ``edit(pkl)``."""
    members = zip_members(state_dict() if obj is None else obj, protocol)
    path = folder / f"{cid}.pt"
    write_zip(path, [(n, edit(d) if n.endswith("/data.pkl") else d) for n, d in members])
    return path


def _frame_lie(where: str) -> Callable[[Path, Path, str], Path]:
    """The first FRAME made to end one byte into its last multi-byte opcode (``inside``), at that
    opcode's start (``boundary``: the rest is unframed, which picklers do too), or 5 bytes past the
    STOP into junk (``long``)."""
    def edit(pkl: bytes) -> bytes:
        i = pkl.index(b"\x95")
        ops = [pos for _, _, pos in pickletools.genops(pkl)] + [len(pkl)]
        stop = ops[-2]
        if where == "long":
            end = stop + 1 + 5
        else:
            last = max(p for p, q in zip(ops, ops[1:]) if q - p >= 2 and q <= stop)
            end = last + (1 if where == "inside" else 0)
        return pkl[:i + 1] + struct.pack("<Q", end - (i + 9)) + pkl[i + 9:] + b"N" * 64

    return lambda folder, marker, cid: _data_pkl(folder, cid, edit, protocol=4)


def _build_ordered(folder: Path, marker: Path, cid: str) -> Path:
    shadow = b"}(" + U("items") + I(1) + U("get") + I(2) + U("__class__") + I(3) + b"ub"
    return _data_pkl(folder, cid, lambda p: p[:-1] + shadow + b".", OrderedDict(state_dict()))


def _concatenated(folder: Path, marker: Path, cid: str) -> Path:
    evil = pickle.dumps(Payload(__import__("os").system, shell(marker)), protocol=2)
    return _data_pkl(folder, cid, lambda p: p + evil)


def _hash_bomb(base: int) -> bytes:
    """T_k = (T_(k-1), T_(k-1)) for 60 levels, then used as a dict key: 2**60 hashing steps."""
    out = bytearray(b"})" + put(base))
    for k in range(1, 61):
        out += get(base + k - 1) + b"\x86" + put(base + k)  # TUPLE2 of the top and its memo copy
    return bytes(out + I(1) + b"s")


def _name_bomb(base: int) -> bytes:
    """One 1 MB key reused through the memo at 99 nested levels: 1 MB x (1 + ... + 99) of names."""
    return b"}" + U("k" * (1 << 20)) + put(base) + b"}" + (get(base) + b"}") * 97 + get(base) + I(1) + b"s" * 99


def _repeat(fn: bytes, arg: bytes, times: int) -> Callable[[int], bytes]:
    """``fn(arg)`` ``times`` times into a list, the argument and the callable memoized once."""
    def fragment(base: int) -> bytes:
        first = fn + put(base) + b"(" + arg + put(base + 1) + b"tR"
        return b"(" + first + (get(base) + b"(" + get(base + 1) + b"tR") * (times - 1) + b"l"

    return fragment


def _build_reuse(base: int) -> bytes:
    """One 30 000-entry state BUILT onto 300 OrderedDicts (a copying loader copies it each time)."""
    state = b"}(" + b"".join(I(i) + I(i) for i in range(30_000)) + b"u" + put(base)
    first = G("collections", "OrderedDict") + put(base + 1) + b")R" + state + b"b"
    return b"(" + first + (get(base + 1) + b")R" + get(base) + b"b") * 299 + b"l"


def _storage() -> bytes:
    """The persistent id of fc.weight's own storage (key 0, 320 floats), as torch.save writes it."""
    return T(U("storage"), G("torch", "FloatStorage"), U("0"), U("cpu"), I(320)) + b"Q"


def _tensor(offset: int) -> bytes:
    return call(G("torch._utils", "_rebuild_tensor_v2"), _storage(), I(offset), T(I(10), I(32)), T(I(32), I(1)),
                b"\x89", call(G("collections", "OrderedDict")))


def cases() -> list[Case]:
    sys_call = lambda m: call(G("os", "system"), U(shell(m)))  # noqa: E731
    return [
        _case("inst", "INST opcode: a call site scanners that only follow REDUCE miss",
              _zip(lambda m, b: b"(" + U(shell(m)) + b"ios\nsystem\n"), names("os.system"), live=True),
        _case("obj", "OBJ opcode: class and arguments after one MARK",
              _zip(lambda m, b: b"(" + G("os", "system") + U(shell(m)) + b"o"), names("os.system"), live=True),
        _case("newobj-ex", "NEWOBJ_EX builds functools.partial(os.system, cmd), then an empty REDUCE calls it",
              _zip(lambda m, b: G("functools", "partial") + T(G("os", "system"), U(shell(m))) + b"}\x92)R"),
              names("functools.partial"), live=True),
        _case("newobj-ex-allowed", "NEWOBJ_EX on an allowed class with stray arguments (benign)",
              _zip(G("collections", "OrderedDict") + T(I(1)) + b"}" + U("x") + I(2) + b"s\x92"), None),
        _case("stack-global-memo", "STACK_GLOBAL whose module and name come back from the memo (PUT/GET)",
              _zip(lambda m, b: (b"\x8c\x02os" + put(b) + b"0\x8c\x06system" + put(b + 1) + b"0"
                                      + get(b) + get(b + 1) + b"\x93" + T(U(shell(m))) + b"R")),
              names("os.system"), live=True),
        _case("stack-global-int", "STACK_GLOBAL fed an int from the memo instead of a module name",
              _zip(lambda m, b: b"(" + I(5) + put(b) + get(b) + U("system") + b"\x93t"), "STACK_GLOBAL"),
        _case("build-ordereddict", "BUILD on the state_dict OrderedDict shadowing items/get/__class__ (benign)",
              _build_ordered, None),
        _case("build-class", "BUILD on the class collections.OrderedDict itself (would poison later files)",
              _zip(G("collections", "OrderedDict") + b"}" + U("items") + I(1) + b"sb"), r"__setstate__"),
        _case("build-dtype", "BUILD on the global torch.float32 (would change its element size)",
              _zip(G("torch", "float32") + b"}" + U("itemsize") + I(1) + b"sb"), r"BUILD .*torch\.float32"),
        _case("build-storage-slots", "BUILD with slot state (None, {...}) on torch.FloatStorage",
              _zip(G("torch", "FloatStorage") + b"N}" + U("dtype") + I(8) + b"s\x86b"), r"BUILD .*FloatStorage"),
        _case("build-rebuild-fn", "BUILD on torch._utils._rebuild_tensor_v2 (would replace the rebuild)",
              _zip(G("torch._utils", "_rebuild_tensor_v2") + b"}" + U("fn") + I(1) + b"sb"), r"BUILD .*_rebuild_tensor_v2"),
        _case("reduce-tensor-past-end", "REDUCE of the allowed _rebuild_tensor_v2 with an offset past its storage",
              _zip(_tensor(10**6)), r"reaches past"),
        _case("reduce-from-type", "_rebuild_from_type_v2 asked to call an allowed non-rebuild (bytearray)",
              _zip(call(G("torch._tensor", "_rebuild_from_type_v2"), G("builtins", "bytearray"),
                        G("torch", "Tensor"), T(U("x")), b"}")), r"not a tensor rebuild"),
        _case("setitem-list", "SETITEM on a list (benign: a list item replaced)",
              _zip(b"](" + I(1) + I(2) + b"e" + I(0) + U("x") + b"s"), None),
        _case("setitem-tensor", "SETITEM on a tensor (torch would write into the loaded weights)",
              _zip(_tensor(0) + I(0) + I(7) + b"s"), r"item assignment"),
        _case("setitems-global", "SETITEMS on the global torch.FloatStorage",
              _zip(G("torch", "FloatStorage") + b"(" + U("dtype") + I(1) + b"u"), r"item assignment"),
        _case("dotted-numpy", "a dotted GLOBAL name through an allowed package: 'numpy prod.a'",
              _zip(call(G("numpy", "prod.a"))), names("numpy.prod.a")),
        _case("dotted-globals", "dotted GLOBAL 'collections OrderedDict.__init__.__globals__'",
              _zip(G("collections", "OrderedDict.__init__.__globals__")),
              re.escape("collections.OrderedDict.__init__.__globals__")),
        _case("dotted-builtins", "dotted GLOBAL reaching eval: 'collections namedtuple.__builtins__.get' (protocol 4)",
              _zip(lambda m, b: call(call(G("collections", "namedtuple.__builtins__.get"), U("eval")), U(python(m))), 4),
              re.escape("collections.namedtuple.__builtins__.get"), live=True),
        _case("concatenated", "a second (payload) pickle after data.pkl's STOP (torch reads the first)",
              _concatenated, None),
        _case("junk-after-stop", "junk bytes after data.pkl's STOP",
              lambda folder, marker, cid: _data_pkl(folder, cid, lambda p: p + b"\xff junk " * 100), None),
        _case("frame-inside", "a protocol 4 FRAME that ends one byte into an opcode", _frame_lie("inside"), "FRAME"),
        _case("frame-boundary", "a protocol 4 FRAME that ends early at an opcode boundary (rest unframed: benign)",
              _frame_lie("boundary"), None),
        _case("frame-long", "a protocol 4 FRAME that claims 5 bytes past STOP (into junk)", _frame_lie("long"), "FRAME"),
        _case("memo-hash-bomb", "memo-expansion bomb: a 2**60-node shared tuple used as a dict key",
              _zip(lambda m, b: _hash_bomb(b)), r"memo-expansion bomb"),
        _case("memo-name-bomb", "memo-expansion bomb: one 1 MB key reused at 99 nested levels",
              _zip(lambda m, b: _name_bomb(b)), r"characters of dotted names"),
        _case("memo-copy-bomb", "memo-expansion bomb: bytearray() of one memoized 16 MB string, 128 times",
              _zip(lambda m, b: _repeat(G("builtins", "bytearray"), b"B" + struct.pack("<I", BIG) + b"\0" * BIG, 128)(b)),
              r"bytearray is asked to copy more bytes"),
        _case("memo-set-bomb", "memo-expansion bomb: set() over one memoized 16 MB string, 40 times",
              _zip(lambda m, b: _repeat(G("builtins", "set"), U("a" * BIG), 40)(b)), names("builtins.set") + " is called on a str"),
        _case("counter-str", "collections.Counter over a string (iterated character by character)",
              _zip(call(G("collections", "Counter"), U("abc"))), r"Counter is called on a str"),
        _case("memo-build-reuse", "one 30 000-entry BUILD state reused on 300 OrderedDicts (benign if not copied)",
              _zip(lambda m, b: _build_reuse(b)), None),
        _case("long-global", "a GLOBAL whose module name is 16 MB long (the message must stay one short line)",
              _zip(lambda m, b: call(G("os" + "x" * BIG, "system"))), r"refused to unpickle global 'osx{98}\.\.\.' \(\d+ characters"),
        _case("memo-index-huge", "LONG_BINPUT to memo index 2**31 (a table that large)",
              _zip(U("x") + put(2**31)), r"memo index"),
        _case("sys-call-proto4", "os.system as a protocol 4 payload inside a framed data.pkl",
              _zip(lambda m, b: sys_call(m), 4), names("os.system"), live=True),
    ]

