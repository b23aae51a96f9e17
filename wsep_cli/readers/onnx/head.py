"""Find an ONNX graph's classifier head by walking back from its outputs.

From each graph output the walk passes through ops that do not mix classes (Softmax, LogSoftmax,
Flatten, Reshape, Squeeze, Unsqueeze, Identity, Dropout, Relu, Cast, pooling and reductions, a bias
``Add``, a multiplication or division by a scalar constant) and stops at the first ``Gemm``,
``MatMul`` or 1x1 ``Conv`` whose weight is a constant: an initializer or ``Constant`` output,
possibly behind ``Transpose``/``Reshape``/``Squeeze``/``Unsqueeze``/``Flatten``/``Cast``/``Identity``.
An ``Add``/``Sum``/``Mean`` of two computed tensors (a distillation pair) is followed into both.

This module reads only field names that wsep's own parsed graph (:mod:`wsep_cli.readers.onnx.proto`)
shares with ``onnx``'s protobuf classes, and never imports ``onnx``. A scalar ``Mul``/``Div``
on the logits (temperature) is walked through but not folded into the weight; Gemm's ``alpha`` is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from wsep_cli.locate.siblings import CLASSIFYING_OPS, Sibling, rank_siblings
from wsep_cli.readers.base import HeadHint, TensorInfo
from wsep_cli.readers.onnx.weights import (
    FLOATS, ONNX_DTYPE_NAMES, DerivedTensor, WeightOp, apply_shape, prod, text,
)

__all__ = [
    "WeightOp", "DerivedTensor", "FoundHead", "find_heads", "not_weight_tensors", "apply_shape", "text",
    "ONNX_DTYPE_NAMES",
]

_PASS_THROUGH = {
    "Softmax", "LogSoftmax", "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Identity", "Dropout",
    "Relu", "Cast", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LpPool",
    "GlobalLpPool", "ReduceMean", "ReduceMax", "Sigmoid", "HardSigmoid", "Tanh",
}
_WEIGHT_OPS = {"Transpose", "Reshape", "Identity", "Cast", "Squeeze", "Unsqueeze", "Flatten"}
_MAX_STEPS = 100_000
_MAX_WEIGHT_CHAIN = 64

@dataclass(frozen=True)
class FoundHead:
    """A head the walk reached: how to read it, the tensor it reads (siblings share it), its output
    size, and the classifying op (Softmax / LogSoftmax / Sigmoid) on its path to the output."""

    hint: HeadHint
    derived: DerivedTensor | None = None
    data_input: str = ""
    n: int = 0
    activation: str | None = None

@dataclass(frozen=True)
class _Node:
    """The parts of a NodeProto the walk needs, with every name as a proper str."""

    op_type: str
    name: str
    input: tuple[str, ...]
    output: tuple[str, ...]
    attrs: dict[str, Any]

    @classmethod
    def of(cls, node: Any) -> "_Node":
        attrs: dict[str, Any] = {}
        for a in node.attribute:
            value = {1: a.f, 2: a.i, 6: tuple(a.floats), 7: tuple(a.ints)}.get(a.type)
            if value is not None:
                attrs.setdefault(text(a.name), value)
        return cls(text(node.op_type), text(node.name), tuple(text(i) for i in node.input),
                   tuple(text(o) for o in node.output), attrs)

def _attr(node: _Node, name: str, default: Any) -> Any:
    return node.attrs.get(name, default)

class _Walker:
    """Holds the graph indexes for one :func:`find_heads` call."""

    def __init__(
        self, graph: Any, infos: Mapping[str, TensorInfo], small_ints: Callable[[str], tuple[int, ...] | None]
    ) -> None:
        self.infos = infos
        self.small_ints = small_ints
        self.producer: dict[str, _Node] = {}
        for proto in graph.node:
            if text(proto.domain) in ("", "ai.onnx"):
                node = _Node.of(proto)
                for out in node.output:
                    self.producer.setdefault(out, node)

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

    def _weight_op(self, node: _Node) -> WeightOp | None:
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
        return WeightOp("identity")

    def head_at(self, node: _Node, output: str) -> FoundHead | None:
        """The head if ``node`` is a Gemm / MatMul / 1x1 Conv with a constant weight."""
        t = node.op_type
        if t not in ("Gemm", "MatMul", "Conv") or len(node.input) < 2:
            return None
        w = self.weight(node.input[1])
        if w is None:
            return None
        base, ops, shape = w
        if self.infos[base].dtype not in FLOATS:  # quantized or corrupt: leave it to the locator
            return None
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
        reason = f"ONNX graph: {t} node {node.name or node.output[0]!r} ({why}) feeds output {output!r}"
        n = shape[1] if stored_t else shape[0]
        flip = self._orientation_only(base, ops)
        if flip is not None:
            return FoundHead(HeadHint(base, stored_t != flip, scale, reason), None, node.input[0], n)
        dtype = self.infos[base].dtype
        for op in ops:
            if op.kind == "cast" and op.arg:
                dtype = ONNX_DTYPE_NAMES.get(op.arg[0], dtype)
        derived = DerivedTensor(node.input[1], base, ops, shape, dtype)
        # reported under the stored tensor's name (what a graph viewer shows), read through the ops
        hint = HeadHint(base, stored_t, scale, f"{reason}; stored as {base!r} {self.infos[base].shape}, "
                        f"used through {'/'.join(op.kind for op in ops)} as {shape}", source=node.input[1])
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

    def next_inputs(self, node: _Node) -> list[str] | None:
        """Inputs to keep walking through, or None when the walk stops at this node."""
        t, ins = node.op_type, [i for i in node.input if i]
        if t in _PASS_THROUGH and ins:
            return ins[:1]
        if t in ("Add", "Sum", "Mean"):
            dynamic = [i for i in ins if self.weight(i) is None]
            return dynamic or None
        if t == "Mul" and len(ins) == 2:
            dyn = [i for i in ins if not self.is_scalar_const(i)]
            return dyn if len(dyn) == 1 else None
        if t == "Div" and len(ins) == 2 and self.is_scalar_const(ins[1]):
            return ins[:1]
        return None

    def walk(self, output: str) -> list[FoundHead]:
        found: list[FoundHead] = []
        stack: list[tuple[str, str | None]] = [(output, None)]
        seen, steps = set(), 0
        while stack and steps < _MAX_STEPS:
            name, act = stack.pop()
            steps += 1
            node = self.producer.get(name)
            if name in seen or node is None:
                continue
            seen.add(name)
            head = self.head_at(node, output)
            if head is not None:
                found.append(replace(head, activation=act))
                continue
            if node.op_type in CLASSIFYING_OPS and act is None:
                act = node.op_type
            stack.extend((i, act) for i in reversed(self.next_inputs(node) or []))
        return found

def _rank_siblings(heads: list[FoundHead]) -> list[FoundHead]:
    """Heads that read the same tensor are siblings: ranked (a Softmax/Sigmoid on the path first),
    each told of the others; the groups keep the order of their first head."""
    groups: dict[str, list[FoundHead]] = {}
    for h in heads:
        groups.setdefault(h.data_input, []).append(h)
    out: list[FoundHead] = []
    for group in groups.values():
        if len(group) == 1:
            out.extend(group)
            continue
        by_name = {h.hint.name: h for h in group}
        ranked, why = rank_siblings([Sibling(h.hint.name, h.n, i, h.activation) for i, h in enumerate(group)])
        names = [s.name for s in ranked]
        first, others = names[0], ", ".join(repr(x) for x in names[1:])
        for k, name in enumerate(names):
            h = by_name[name]
            alts = tuple(x for x in names if x != name)
            if k == 0:
                reason = (f"{h.hint.reason}; ambiguous: {len(names)} heads read the same tensor "
                          f"{h.data_input!r} (alternatives {others}, scored too); ranked first because {why}")
                notes = (f"the head choice is ambiguous: {others} read the same features and are reported "
                         f"as further heads; {first!r} ranked first because {why}",)
            else:
                reason = f"{h.hint.reason}; a sibling of {first!r} (reads the same tensor {h.data_input!r})"
                notes = ()
            out.append(replace(h, hint=replace(h.hint, reason=reason, alternatives=alts, notes=notes)))
    return out

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
    walker = _Walker(graph, infos, small_ints)
    heads: list[FoundHead] = []
    for out in graph.output:
        for h in walker.walk(text(out.name)):
            if all(h.hint.name != x.hint.name for x in heads):
                heads.append(h)
    return _rank_siblings(heads)

# Ops whose constant inputs are never a classifier's weight (slopes, gates, norms, biases, shapes).
_NOT_WEIGHT_CONSUMERS = {
    "PRelu", "LSTM", "GRU", "RNN", "BatchNormalization", "InstanceNormalization", "LayerNormalization",
    "GroupNormalization", "Add", "Sub", "Mul", "Div", "Reshape", "Expand", "Tile", "Pad", "Clip", "Where",
    "Resize", "Slice", "ConstantOfShape",
}

def not_weight_tensors(graph: Any, names: set[str]) -> set[str]:
    """Stored tensors whose every consumer uses them as something else than a weight matrix."""
    consumers: dict[str, set[str]] = {}
    for proto in graph.node:
        for i in proto.input:
            consumers.setdefault(text(i), set()).add(text(proto.op_type))
    return {n for n in names if consumers.get(n) and consumers[n] <= _NOT_WEIGHT_CONSUMERS}
