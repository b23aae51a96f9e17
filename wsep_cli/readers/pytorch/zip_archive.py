"""torch's zip checkpoint format (``torch.save`` since 1.6, and ``torch.jit.save``), read lazily.

Layout: ``<top>/data.pkl`` (the object pickle), ``<top>/data/<key>`` (one record per storage, raw
bytes), ``<top>/byteorder`` (``little``/``big``, absent in old files), ``<top>/version``. The top folder's
name varies. TorchScript archives also hold ``<top>/code/`` and ``<top>/constants.pkl``.

Only ``data.pkl`` is read up front; a storage's bytes are read when a tensor is loaded, and only the
byte range that tensor spans. Entries whose declared sizes cannot be true of the file (zip bombs,
overlapping claims past the end) are refused before anything is decompressed.

The archive is read the way torch's own reader (miniz, ``PyTorchStreamReader``) reads it, or refused:
the top folder is the first central-directory entry's, as in torch (Python's ``zipfile`` alone would
also find ``other/data.pkl``); duplicate names (which miniz and ``zipfile`` resolve differently),
an end record whose entry count or central-directory offset disagrees with the directory
(``zipfile`` silently re-bases a shifted directory, miniz does not), ``..`` or absolute names,
symbolic-link entries and the flag bits torch cannot read (encryption 0x1, patched data 0x20, strong
encryption 0x40) are refused. miniz matches record names ignoring ASCII letter case
(``archive/DATA.pkl`` answers a lookup of ``archive/data.pkl``), so wsep looks names up the same way
and refuses a record whose name has a case-variant twin (torch may pick either); torch also refuses
archives with an entry outside the first entry's folder, and so does wsep.
"""

from __future__ import annotations

import string
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
_UNREADABLE_FLAGS = {0x1: "encrypted", 0x20: "compressed patched data", 0x40: "strongly encrypted"}
_S_IFMT, _S_IFLNK = 0o170000, 0o120000
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)  # miniz's MZ_TOLOWER


def _fold(name: str) -> str:
    return name.translate(_ASCII_LOWER)


