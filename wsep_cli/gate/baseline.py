"""Baselines: the per-head metrics of an earlier run, read from a ``wsep score --json`` document.

A baseline is matched to the current run by file and layer. Files match by the path as written,
else by file name when that name is unique on both sides (so a baseline written in another checkout
still matches). ``load_baseline`` is the only function here that touches the file system.

Example:
    >>> base = baseline_from_document({"results": [{"path": "a.pt", "status": "ok",
    ...     "heads": [{"layer": "fc.weight", "epsilon": 0.5}]}]}, source="old.json")
    >>> base.files[0].heads[0].metrics["epsilon"]
    0.5
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any, Iterable, Mapping

from wsep_cli.errors import UsageError
from wsep_cli.metrics.registry import flatten_head
from wsep_cli.results import FileResult, HeadResult

__all__ = [
    "BaselineHead",
    "BaselineFile",
    "Baseline",
    "FileMatch",
    "baseline_from_document",
    "baseline_from_results",
    "baseline_head",
    "load_baseline",
    "match_files",
]


@dataclass(frozen=True)
class BaselineHead:
    """One head: its layer name, its numeric metrics keyed like the JSON (``cosine.abs_max``), its
    shape (classes, features), how it was located and whether its pair statistics were estimated from
    a sample (``cosine.estimated``; ``None`` when the report does not say), when the report says."""

    layer: str
    metrics: Mapping[str, float]
    shape: tuple[int, int] | None = None
    located_by: str | None = None
    sampled: bool | None = None
    sample_size: int | None = None


@dataclass(frozen=True)
class BaselineFile:
    """One checkpoint of a report. ``ok`` is False for a result with ``status: "error"``."""

    path: str
    heads: tuple[BaselineHead, ...]
    ok: bool = True

    def head(self, layer: str) -> BaselineHead | None:
        return next((h for h in self.heads if h.layer == layer), None)


@dataclass(frozen=True)
class Baseline:
    """The files of one report, and where it came from (for messages)."""

    source: str
    files: tuple[BaselineFile, ...]


@dataclass(frozen=True)
class FileMatch:
    """How the current paths pair with a baseline's files."""

    pairs: Mapping[str, BaselineFile]  # current path -> its baseline file
    unmatched: tuple[BaselineFile, ...]  # baseline files no current path matched


def _shape(head: Mapping[str, Any]) -> tuple[int, int] | None:
    n, m = head.get("num_classes"), head.get("num_features")
    ok = all(isinstance(x, int) and not isinstance(x, bool) for x in (n, m))
    return (n, m) if ok else None  # type: ignore[return-value]


def _sampling(head: Mapping[str, Any]) -> tuple[bool | None, int | None]:
    """``cosine.estimated`` and ``cosine.sample_size`` of a head's JSON object, when present and well typed."""
    cos = head.get("cosine")
    if not isinstance(cos, Mapping) or not isinstance(cos.get("estimated"), bool):
        return None, None
    size = cos.get("sample_size")
    return cos["estimated"], size if isinstance(size, int) and not isinstance(size, bool) else None


def _bad(source: str, what: str) -> UsageError:
    return UsageError(
        f"baseline {source}: {what}; write one with `wsep score --json` or `wsep score --write-baseline FILE`"
    )


def baseline_from_document(doc: Any, *, source: str) -> Baseline:
    """A :class:`Baseline` from a parsed ``wsep score --json`` document (validated)."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("results"), list):
        raise _bad(source, 'not a wsep report (no "results" list)')
    files: list[BaselineFile] = []
    for i, r in enumerate(doc["results"]):
        if not isinstance(r, Mapping) or not isinstance(r.get("path"), str):
            raise _bad(source, f'result {i} has no "path"')
        heads_raw = r.get("heads")
        heads_raw = [] if heads_raw is None else heads_raw
        if not isinstance(heads_raw, list):
            raise _bad(source, f'result {i} ("{r["path"]}"): "heads" is not a list')
        heads = []
        for h in heads_raw:
            if not isinstance(h, Mapping) or not isinstance(h.get("layer"), str):
                raise _bad(source, f'result {i} ("{r["path"]}"): a head has no "layer"')
            sampled, size = _sampling(h)
            heads.append(BaselineHead(layer=h["layer"], metrics=flatten_head(h), shape=_shape(h),
                                      located_by=h.get("located_by") if isinstance(h.get("located_by"), str) else None,
                                      sampled=sampled, sample_size=size))
        files.append(BaselineFile(path=r["path"], heads=tuple(heads), ok=r.get("status", "ok") == "ok"))
    return Baseline(source=source, files=tuple(files))


def baseline_from_results(results: Iterable[FileResult], *, source: str = "this run") -> Baseline:
    """A :class:`Baseline` from results scored in this process (used by ``wsep compare``)."""
    files = tuple(
        BaselineFile(
            path=r.path,
            heads=tuple(baseline_head(h) for h in r.heads),
            ok=r.status == "ok",
        )
        for r in results
    )
    return Baseline(source=source, files=files)


def baseline_head(h: HeadResult) -> BaselineHead:
    """A head scored in this process, in the form a baseline's heads take."""
    d = h.to_dict()
    sampled, size = _sampling(d)
    return BaselineHead(h.layer, flatten_head(d), (h.num_classes, h.num_features), h.located_by, sampled, size)


def load_baseline(path: Path) -> Baseline:
    """Read a baseline written by ``wsep score --json`` or ``--write-baseline`` (exit 2 if unusable)."""
    try:
        if path.is_dir():
            raise _bad(str(path), "is a folder, not a report file")
        text = path.read_bytes().decode("utf-8")
    except OSError as e:
        raise UsageError(f"--baseline {path}: cannot read ({e.strerror or e})") from e
    except UnicodeDecodeError as e:
        raise _bad(str(path), f"not a text file (byte {e.start} is not UTF-8)") from e
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise _bad(str(path), f"not valid JSON ({e.msg} at line {e.lineno})") from e
    except RecursionError as e:
        raise _bad(str(path), "JSON nested too deeply") from e
    return baseline_from_document(doc, source=str(path))


def _norm(p: str) -> str:
    return p if p.startswith("timm:") else PurePath(p).as_posix().removeprefix("./")


def _name(p: str) -> str:
    return p if p.startswith("timm:") else PurePath(p).name


def match_files(current: Iterable[str], baseline: Baseline) -> FileMatch:
    """Pair current paths with baseline files: same path, else the same file name if unique."""
    cur = list(current)
    by_path = {_norm(f.path): f for f in baseline.files}
    base_names: dict[str, list[BaselineFile]] = {}
    for f in baseline.files:
        base_names.setdefault(_name(f.path), []).append(f)
    cur_names: dict[str, int] = {}
    for p in cur:
        cur_names[_name(p)] = cur_names.get(_name(p), 0) + 1
    pairs: dict[str, BaselineFile] = {}
    used: set[int] = set()
    for p in cur:  # exact paths first, so a name match never steals an exact one
        f = by_path.get(_norm(p))
        if f is not None and id(f) not in used:
            pairs[p] = f
            used.add(id(f))
    for p in cur:
        if p in pairs:
            continue
        same = [f for f in base_names.get(_name(p), []) if id(f) not in used]
        if len(same) == 1 and len(base_names[_name(p)]) == 1 and cur_names[_name(p)] == 1:
            pairs[p] = same[0]
            used.add(id(same[0]))
    unmatched = tuple(f for f in baseline.files if id(f) not in used)
    return FileMatch(pairs=pairs, unmatched=unmatched)
