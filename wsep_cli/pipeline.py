"""The score pipeline: path -> reader -> located head(s) -> metrics -> FileResult.

Errors for one file become that file's ``status: "error"`` result; they never stop the others.
"""

from __future__ import annotations

import glob
import logging
import math
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wsep_cli.errors import (
    ExitCode, NoClassifierError, NonFiniteError, UnreadableError, UsageError, WsepError,
)
from wsep_cli.locate import Head, candidate_matrices, load_head_matrix, locate
from wsep_cli.metrics import compute_metrics
from wsep_cli.readers import open_reader
from wsep_cli.readers.base import Reader, TensorInfo
from wsep_cli.results import FileResult, HeadResult, Metrics

__all__ = [
    "ScoreOptions",
    "LayerRow",
    "expand_paths",
    "score_file",
    "score_paths",
    "list_layers",
    "overall_exit_code",
]


@dataclass(frozen=True)
class ScoreOptions:
    """What ``wsep score`` was asked to do, beyond the paths."""

    layer: str | None = None
    arch: str | None = None
    labels: tuple[str, ...] | None = None
    random_init: bool = False
    device: str = "cpu"  # "cpu" (numpy) or "cuda"/"cuda:N": where the metrics run (torch only then)


@dataclass(frozen=True)
class LayerRow:
    """One candidate matrix for ``wsep layers``."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    chosen: bool
    reason: str


def expand_paths(patterns: list[str]) -> list[str]:
    """Expand globs; a missing path or a glob that matches nothing is a usage error (exit 2)."""
    out: list[str] = []
    for p in patterns:
        if p.startswith("timm:"):
            out.append(p)
        elif glob.has_magic(p):
            matches = sorted(glob.glob(p, recursive=True))
            if not matches:
                raise UsageError(f"{p}: the pattern matches no file")
            out.extend(matches)
        elif Path(p).exists():
            out.append(p)
        else:
            raise UsageError(f"{p}: no such file or directory")
    if not out:
        raise UsageError("no checkpoint given; pass one or more paths")
    return out


def _arch_classifiers(reader: Reader, opts: ScoreOptions) -> list[str] | None:
    arch = opts.arch or reader.metadata().get("arch")
    if not arch:
        return None
    from wsep_cli.locate.timm_names import classifier_names_for

    return classifier_names_for(arch, required=opts.arch is not None)


def _locate(reader: Reader, opts: ScoreOptions) -> list[Head]:
    return locate(reader, layer=opts.layer, arch_classifiers=_arch_classifiers(reader, opts))


def _check_metrics_finite(metrics: Metrics, layer: str) -> None:
    """Weights that are finite but so large that float64 metrics overflow (|w| ~ 1e150 and up)."""
    def walk(x: object) -> bool:
        if isinstance(x, float):
            return math.isfinite(x)
        if isinstance(x, dict):
            return all(walk(v) for v in x.values())
        if isinstance(x, (list, tuple)):
            return all(walk(v) for v in x)
        return True

    if not walk(metrics.to_dict()):
        raise NonFiniteError(
            f"layer {layer!r} holds values too large for float64 metrics (they overflow to Inf); "
            "the checkpoint is corrupt or training diverged"
        )


def _head_result(reader: Reader, head: Head, infos: dict[str, TensorInfo], opts: ScoreOptions) -> HeadResult:
    v = load_head_matrix(reader, head, upcast=False)  # stored dtype; metrics upcast block by block
    with np.errstate(all="ignore"):  # finite but huge float64 weights overflow; refused just below
        metrics = compute_metrics(
            v, layer=head.layer, names=list(opts.labels) if opts.labels else None, device=opts.device
        )
    _check_metrics_finite(metrics, head.layer)
    return HeadResult(
        layer=head.layer,
        located_by=head.located_by,
        reason=head.reason,
        num_classes=int(v.shape[0]),
        num_features=int(v.shape[1]),
        dtype=infos[head.layer].dtype if head.layer in infos else "float32",
        metrics=metrics,
    )


_log = logging.getLogger(__name__)

# Parsing errors a malformed file can raise from deep inside a reader or the stdlib. Readers are meant
# to turn them into UnreadableError themselves; this is defence in depth for untrusted input, so one
# hostile file still ends as a one-line exit-4 result. The original traceback is logged at DEBUG level
# (the fuzz suite counts these to find readers that still need a proper check).
_MALFORMED_ERRORS: tuple[type[BaseException], ...] = (
    ValueError, struct.error, EOFError, KeyError, IndexError, zipfile.BadZipFile, UnicodeDecodeError,
    RecursionError, MemoryError, OverflowError, zlib.error,
)


def _malformed(spec: str, e: BaseException) -> UnreadableError:
    _log.debug("malformed input %s", spec, exc_info=e)
    detail = " ".join(str(e).split())[:200]
    return UnreadableError(
        f"{spec}: malformed file ({type(e).__name__}: {detail}); the checkpoint is corrupt, truncated "
        "or not the format it looks like"
    )


def score_file(spec: str, opts: ScoreOptions = ScoreOptions()) -> FileResult:
    """Score one checkpoint. Never raises a :class:`WsepError`; it becomes an error result."""
    fmt: str | None = None
    try:
        try:
            with open_reader(spec, random_init=opts.random_init) as reader:
                fmt = reader.format
                infos = {t.name: t for t in reader.tensors()}
                heads = tuple(_head_result(reader, h, infos, opts) for h in _locate(reader, opts))
        except _MALFORMED_ERRORS as e:
            raise _malformed(spec, e) from e
    except WsepError as e:
        return FileResult(path=spec, format=fmt, status="error", exit_code=int(e.exit_code), error=str(e))
    return FileResult(path=spec, format=fmt, status="ok", exit_code=int(ExitCode.OK), heads=heads)


def score_paths(specs: list[str], opts: ScoreOptions = ScoreOptions()) -> list[FileResult]:
    return [score_file(s, opts) for s in specs]


def list_layers(spec: str, opts: ScoreOptions = ScoreOptions()) -> tuple[str, list[LayerRow]]:
    """Candidate matrices of one checkpoint, the chosen head(s) marked with the reason."""
    try:
        return _list_layers(spec, opts)
    except _MALFORMED_ERRORS as e:  # same defence in depth as score_file
        raise _malformed(spec, e) from e


def _list_layers(spec: str, opts: ScoreOptions) -> tuple[str, list[LayerRow]]:
    with open_reader(spec, random_init=opts.random_init) as reader:
        tensors = reader.tensors()
        try:
            heads = {h.layer: h for h in _locate(reader, opts)}
        except NoClassifierError:  # list the candidates anyway; the CLI exits 3. Other errors propagate.
            heads = {}
        rows = [
            LayerRow(
                name=t.name,
                shape=t.shape,
                dtype=t.dtype,
                chosen=t.name in heads,
                reason=f"{heads[t.name].located_by}: {heads[t.name].reason}" if t.name in heads else "",
            )
            for t in candidate_matrices(tensors)
        ]
        for name, h in heads.items():  # heads not stored as plain candidates (ONNX transposed, etc.)
            if all(r.name != name for r in rows):
                t = next((x for x in tensors if x.name == name), None)
                rows.append(
                    LayerRow(name, t.shape if t else (), t.dtype if t else "?", True, f"{h.located_by}: {h.reason}")
                )
        return reader.format, rows


def overall_exit_code(results: list[FileResult]) -> int:
    """The largest exit code of all results (0 when all are ok)."""
    return max((r.exit_code for r in results), default=int(ExitCode.OK))
