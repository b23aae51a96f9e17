"""Find an ONNX graph's classifier head by walking back from its outputs.

From each graph output the walk passes through ops that do not mix classes (Softmax, LogSoftmax,
Sigmoid, Flatten, Reshape, Transpose, Squeeze, Unsqueeze, Identity, Dropout, Relu, Cast, pooling and
reductions, Quantize/DequantizeLinear, a bias ``Add``, a multiplication or division by a scalar
constant; ``Concat`` and ``Split`` with the channel range tracked, see
:mod:`wsep_cli.readers.onnx.route`) and stops at the first ``Gemm``, ``MatMul`` or 1x1 ``Conv`` whose
weight is a constant: an initializer or ``Constant`` output, possibly behind
``Transpose``/``Reshape``/``Squeeze``/``Unsqueeze``/``Flatten``/``Cast``/``Identity``/``DequantizeLinear``,
or at a quantised head (``MatMulInteger``, ``QLinearMatMul``, ... see :mod:`wsep_cli.readers.onnx.quant`).
An ``Add``/``Sum``/``Mean`` of two computed tensors (a distillation pair) is followed into both. A
constant applied to a Softmax output (YOLO's DFL box decoder) is not a head.

This module reads only field names that wsep's own parsed graph (:mod:`wsep_cli.readers.onnx.proto`)
shares with ``onnx``'s protobuf classes, and never imports ``onnx``. A scalar ``Mul``/``Div``
on the logits (temperature) is walked through but not folded into the weight; Gemm's ``alpha`` is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from wsep_cli.locate.siblings import CLASSIFYING_OPS
from wsep_cli.readers.base import HeadHint, TensorInfo
from wsep_cli.readers.onnx.found import FoundHead, not_weight_tensors, rank_found, tag_many
from wsep_cli.readers.onnx.nodes import Consumers, WalkNode, Producers
from wsep_cli.readers.onnx.quant import INTEGER_DTYPES, quant_head
from wsep_cli.readers.onnx.route import Channels, Router
from wsep_cli.readers.onnx.weights import (
    FLOATS, ONNX_DTYPE_NAMES, DerivedTensor, WeightOp, apply_shape, prod, text,
)

__all__ = [
    "WeightOp", "DerivedTensor", "FoundHead", "Walked", "find_heads", "walk_graph", "not_weight_tensors", "apply_shape", "text",
    "ONNX_DTYPE_NAMES",
]

_WEIGHT_OPS = {"Transpose", "Reshape", "Identity", "Cast", "Squeeze", "Unsqueeze", "Flatten", "DequantizeLinear"}
_MAX_STEPS = 100_000
_MAX_WEIGHT_CHAIN = 64

def _attr(node: WalkNode, name: str, default: Any) -> Any:
    return node.attrs.get(name, default)

class _Walker:
    """Holds the graph indexes for one :func:`find_heads` call."""

    def __init__(
        self, graph: Any, infos: Mapping[str, TensorInfo], small_ints: Callable[[str], tuple[int, ...] | None]
    ) -> None:
        self.infos = infos
        self.small_ints = small_ints
        self.producer = Producers(graph)
        self.consumers = Consumers(self.producer)
        self.router = Router(self.producer, lambda n: self.weight(n) is not None, self.is_scalar_const,
                             small_ints, self.head_size)

    def weight(self, name: str) -> tuple[str, tuple[WeightOp, ...], tuple[int, ...]] | None:
        """(stored base tensor, ops from base to ``name``, final shape) when ``name`` is constant."""
        ops: list[WeightOp] = []
        cur = name
        while cur not in self.infos:
            node = self.producer.get(cur)
            if node is None or node.op_type not in _WEIGHT_OPS or len(ops) >= _MAX_WEIGHT_CHAIN:
                return None
            op = self._weight_op(node)
            if op is None or len(node.input) == 0:
                return None
            ops.append(op)
            cur = node.input[0]
        ops.reverse()
        shape: tuple[int, ...] | None = self.infos[cur].shape
        for op in ops:
            shape = apply_shape(shape, op) if shape is not None else None
        return (cur, tuple(ops), shape) if shape is not None else None

    def _weight_op(self, node: WalkNode) -> WeightOp | None:
        t, ins = node.op_type, list(node.input)
        if t == "Transpose":
            perm = _attr(node, "perm", None)
            return WeightOp("transpose", perm if perm else None)
        if t == "Reshape":
            target = self.small_ints(ins[1]) if len(ins) > 1 else None
            return WeightOp("reshape", target, int(_attr(node, "allowzero", 0))) if target is not None else None
        if t in ("Squeeze", "Unsqueeze"):
            axes = _attr(node, "axes", None) or (self.small_ints(ins[1]) if len(ins) > 1 and ins[1] else None)
            if t == "Unsqueeze" and not axes:
                return None
            return WeightOp(t.lower(), axes)
        if t == "Flatten":
            return WeightOp("flatten", (int(_attr(node, "axis", 1)),))
        if t == "Cast":
            return WeightOp("cast", (int(_attr(node, "to", 1)),))
        if t == "DequantizeLinear":
            if len(ins) < 2 or ins[1] not in self.infos or int(_attr(node, "block_size", 0)):
                return None  # a computed scale, or blocked quantisation: not read
            zero = ins[2] if len(ins) > 2 and ins[2] in self.infos else ""
            per_axis = self.infos[ins[1]].numel > 1 or (zero and self.infos[zero].numel > 1)
            axis = (int(_attr(node, "axis", 1)),) if per_axis else None
            return WeightOp("dequantize", axis, scale=ins[1], zero_point=zero, via="DequantizeLinear")
        return WeightOp("identity")

    def _stored_shape(self, name: str) -> tuple[int, ...] | None:
        info = self.infos.get(name)
        return info.shape if info is not None else None

    def head_at(self, node: WalkNode, output: str) -> FoundHead | None:
        """The head if ``node`` is a Gemm / MatMul / 1x1 Conv with a constant weight."""
        t, w_name = node.op_type, node.input[1] if len(node.input) > 1 else ""
        quant = quant_head(node, self.producer, self.consumers, self._stored_shape)
        if quant is not None:
            t, w_name = quant.kind, quant.weight
        elif t not in ("Gemm", "MatMul", "Conv") or len(node.input) < 2:
            return None
        w = self.weight(w_name)
        if w is None:
            return None
        base, ops, shape = w
        ops = (*ops, quant.op) if quant is not None else ops
        dequantized = any(op.kind == "dequantize" for op in ops)
        if self.infos[base].dtype not in (INTEGER_DTYPES if dequantized else FLOATS):
            return None  # float8, a float weight behind a DequantizeLinear, or corrupt: left to the locator
        if t == "Gemm" and len(shape) == 2:
            stored_t, scale = not bool(_attr(node, "transB", 0)), float(_attr(node, "alpha", 1.0))
            why = f"transB={int(not stored_t)}, alpha={scale:g}"
        elif t == "MatMul" and len(shape) == 2:
            stored_t, scale, why = True, 1.0, "weight stored as features x classes"
        elif t == "Conv" and len(shape) == 4 and shape[2:] == (1, 1) and int(_attr(node, "group", 1)) == 1:
            stored_t, scale, why = False, 1.0, "1x1 kernel"
        elif t == "Conv" and len(shape) == 3 and shape[2] == 1 and int(_attr(node, "group", 1)) == 1:
            stored_t, scale, why = False, 1.0, "kernel-size-1 Conv1d"
        else:
            return None
        reason = (f"ONNX graph: {node.op_type} node {node.name or node.output[0]!r} ({why}) feeds output "
                  f"{output!r}")
        n = shape[1] if stored_t else shape[0]
        flip = self._orientation_only(base, ops)
        if flip is not None:
            return FoundHead(HeadHint(base, stored_t != flip, scale, reason), None, node.input[0], n)
        dtype = self.infos[base].dtype
        for op in ops:
            if op.kind == "cast" and op.arg:
                dtype = ONNX_DTYPE_NAMES.get(op.arg[0], dtype)
        if dequantized:
            dtype = "float64"
        derived_name = w_name if w_name != base else f"{base}:dequantized"
        derived = DerivedTensor(derived_name, base, ops, shape, dtype)
        # reported under the stored tensor's name (what a graph viewer shows), read through the ops
        hint = HeadHint(base, stored_t, scale, f"{reason}; stored as {base!r} {self.infos[base].shape}, "
                        f"used through {'/'.join(op.kind for op in ops)} as {shape}", source=derived_name)
        return FoundHead(hint, derived, node.input[0], n)

    def _orientation_only(self, base: str, ops: tuple[WeightOp, ...]) -> bool | None:
        """True/False (transposed or not) when ``ops`` only permute a 2-D base; None otherwise."""
        info = self.infos[base]
        perm = tuple(range(len(info.shape)))
        for op in ops:
            if op.kind == "transpose":
                p = op.arg if op.arg is not None else tuple(range(len(perm) - 1, -1, -1))
                perm = tuple(perm[i] for i in p)
            elif op.kind == "cast":
                if info.dtype not in FLOATS or ONNX_DTYPE_NAMES.get((op.arg or (0,))[0]) not in FLOATS:
                    return None
            elif op.kind != "identity":
                return None
        if perm == tuple(range(len(perm))):
            return False
        return True if perm == (1, 0) else None

    def is_scalar_const(self, name: str) -> bool:
        w = self.weight(name)
        return w is not None and prod(w[2]) == 1

    def head_size(self, node: WalkNode) -> int | None:
        head = self.head_at(node, "")
        return head.n if head is not None else None

    def _reads_distribution(self, node: WalkNode) -> bool:
        """The node's data input is a Softmax output (through shape ops): a constant applied to a
        distribution is an expectation (YOLO's DFL box decoder), not a classifier reading features."""
        cur = node.input[0] if node.input else ""
        for _ in range(8):
            src = self.producer.get(cur)
            if src is None:
                return False
            if src.op_type in ("Softmax", "LogSoftmax"):
                return True
            if src.op_type not in ("Reshape", "Transpose", "Identity", "Squeeze", "Unsqueeze") or not src.input:
                return False
            cur = src.input[0]
        return False

    def walk(self, output: str) -> tuple[list[FoundHead], list[str]]:
        """Heads reached from ``output``, and where the walk stopped without one (node descriptions)."""
        found: list[FoundHead] = []
        stops: list[str] = []
        stack: list[tuple[str, str | None, Channels | None]] = [(output, None, None)]
        seen: set[tuple[str, Channels | None]] = set()
        steps = 0
        while stack and steps < _MAX_STEPS:
            name, act, ch = stack.pop()
            steps += 1
            node = self.producer.get(name)
            if (name, ch) in seen or node is None:
                continue
            seen.add((name, ch))
            head = None if self._reads_distribution(node) else self.head_at(node, output)
            if head is not None:
                found.append(replace(head, activation=act))
                continue
            op = node.op_type.removeprefix("QLinear")
            if op in CLASSIFYING_OPS and act is None:
                act = op
            nxt = self.router.next_inputs(node, name, ch)
            if nxt is None:
                stops.append(f"{node.op_type} node {node.name or name!r}")
            stack.extend((i, act, c) for i, c in reversed(nxt or []))
        return found, stops

def find_heads(
    graph: Any,
    infos: Mapping[str, TensorInfo],
    small_ints: Callable[[str], tuple[int, ...] | None],
) -> list[FoundHead]:
    """Heads feeding the graph outputs, primary first, each weight once; sibling heads (reading the
    same tensor) ranked by :func:`wsep_cli.locate.siblings.rank_siblings`.

    Args:
        graph: a :class:`wsep_cli.readers.onnx.proto.Graph` (or an ``onnx.GraphProto``).
        infos: stored tensors (initializers and ``Constant`` outputs) by name.
        small_ints: the values of a small constant integer tensor (a Reshape target), else None.
    """
    return walk_graph(graph, infos, small_ints).heads

@dataclass(frozen=True)
class Walked:
    """What :func:`walk_graph` found: the heads, and where the walks that found none stopped."""

    heads: list[FoundHead]
    stops: list[str]

def walk_graph(
    graph: Any, infos: Mapping[str, TensorInfo], small_ints: Callable[[str], tuple[int, ...] | None]
) -> Walked:
    """:func:`find_heads`, also saying where each walk back from an output stopped without a head."""
    walker = _Walker(graph, infos, small_ints)
    heads: list[FoundHead] = []
    stops: list[str] = []
    per_output: dict[str, list[str]] = {}
    for out in graph.output:
        found, stopped = walker.walk(text(out.name))
        if not found:
            where = list(dict.fromkeys(stopped)) or ["its producer (none in the graph)"]
            more = f" and {len(where) - 3} more" if len(where) > 3 else ""
            stops.append(f"from output {text(out.name)!r} at {', '.join(where[:3])}{more}")
        per_output[text(out.name)] = list(dict.fromkeys(h.hint.name for h in found))
        for h in found:
            if all(h.hint.name != x.hint.name for x in heads):
                heads.append(h)
    return Walked(rank_found(tag_many(heads, per_output)), stops)
