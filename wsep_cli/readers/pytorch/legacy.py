"""torch's legacy (pre-1.6) checkpoint format, read lazily.

Layout, one after the other in one file: a pickle of the magic number, a pickle of the protocol
version (1001), a pickle of ``sys_info``, the object pickle (storages as persistent ids), a pickle of
the list of storage keys, then for each key in that order: an 8-byte little-endian element count and
the storage's raw bytes (little-endian).

The storage section is walked once at open time to record each storage's file offset, seeking past
its bytes, so opening reads only the pickles and one 8-byte count per storage.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

from wsep_cli.errors import UnreadableError, UnsafeError
from wsep_cli.readers.pytorch.globals import StorageRef
from wsep_cli.readers.pytorch.unpickle import scan_pickle, unpickle

__all__ = ["LegacyCheckpoint", "MAGIC_NUMBER", "PROTOCOL_VERSION", "is_tar_header"]

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
_SMALL_PICKLE = 1 << 20
_KEYS_PICKLE = 64 << 20


def _tar_number(field: bytes) -> int | None:
    if field[:1] in (b"\x80", b"\xff"):  # GNU base-256
        n = int.from_bytes(field[1:], "big")
        return n - (1 << (8 * len(field) - 8)) if field[:1] == b"\xff" else n
    text = field.split(b"\0", 1)[0].strip()
    try:
        return int(text or b"0", 8)
    except ValueError:
        return None


def is_tar_header(block: bytes) -> bool:
    """Whether ``block`` (a file's first 512 bytes) passes ``tarfile``'s header check.

    torch.load tries its old tar format before the legacy pickles, so a file that is both would be
    read as the tar by torch and as the pickles by wsep.
    """
    if len(block) != 512 or block.count(0) == 512:
        return False
    chksum = _tar_number(block[148:156])
    blank = block[:148] + b" " * 8 + block[156:]
    unsigned = sum(blank)
    signed = sum(b - 256 if b > 127 else b for b in blank)
    return chksum is not None and chksum in (unsigned, signed)


class LegacyCheckpoint:
    """An open legacy checkpoint: the unpickled object and each storage's byte range in the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size
        self.byteorder = "<"
        self.storages: dict[str, StorageRef] = {}
        self._offsets: dict[str, tuple[int, int]] = {}
        with path.open("rb") as fh:
            if is_tar_header(fh.read(512)):
                raise UnsafeError(
                    f"{path}: the file is also a tar archive (torch's pre-1.0 tar format), which "
                    "torch.load would read instead of the pickles wsep reads; refused"
                )
            fh.seek(0)
            self._header(fh)
            data = scan_pickle(fh, path=path, what="the object pickle")
            self.root = unpickle(data, path=path, what="the object pickle", on_storages=self.storages.update)
            keys = self._small(fh, "the storage key list", _KEYS_PICKLE)
            self._index_storages(fh, keys)

    def _small(self, fh: BinaryIO, what: str, limit: int = _SMALL_PICKLE) -> object:
        return unpickle(scan_pickle(fh, path=self.path, what=what, limit=limit), path=self.path, what=what)

    def _header(self, fh: BinaryIO) -> None:
        magic = self._small(fh, "the magic number")
        if magic != MAGIC_NUMBER:
            raise UnreadableError(
                f"{self.path}: a pickle, but not a torch.save checkpoint (wrong magic number); "
                "wsep reads only torch.save files"
            )
        version = self._small(fh, "the protocol version")
        if version != PROTOCOL_VERSION:
            raise UnreadableError(f"{self.path}: unsupported legacy protocol version {version!r}")
        sys_info = self._small(fh, "sys_info")
        if not isinstance(sys_info, dict):
            raise UnreadableError(f"{self.path}: legacy sys_info is not a dict")

    def _index_storages(self, fh: BinaryIO, keys: object) -> None:
        if not isinstance(keys, list) or not all(isinstance(k, (str, bytes)) for k in keys):
            raise UnreadableError(f"{self.path}: the storage key list is not a list of strings")
        for raw_key in keys:
            key = raw_key.decode("ascii", "replace") if isinstance(raw_key, bytes) else raw_key
            ref = self.storages.get(key)
            if key in self._offsets:
                raise UnreadableError(f"{self.path}: storage {key!r} is listed twice; corrupt file")
            if ref is None:
                raise UnreadableError(f"{self.path}: storage {key!r} is listed but never used; corrupt file")
            head = fh.read(8)
            if len(head) != 8:
                raise UnreadableError(f"{self.path}: the file ends inside the storage section (truncated)")
            (count,) = struct.unpack("<q", head)
            start = fh.tell()
            nbytes = count * ref.dtype.itemsize
            if count < 0 or start + nbytes > self.size:
                raise UnreadableError(
                    f"{self.path}: storage {key!r} claims {count} elements, past the end of the "
                    f"{self.size}-byte file (truncated)"
                )
            if nbytes != ref.nbytes:  # torch's reader insists on the exact size too
                raise UnreadableError(
                    f"{self.path}: storage {key!r} should hold {ref.nbytes} bytes but the file has {nbytes}"
                )
            self._offsets[key] = (start, nbytes)
            fh.seek(nbytes, 1)
        missing = set(self.storages) - set(self._offsets)
        if missing:
            raise UnreadableError(
                f"{self.path}: storage {sorted(missing)[0]!r} is used but has no data; corrupt file"
            )

    def read(self, key: str, start: int, length: int) -> bytes:
        """``length`` bytes of storage ``key`` from byte ``start`` (nothing else is read)."""
        offset, nbytes = self._offsets[key]
        if start + length > nbytes:
            raise UnreadableError(f"{self.path}: a tensor reaches past storage {key!r}")
        with self.path.open("rb") as fh:
            fh.seek(offset + start)
            return fh.read(length)

    def close(self) -> None:
        """Nothing stays open between reads."""
