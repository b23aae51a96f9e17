"""What the CI gate decides, as data: thresholds, one :class:`Check` per file x head x rule, a
:class:`FileVerdict` per path and the :class:`GateReport` of a run. No I/O, no evaluation (that is
:mod:`wsep_cli.gate.checks`); the report writers read these.

A baseline check fails when the value got worse (larger) than the baseline's by more than
``tolerance`` (relative); changes within 1e-6 relative (plus 1e-12 absolute) count as unchanged,
since re-saving or rescaling a float32 tensor moves the metrics by ~1e-7 relative.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping

from wsep_cli.errors import ExitCode
from wsep_cli.metrics.registry import BASELINE_METRICS as REGISTRY_BASELINE
from wsep_cli.metrics.registry import FROM_PAIRS
from wsep_cli.metrics.registry import THRESHOLDS
from wsep_cli.report.numtext import fmt_g

__all__ = [
    "THRESHOLD_METRICS",
    "BASELINE_METRICS",
    "Thresholds",
    "Check",
    "FileVerdict",
    "GateReport",
    "worse_than",
    "sampling_differs",
    "baseline_worse",
    "checks_text",
    "same_within_rounding",
]

# Threshold option (also the config key) -> the head metric it limits, keyed like the JSON.
THRESHOLD_METRICS: Mapping[str, str] = {option: m.name for option, m in THRESHOLDS.items()}
# Metrics a baseline guards (lower is better for all of them).
BASELINE_METRICS: tuple[str, ...] = tuple(m.name for m in REGISTRY_BASELINE)

_SLACK_REL = 1e-6  # float32 storage rounds at 6e-8 relative; stay well above it
_SLACK_ABS = 1e-12


def worse_than(new: float, old: float, tolerance: float) -> bool:
    """True when ``new`` exceeds ``old`` by more than ``tolerance`` (relative) plus rounding slack."""
    return new > old + tolerance * abs(old) + _SLACK_REL * abs(old) + _SLACK_ABS


def sampling_differs(metric: str, a_sampled: bool | None, b_sampled: bool | None) -> bool:
    """True for a pair statistic taken over every pair on one side and from the seeded sample on the
    other (``None``: the side does not say, as in reports written before ``cosine.estimated``)."""
    return metric in FROM_PAIRS and a_sampled is not None and b_sampled is not None and a_sampled != b_sampled


def baseline_worse(
    metric: str, new: float, old: float, tolerance: float, new_sampled: bool | None, old_sampled: bool | None
) -> bool | None:
    """Whether ``new`` is worse than the baseline's ``old``, or ``None`` when that cannot be decided.

    Where :func:`sampling_differs`, a sampled maximum never exceeds the exact one: a sampled ``new``
    already past the limit is worse, an exact ``new`` within a sampled baseline's limit is not, and
    the other two cases decide nothing.
    """
    worse = worse_than(new, old, tolerance)
    if not sampling_differs(metric, new_sampled, old_sampled):
        return worse
    return worse if worse == new_sampled else None


def checks_text(n: int) -> str:
    """``"1 check"``, ``"3 checks"``."""
    return f"{n} check" if n == 1 else f"{n} checks"


def same_within_rounding(a: float, b: float) -> bool:
    """True when ``a`` and ``b`` differ by no more than the rounding slack."""
    return abs(b - a) <= _SLACK_REL * max(abs(a), abs(b)) + _SLACK_ABS


@dataclass(frozen=True)
class Thresholds:
    """Upper limits; ``None`` means no limit."""

    max_epsilon: float | None = None
    max_epsilon_normalized: float | None = None
    max_abs_cos: float | None = None

    @classmethod
    def from_options(cls, limits: Mapping[str, float]) -> "Thresholds":
        """From option names (``{"max-abs-cos": 0.9}``); an option's field is its name with underscores."""
        return cls(**{option.replace("-", "_"): value for option, value in limits.items()})

    def items(self) -> list[tuple[str, float]]:
        """The limits that are set, as (option name, limit)."""
        return [
            (f.name.replace("_", "-"), getattr(self, f.name))
            for f in fields(self)
            if getattr(self, f.name) is not None
        ]

    def to_dict(self) -> dict[str, float | None]:
        return {f.name.replace("_", "-"): getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Check:
    """One comparison. ``rule`` is a threshold option, ``baseline``, ``baseline-method`` (a pair statistic
    over every pair on one side and from a sample on the other, where that decides nothing), or
    ``new-head``/``missing-head``/``new-file``/``missing-file`` for heads or files present on one side only."""

    path: str
    layer: str | None
    rule: str
    metric: str | None
    value: float | None
    limit: float | None
    passed: bool
    baseline: float | None = None
    detail: str = ""

    @property
    def name(self) -> str:
        """A short stable name (a JUnit testcase name)."""
        head = self.layer or "(file)"
        if self.rule in THRESHOLD_METRICS:
            return f"{head}: {self.metric} <= {fmt_g(self.limit)} ({self.rule})"
        if self.rule in ("baseline", "baseline-method"):
            return f"{head}: {self.metric} vs baseline"
        return f"{head}: {self.rule}"

    @property
    def message(self) -> str:
        """One line naming file, head, metric, value and limit."""
        where = f"{self.path} {self.layer}" if self.layer else self.path
        if self.rule in THRESHOLD_METRICS:
            op = "<=" if self.passed else ">"
            extra = f"; {self.detail}" if self.detail else ""
            return f"{where}: {self.metric} = {fmt_g(self.value)} {op} {fmt_g(self.limit)} ({self.rule}{extra})"
        if self.rule == "baseline":
            base = self.baseline or 0.0
            rel = f", {(self.value - base) / abs(base):+.2%}" if base and self.value is not None else ""
            verdict = "within" if self.passed else "exceeds"
            return (
                f"{where}: {self.metric} = {fmt_g(self.value)} {verdict} limit {fmt_g(self.limit)} "
                f"(baseline {fmt_g(self.baseline)}{rel}; {self.detail})"
            )
        return f"{where}: {self.detail}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "layer": self.layer,
            "rule": self.rule,
            "metric": self.metric,
            "value": self.value,
            "limit": self.limit,
            "baseline": self.baseline,
            "passed": self.passed,
            "message": self.message,
        }


