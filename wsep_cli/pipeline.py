"""The one pipeline every command reads checkpoints through: source -> reader -> heads -> metrics.

- :func:`open_heads` opens a checkpoint behind the malformed-input net, locates its head(s) and hands
  out each head's matrix; ``score``, ``layers``, ``plot``, ``compare`` all start here, and
  ``finetune --init`` uses the same guarded reader (:func:`wsep_cli.readers.guard.open_guarded`).
- :func:`score_head` turns one located head into a :class:`~wsep_cli.results.HeadResult`
  (metrics, the overflow check, warnings); :func:`score_file` does it for a whole file and never
  raises a :class:`~wsep_cli.errors.WsepError`: the error becomes that file's result.
- :func:`run_score` is ``wsep score`` as a library call: a typed :class:`ScoreRequest` in, a
  :class:`ScoreRun` out (results, the gate's verdict, the exit code). The exit code is decided here
  and nowhere else.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable, Iterator, Mapping

import numpy as np

from wsep_cli.errors import ExitCode, NoClassifierError, NonFiniteError, UsageError, WsepError, error_for_code
from wsep_cli.gate.config import GateRequest
from wsep_cli.inputs import SOURCE_PREFIXES, expand_inputs
from wsep_cli.locate import Head, candidate_matrices, load_head_matrix, locate
from wsep_cli.metrics import MetricsDetail, compute_metrics_detail
from wsep_cli.readers.guard import GuardedReader, open_guarded
from wsep_cli.results import LOCAL_SOURCE, FileResult, HeadResult, Metrics, SourceInfo

if TYPE_CHECKING:
    from wsep_cli.readers.base import HeadHint, TensorInfo
    from wsep_cli.gate.baseline import Baseline
    from wsep_cli.gate.checks import GateReport
    from wsep_cli.gate.compare import Comparison

__all__ = [
    "ScoreOptions",
    "OpenHeads",
    "MeasuredHead",
    "LayerRow",
    "LayerListing",
    "ScoreRequest",
    "ScoreRun",
    "open_heads",
    "measure_head",
    "score_head",
    "score_file",
    "list_layers",
    "run_score",
    "compare_specs",
    "check_finite",
]

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ScoreOptions:
    """How to read and score each checkpoint (the same for every path of a run)."""

    layer: str | None = None
    arch: str | None = None
    labels: tuple[str, ...] | None = None
    random_init: bool = False
    device: str = "cpu"  # "cpu" (numpy) or "cuda"/"cuda:N": where the metrics run (torch only then)
    top_pairs: int = 0  # also list the K most similar class pairs of each head
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
    with open_guarded(spec, random_init=opts.random_init, revision=opts.revision) as reader:
        heads = locate(reader, layer=opts.layer, arch=opts.arch)
        yield OpenHeads(spec, reader, tuple(heads))


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
        detail = compute_metrics_detail(v, layer=head.layer, names=names, device=opts.device, top_pairs=opts.top_pairs)
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


@dataclass(frozen=True)
class LayerRow:
    """One candidate matrix for ``wsep layers``: its stored shape, and (``classes``, ``features``) as
    scored, which differs for an ONNX MatMul weight (stored features x classes), a reshaped or a
    1x1-conv kernel."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    chosen: bool
    reason: str
    scored_as: tuple[int, int] | None = None


@dataclass(frozen=True)
class LayerListing:
    """``wsep layers``: the candidates, the chosen head(s), and why none was chosen if so."""

    spec: str
    format: str
    rows: tuple[LayerRow, ...]
    error: NoClassifierError | None = None


def list_layers(spec: str, opts: ScoreOptions = ScoreOptions()) -> LayerListing:
    """Candidate matrices of one checkpoint, the chosen head(s) marked with the reason.

    Raises:
        WsepError: the file cannot be read (a missing classifier is reported in the listing instead).
    """
    with open_guarded(spec, random_init=opts.random_init, revision=opts.revision) as reader:
        tensors = reader.tensors()
        by_name = {t.name: t for t in tensors}
        views = reader.views()
        error = None
        try:
            heads = {h.layer: h for h in locate(reader, layer=opts.layer, arch=opts.arch)}
        except NoClassifierError as e:  # list the candidates anyway; the CLI exits 3
            heads, error = {}, e
        sources = {h.source for h in [*reader.hints(), *views.values()] if h.source}  # read-through keys
        names = [t.name for t in candidate_matrices(tensors, reader.not_candidates())
                 if t.name not in views and t.name not in sources]
        names += [n for n in views if n in by_name]  # graph weights (MatMul, reshaped, quantised)
        names = sorted(set(names) | set(heads), key=lambda n: next(
            (i for i, t in enumerate(tensors) if t.name == n), len(tensors)))
        rows = []
        for name in names:
            t, h = by_name.get(name), heads.get(name)
            rows.append(LayerRow(name, t.shape if t else (), t.dtype if t else "?", h is not None,
                                 f"{h.located_by}: {h.reason}" if h is not None else "",
                                 _scored_as(by_name, h or _view_head(views.get(name)), t)))
        return LayerListing(spec, reader.format, tuple(rows), error)


