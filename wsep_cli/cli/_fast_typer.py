"""Keep pydantic out of ``wsep``'s start-up: plain coercion for plain parameters.

Typer 0.2x coerces every non-bool command-line value through a pydantic ``TypeAdapter``; importing
pydantic and building the adapters costs 0.15-0.25 s on a 2-core machine, most of what a
``wsep score`` run on a small checkpoint spends (budget: 0.5 s). Our parameters are plain ``str``,
``int``, ``float``, ``bool``, ``Path`` and ``List[str]`` values that need no pydantic, so
:func:`install` gives exactly those a small converter with the same results (ranges honoured,
``BadParameter`` -> exit 2 on a bad value). Anything else (enums, parsers, path checks such as
``exists=True``) keeps typer's own coercion. If typer's internals change, :func:`install` does
nothing and typer behaves as shipped, only slower.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, List, get_args, get_origin

__all__ = ["install"]

_TRUE = {"1", "on", "t", "true", "y", "yes"}
_FALSE = {"0", "off", "f", "false", "n", "no", ""}


def _to_bool(value: Any) -> bool:
    """Flags arrive as bools; an env var or default string uses pydantic's words."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise ValueError(f"{value!r} is not a valid boolean.")


_PLAIN: dict[Any, Callable[[Any], Any]] = {str: str, int: int, float: float, Path: Path, bool: _to_bool}
_PATH_DEFAULTS = {
    "exists": False, "resolve_path": False, "allow_dash": False, "path_type": None, "writable": False,
    "file_okay": True, "dir_okay": True,
}


class _PlainParam:
    """Quacks like typer's ``RuntimeParam``: ``coerce(value, param, ctx)``."""

    def __init__(self, convert: Callable[[Any], Any], label: str, info: Any, many: bool) -> None:
        self.convert, self.label, self.info, self.many = convert, label, info, many

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        from typer._click.exceptions import BadParameter

        multi = bool(getattr(param, "multiple", False)) or param.nargs == -1
        if value is None:
            return () if multi else None
        if multi and isinstance(value, str):
            raise BadParameter("Value must be an iterable.", ctx=ctx, param=param)
        try:
            if self.many or multi:
                return [self._one(v) for v in value]
            return self._one(value)
        except (TypeError, ValueError) as e:
            raise BadParameter(str(e) or f"{value!r} is not a valid {self.label}.", ctx=ctx, param=param) from None

    def _one(self, value: Any) -> Any:
        try:
            out = self.convert(value)
        except (TypeError, ValueError):
            raise ValueError(f"{value!r} is not a valid {self.label}.") from None
        lo, hi = self.info.min, self.info.max
        if lo is not None and out < lo:
            if not self.info.clamp:
                raise ValueError(f"{value!r} is below the minimum {lo}.")
            out = type(out)(lo)
        if hi is not None and out > hi:
            if not self.info.clamp:
                raise ValueError(f"{value!r} is above the maximum {hi}.")
            out = type(out)(hi)
        return out


def _plain_param(descriptor: Any) -> _PlainParam | None:
    ann, info = descriptor.annotation, descriptor.parameter_info
    if getattr(info, "parser", None) is not None or getattr(descriptor, "file_annotation", None) is not None:
        return None
    many = get_origin(ann) in (list, List)
    if many:
        args = get_args(ann)
        if len(args) != 1:
            return None
        ann = args[0]
    if ann not in _PLAIN:
        return None
    if ann is Path and any(getattr(info, k, d) != d for k, d in _PATH_DEFAULTS.items()):
        return None
    if ann in (str, Path, bool) and (info.min is not None or info.max is not None):
        return None
    return _PlainParam(_PLAIN[ann], getattr(ann, "__name__", str(ann)), info, many)


def install() -> None:
    """Route plain parameters of every typer command in this process around pydantic (idempotent)."""
    try:
        from typer.core import _TyperParameter
    except ImportError:  # pragma: no cover - another typer layout: keep typer's own behaviour
        return
    original = getattr(_TyperParameter, "get_runtime_param", None)
    if original is None or getattr(original, "_wsep_plain", False):
        return

    def get_runtime_param(self: Any) -> Any:
        if getattr(self, "_runtime_param", None) is None:
            plain = _plain_param(self.type_descriptor)
            if plain is not None:
                self._runtime_param = plain
        return original(self)

    get_runtime_param._wsep_plain = True  # type: ignore[attr-defined]
    _TyperParameter.get_runtime_param = get_runtime_param  # type: ignore[method-assign]
