"""The pickle opcode tables that :mod:`wsep_cli.readers.pytorch.pickle_scan` walks with.

Argument layouts (as :mod:`pickletools` documents them), the kind of each opcode byte, and the
tables of the walk's fast paths.
"""

from __future__ import annotations

from wsep_cli.readers.pytorch.pickle_effects import EFFECT, PUSH

__all__ = ["OPCODE_ARGS", "OPCODES_POPPING_MARK", "KIND", "MEMO_BIN", "FIXED_PUSH", "SIZED_PUSH", "MEMO_WIDTH",
           "GETS", "MARK_CODE", "MEMO_TEXT", "FRAME"]

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
KIND: list[int | None] = [None] * 256
for _kind, _codes in OPCODE_ARGS.items():
    for _c in _codes:
        KIND[_c] = _kind
MEMO_BIN = frozenset(b"qrhj")  # BINPUT LONG_BINPUT BINGET LONG_BINGET
# Fast paths of the walk, for the opcodes that make up most of a real pickle: a push with a fixed
# argument (its size with the opcode byte), a push of a string or bytes with an unsigned 1/4/8-byte
# length (the length's width); BINPUT and BINGET are handled inline too.
FIXED_PUSH = [1 + k if EFFECT[c] == PUSH and k is not None and k >= 0 else 0 for c, k in enumerate(KIND)]
SIZED_PUSH = [-k - 10 if EFFECT[c] == PUSH and k is not None and k <= -10 and c not in b"T\x8b" else 0
               for c, k in enumerate(KIND)]
MEMO_WIDTH = [{0x71: 1, 0x72: 4, 0x68: 1, 0x6A: 4}.get(c, 0) for c in range(256)]  # q r h j: index width
GETS = frozenset(b"hj")
MARK_CODE = ord("(")
MEMO_TEXT = frozenset(b"pg")  # PUT GET
FRAME = 0x95
