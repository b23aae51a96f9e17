"""The stored side of an ONNX head: dtype names, the shape ops between an initializer and the weight
input that reads it, and the shape algebra that replays them (:func:`apply_shape`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["ONNX_DTYPE_NAMES", "FLOATS", "WeightOp", "DerivedTensor", "apply_shape", "prod", "text"]

# TensorProto.DataType -> dtype name (numpy spelling, plus bfloat16 and the float8 family)
ONNX_DTYPE_NAMES: dict[int, str] = {
    1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64",
    8: "string", 9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64",
    14: "complex64", 15: "complex128", 16: "bfloat16", 17: "float8_e4m3fn", 18: "float8_e4m3fnuz",
    19: "float8_e5m2", 20: "float8_e5m2fnuz", 21: "uint4", 22: "int4", 23: "float4_e2m1",
}
FLOATS = {"float32", "float16", "float64", "bfloat16"}


@dataclass(frozen=True)
class WeightOp:
    """One shape op between an initializer and the head's weight input (``arg``: perm/shape/axes)."""

    kind: str  # transpose | reshape | squeeze | unsqueeze | flatten | cast | identity | dequantize
    arg: tuple[int, ...] | None = None  # dequantize: (axis,) when per-axis
    flag: int = 0  # Reshape allowzero
    scale: str = ""  # dequantize: the stored scale and zero point tensors, and the op that named them
    zero_point: str = ""
    via: str = ""


@dataclass(frozen=True)
class DerivedTensor:
    """A head weight computed from a stored tensor by shape ops; listed under the op's output name."""

    name: str
    base: str
    ops: tuple[WeightOp, ...]
    shape: tuple[int, ...]
    dtype: str


def text(value: str | bytes) -> str:
    """A protobuf string field as str: invalid UTF-8 comes back as bytes, spelled with escapes."""
    return value if isinstance(value, str) else value.decode("utf-8", errors="backslashreplace")


def apply_shape(shape: tuple[int, ...], op: WeightOp) -> tuple[int, ...] | None:
    """The shape after ``op``, or None when the op cannot apply (malformed graph)."""
    nd = len(shape)
    if op.kind in ("identity", "cast", "dequantize"):
        return shape
    if op.kind == "transpose":
        perm = op.arg if op.arg is not None else tuple(range(nd - 1, -1, -1))
        return tuple(shape[p] for p in perm) if sorted(perm) == list(range(nd)) else None
    if op.kind == "flatten":
        axis = (op.arg or (1,))[0]
        axis = axis + nd if axis < 0 else axis
        if not 0 <= axis <= nd:
            return None
        return (prod(shape[:axis]), prod(shape[axis:]))
    if op.kind == "squeeze":
        axes = {a + nd if a < 0 else a for a in op.arg} if op.arg else {i for i, d in enumerate(shape) if d == 1}
        if any(not 0 <= a < nd or shape[a] != 1 for a in axes):
            return None
        return tuple(d for i, d in enumerate(shape) if i not in axes)
    if op.kind == "unsqueeze":
        out_nd = nd + len(op.arg or ())
        axes = sorted(a + out_nd if a < 0 else a for a in (op.arg or ()))
        if len(set(axes)) != len(axes) or any(not 0 <= a < out_nd for a in axes):
            return None
        rest = iter(shape)
        return tuple(1 if i in axes else next(rest) for i in range(out_nd))
    if op.kind == "reshape" and op.arg is not None:
        return _reshape(shape, op.arg, op.flag)
    return None


def prod(dims: Sequence[int]) -> int:
    n = 1
    for d in dims:
        n *= d
    return n


def _reshape(shape: tuple[int, ...], target: tuple[int, ...], allowzero: int) -> tuple[int, ...] | None:
    out = [shape[i] if (d == 0 and not allowzero and i < len(shape)) else d for i, d in enumerate(target)]
    if out.count(-1) > 1 or any(d < -1 for d in out):
        return None
    if -1 in out:
        known = prod([d for d in out if d != -1])
        if known == 0 or prod(shape) % known:
            return None
        out[out.index(-1)] = prod(shape) // known
    return tuple(out) if prod(out) == prod(shape) else None
