"""Validate a pickle's opcodes before any object is built (a fast, table-driven walk).

Refuses what would abuse memory or is never written by ``torch.save``: a pickle longer than its
limit or a length field claiming more, memo indices beyond the number of opcodes so far (CPython's
unpickler would allocate a memo table that large), MARK nesting deeper than ``MAX_MARK_DEPTH``, unknown
opcodes, the copyreg extension registry, and FRAME lengths that lie (an opcode running past its
frame's end, a frame inside a frame or one claiming bytes past the STOP; picklers frame whole
opcodes). The walk is a tight loop over bytes driven by the opcode tables of
:mod:`~wsep_cli.readers.pytorch.pickle_opcodes` (~10x faster than ``pickletools.genops``).
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from wsep_cli.errors import UnreadableError, UnsafeError
from wsep_cli.readers.pytorch.pickle_effects import (
    ADD1, ADD_MARK, ADDITEMS, CALL, COLLECT, COLLECT_MARK, COLLECT_MARK_HASHED, DICT, DUP, EFFECT, EXT, GET,
    MARK, MEMOIZE, POP, POP_MARK, PUSH, PUT, SETITEM, SETITEMS, STOP,
)
from wsep_cli.readers.pytorch.pickle_opcodes import (
    FIXED_PUSH as _FIXED_PUSH, FRAME as _FRAME, GETS as _GETS, KIND as _KIND, MARK_CODE as _MARK,
    MEMO_BIN as _MEMO_BIN, MEMO_TEXT as _MEMO_TEXT, MEMO_WIDTH as _MEMO_WIDTH, OPCODE_ARGS, OPCODES_POPPING_MARK,
    SIZED_PUSH as _SIZED_PUSH,
)

__all__ = ["scan_pickle", "MAX_PICKLE_BYTES", "MAX_MARK_DEPTH", "MAX_MEMO_INDEX", "OPCODE_ARGS", "OPCODES_POPPING_MARK"]

MAX_PICKLE_BYTES = 256 * 1024 * 1024
MAX_MARK_DEPTH = 1000
MAX_MEMO_INDEX = 10_000_000
# Hashing budget (in tree nodes of the keys, set items and call arguments): generous for any pickle
# whose size is its content (each such node costs at least one opcode), exponentially short of a
# memo-expansion bomb.
MAX_HASHED = 1_000_000
HASHED_PER_OPCODE = 8
_CAP = 1 << 48

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


def _past_frame(start: int, frame_end: int) -> None:
    raise ValueError(f"the opcode at byte {start} runs past the end of its FRAME at byte {frame_end}")


def _walk(buf: _Buffer, path: Path, what: str) -> int:
    data, pos, ops = buf.data, 0, 0
    end = len(data)  # refreshed after every buf.need (the buffer only grows)
    kinds, effects = _KIND, EFFECT
    # the weight model (see pickle_effects): one int per stack item, mark positions, memo weights
    stack: list[int] = []
    marks: list[int] = []
    memo: dict[int, int] = {}
    hashed = 0
    index = 0
    frame_end = 0  # 0 outside protocol 4 frames, so the frame checks below cost one comparison
    fixed, sized, memo_width, gets = _FIXED_PUSH, _SIZED_PUSH, _MEMO_WIDTH, _GETS
    while True:
        if pos >= end:
            buf.need(pos + 1)
            end = len(data)
        start = pos
        code = data[pos]
        pos += 1
        ops += 1
        # fast paths (none of them changes ``hashed``, so the hashing check below may be skipped)
        f = fixed[code]
        if f:
            pos += f - 1
            if pos > end:
                buf.need(pos)
                end = len(data)
            if start < frame_end < pos:
                _past_frame(start, frame_end)
            stack.append(1)
            continue
        f = sized[code]
        if f:
            if pos + f > end:
                buf.need(pos + f)
                end = len(data)
            pos += f + int.from_bytes(data[pos:pos + f], "little")
            if pos > end:
                buf.need(pos)
                end = len(data)
            if start < frame_end < pos:
                _past_frame(start, frame_end)
            stack.append(1)
            continue
        f = memo_width[code]
        if f:
            if pos + f > end:
                buf.need(pos + f)
                end = len(data)
            index = data[pos] if f == 1 else int.from_bytes(data[pos:pos + 4], "little")
            pos += f
            if start < frame_end < pos:
                _past_frame(start, frame_end)
            if code in gets:
                stack.append(memo.get(index, 1))
                continue
            if index > ops or index > MAX_MEMO_INDEX:
                _check_memo(index, ops, path, what)
            memo[index] = stack[-1] if stack else 1
            continue
        if code == _MARK:
            marks.append(len(stack))
            if len(marks) > MAX_MARK_DEPTH:
                raise UnreadableError(f"{path}: {what} nests deeper than {MAX_MARK_DEPTH} levels; refused")
            continue
        kind = kinds[code]
        if kind is None:
            raise ValueError(f"unknown opcode {code:#04x} at byte {pos - 1}")
        if kind > 0:
            if pos + kind > end:
                buf.need(pos + kind)
                end = len(data)
            if code in _MEMO_BIN:
                index = int.from_bytes(data[pos:pos + kind], "little")
            elif code == _FRAME:
                if start < frame_end:
                    raise ValueError(f"FRAME at byte {start} inside the frame that ends at byte {frame_end}")
                frame_end = pos + kind + int.from_bytes(data[pos:pos + kind], "little")
            pos += kind
        elif kind <= -10:
            width = -kind - 10
            if pos + width > end:
                buf.need(pos + width)
                end = len(data)
            n = int.from_bytes(data[pos:pos + width], "little", signed=width == 4 and code in (ord("T"), 0x8B))
            if n < 0:
                raise ValueError(f"negative length {n} at byte {pos}")
            pos += width + n
            if pos > end:
                buf.need(pos)
                end = len(data)
        elif kind < 0:
            for _ in range(-kind):
                nl = data.find(b"\n", pos)
                while nl < 0:
                    buf.need(end + 1)
                    end = len(data)
                    nl = data.find(b"\n", pos)
                if code in _MEMO_TEXT:
                    index = int(bytes(data[pos:nl]))
                pos = nl + 1
        if start < frame_end < pos:
            _past_frame(start, frame_end)

        effect = effects[code]
        if effect == PUSH:
            stack.append(1)
        elif effect == PUT:
            _check_memo(index, ops, path, what)
            memo[index] = stack[-1] if stack else 1
        elif effect == GET:
            stack.append(memo.get(index, 1))
        elif effect >= CALL:
            n = effect - CALL
            w = sum(stack[-n:]) if len(stack) >= n else sum(stack)
            hashed += w - (stack[-n] if len(stack) >= n else 0)
            del stack[-n:]
            stack.append(min(1 + w, _CAP))
        elif effect >= COLLECT:
            n = effect - COLLECT
            w = sum(stack[-n:])
            del stack[-n:]
            stack.append(min(1 + w, _CAP))
        elif effect == MARK:
            marks.append(len(stack))
            if len(marks) > MAX_MARK_DEPTH:
                raise UnreadableError(f"{path}: {what} nests deeper than {MAX_MARK_DEPTH} levels; refused")
        elif ADD_MARK <= effect <= COLLECT_MARK_HASHED:  # every opcode that pops to the mark
            m = marks.pop() if marks else 0
            items = stack[m:]
            del stack[m:]
            w = sum(items)
            if effect in (SETITEMS, DICT):
                hashed += sum(items[::2])
            elif effect in (ADDITEMS, COLLECT_MARK_HASHED):
                hashed += w
            if effect >= COLLECT_MARK:
                stack.append(min(1 + w, _CAP))
            elif stack:
                stack[-1] = min(stack[-1] + w, _CAP)
        elif effect == ADD1:
            w = stack.pop() if stack else 0
            if stack:
                stack[-1] = min(stack[-1] + w, _CAP)
        elif effect == SETITEM:
            v = stack.pop() if stack else 0
            k = stack.pop() if stack else 0
            hashed += k
            if stack:
                stack[-1] = min(stack[-1] + k + v, _CAP)
        elif effect == MEMOIZE:
            memo[len(memo)] = stack[-1] if stack else 1
        elif effect == STOP:
            if frame_end > pos:
                raise ValueError(f"a FRAME claims {frame_end - pos} bytes past the STOP opcode")
            return pos
        elif effect == POP:
            if marks and marks[-1] == len(stack):
                marks.pop()
            elif stack:
                stack.pop()
        elif effect == POP_MARK:
            m = marks.pop() if marks else 0
            del stack[m:]
        elif effect == DUP:
            stack.append(stack[-1] if stack else 1)
        elif effect == EXT:
            raise UnsafeError(
                f"{path}: {what} uses the copyreg extension registry; refused, torch.save never writes it"
            )
        if hashed > MAX_HASHED + HASHED_PER_OPCODE * ops:
            raise UnreadableError(
                f"{path}: {what} builds shared structures that would take over {hashed} steps to hash "
                f"after {ops} opcodes (a memo-expansion bomb); refused"
            )


def _check_memo(index: int, ops: int, path: Path, what: str) -> None:
    if not 0 <= index <= min(ops, MAX_MEMO_INDEX):
        raise UnreadableError(
            f"{path}: {what} stores memo index {index} after {ops} opcodes; "
            "the pickle is corrupt or built to exhaust memory"
        )