class ZipCheckpoint:
    """An open torch zip archive: the pickle bytes, the storage records, and ranged reads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size
        try:
            self._zf = zipfile.ZipFile(path)
            infos = self._zf.infolist()
            with path.open("rb") as fh:
                end = zipfile._EndRecData(fh)  # type: ignore[attr-defined]  # the end record zipfile used
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, KeyError) as e:
            raise UnreadableError(f"{path}: not a readable zip archive ({e})") from e
        self._infos = {i.filename: i for i in infos}
        self._folded: dict[str, list[zipfile.ZipInfo]] = {}
        for info in infos:
            self._folded.setdefault(_fold(info.filename), []).append(info)
        try:
            self._check_directory(infos, end)
            self.prefix = self._find_prefix([i.filename for i in infos])
            self.torchscript = f"{self.prefix}/constants.pkl" in self._infos or any(  # torch: exact names
                n.startswith(f"{self.prefix}/code/") for n in self._infos
            )
            self.byteorder = self._byteorder()
        except BaseException:
            self.close()
            raise

    def _check_directory(self, infos: list[zipfile.ZipInfo], end: list | None) -> None:
        """Refuse archives that torch's reader would see differently from Python's ``zipfile``."""
        if len(self._infos) != len(infos):
            dup = next(n for n in self._infos if sum(i.filename == n for i in infos) > 1)
            raise UnsafeError(
                f"{self.path}: zip entry {dup!r} appears twice in the central directory; torch and "
                "other zip readers may pick different copies, so wsep refuses the archive"
            )
        if end is None or end[4] != len(infos) or end[6] != self._zf.start_dir:  # entries, cd offset
            raise UnsafeError(
                f"{self.path}: the zip end record does not describe its central directory (entry count "
                "or offset differs, e.g. bytes prepended or a second directory); refused"
            )
        for info in infos:
            parts = info.filename.replace("\\", "/").split("/")
            if info.filename.startswith("/") or ".." in parts:
                raise UnsafeError(f"{self.path}: zip entry name {info.filename!r} leaves the archive folder; refused")

    def _lookup(self, name: str) -> zipfile.ZipInfo | None:
        """The record torch's reader finds for ``name`` (letter case ignored), or ``None``."""
        found = self._folded.get(_fold(name), [])
        if len(found) > 1:
            raise UnsafeError(
                f"{self.path}: zip entries {found[0].filename!r} and {found[1].filename!r} differ only in "
                "letter case; torch's zip reader ignores case and may read either, so wsep refuses the archive"
            )
        return found[0] if found else None

    def _find_prefix(self, names: list[str]) -> str:
        """The first entry's top folder, as torch's reader takes it; ``<top>/data.pkl`` must exist and
        every entry must lie in that folder (torch.load refuses archives with one outside it)."""
        first = names[0].split("/", 1)[0] if names and "/" in names[0] else None
        if first is not None:
            outside = next((n for n in names if not n.startswith(f"{first}/")), None)
            if outside is not None:
                raise UnreadableError(
                    f"{self.path}: zip entry {outside!r} is outside the archive folder {first!r} of the "
                    "first entry; torch.load refuses such archives and so does wsep"
                )
            if self._lookup(f"{first}/data.pkl") is not None:
                return first
        if any(n.split("/")[-1] == "data.pkl" for n in names):
            raise UnreadableError(
                f"{self.path}: the zip archive's data.pkl is not in the folder of its first entry "
                f"({names[0]!r}), where torch.load looks for it; refused"
            )
        raise UnreadableError(
            f"{self.path}: zip archive without a <folder>/data.pkl record; not a torch.save checkpoint"
        )

    def _byteorder(self) -> str:
        info = self._lookup(f"{self.prefix}/byteorder")
        if info is None:
            return "<"
        text = self._read_member(info, limit=16)
        if text not in (b"little", b"big"):  # torch compares exactly, without stripping
            raise UnreadableError(f"{self.path}: byteorder record {text[:16]!r} is neither little nor big")
        return "<" if text == b"little" else ">"

    def _check(self, info: zipfile.ZipInfo) -> None:
        """Refuse entries whose declared sizes cannot be true of this file."""
        for bit, what in _UNREADABLE_FLAGS.items():
            if info.flag_bits & bit:
                raise UnreadableError(f"{self.path}: zip entry {info.filename!r} is {what} (flag bit {bit:#x})")
        if (info.external_attr >> 16) & _S_IFMT == _S_IFLNK:
            raise UnsafeError(f"{self.path}: zip entry {info.filename!r} is a symbolic link; refused")
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

    def _read_member(self, info: zipfile.ZipInfo, *, limit: int) -> bytes:
        name = info.filename
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

    def code_sources(self, limit: int) -> list[str]:
        """The TorchScript ``code/*.py`` texts, in archive order, until the next one would take the total
        past ``limit`` bytes (the rest is evidence left unread, not an error); bad UTF-8 is replaced."""
        out, left = [], limit
        code = [i for n, i in self._infos.items() if n.startswith(f"{self.prefix}/code/") and n.endswith(".py")]
        for info in code:
            if info.file_size > left:
                break
            data = self._read_member(info, limit=left)
            left -= len(data)
            out.append(data.decode("utf-8", "replace"))
        return out

    def read_pickle(self) -> bytes:
        """The validated bytes of ``data.pkl``."""
        import io

        info = self._lookup(f"{self.prefix}/data.pkl")
        assert info is not None  # _find_prefix found it
        data = self._read_member(info, limit=MAX_PICKLE_BYTES)
        return scan_pickle(io.BytesIO(data), path=self.path, what=info.filename)

    def check_storages(self, storages: dict[str, StorageRef]) -> None:
        """Every storage the pickle referenced exists and is as large as the pickle claims."""
        for key, ref in storages.items():
            info = self._lookup(f"{self.prefix}/data/{key}")
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
        info = self._lookup(f"{self.prefix}/data/{key}")
        assert info is not None  # check_storages found it
        if start < 0 or start + length > info.file_size:
            raise UnreadableError(f"{self.path}: a tensor reaches past storage record {info.filename!r}")
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
