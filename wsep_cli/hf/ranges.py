"""Byte ranges of a remote file, cached beside the Hugging Face cache.

Only two things are ever fetched from a weights file: its safetensors header (8 bytes, then the JSON
they announce) and the bytes of one tensor. Each is stored once under
``$HF_HUB_CACHE/.wsep-ranges/models--ORG--NAME/<commit>/<file>/`` (a dot-folder, which
``hf cache`` tools skip), so a second run and ``HF_HUB_OFFLINE=1`` read them from disk. A commit never
changes, so entries never go stale. Writes are atomic (temporary file, then rename).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from wsep_cli.errors import UnreadableError
from wsep_cli.hf.hub import HubRepo, hub_errors, offline_error

__all__ = ["RangeCache", "RANGES_DIR"]

RANGES_DIR = ".wsep-ranges"
_CHUNK = 1 << 20
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


def _check_name(name: str) -> str:
    parts = name.split("/")
    if not name or name.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in name:
        raise UnreadableError(f"{name!r}: not a file name inside the repo")
    return name


@dataclass
class RangeCache:
    """Fetch-once byte ranges of the files of one pinned repo commit."""

    repo: HubRepo

    def _dir(self, name: str) -> Path:
        assert self.repo.commit is not None, "resolve the repo before reading ranges"
        return self.repo.cache_dir / RANGES_DIR / self.repo.folder_name / self.repo.commit / _check_name(name)

    def header(self, name: str) -> tuple[bytes, int]:
        """(the first ``8 + header length`` bytes of ``name``, the file's total size)."""
        folder = self._dir(name)
        head, size_file = folder / "header", folder / "size"
        if head.is_file() and size_file.is_file():
            return head.read_bytes(), int(size_file.read_text())
        first8, size = self._fetch(name, 0, 8)
        from wsep_cli.readers.safetensors.reader import check_header_length

        hlen = check_header_length(f"{self.repo.label} {name}", first8, size)
        rest, _ = self._fetch(name, 8, 8 + hlen)
        raw = first8 + rest
        _write_atomic(head, raw)
        _write_atomic(size_file, str(size).encode())
        return raw, size

    def span(self, name: str, start: int, end: int) -> Path:
        """A file holding exactly bytes ``start..end-1`` of ``name``."""
        path = self._dir(name) / f"{start}-{end}"
        if path.is_file() and path.stat().st_size == end - start:
            return path
        self._fetch(name, start, end, into=path)
        return path

    def _fetch(self, name: str, start: int, end: int, into: Path | None = None) -> tuple[bytes, int]:
        """Bytes ``start..end-1`` of ``name`` (streamed into ``into`` when given) and the file's size."""
        label = f"{self.repo.label} {name}"
        if end <= start:
            if into is not None:
                _write_atomic(into, b"")
            return b"", -1
        if self.repo.offline():
            raise offline_error(self.repo.label, f"{name} (bytes {start}..{end - 1})")
        with hub_errors(self.repo.label), self.repo.get(name, start, end) as response:
            if response.status_code >= 400:
                response.read()
                self.repo.raise_for_status(response)
            if response.status_code != 206:
                raise UnreadableError(
                    f"{label}: the server answered {response.status_code} to a range request; wsep fetches only "
                    "the header and the head, so it needs a server with Range support"
                )
            size = _total_size(label, response.headers.get("Content-Range", ""), start, end)
            return self._body(label, response, end - start, into), size

    def _body(self, label: str, response: object, length: int, into: Path | None) -> bytes:
        chunks: list[bytes] = []
        got = 0
        bar = self.repo.progress(length, desc=label)
        tmp = None
        try:
            if into is not None:
                into.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=into.parent, prefix=".incomplete-")
                out = os.fdopen(fd, "wb")
            for chunk in response.iter_bytes(_CHUNK):  # type: ignore[attr-defined]
                got += len(chunk)
                if got > length:
                    raise UnreadableError(f"{label}: the server sent more bytes than the range asked for")
                (out.write if into is not None else chunks.append)(chunk)
                self.repo.bytes_downloaded += len(chunk)
                bar.update(len(chunk))
            if got != length:
                raise UnreadableError(f"{label}: the transfer stopped after {got} of {length} bytes; try again")
            if into is not None:
                out.close()
                os.replace(tmp, into)
                tmp = None
        finally:
            bar.close()
            if tmp is not None:
                with contextlib.suppress(OSError):
                    out.close()
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
        return b"".join(chunks)


def _total_size(label: str, content_range: str, start: int, end: int) -> int:
    m = _CONTENT_RANGE.fullmatch(content_range.strip())
    if m is None or int(m.group(1)) != start or int(m.group(2)) != end - 1 or m.group(3) == "*":
        raise UnreadableError(f"{label}: the server's Content-Range {content_range!r} does not match the request")
    return int(m.group(3))


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incomplete-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
