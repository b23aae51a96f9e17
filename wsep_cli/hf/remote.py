"""A Hub repo's safetensors read remotely: headers and one tensor's bytes, never a whole file.

:class:`RemoteSafetensorsReader` is a reader over one ``model.safetensors`` or the shards a
``model.safetensors.index.json`` names; every byte comes through :class:`~wsep_cli.hf.ranges.RangeCache`
(or from a whole file already in the Hugging Face cache). :func:`open_hub_repo` wraps it with the
repo's ``config.json`` (:class:`~wsep_cli.hf.model.HFModelReader`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from wsep_cli.errors import UnreadableError, WsepError
from wsep_cli.hf.config import read_config
from wsep_cli.hf.hub import HubRepo
from wsep_cli.hf.model import HFModelReader
from wsep_cli.hf.ranges import RangeCache
from wsep_cli.hf.spec import HubSpec, parse_hf_spec
from wsep_cli.readers.base import Reader, TensorInfo
from wsep_cli.readers.safetensors.reader import SafetensorsReader, decode_tensor, parse_header_bytes
from wsep_cli.readers.safetensors.sharded import MAX_INDEX_BYTES
from wsep_cli.results import SourceInfo

__all__ = ["RemoteSafetensorsReader", "open_hub_repo", "open_timm_repo"]

_INDEX = "model.safetensors.index.json"
_SINGLE = "model.safetensors"


@dataclass
class _RemoteFile:
    """One safetensors file of the repo: its parsed header and where its data section starts."""

    name: str
    entries: dict[str, object]
    data_start: int


@dataclass
class RemoteSafetensorsReader(Reader):
    """The safetensors weights of a pinned Hub commit (``files``: the shard of each tensor)."""

    format: ClassVar[str] = "safetensors"
    repo: HubRepo | None = None
    weight_map: dict[str, str] | None = None  # tensor -> shard; None for a single model.safetensors
    _files: dict[str, _RemoteFile] = field(default_factory=dict, init=False, repr=False)
    _local: dict[str, SafetensorsReader] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.weight_map is not None:
            self.format = "safetensors-sharded"  # type: ignore[misc]

    @property
    def _ranges(self) -> RangeCache:
        assert self.repo is not None
        return RangeCache(self.repo)

    def _shards(self) -> list[str]:
        if self.weight_map is None:
            return [_SINGLE]
        from wsep_cli.hf.bin_index import natural_key

        return sorted(set(self.weight_map.values()), key=natural_key)

    def _file(self, name: str) -> _RemoteFile | SafetensorsReader:
        """A shard: a whole copy in the Hugging Face cache when there is one, else its remote header."""
        if name in self._local:
            return self._local[name]
        if name not in self._files:
            assert self.repo is not None
            whole = self.repo.cached_file(name)
            if whole is not None:
                self._local[name] = SafetensorsReader(whole)
                return self._local[name]
            raw, size = self._ranges.header(name)
            entries, _meta, data_start = parse_header_bytes(f"{self.repo.label} {name}", raw[8:], size)
            self._files[name] = _RemoteFile(name, dict(entries), data_start)
        return self._files[name]

    def _infos(self, name: str) -> list[TensorInfo]:
        f = self._file(name)
        if isinstance(f, SafetensorsReader):
            return f.tensors()
        ordered = sorted(f.entries.values(), key=lambda e: e.start)  # type: ignore[attr-defined]
        return [e.info for e in ordered]  # type: ignore[attr-defined]

    def tensors(self) -> list[TensorInfo]:
        out: list[TensorInfo] = []
        for shard in self._shards():
            infos = self._infos(shard)
            if self.weight_map is not None:
                wanted = {n for n, s in self.weight_map.items() if s == shard}
                infos = [t for t in infos if t.name in wanted]
            out.extend(infos)
        return out

    def load(self, name: str) -> np.ndarray:
        """One tensor: only its own bytes are fetched (once; later runs read the cached copy)."""
        shard = _SINGLE if self.weight_map is None else self.weight_map.get(name)
        if shard is None:
            raise UnreadableError(f"{self.path}: no tensor named {name!r} in the index")
        f = self._file(shard)
        if isinstance(f, SafetensorsReader):
            return f.load(name)
        entry = f.entries.get(name)
        if entry is None:
            raise UnreadableError(f"{self.path}: {shard} holds no tensor named {name!r}")
        start, end = f.data_start + entry.start, f.data_start + entry.end  # type: ignore[attr-defined]
        path = self._ranges.span(shard, start, end)
        buf = np.fromfile(path, dtype=np.uint8)
        if buf.size != end - start:
            raise UnreadableError(f"{self.path}: the cached bytes of {name!r} are truncated; delete {path}")
        return decode_tensor(entry, buf)  # type: ignore[arg-type]

    def close(self) -> None:
        for r in self._local.values():
            r.close()
        super().close()


def _weight_map(repo: HubRepo, index: Path) -> dict[str, str]:
    if index.stat().st_size > MAX_INDEX_BYTES:
        raise UnreadableError(f"{repo.label}: {_INDEX} is larger than any real index; refusing it")
    try:
        doc = json.loads(index.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise UnreadableError(f"{repo.label}: {_INDEX} is not valid JSON ({e})") from e
    wmap = doc.get("weight_map") if isinstance(doc, dict) else None
    if not isinstance(wmap, dict) or not wmap or not all(isinstance(v, str) for v in wmap.values()):
        raise UnreadableError(f"{repo.label}: {_INDEX} has no weight_map naming tensors and shards")
    return dict(wmap)


def _source(repo: HubRepo) -> SourceInfo:
    return SourceInfo(kind="hub", repo=repo.spec.repo, revision=repo.spec.revision or "main",
                      commit=repo.commit, bytes_downloaded=repo.bytes_downloaded)


def open_hub_repo(spec: HubSpec, *, spec_text: str) -> HFModelReader:
    """``hf:ORG/NAME[@REV]``: config from the cache or the Hub, then the safetensors header(s).

    Raises:
        UsageError: missing or gated repo, unknown revision (exit 2).
        UnreadableError: offline without a cache entry, no safetensors weights (exit 4).
    """
    repo = HubRepo(spec, label=spec_text)
    config = read_config(repo.resolve())
    index = repo.file(_INDEX, optional=True)
    if index is not None:
        weights = RemoteSafetensorsReader(path=Path(spec_text), repo=repo, weight_map=_weight_map(repo, index))
    elif repo.cached_file(_SINGLE) is not None or _exists(repo, _SINGLE):
        weights = RemoteSafetensorsReader(path=Path(spec_text), repo=repo)
    else:
        raise UnreadableError(
            f"{spec_text}: the repo has no {_SINGLE} or {_INDEX}; wsep reads Hub weights as safetensors only "
            "(a pickled .bin would have to be downloaded whole): download the repo and score its folder"
        )
    weights.tensors()  # read the header(s) now, so a bad file fails here with the right message
    return HFModelReader(path=Path(spec_text), inner=weights, config=config, source=lambda: _source(repo))


def _exists(repo: HubRepo, name: str) -> bool:
    """Whether ``name`` exists, by reading its header (which is needed next anyway)."""
    from wsep_cli.hf.hub import _errors  # noqa: PLC0415 - the hub module owns the client import

    try:
        RangeCache(repo).header(name)
    except UnreadableError as e:
        if isinstance(e.__cause__, _errors.EntryNotFoundError):
            return False
        raise
    return True


def open_timm_repo(repo_id: str, *, spec_text: str) -> HFModelReader | None:
    """``timm:NAME[.TAG]`` read from its Hub repo ``repo_id`` (``timm/NAME.TAG``) without torch or timm.

    Returns None when the repo cannot serve safetensors (offline and not cached, no safetensors, no
    such repo), so the timm reader builds the model instead and says what to do.
    """
    try:
        return open_hub_repo(parse_hf_spec(f"hf:{repo_id}"), spec_text=spec_text)
    except WsepError:
        return None
