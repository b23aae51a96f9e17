"""``wsep score`` and ``wsep compare`` as library calls: a typed request in, a result out.

:func:`run_score` validates everything, scores every checkpoint, applies the gate and decides the
exit code; the exit code is decided here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable, Mapping

from wsep_cli.errors import ExitCode, UsageError, error_for_code
from wsep_cli.gate.config import GateRequest
from wsep_cli.inputs import SOURCE_PREFIXES, expand_inputs
from wsep_cli.pipeline.heads import ScoreOptions, score_file
from wsep_cli.results import FileResult

if TYPE_CHECKING:
    from wsep_cli.gate.baseline import Baseline
    from wsep_cli.gate.verdicts import GateReport
    from wsep_cli.gate.compare import Comparison

__all__ = ["ScoreRequest", "ScoreRun", "run_score", "compare_side", "compare_specs"]

Progress = Callable[[str], None]


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
    opts = request.options
    if settings.exact_pairs and not opts.exact_pairs:  # exact-pairs from [tool.wsep] or WSEP_EXACT_PAIRS
        opts = replace(opts, exact_pairs=True)
    results = []
    for i, spec in enumerate(inputs.specs):
        if progress is not None:
            progress(f"[{i + 1}/{len(inputs.specs)}] {spec}")
        results.append(score_file(spec, opts))
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
