"""What each pickle opcode does to the unpickler's stack, as a table the opcode pre-scan follows.

The pre-scan (:mod:`wsep_cli.readers.pytorch.pickle_scan`) tracks, for every stack item and memo
entry, its *weight*: the number of nodes it would have as a tree, with shared references counted
each time they are used. Hashing (dict keys, set items, call arguments) and printing take time in the
weight, not in the bytes: a 300-byte pickle can build ``T_k = (T_(k-1), T_(k-1))`` through the memo
and use ``T_60`` as a dict key, which CPython would hash for ever (2**60 steps, inside C, where no
signal interrupts it). The scan refuses such a pickle before it is unpickled.

Categories (the ``EFFECT`` value per opcode byte):

- ``NOP``: PROTO, FRAME. ``PUSH``: pushes one new object (literals, empty containers, GLOBAL, PERSID).
- ``MARK``, ``STOP``, ``POP``, ``POP_MARK``, ``DUP``; ``GET`` pushes a memo entry, ``PUT`` and
  ``MEMOIZE`` store the top.
- ``ADD1``: pops one item into the new top (APPEND, BUILD). ``SETITEM``: pops key and value into
  the top, hashing the key.
- ``ADD_MARK`` / ``SETITEMS`` / ``ADDITEMS``: pop to the mark into the top (SETITEMS hashes every
  other item, ADDITEMS all of them).
- ``COLLECT_MARK`` (LIST, TUPLE), ``DICT`` (hashes keys), ``COLLECT_MARK_HASHED`` (FROZENSET, INST,
  OBJ): pop to the mark and push one object.
- ``COLLECT + n``: pop ``n`` items, push one (TUPLE1-3, STACK_GLOBAL, BINPERSID, READONLY_BUFFER);
  ``CALL + n``: the same, hashing the top ``n - 1`` (the arguments of REDUCE, NEWOBJ, NEWOBJ_EX).
- ``EXT``: the copyreg extension registry (refused).

tests/readers/pytorch/test_pickle_scan.py checks this table against ``pickletools.opcodes``.
"""

from __future__ import annotations

__all__ = ["EFFECT", "NOP", "PUSH", "MARK", "STOP", "POP", "POP_MARK", "DUP", "GET", "PUT", "MEMOIZE",
           "ADD1", "SETITEM", "ADD_MARK", "SETITEMS", "ADDITEMS", "COLLECT_MARK", "DICT",
           "COLLECT_MARK_HASHED", "COLLECT", "CALL", "EXT"]

(NOP, PUSH, MARK, STOP, POP, POP_MARK, DUP, GET, PUT, MEMOIZE, ADD1, SETITEM, ADD_MARK, SETITEMS,
 ADDITEMS, COLLECT_MARK, DICT, COLLECT_MARK_HASHED, EXT) = range(19)
COLLECT = 20  # + number of items popped
CALL = 30  # + number of items popped; all but the first (the callable or class) are hashed

_BY_CODE: dict[int, bytes] = {
    NOP: b"\x80\x95",
    PUSH: b"FIJKLMNPSTUVXc}])G\x88\x89\x8a\x8bBC\x8c\x8d\x8e\x8f\x96\x97",
    MARK: b"(",
    STOP: b".",
    POP: b"0",
    POP_MARK: b"1",
    DUP: b"2",
    GET: b"ghj",
    PUT: b"pqr",
    MEMOIZE: b"\x94",
    ADD1: b"ab",
    SETITEM: b"s",
    ADD_MARK: b"e",
    SETITEMS: b"u",
    ADDITEMS: b"\x90",
    COLLECT_MARK: b"lt",
    DICT: b"d",
    COLLECT_MARK_HASHED: b"\x91io",
    EXT: b"\x82\x83\x84",
    COLLECT + 1: b"\x85Q\x98",
    COLLECT + 2: b"\x86\x93",
    COLLECT + 3: b"\x87",
    CALL + 2: b"R\x81",
    CALL + 3: b"\x92",
}

EFFECT: list[int] = [-1] * 256
for _effect, _codes in _BY_CODE.items():
    for _c in _codes:
        EFFECT[_c] = _effect