@dataclass(frozen=True)
class FileVerdict:
    """The gate's verdict on one path."""

    path: str
    thresholds: Thresholds
    checks: tuple[Check, ...] = ()
    baseline: str | None = None
    tolerance: float = 0.0

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def violations(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.passed)

    def to_dict(self) -> dict[str, Any]:
        """The ``gate`` object added to each result of the JSON report."""
        return {
            "passed": self.passed,
            "thresholds": self.thresholds.to_dict(),
            "baseline": None if self.baseline is None else {"source": self.baseline, "tolerance": self.tolerance},
            "checks": len(self.checks),
            "violations": [c.to_dict() for c in self.violations],
        }

    def summary_lines(self) -> list[str]:
        """Plain-text lines for the table output."""
        if not self.checks:
            return [f"gate: {self.path}: no thresholds or baseline apply"]
        if self.passed:
            lines = [f"gate: {self.path}: passed ({checks_text(len(self.checks))})"]
        else:
            lines = [f"gate: {self.path}: FAILED ({len(self.violations)} of {checks_text(len(self.checks))})"]
        lines += [f"  FAIL {c.message}" for c in self.violations]
        lines += [f"  note {c.message}" for c in self.checks if c.passed and c.rule not in _METRIC_RULES]
        return lines


_METRIC_RULES = {*THRESHOLD_METRICS, "baseline"}


@dataclass(frozen=True)
class GateReport:
    """Verdicts for every scored path, plus baseline files this run did not score."""

    verdicts: tuple[FileVerdict, ...]
    unmatched: tuple[Check, ...] = ()

    def for_path(self, path: str) -> FileVerdict:
        for v in self.verdicts:
            if v.path == path:
                return v
        return FileVerdict(path=path, thresholds=Thresholds())

    @property
    def checks(self) -> tuple[Check, ...]:
        return tuple(c for v in self.verdicts for c in v.checks) + self.unmatched

    @property
    def violations(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.passed)

    @property
    def passed(self) -> bool:
        return not self.violations

    @property
    def exit_code(self) -> int:
        return int(ExitCode.OK if self.passed else ExitCode.GATE_FAILED)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "checks": len(self.checks),
            "violations": len(self.violations),
            "unmatched_baseline": [c.to_dict() for c in self.unmatched],
        }
