"""Quantised ONNX heads: which ops hold an integer weight, its scale and zero point, and how wsep
turns it into the float64 matrix it scores, ``(W - zero_point) * scale``.

Three layouts reach a head (all written by ``onnxruntime.quantization``):

- dynamic: ``MatMulInteger``/``ConvInteger`` (weight, zero point as inputs 1 and 3), its output cast
  to float and multiplied by ``activation_scale * weight_scale`` (the weight scale is the constant
  factor of that product);
- QOperator: ``QLinearMatMul``/``QLinearConv``/``QGemm`` (weight, scale, zero point: inputs 3, 4, 5);
- QDQ: a ``DequantizeLinear`` between the integer initializer and a float ``MatMul``/``Gemm``/``Conv``
  (a weight op on the chain, see :mod:`wsep_cli.readers.onnx.weights`).

A scale or zero point with more than one value is per-axis: per output class (a MatMul weight's
axis 1, a Conv or transposed-Gemm weight's axis 0), or along ``DequantizeLinear``'s ``axis``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from wsep_cli.readers.onnx.weights import WeightOp

__all__ = ["INTEGER_DTYPES", "QuantHead", "quant_head", "dequantize", "describe"]

INTEGER_DTYPES = {"int8", "uint8", "int16", "uint16", "int32", "uint32", "int4", "uint4"}

# op -> (float op it computes, weight input, scale input (-1: from the rescale Mul), zero-point input)
_OPS: dict[str, tuple[str, int, int, int]] = {
    "MatMulInteger": ("MatMul", 1, -1, 3),
    "ConvInteger": ("Conv", 1, -1, 3),
    "QLinearMatMul": ("MatMul", 3, 4, 5),
    "QLinearConv": ("Conv", 3, 4, 5),
    "QGemm": ("Gemm", 3, 4, 5),
}


@dataclass(frozen=True)
class QuantHead:
    """A quantised head node: the float op it stands for, its weight input and its dequantisation."""

    kind: str
    weight: str
    op: WeightOp


def quant_head(
    node: Any,
    producer: dict[str, Any],
    consumers: dict[str, list[Any]],
    stored: Callable[[str], tuple[int, ...] | None],
) -> QuantHead | None:
    """The quantised head at ``node`` when its scale (and zero point) are stored constants."""
    spec = _OPS.get(node.op_type)
    if spec is None:
        return None
    kind, w_at, s_at, z_at = spec
    ins = list(node.input)
    if len(ins) <= w_at:
        return None
    scale = _rescale(node, producer, consumers, stored) if s_at < 0 else (ins[s_at] if len(ins) > s_at else "")
    zero = ins[z_at] if len(ins) > z_at else ""
    shapes = [stored(scale) if scale else None, stored(zero) if zero else ()]
    if any(s is None for s in shapes):
        return None
    per_axis = any(int(np.prod(s)) > 1 for s in shapes if s is not None)
    trans_b = kind == "Gemm" and bool(node.attrs.get("transB", 0))
    axis = (0 if kind == "Conv" or trans_b else 1) if per_axis else None
    op = WeightOp("dequantize", (axis,) if axis is not None else None, scale=scale, zero_point=zero,
                  via=node.op_type)
    return QuantHead(kind, ins[w_at], op)


def _rescale(node: Any, producer: dict[str, Any], consumers: dict[str, list[Any]],
             stored: Callable[[str], tuple[int, ...] | None]) -> str:
    """The weight scale of a MatMulInteger/ConvInteger: the constant factor of the Mul that rescales
    its float-cast output (the other factor is the dynamically quantised activation's scale)."""
    for cast in consumers.get(node.output[0] if node.output else "", []):
        if cast.op_type != "Cast":
            continue
        for mul in consumers.get(cast.output[0], []):
            if mul.op_type != "Mul":
                continue
            other = [i for i in mul.input if i != cast.output[0]]
            if len(other) != 1:
                continue
            if stored(other[0]) is not None:
                return other[0]
            src = producer.get(other[0])
            for factor in list(src.input) if src is not None and src.op_type == "Mul" else []:
                if stored(factor) is not None:
                    return factor
    return ""


def dequantize(q: np.ndarray, scale: np.ndarray, zero: np.ndarray | None, axis: int | None) -> np.ndarray:
    """``(q - zero) * scale`` in float64; per-axis scale/zero point broadcast along ``axis`` of ``q``."""
    out = q.astype(np.float64)
    s = np.asarray(scale, dtype=np.float64)
    z = np.zeros(1) if zero is None else np.asarray(zero, dtype=np.float64)
    if axis is not None and (s.size > 1 or z.size > 1):
        ax = axis + q.ndim if axis < 0 else axis
        if not 0 <= ax < q.ndim:
            raise ValueError(f"dequantisation axis {axis} does not exist in shape {q.shape}")
        view = [1] * q.ndim
        view[ax] = q.shape[ax]
        s = s.reshape(-1) if s.size > 1 else s.reshape(())
        z = z.reshape(-1) if z.size > 1 else z.reshape(())
        if (s.ndim and s.size != q.shape[ax]) or (z.ndim and z.size != q.shape[ax]):
            raise ValueError(f"a per-axis scale/zero point of {max(s.size, z.size)} values does not fit axis {ax} "
                             f"of shape {q.shape}")
        s = s.reshape(view) if s.ndim else s
        z = z.reshape(view) if z.ndim else z
    elif s.size != 1 or z.size != 1:
        raise ValueError(f"a scale of {s.size} / zero point of {z.size} values without an axis")
    else:
        s, z = s.reshape(()), z.reshape(())
    return (out - z) * s


def describe(from_dtype: str, op: WeightOp, scale: np.ndarray, zero: np.ndarray | None) -> dict[str, object]:
    """The JSON ``dequantized`` object: what V was dequantised from (docs/json-schema.md)."""

    def values(a: np.ndarray | None) -> object:
        if a is None:
            return 0
        flat = np.asarray(a, dtype=np.float64).reshape(-1)
        if flat.size == 1:
            return float(flat[0])
        return {"count": int(flat.size), "min": float(flat.min()), "max": float(flat.max())}

    return {
        "from_dtype": from_dtype,
        "op": op.via,
        "zero_point": values(zero),
        "scale": values(scale),
        "axis": op.arg[0] if op.arg else None,
    }
