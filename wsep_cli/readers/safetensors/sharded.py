"""Sharded safetensors: a model folder with ``*.safetensors.index.json``, or the index file itself.

The index's ``weight_map`` says which shard holds each tensor. Every shard name must resolve inside
the index's folder (:func:`wsep_cli.readers._paths.resolve_inside`), or, in a Hugging Face cache
snapshot whose files are symlinks into ``../../blobs``, inside that repo's cache folder
(:func:`~wsep_cli.readers.safetensors.hub_cache.shard_path`); all shards are checked when the index
is opened. Shard headers are parsed only when a tensor's shape or data is asked for, once per
shard; tensor bodies are never read except the one :meth:`ShardedSafetensorsReader.load` returns.
A folder with no index but a single ``*.safetensors`` file (``model.safetensors``) opens that file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from wsep_cli.errors import UnreadableError
from wsep_cli.readers.base import Reader, TensorInfo
from wsep_cli.readers.safetensors.hub_cache import shard_path
from wsep_cli.readers.safetensors.reader import SafetensorsReader

__all__ = ["ShardedSafetensorsReader", "MAX_INDEX_BYTES"]

MAX_INDEX_BYTES = 64 * 1024 * 1024  # large LLM indexes are a few MB


def _natural_key(name: str) -> list[object]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def _find_index(folder: Path) -> Path | None:
    """``model.safetensors.index.json``, else the one ``*.safetensors.index.json`` in ``folder``."""
    preferred = folder / "model.safetensors.index.json"
    if preferred.is_file():
        return preferred
    found = sorted(p for p in folder.glob("*.safetensors.index.json") if p.is_file())
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise UnreadableError(f"{folder}: several safetensors indexes ({names}); pass the one to score")
    return found[0] if found else None


def _single_file(folder: Path) -> Path:
    """The folder's only safetensors file (``model.safetensors`` preferred) when it has no index."""
    preferred = folder / "model.safetensors"
    if preferred.is_file():
        return preferred
    files = sorted(p for p in folder.glob("*.safetensors") if p.is_file())
    if len(files) == 1:
        return files[0]
    if not files:
        raise UnreadableError(
            f"{folder}: a folder must hold model.safetensors or a *.safetensors.index.json; found neither"
        )
    raise UnreadableError(
        f"{folder}: {len(files)} .safetensors files and no *.safetensors.index.json; pass one file"
    )


def _read_index(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(weight_map, metadata) of an index file, validated."""
    try:
        size = path.stat().st_size
        if size > MAX_INDEX_BYTES:
            raise UnreadableError(f"{path}: the index is {size} bytes, more than any real index; refusing it")
        doc = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as e:
        raise UnreadableError(f"{path}: cannot be read ({e.strerror or e})") from e
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise UnreadableError(f"{path}: the index is not valid JSON ({e})") from e
    wmap = doc.get("weight_map") if isinstance(doc, dict) else None
    if not isinstance(wmap, dict) or not wmap:
        raise UnreadableError(f"{path}: the index has no weight_map object naming tensors and shards")
    for name, shard in wmap.items():
        if not isinstance(shard, str):
            raise UnreadableError(f"{path}: weight_map entry {name!r} names a non-string shard {shard!r}")
    meta = doc.get("metadata")
    metadata = {str(k): str(v) for k, v in meta.items()} if isinstance(meta, dict) else {}
    return dict(wmap), metadata


@dataclass
class ShardedSafetensorsReader(Reader):
    """A sharded safetensors model (folder or index path), or a folder holding one file."""

    format: ClassVar[str] = "safetensors-sharded"
    _weight_map: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    _shard_paths: dict[str, Path] = field(default_factory=dict, init=False, repr=False)
    _shards: dict[str, SafetensorsReader] = field(default_factory=dict, init=False, repr=False)
    _metadata: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    _single: SafetensorsReader | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        index = self.path if self.path.is_file() else None
        if self.path.is_dir():
            index = _find_index(self.path)
            if index is None:
                self._single = SafetensorsReader(_single_file(self.path))
                self.format = "safetensors"  # type: ignore[misc]  # a folder holding one plain file
                return
        if index is None:
            raise UnreadableError(f"{self.path}: not a safetensors index or model folder")
        self._weight_map, self._metadata = _read_index(index)
        for shard in dict.fromkeys(self._weight_map.values()):
            self._shard_paths[shard] = shard_path(index.parent, shard)

    def _shard(self, shard: str) -> SafetensorsReader:
        reader = self._shards.get(shard)
        if reader is None:
            reader = SafetensorsReader(self._shard_paths[shard])
            self._shards[shard] = reader
        return reader

    def _info(self, name: str) -> TensorInfo:
        shard = self._weight_map[name]
        for info in self._shard(shard).tensors():
            if info.name == name:
                return info
        raise UnreadableError(f"{self.path}: the index puts {name!r} in {shard}, whose header lacks it")

    def tensors(self) -> list[TensorInfo]:
        """Tensors of the weight map, shards in natural order, each shard in storage order."""
        if self._single is not None:
            return self._single.tensors()
        out: list[TensorInfo] = []
        for shard in sorted(self._shard_paths, key=_natural_key):
            stored = {t.name: t for t in self._shard(shard).tensors()}
            wanted = {n for n, s in self._weight_map.items() if s == shard}
            missing = sorted(wanted - stored.keys())
            if missing:
                raise UnreadableError(
                    f"{self.path}: the index puts {missing[0]!r} in {shard}, whose header lacks it"
                )
            out.extend(t for n, t in stored.items() if n in wanted)
        return out

    def load(self, name: str) -> np.ndarray:
        """One tensor, reading only the header and that tensor's bytes of its own shard."""
        if self._single is not None:
            return self._single.load(name)
        if name not in self._weight_map:
            raise UnreadableError(f"{self.path}: no tensor named {name!r} in the index")
        self._info(name)
        return self._shard(self._weight_map[name]).load(name)

    def metadata(self) -> dict[str, str]:
        if self._single is not None:
            return self._single.metadata()
        return dict(self._metadata)

    def close(self) -> None:
        for reader in self._shards.values():
            reader.close()
        if self._single is not None:
            self._single.close()
        super().close()
