"""Gate settings from options, ``WSEP_*`` environment variables and ``[tool.wsep]`` config.

Precedence, key by key: command-line option > environment variable > config file (a matching
``[tool.wsep.overrides."glob"]`` table over the ``[tool.wsep]`` table) > none. The file itself (keys,
validation, discovery) is :mod:`wsep_cli.gate.config_file`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from wsep_cli.errors import ConfigError
from wsep_cli.gate.config_file import (
    KEYS,
    OVERRIDE_KEYS,
    WsepConfig,
    check_value,
    find_config,
    load_config,
    parse_config,
)

if TYPE_CHECKING:  # the gate, baseline and TOML modules load only when a run uses them
    from wsep_cli.gate.baseline import Baseline
    from wsep_cli.gate.verdicts import GateReport, Thresholds
    from wsep_cli.results import FileResult

__all__ = [
    "GateRequest",
    "KEYS",
    "OVERRIDE_KEYS",
    "ENV_PREFIX",
    "WsepConfig",
    "GateSettings",
    "find_config",
    "load_config",
    "parse_config",
    "env_settings",
    "resolve_settings",
    "gate_settings",
]


@dataclass(frozen=True)
class GateRequest:
    """The gate options of one ``wsep score`` run, as typed; ``None`` means "not given here".

    ``config`` is ``--config FILE`` (else ``WSEP_CONFIG``, else the nearest ``pyproject.toml``).
    """

    max_epsilon: float | None = None
    max_epsilon_normalized: float | None = None
    max_abs_cos: float | None = None
    baseline: Path | None = None
    tolerance: float | None = None
    allow_new: bool | None = None
    exit_zero: bool | None = None
    exact_pairs: bool | None = None
    config: Path | None = None

    def given(self) -> dict[str, Any]:
        """The options that were given, keyed like the config (``max-abs-cos``)."""
        out: dict[str, Any] = {}
        for key in KEYS:
            value = getattr(self, key.replace("-", "_"))
            if value is not None:
                out[key] = str(value) if isinstance(value, Path) else value
        return out


ENV_PREFIX = "WSEP_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class GateSettings:
    """What the gate runs with after precedence is applied."""

    cli_thresholds: Mapping[str, float]
    env: Mapping[str, Any]
    config: WsepConfig
    tolerance: float = 0.0
    baseline: Path | None = None
    allow_new: bool = False
    exit_zero: bool = False
    exact_pairs: bool = False  # score pair statistics over every pair (``exact-pairs``); not a check

    def thresholds_for(self, path: str) -> Thresholds:
        from wsep_cli.gate.verdicts import Thresholds

        merged = {k: v for k, v in self.config.for_path(path).items() if k in OVERRIDE_KEYS}
        merged.update({k: v for k, v in self.env.items() if k in OVERRIDE_KEYS})
        merged.update(self.cli_thresholds)
        return Thresholds.from_options({k: float(v) for k, v in merged.items()})

    def load_baseline(self) -> Baseline | None:
        """The baseline report, read now so that a bad one fails before any scoring (exit 2)."""
        if self.baseline is None:
            return None
        from wsep_cli.gate.baseline import load_baseline

        return load_baseline(self.baseline)

    def evaluate(self, results: Iterable[FileResult], baseline: Baseline | None) -> GateReport | None:
        """The gate's verdicts, or ``None`` when no threshold or baseline is configured."""
        if not self.active:
            return None
        from wsep_cli.gate.checks import evaluate

        return evaluate(
            results,
            thresholds=self.thresholds_for,
            baseline=baseline,
            tolerance=self.tolerance,
            allow_new=self.allow_new,
        )

    @property
    def active(self) -> bool:
        """True when any threshold (for any path) or a baseline is set: the gate runs."""
        tables = [self.config.settings, *(t for _, t in self.config.overrides), self.env, self.cli_thresholds]
        return self.baseline is not None or any(k in t for t in tables for k in OVERRIDE_KEYS)


def _env_value(key: str, var: str, text: str) -> Any:
    kind = KEYS[key]
    where = f"environment variable {var}"
    if kind == "float":
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(f"{where}: {key} must be a number, got {text!r}") from None
        return check_value(key, value, where)
    if kind == "bool":
        low = text.strip().lower()
        if low not in _TRUE | _FALSE:
            raise ConfigError(f"{where}: {key} must be 1/0, true/false, yes/no or on/off, got {text!r}")
        return low in _TRUE
    return text


def env_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """Settings from ``WSEP_MAX_EPSILON``, ``WSEP_TOLERANCE``, ``WSEP_ALLOW_NEW``, ... (validated)."""
    out = {}
    for key in KEYS:
        var = ENV_PREFIX + key.upper().replace("-", "_")
        if var in env:
            out[key] = _env_value(key, var, env[var])
    return out


def resolve_settings(request: GateRequest, env: Mapping[str, str], config: WsepConfig) -> GateSettings:
    """Apply precedence: the request's options, then ``WSEP_*`` variables, then the config file.

    Raises:
        ConfigError: a value out of range, or ``tolerance`` without a baseline (exit 2).
    """
    given = {k: check_value(k, v, f"--{k}") for k, v in request.given().items()}
    env_vals = env_settings(env)

    def pick(key: str, default: Any) -> Any:
        for source in (given, env_vals, config.settings):
            if key in source:
                return source[key]
        return default

    baseline = pick("baseline", None)
    tolerance_from = next((name for name, src in (("--tolerance", given), (ENV_PREFIX + "TOLERANCE", env_vals))
                           if "tolerance" in src), None)
    if baseline is None and tolerance_from is not None:
        raise ConfigError(f"{tolerance_from} applies to a baseline, and none is set; add --baseline REPORT.json")
    return GateSettings(
        cli_thresholds={k: v for k, v in given.items() if k in OVERRIDE_KEYS},
        env=env_vals,
        config=config,
        tolerance=pick("tolerance", 0.0),
        baseline=Path(baseline) if baseline is not None else None,
        allow_new=pick("allow-new", False),
        exit_zero=pick("exit-zero", False),
        exact_pairs=pick("exact-pairs", False),
    )


def gate_settings(request: GateRequest, *, env: Mapping[str, str], cwd: Path | None = None) -> GateSettings:
    """Everything ``wsep score`` needs: ``--config`` (or ``WSEP_CONFIG``, or discovery), then precedence."""
    config_path = request.config
    if config_path is None and env.get(ENV_PREFIX + "CONFIG"):
        config_path = Path(env[ENV_PREFIX + "CONFIG"])
    if config_path is not None and not config_path.is_file():
        raise ConfigError(f"--config {config_path}: no such file; pass a pyproject.toml or a wsep.toml")
    return resolve_settings(request, env, load_config(config_path, cwd=cwd))
