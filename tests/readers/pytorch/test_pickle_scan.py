"""The pickle opcode table written out in ``_pickle_scan`` against the standard library's own."""

from __future__ import annotations

import pickle
import pickletools
from pathlib import Path

import pytest

from wsep_cli.errors import UnreadableError
from wsep_cli.readers.pytorch.pickle_scan import OPCODE_ARGS, OPCODES_POPPING_MARK, scan_pickle

_LENGTH_WIDTH = {
    pickletools.TAKEN_FROM_ARGUMENT1: 1,
    pickletools.TAKEN_FROM_ARGUMENT4: 4,
    pickletools.TAKEN_FROM_ARGUMENT4U: 4,
    pickletools.TAKEN_FROM_ARGUMENT8U: 8,
}


def _kind(op: pickletools.OpcodeInfo) -> int:
    if op.arg is None:
        return 0
    if op.name in ("GLOBAL", "INST"):
        return -2
    if op.arg.n == pickletools.UP_TO_NEWLINE:
        return -1
    if op.arg.n > 0:
        return op.arg.n
    return -(10 + _LENGTH_WIDTH[op.arg.n])


def test_opcode_table_matches_pickletools() -> None:
    ours = {code: kind for kind, codes in OPCODE_ARGS.items() for code in codes}
    assert sum(len(c) for c in OPCODE_ARGS.values()) == len(ours), "an opcode is listed twice"
    theirs = {ord(op.code.encode("latin-1")): _kind(op) for op in pickletools.opcodes}
    assert ours == theirs


def test_mark_popping_opcodes_match_pickletools() -> None:
    theirs = {ord(op.code.encode("latin-1")) for op in pickletools.opcodes if pickletools.markobject in op.stack_before}
    assert set(OPCODES_POPPING_MARK) == theirs


@pytest.mark.parametrize("protocol", range(0, pickle.HIGHEST_PROTOCOL + 1))
def test_every_protocol_scans_to_its_stop(tmp_path: Path, protocol: int) -> None:
    obj = {"a": [1, 2.5, -(2**70), "é" * 300, b"x" * 70_000, (None, True, False)], "b": {1, 2}, "c": frozenset({3})}
    data = pickle.dumps(obj, protocol=protocol) + b"trailing"
    p = tmp_path / "obj.pkl"
    p.write_bytes(data)
    with p.open("rb") as fh:
        got = scan_pickle(fh, path=p, what="the pickle")
        assert fh.tell() == len(data) - len(b"trailing")
    assert pickle.loads(got) == obj


def test_unknown_opcode_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "bad.pkl"
    p.write_bytes(b"\x80\x02\xff.")
    with p.open("rb") as fh, pytest.raises(UnreadableError, match="unknown opcode 0xff"):
        scan_pickle(fh, path=p, what="the pickle")
