"""The heads an ONNX graph walk reached, and how heads that read the same tensor are ranked."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from wsep_cli.locate.siblings import Sibling, rank_siblings
from wsep_cli.readers.base import HeadHint
from wsep_cli.readers.onnx.weights import DerivedTensor, text

__all__ = ["FoundHead", "rank_found", "tag_many", "not_weight_tensors"]


@dataclass(frozen=True)
class FoundHead:
    """A head the walk reached: how to read it, the tensor it reads (siblings share it), its output
    size, and the classifying op (Softmax / LogSoftmax / Sigmoid) on its path to the output."""

    hint: HeadHint
    derived: DerivedTensor | None = None
    data_input: str = ""
    n: int = 0
    activation: str | None = None


def rank_found(heads: list[FoundHead]) -> list[FoundHead]:
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


def tag_many(heads: list[FoundHead], per_output: dict[str, list[str]]) -> list[FoundHead]:
    """Say in ``reason`` when several heads reading different tensors reach one output (YOLO's
    per-scale class convs joined by Concat): all are reported, none is ambiguous."""
    out = []
    for h in heads:
        for name, names in per_output.items():
            if h.hint.name in names and len(names) > 1 and len({x.data_input for x in heads if x.hint.name in names}) > 1:
                why = f"{h.hint.reason}; one of {len(names)} heads that reach output {name!r} (all reported)"
                h = replace(h, hint=replace(h.hint, reason=why))
                break
        out.append(h)
    return out


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
            name = text(i)
            if name in names:  # only the stored tensors' readers: not an index of every name in the graph
                consumers.setdefault(name, set()).add(text(proto.op_type))
    return {n for n in names if consumers.get(n) and consumers[n] <= _NOT_WEIGHT_CONSUMERS}
