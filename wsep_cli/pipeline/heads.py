"""Open a checkpoint, locate its head(s), measure each: the part of the pipeline every command shares.

:func:`open_heads` opens a checkpoint behind the malformed-input net (only the reader calls are
wrapped: a bug in locate is an internal error, not a malformed file) and locates its heads;
:func:`measure_head` scores one (metrics, the overflow check, warnings); :func:`score_file` does it
for a whole file and never raises a :class:`~wsep_cli.errors.WsepError`: the error becomes that
file's result.
"""

from __future__ import annotations

import gc
import math
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from wsep_cli.errors import ExitCode, NonFiniteError, UsageError, WsepError
from wsep_cli.locate import Head, load_head_matrix, locate
from wsep_cli.metrics import MetricsDetail, compute_metrics_detail
from wsep_cli.readers.guard import GuardedReader, open_guarded
from wsep_cli.results import LOCAL_SOURCE, FileResult, HeadResult, Metrics, SourceInfo

__all__ = [
    "ScoreOptions",
    "OpenHeads",
    "MeasuredHead",
    "open_heads",
    "class_names",
    "source_of",
    "check_finite",
    "measure_head",
    "score_head",
    "score_file",
]


@dataclass(frozen=True)
class ScoreOptions:
    """How to read and score each checkpoint (the same for every path of a run)."""

    layer: str | None = None
    arch: str | None = None
    labels: tuple[str, ...] | None = None
    random_init: bool = False
    device: str = "cpu"  # "cpu" (numpy) or "cuda"/"cuda:N": where the metrics run (torch only then)
    top_pairs: int = 0  # also list the K most similar class pairs of each head
    exact_pairs: bool = False  # --exact-pairs: pair statistics over every pair, never sampled
    revision: str | None = None  # --revision: the Hub revision of hf: specs that name none


@dataclass
class OpenHeads:
    """An open checkpoint and its located heads, primary first (valid inside :func:`open_heads`)."""

    spec: str
    reader: GuardedReader
    heads: tuple[Head, ...]

    @property
    def format(self) -> str:
        return self.reader.format

    def matrix(self, head: Head) -> np.ndarray:
        """V (n x m) in its stored float dtype, or float64 when scaled/dequantised; may be a view."""
        return load_head_matrix(self.reader, head, upcast=False)

    def dtype(self, head: Head) -> str:
        info = next((t for t in self.reader.tensors() if t.name == head.layer), None)
        return info.dtype if info is not None else "float32"


@contextmanager
def open_heads(spec: str, opts: ScoreOptions = ScoreOptions()) -> Iterator[OpenHeads]:
    """Open ``spec`` and locate its head(s) the way every command does.

    Raises:
        UsageError: a missing path, ``--random-init`` on a file, an unknown ``--arch`` (exit 2).
        NoClassifierError: nothing fits (exit 3).
        UnreadableError: unreadable, malformed or unsafe input (exit 4).
    """
    if opts.random_init and not spec.startswith("timm:"):
        raise UsageError(f"--random-init applies to timm:NAME sources only, not to the file {spec}")
    with ExitStack() as stack:
        with collector_paused():
            reader = stack.enter_context(open_guarded(spec, random_init=opts.random_init, revision=opts.revision))
            heads = locate(reader, layer=opts.layer, arch=opts.arch)
        yield OpenHeads(spec, reader, tuple(heads))


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a checkpoint is parsed and its head located.

    A header or pickle may hold 100,000+ records (JSON objects, pickled dicts, graph nodes); creating
    them triggers collector passes over every object made so far, which free nothing (parsed
    metadata has no reference cycles) and took 0.3-0.5 s of a 2 s ``wsep score`` on such a file. The
    collector's previous state is restored on exit."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def class_names(opened: OpenHeads, opts: ScoreOptions) -> tuple[str, ...] | None:
    """``--labels``/``--class-names`` when given, else the checkpoint's own (Hugging Face ``id2label``)."""
    return opts.labels if opts.labels is not None else opened.reader.class_names()


