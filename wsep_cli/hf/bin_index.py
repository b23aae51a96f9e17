"""Sharded PyTorch weights: ``pytorch_model.bin.index.json`` and the ``.bin`` shards it names.

Each shard is read by wsep's own restricted unpickler (:class:`~wsep_cli.readers.pytorch.reader.TorchReader`),
never by ``torch.load``; shard names must stay inside the folder (or, in a Hugging Face cache
snapshot, inside the repo's cache folder). A shard is opened only when one of
its tensors is asked for (listing the tensors opens every shard's pickle, never a tensor's bytes).
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
from wsep_cli.readers.pytorch.reader import TorchReader
from wsep_cli.readers.safetensors.hub_cache import shard_path
from wsep_cli.readers.safetensors.sharded import MAX_INDEX_BYTES

__all__ = ["ShardedTorchReader"]


def natural_key(name: str) -> list[object]:
    return [(0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", name)]


@dataclass
class ShardedTorchReader(Reader):
    """The tensors of a ``pytorch_model.bin.index.json`` (``path`` is the index file)."""

    format: ClassVar[str] = "pytorch-sharded"
    _weight_map: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    _shards: dict[str, TorchReader] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        try:
            if self.path.stat().st_size > MAX_INDEX_BYTES:
                raise UnreadableError(f"{self.path}: larger than any real index; refusing it")
            doc = json.loads(self.path.read_bytes().decode("utf-8"))
        except OSError as e:
            raise UnreadableError(f"{self.path}: cannot be read ({e.strerror or e})") from e
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            raise UnreadableError(f"{self.path}: the index is not valid JSON ({e})") from e
        wmap = doc.get("weight_map") if isinstance(doc, dict) else None
        if not isinstance(wmap, dict) or not wmap or not all(isinstance(v, str) for v in wmap.values()):
            raise UnreadableError(f"{self.path}: the index has no weight_map naming tensors and shards")
        for shard in set(wmap.values()):
            shard_path(self.path.parent, shard)
        self._weight_map = dict(wmap)

    def _shard(self, shard: str) -> TorchReader:
        if shard not in self._shards:
            self._shards[shard] = TorchReader(shard_path(self.path.parent, shard))
        return self._shards[shard]

    def tensors(self) -> list[TensorInfo]:
        out: list[TensorInfo] = []
        for shard in sorted(set(self._weight_map.values()), key=natural_key):
            wanted = {n for n, s in self._weight_map.items() if s == shard}
            out.extend(t for t in self._shard(shard).tensors() if t.name in wanted)
        return out

    def load(self, name: str) -> np.ndarray:
        """One tensor, from the one shard the index puts it in."""
        shard = self._weight_map.get(name)
        if shard is None:
            raise UnreadableError(f"{self.path}: no tensor named {name!r} in the index")
        return self._shard(shard).load(name)

    def opened_shards(self) -> tuple[str, ...]:
        """Shards opened so far (for tests and messages)."""
        return tuple(sorted(self._shards))

    def close(self) -> None:
        for r in self._shards.values():
            r.close()
        super().close()