def _view_head(hint: "HeadHint | None") -> Head | None:
    return Head.of_hint(hint) if hint is not None else None


def _scored_as(by_name: Mapping[str, "TensorInfo"], head: Head | None, t: "TensorInfo | None") -> tuple[int, int] | None:
    """(n classes, m features) as the head would be scored: from the matrix the head loads, oriented."""
    info = by_name.get(head.key) if head is not None else t
    if info is None or len(info.shape) < 2:
        return None
    n, m = info.shape[0], info.shape[1]
    return (m, n) if head is not None and head.transposed else (n, m)


@dataclass(frozen=True)
class ScoreRequest:
    """What ``wsep score`` was asked: the paths, how to read them, and the gate."""

    paths: tuple[str, ...]
    options: ScoreOptions = ScoreOptions()
    gate: GateRequest = GateRequest()


@dataclass(frozen=True)
class ScoreRun:
    """The outcome of a score run.

    Attributes:
        results: one per checkpoint; each ``exit_code`` already counts its gate verdict (1 on failure).
        gate: the gate's verdicts, or None when no threshold or baseline applies.
        exit_code: what the process exits with (``exit-zero`` applied).
        notes: one-line remarks on the inputs (shards scored as a set, skipped non-checkpoints).
    """

    results: tuple[FileResult, ...]
    gate: "GateReport | None"
    exit_code: int
    notes: tuple[str, ...] = field(default=())


def _check_device(device: str) -> None:
    if device != "cpu":
        from wsep_cli.metrics.backend import get_backend

        get_backend(device)  # a bad or unavailable device is a usage error (exit 2), before any file


def _with_gate(results: list[FileResult], gate: "GateReport | None") -> tuple[FileResult, ...]:
    if gate is None:
        return tuple(results)
    return tuple(
        r if gate.for_path(r.path).passed else replace(r, exit_code=max(r.exit_code, int(ExitCode.GATE_FAILED)))
        for r in results
    )


def run_score(request: ScoreRequest, *, env: Mapping[str, str], progress: Progress | None = None) -> ScoreRun:
    """``wsep score``: validate everything, score every checkpoint, apply the gate, decide the exit code.

    Raises:
        WsepError: a usage or config error found before any file is scored (exit 2).
    """
    from wsep_cli.gate.config import gate_settings

    settings = gate_settings(request.gate, env=env)
    baseline: Baseline | None = settings.load_baseline()
    inputs = expand_inputs(list(request.paths))
    _check_device(request.options.device)
    results = []
    for i, spec in enumerate(inputs.specs):
        if progress is not None:
            progress(f"[{i + 1}/{len(inputs.specs)}] {spec}")
        results.append(score_file(spec, request.options))
    gate = settings.evaluate(results, baseline)
    final = _with_gate(results, gate)
    code = max((r.exit_code for r in final), default=int(ExitCode.OK))
    return ScoreRun(final, gate, 0 if settings.exit_zero else code, inputs.notes)


def compare_side(spec: str, opts: ScoreOptions = ScoreOptions()) -> "Baseline":
    """One side of ``compare``: a JSON report, or the checkpoint scored now."""
    from pathlib import Path

    from wsep_cli.gate.baseline import baseline_from_results, load_baseline
    from wsep_cli.gate.compare import is_report

    if not spec.startswith(SOURCE_PREFIXES) and is_report(Path(spec)):
        return load_baseline(Path(spec))
    specs = expand_inputs([spec]).specs
    if len(specs) != 1:
        raise UsageError(f"{spec}: holds {len(specs)} checkpoints; compare takes one checkpoint or one JSON report per side")
    scored = score_file(specs[0], opts)
    if scored.status != "ok":
        raise error_for_code(scored.exit_code, f"cannot compare: {scored.error}")
    return baseline_from_results([scored], source=spec)


def compare_specs(a: str, b: str, opts: ScoreOptions = ScoreOptions(), *, tolerance: float = 0.0) -> "Comparison":
    """``wsep compare A B``: two checkpoints or reports, metric by metric.

    Raises:
        WsepError: a side cannot be read (its own exit code) or a usage error (exit 2).
    """
    from wsep_cli.gate.compare import compare

    return compare(compare_side(a, opts), compare_side(b, opts), tolerance=tolerance)
