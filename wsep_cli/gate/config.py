"""Gate settings from options, ``WSEP_*`` environment variables and ``[tool.wsep]`` config.

Precedence, key by key: command-line option > environment variable > config file (a matching
``[tool.wsep.overrides."glob"]`` table over the ``[tool.wsep]`` table) > none.

The config is the ``[tool.wsep]`` table of the nearest ``pyproject.toml`` found upward from the
working directory, or of ``--config FILE``: a ``pyproject.toml`` (its ``[tool.wsep]`` table) or any
other TOML file such as ``wsep.toml`` (its top level). Keys are spelled like the options. An unknown
key or a wrong type is a :class:`ConfigError` (exit 2) naming the key; no table means no settings.

Override globs are relative to the config file's folder: ``*`` and ``?`` stay within one path
segment, ``**/`` spans folders, and a pattern without ``/`` matches the file name anywhere. When
several overrides match, later ones win, key by key.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from wsep_cli.errors import ConfigError
from wsep_cli.gate.pathglob import glob_matches
from wsep_cli.metrics.registry import THRESHOLDS

if TYPE_CHECKING:  # the gate, baseline and TOML modules load only when a run uses them
    from wsep_cli.gate.baseline import Baseline
    from wsep_cli.gate.checks import GateReport, Thresholds
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

# Config key -> expected type. "float" accepts TOML integers and floats (never booleans); a key is
# spelled like its option (``--max-abs-cos``), and its dataclass field with underscores.
OVERRIDE_KEYS: tuple[str, ...] = tuple(THRESHOLDS)
KEYS: Mapping[str, str] = {
    **{k: "float" for k in OVERRIDE_KEYS},
    "tolerance": "float",
    "baseline": "str",
    "allow-new": "bool",
    "exit-zero": "bool",
}
_UPPER = {"max-abs-cos": 1.0}  # |cos| never exceeds 1: a larger limit could never fail


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
class WsepConfig:
    """A parsed config: validated top-level settings and ordered per-glob overrides."""

    source: Path | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    overrides: tuple[tuple[str, Mapping[str, Any]], ...] = ()

    @property
    def root(self) -> Path:
        """The folder override globs and a relative ``baseline`` are resolved against."""
        return self.source.parent if self.source is not None else Path.cwd()

    def for_path(self, path: str) -> dict[str, Any]:
        """Settings for one checkpoint: the table, then every matching override in order."""
        out = dict(self.settings)
        for pattern, table in self.overrides:
            if glob_matches(pattern, path, self.root):
                out.update(table)
        return out


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

    def thresholds_for(self, path: str) -> Thresholds:
        from wsep_cli.gate.checks import Thresholds

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


def _check(key: str, value: Any, where: str) -> Any:
    kind = KEYS[key]
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: {key} must be a number, got {type(value).__name__} {value!r}")
        if not math.isfinite(value) or value < 0:
            raise ConfigError(f"{where}: {key} must be a finite number >= 0, got {value!r}")
        if key in _UPPER and value > _UPPER[key]:
            raise ConfigError(
                f"{where}: {key} must be at most {_UPPER[key]:g} (|cos| never exceeds 1, so {value!r} "
                "could never fail); use e.g. 0.9"
            )
        return float(value)
    if kind == "bool" and not isinstance(value, bool):
        raise ConfigError(f"{where}: {key} must be true or false, got {type(value).__name__} {value!r}")
    if kind == "str" and not isinstance(value, str):
        raise ConfigError(f"{where}: {key} must be a string, got {type(value).__name__} {value!r}")
    return value


def _table(raw: Mapping[str, Any], where: str, allowed: tuple[str, ...] | Mapping[str, str]) -> dict[str, Any]:
    out = {}
    for key, value in raw.items():
        if key not in allowed:
            raise ConfigError(f"{where}: unknown key {key!r}; known keys: {', '.join(allowed)}")
        out[key] = _check(key, value, where)
    return out


def parse_config(table: Mapping[str, Any], *, source: Path | None, prefix: str = "tool.wsep") -> WsepConfig:
    """Validate a wsep table (already taken out of its TOML document).

    Args:
        table: the ``[tool.wsep]`` table, or a ``wsep.toml`` document's top level.
        source: the file it came from (messages; override globs and ``baseline`` are relative to it).
        prefix: the table's name in messages, ``""`` for a top level.
    """
    file = f"{source}: " if source else ""
    raw = dict(table)
    overrides_raw = raw.pop("overrides", {})
    where = f"{file}[{prefix}]" if prefix else (str(source) if source else "config")
    if not isinstance(overrides_raw, Mapping):
        raise ConfigError(f"{where}: overrides must be a table of tables keyed by glob")
    settings = _table(raw, where, KEYS)
    if "baseline" in settings and source is not None:
        settings["baseline"] = str(source.parent / settings["baseline"])
    overrides = []
    for pattern, sub in overrides_raw.items():
        owhere = f'{file}[{prefix + "." if prefix else ""}overrides."{pattern}"]'
        if not isinstance(sub, Mapping):
            raise ConfigError(f"{owhere}: an override must be a table of thresholds")
        overrides.append((pattern, _table(sub, owhere, OVERRIDE_KEYS)))
    return WsepConfig(source=source, settings=settings, overrides=tuple(overrides))


def find_config(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` in ``start`` or a folder above it."""
    for folder in (start.resolve(), *start.resolve().parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_config(path: Path | None = None, *, cwd: Path | None = None) -> WsepConfig:
    """Read ``--config FILE``, or discover the nearest pyproject.toml from ``cwd``."""
    explicit = path is not None
    if path is None:
        path = find_config(cwd or Path.cwd())
        if path is None:
            return WsepConfig()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"--config {path}: cannot read ({e.strerror or e})") from e
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from e
    if path.name == "pyproject.toml" or not explicit or "tool" in doc:  # "tool" is no top-level key
        tool = doc.get("tool", {})
        table = tool.get("wsep") if isinstance(tool, Mapping) else None
        if table is None:
            return WsepConfig(source=path.resolve())
        if not isinstance(table, Mapping):
            raise ConfigError(f"{path}: [tool.wsep] must be a table")
        return parse_config(table, source=path.resolve())
    return parse_config(doc, source=path.resolve(), prefix="")


def _env_value(key: str, var: str, text: str) -> Any:
    kind = KEYS[key]
    where = f"environment variable {var}"
    if kind == "float":
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(f"{where}: {key} must be a number, got {text!r}") from None
        return _check(key, value, where)
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
    given = {k: _check(k, v, f"--{k}") for k, v in request.given().items()}
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
    )


def gate_settings(request: GateRequest, *, env: Mapping[str, str], cwd: Path | None = None) -> GateSettings:
    """Everything ``wsep score`` needs: ``--config`` (or ``WSEP_CONFIG``, or discovery), then precedence."""
    config_path = request.config
    if config_path is None and env.get(ENV_PREFIX + "CONFIG"):
        config_path = Path(env[ENV_PREFIX + "CONFIG"])
    if config_path is not None and not config_path.is_file():
        raise ConfigError(f"--config {config_path}: no such file; pass a pyproject.toml or a wsep.toml")
    return resolve_settings(request, env, load_config(config_path, cwd=cwd))
