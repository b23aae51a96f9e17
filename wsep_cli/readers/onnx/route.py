"""Which inputs of an activation node the ONNX head walk follows back, and which channels.

The walk from a graph output passes through ops that do not mix classes. Detection heads join
per-scale outputs with ``Concat`` and part them again with ``Split`` (YOLO: box regressors and class
convs concatenated on the channel axis, the class part split off and put through a ``Sigmoid``), so
the walk carries a :class:`Channels` range: the slice of one axis it follows. Through a ``Split`` the
range becomes the output's part of the input; through a ``Concat`` on the same axis only the inputs
that overlap it are followed, when their sizes on that axis are known (a head conv's output size);
otherwise every input is followed and the range is dropped, which is never wrong, only less precise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Channels", "Router", "PASS_THROUGH"]

# unary ops whose output element i depends on input element i only (or pools over space)
_ELEMENTWISE = {
    "Relu", "Sigmoid", "HardSigmoid", "Tanh", "Identity", "Dropout", "Cast", "MaxPool", "AveragePool",
    "GlobalAveragePool", "GlobalMaxPool", "LpPool", "GlobalLpPool", "QuantizeLinear", "DequantizeLinear",
    "Clip", "LeakyRelu", "Elu", "Selu", "Softplus",
}
# unary ops that keep classes apart but may move axes (the range is dropped unless kept below)
_RESHAPING = {"Softmax", "LogSoftmax", "Flatten", "Reshape", "Squeeze", "Unsqueeze", "ReduceMean", "ReduceMax",
              "Transpose"}
# onnxruntime's quantised unary ops (com.microsoft): the data is input 0
_QLINEAR_UNARY = {"QLinearSoftmax", "QLinearSigmoid", "QLinearLeakyRelu", "QLinearAveragePool",
                  "QLinearGlobalAveragePool"}
PASS_THROUGH = _ELEMENTWISE | _RESHAPING | _QLINEAR_UNARY
_MAX_DEPTH = 32


@dataclass(frozen=True)
class Channels:
    """The walk follows elements ``lo`` to ``hi`` (exclusive) of axis ``axis`` (non-negative)."""

    axis: int
    lo: int
    hi: int


Step = list[tuple[str, Channels | None]]


class Router:
    """Answers, for one node on the walk, which (input, channel range) pairs to follow next.

    Args:
        producer: the node that writes each tensor name (wsep's :class:`~wsep_cli.readers.onnx.scopes.Node` records).
        is_const: whether a tensor is a constant (an initializer or Constant, maybe through shape ops).
        is_scalar_const: whether it is a constant with one element.
        small_ints: the values of a small constant integer tensor, else None.
        head_size: the output size of a head node (a Gemm/MatMul/1x1 Conv with a constant weight), else None.
    """

    def __init__(
        self,
        producer: dict[str, Any],
        is_const: Callable[[str], bool],
        is_scalar_const: Callable[[str], bool],
        small_ints: Callable[[str], tuple[int, ...] | None],
        head_size: Callable[[Any], int | None],
    ) -> None:
        self.producer = producer
        self.is_const = is_const
        self.is_scalar_const = is_scalar_const
        self.small_ints = small_ints
        self.head_size = head_size

    def next_inputs(self, node: Any, output: str, ch: Channels | None) -> Step | None:
        """Inputs to keep walking through from ``node``'s ``output``, or None where the walk stops."""
        t, ins = node.op_type, [i for i in node.input if i]
        if not ins:
            return None
        if t in _ELEMENTWISE or t in _QLINEAR_UNARY:
            return [(ins[0], ch)]
        if t == "QLinearAdd" and len(node.input) > 3:
            dynamic = [(i, ch) for i in (node.input[0], node.input[3]) if i and not self.is_const(i)]
            return dynamic or None
        if t == "Transpose":
            perm = node.attrs.get("perm")
            kept = Channels(perm[ch.axis], ch.lo, ch.hi) if ch and perm and ch.axis < len(perm) else None
            return [(ins[0], kept)]
        if t == "Reshape":
            return [(ins[0], ch if ch and self._reshape_keeps(node, ch) else None)]
        if t in _RESHAPING:
            return [(ins[0], None)]
        if t == "Concat":
            return self._concat(node, ins, ch)
        if t == "Split":
            return self._split(node, ins, output, ch)
        if t in ("Add", "Sum", "Mean"):
            dynamic = [(i, ch) for i in ins if not self.is_const(i)]
            return dynamic or None
        if t == "Mul" and len(ins) == 2:
            dyn = [i for i in ins if not self.is_scalar_const(i)]
            if len(dyn) == 2:
                dyn = [i for i in dyn if self._integer_product(i)] or dyn
            return [(dyn[0], ch)] if len(dyn) == 1 else None
        if t == "Div" and len(ins) == 2 and self.is_scalar_const(ins[1]):
            return [(ins[0], ch)]
        return None

    def _integer_product(self, name: str) -> bool:
        """``name`` is the float cast of a MatMulInteger/ConvInteger (the other Mul input rescales it)."""
        node = self.producer.get(name)
        if node is None or node.op_type != "Cast" or not node.input:
            return False
        src = self.producer.get(node.input[0])
        return src is not None and src.op_type in ("MatMulInteger", "ConvInteger")

    def _reshape_keeps(self, node: Any, ch: Channels) -> bool:
        """A Reshape keeps the followed axis when the target leaves it in place at the same size as
        the input's (known from a head's output size), with only batch-like dims before it."""
        target = self.small_ints(node.input[1]) if len(node.input) > 1 else None
        if not target or ch.axis >= len(target) or target[ch.axis] <= 0:
            return False
        if any(d <= 0 for d in target[: ch.axis]):
            return False
        return self.size(node.input[0], ch.axis) == target[ch.axis]

    def _concat(self, node: Any, ins: list[str], ch: Channels | None) -> Step:
        axis = int(node.attrs.get("axis", 0))
        if ch is None or axis != ch.axis:
            return [(i, ch if ch is not None and axis >= 0 else None) for i in ins]
        sizes = [self.size(i, axis) for i in ins]
        if any(s is None for s in sizes):
            return [(i, None) for i in ins]
        out: Step = []
        start = 0
        for name, size in zip(ins, sizes):
            assert size is not None
            lo, hi = max(ch.lo, start), min(ch.hi, start + size)
            if lo < hi:
                out.append((name, Channels(axis, lo - start, hi - start)))
            start += size
        return out

    def _split(self, node: Any, ins: list[str], output: str, ch: Channels | None) -> Step:
        axis = int(node.attrs.get("axis", 0))
        k = list(node.output).index(output) if output in node.output else -1
        sizes = node.attrs.get("split") or (self.small_ints(ins[1]) if len(ins) > 1 else None)
        if sizes is None and axis >= 0 and k >= 0:
            whole = self.size(ins[0], axis)
            parts = len(node.output)
            if whole is not None and parts and whole % parts == 0:
                sizes = (whole // parts,) * parts
        if sizes is None or axis < 0 or not 0 <= k < len(sizes):
            return [(ins[0], None)]
        start = sum(sizes[:k])
        if ch is not None and ch.axis == axis:
            return [(ins[0], Channels(axis, start + ch.lo, start + min(ch.hi, sizes[k])))]
        return [(ins[0], Channels(axis, start, start + sizes[k]))]

    def size(self, name: str, axis: int, depth: int = 0) -> int | None:
        """The size of tensor ``name`` on ``axis``, where the graph says it without shape inference."""
        node = self.producer.get(name)
        if node is None or depth > _MAX_DEPTH:
            return None
        t, ins = node.op_type, [i for i in node.input if i]
        if axis == 1 and t in ("Conv", "Gemm", "MatMul", "MatMulInteger", "ConvInteger", "QLinearMatMul",
                                "QLinearConv", "QGemm"):
            return self.head_size(node)
        if t in _ELEMENTWISE and ins:
            return self.size(ins[0], axis, depth + 1)
        if t in ("Add", "Mul", "Sub", "Div") and ins:
            dyn = [i for i in ins if not self.is_const(i)]
            return self.size(dyn[0], axis, depth + 1) if dyn else None
        if t == "Concat" and int(node.attrs.get("axis", 0)) == axis:
            sizes = [self.size(i, axis, depth + 1) for i in ins]
            return None if any(s is None for s in sizes) else sum(s for s in sizes if s is not None)
        if t == "Concat":
            return self.size(ins[0], axis, depth + 1) if ins else None
        return None