def source_of(spec: str, reader: GuardedReader | None) -> SourceInfo:
    """Where ``spec`` came from: the reader's answer, else what the spec itself says."""
    found = reader.source_info() if reader is not None else None
    if found is not None:
        return found
    if spec.startswith("hf:"):
        from wsep_cli.hf.spec import parse_hf_spec

        try:
            hub = parse_hf_spec(spec)
        except WsepError:
            return SourceInfo(kind="hub")
        return SourceInfo(kind="hub", repo=hub.repo, revision=hub.revision or "main")
    return LOCAL_SOURCE


def check_finite(metrics: Metrics, layer: str) -> None:
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


def _warnings(metrics: Metrics, n: int, head: Head, opts: ScoreOptions) -> tuple[str, ...]:
    out = []
    labels = opts.labels
    if opts.arch and head.located_by != "option" and "timm pretrained_cfg" not in head.reason:
        out.append(f"--arch {opts.arch} was not used: the head was chosen by {head.located_by} ({head.reason})")
    if metrics.singular_values.rank == 0:
        out.append("every weight is zero (rank 0): the cosine statistics say nothing about separability")
    if labels is not None and len(labels) != n:
        out.append(f"{len(labels)} class names given for {n} classes; the names are not used")
    return tuple(out)


@dataclass(frozen=True)
class MeasuredHead:
    """A scored head: its result, the arrays behind the metrics, and V itself."""

    result: HeadResult
    detail: MetricsDetail
    matrix: np.ndarray


def measure_head(opened: OpenHeads, head: Head, opts: ScoreOptions = ScoreOptions()) -> MeasuredHead:
    """Metrics of one located head (float64, blocked; exact or sampled as documented).

    Raises:
        NonFiniteError: NaN/Inf weights, or weights whose float64 metrics overflow (exit 4).
    """
    v = opened.matrix(head)
    labels = class_names(opened, opts)
    names = list(labels) if labels and len(labels) == v.shape[0] else None
    with np.errstate(all="ignore"):  # finite but huge float64 weights overflow; refused just below
        detail = compute_metrics_detail(v, layer=head.layer, names=names, device=opts.device, top_pairs=opts.top_pairs,
                                        exact_pairs=opts.exact_pairs)
    check_finite(detail.metrics, head.layer)
    result = HeadResult(
        layer=head.layer,
        located_by=head.located_by,
        reason=head.reason,
        num_classes=int(v.shape[0]),
        num_features=int(v.shape[1]),
        dtype=opened.dtype(head),
        metrics=detail.metrics,
        warnings=(*head.notes, *_warnings(detail.metrics, int(v.shape[0]), head, opts)),
        alternatives=head.alternatives,
        dequantized=head.dequantized,
    )
    return MeasuredHead(result, detail, v)


def score_head(opened: OpenHeads, head: Head, opts: ScoreOptions = ScoreOptions()) -> HeadResult:
    """:func:`measure_head`'s result alone."""
    return measure_head(opened, head, opts).result


def score_file(spec: str, opts: ScoreOptions = ScoreOptions()) -> FileResult:
    """Score one checkpoint. Never raises a :class:`WsepError`; it becomes an error result."""
    fmt: str | None = None
    reader: GuardedReader | None = None
    try:
        with open_heads(spec, opts) as opened:
            fmt, reader = opened.format, opened.reader
            heads = tuple(score_head(opened, h, opts) for h in opened.heads)
    except WsepError as e:
        message = str(e) if str(e).startswith(spec) else f"{spec}: {e}"  # every error line names its file
        return FileResult(path=spec, format=fmt, status="error", exit_code=int(e.exit_code), error=message,
                          source=source_of(spec, reader))
    return FileResult(path=spec, format=fmt, status="ok", exit_code=int(ExitCode.OK), heads=heads,
                      source=source_of(spec, reader))
