"""The ``[tool.wsep]`` config file: which keys exist, how each is validated, how the file is found and read.

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
from typing import Any, Mapping

from wsep_cli.errors import ConfigError
from wsep_cli.gate.pathglob import glob_matches
from wsep_cli.metrics.registry import THRESHOLDS

__all__ = ["KEYS", "OVERRIDE_KEYS", "WsepConfig", "check_value", "find_config", "load_config", "parse_config"]

# Config key -> expected type. "float" accepts TOML integers and floats (never booleans); a key is
# spelled like its option (``--max-abs-cos``), and its dataclass field with underscores.
OVERRIDE_KEYS: tuple[str, ...] = tuple(THRESHOLDS)
KEYS: Mapping[str, str] = {
    **{k: "float" for k in OVERRIDE_KEYS},
    "tolerance": "float",
    "baseline": "str",
    "allow-new": "bool",
    "exit-zero": "bool",
    "exact-pairs": "bool",  # a scoring setting, kept here so a CI's baseline and runs agree on it
}
_UPPER = {"max-abs-cos": 1.0}  # |cos| never exceeds 1: a larger limit could never fail


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


def check_value(key: str, value: Any, where: str) -> Any:
    """``value`` for config key ``key`` validated (type, range), or a ConfigError naming ``where``."""
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
        out[key] = check_value(key, value, where)
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
