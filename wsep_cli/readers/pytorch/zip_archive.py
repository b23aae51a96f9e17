"""torch's zip checkpoint format (``torch.save`` since 1.6, and ``torch.jit.save``), read lazily.

Layout: ``<top>/data.pkl`` (the object pickle), ``<top>/data/<key>`` (one record per storage, raw
bytes), ``<top>/byteorder`` (``little``/``big``, absent in old files), ``<top>/version``. The top folder's
name varies. TorchScript archives also hold ``<top>/code/`` and ``<top>/constants.pkl``.

Only ``data.pkl`` is read up front; a storage's bytes are read when a tensor is loaded, and only the
byte range that tensor spans. Entries whose declared sizes cannot be true of the file (zip bombs,
overlapping claims past the end) are refused before anything is decompressed.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path

from wsep_cli.errors import UnreadableError, UnsafeError
from wsep_cli.readers.pytorch.globals import StorageRef
from wsep_cli.readers.pytorch.unpickle import MAX_PICKLE_BYTES, scan_pickle

__all__ = ["ZipCheckpoint", "MAX_COMPRESSION_RATIO"]

# Deflate cannot compress better than ~1032:1; anything that claims more is a bomb.
MAX_COMPRESSION_RATIO = 1100
_LOCAL_HEADER = struct.Struct("<4s22xHH")
_CHUNK = 1 << 20


class ZipCheckpoint:
    """An open torch zip archive: the pickle bytes, the storage records, and ranged reads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size
        try:
            self._zf = zipfile.ZipFile(path)
            infos = self._zf.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, KeyError) as e:
            raise UnreadableError(f"{path}: not a readable zip archive ({e})") from e
        self._infos = {i.filename: i for i in infos}
        try:
            self.prefix = self._find_prefix([i.filename for i in infos])
            self.torchscript = f"{self.prefix}/constants.pkl" in self._infos or any(
                n.startswith(f"{self.prefix}/code/") for n in self._infos
            )
            self.byteorder = self._byteorder()
        except BaseException:
            self.close()
            raise

    def _find_prefix(self, names: list[str]) -> str:
        if names:
            first = names[0].split("/", 1)[0]
            if f"{first}/data.pkl" in self._infos:
                return first
        for n in names:
            parts = n.split("/")
            if len(parts) == 2 and parts[1] == "data.pkl":
                return parts[0]
        raise UnreadableError(
            f"{self.path}: zip archive without a <folder>/data.pkl record; not a torch.save checkpoint"
        )

    def _byteorder(self) -> str:
        name = f"{self.prefix}/byteorder"
        if name not in self._infos:
            return "<"
        text = self._read_member(name, limit=16).strip()
        if text not in (b"little", b"big"):
            raise UnreadableError(f"{self.path}: byteorder record {text[:16]!r} is neither little nor big")
        return "<" if text == b"little" else ">"

    def _check(self, info: zipfile.ZipInfo) -> None:
        """Refuse entries whose declared sizes cannot be true of this file."""
        if info.flag_bits & 0x1:
            raise UnreadableError(f"{self.path}: zip entry {info.filename!r} is encrypted")
        if info.compress_size > self.size or info.header_offset + info.compress_size > self.size:
            raise UnreadableError(
                f"{self.path}: zip entry {info.filename!r} claims {info.compress_size} bytes past the "
                f"end of the {self.size}-byte file; the archive is truncated or corrupt"
            )
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise UnreadableError(
                f"{self.path}: zip entry {info.filename!r} uses compression method {info.compress_type}; "
                "torch checkpoints are stored or deflated"
            )
        if info.compress_type == zipfile.ZIP_STORED:
            if info.file_size != info.compress_size:
                raise UnreadableError(
                    f"{self.path}: stored zip entry {info.filename!r} has inconsistent sizes"
                )
        elif info.file_size > MAX_COMPRESSION_RATIO * info.compress_size + 1024:
            raise UnsafeError(
                f"{self.path}: zip entry {info.filename!r} claims to expand from {info.compress_size} "
                f"to {info.file_size} bytes (a zip bomb); refused"
            )

    def _read_member(self, name: str, *, limit: int) -> bytes:
        info = self._infos[name]
        self._check(info)
        if info.file_size > limit:
            raise UnreadableError(
                f"{self.path}: zip entry {name!r} is {info.file_size} bytes, over the {limit}-byte limit; refused"
            )
        try:
            with self._zf.open(info) as fh:
                data = fh.read(limit + 1)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, zlib.error) as e:
            raise UnreadableError(f"{self.path}: zip entry {name!r} cannot be read ({e})") from e
        if len(data) > limit:
            raise UnsafeError(f"{self.path}: zip entry {name!r} expands past its limit; refused")
        return data

    def read_pickle(self) -> bytes:
        """The validated bytes of ``data.pkl``."""
        import io

        name = f"{self.prefix}/data.pkl"
        data = self._read_member(name, limit=MAX_PICKLE_BYTES)
        return scan_pickle(io.BytesIO(data), path=self.path, what=name)

    def check_storages(self, storages: dict[str, StorageRef]) -> None:
        """Every storage the pickle referenced exists and is as large as the pickle claims."""
        for key, ref in storages.items():
            info = self._infos.get(f"{self.prefix}/data/{key}")
            if info is None:
                raise UnreadableError(
                    f"{self.path}: storage record {self.prefix}/data/{key} is missing; the archive is "
                    "truncated or corrupt"
                )
            self._check(info)
            if info.file_size != ref.nbytes:  # torch.save writes exactly nbytes; more is a bomb's room
                raise UnreadableError(
                    f"{self.path}: storage {key!r} should hold {ref.nbytes} bytes but its record holds "
                    f"{info.file_size}; the archive is corrupt or hostile"
                )

    def read(self, key: str, start: int, length: int) -> bytes:
        """``length`` bytes of storage ``key`` from byte ``start`` (nothing else is read)."""
        info = self._infos[f"{self.prefix}/data/{key}"]
        if info.compress_type == zipfile.ZIP_STORED:
            with self.path.open("rb") as fh:
                fh.seek(info.header_offset)
                sig, name_len, extra_len = _LOCAL_HEADER.unpack(fh.read(_LOCAL_HEADER.size))
                if sig != b"PK\x03\x04":
                    raise UnreadableError(f"{self.path}: zip entry {info.filename!r} has a bad local header")
                data_start = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
                if data_start + info.file_size > self.size:
                    raise UnreadableError(f"{self.path}: zip entry {info.filename!r} is truncated")
                fh.seek(data_start + start)
                return fh.read(length)
        try:
            with self._zf.open(info) as fh:
                skip = start
                while skip > 0:
                    got = len(fh.read(min(skip, _CHUNK)))
                    if got == 0:
                        break
                    skip -= got
                return fh.read(length)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, zlib.error) as e:
            raise UnreadableError(f"{self.path}: zip entry {info.filename!r} cannot be read ({e})") from e

    def close(self) -> None:
        self._zf.close()
