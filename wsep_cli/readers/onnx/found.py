"""The heads an ONNX graph walk reached, and how heads that read the same tensor are ranked."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from wsep_cli.locate.siblings import Sibling, rank_siblings
from wsep_cli.readers.base import HeadHint
from wsep_cli.readers.onnx.weights import DerivedTensor, text

__all__ = ["Branch", "FoundHead", "rank_found", "tag_many", "tag_branches", "not_weight_tensors"]

Branch = tuple[tuple[str, str], ...]  # (control-flow node, graph attribute) from the outermost in


@dataclass(frozen=True)
class FoundHead:
    """A head the walk reached: how to read it, the tensor it reads (siblings share it), its output
    size, the classifying op (Softmax / LogSoftmax / Sigmoid) on its path to the output, and the
    sub-graphs (If branches, Loop/Scan bodies) the walk entered to reach it."""

    hint: HeadHint
    derived: DerivedTensor | None = None
    data_input: str = ""
    n: int = 0
    activation: str | None = None
    branch: Branch = ()


def rank_found(heads: list[FoundHead]) -> list[FoundHead]:
    """Heads that read the same tensor are siblings: ranked (a Softmax/Sigmoid on the path first),
    each told of the others; the groups keep the order of their first head."""
    groups: dict[tuple[Branch, str], list[FoundHead]] = {}
    for h in heads:  # heads in different branches are alternatives by control flow, not siblings
        groups.setdefault((h.branch, h.data_input), []).append(h)
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
    in_branches = {h.hint.name for h in heads if h.branch}  # told by tag_branches instead
    per_output = {k: [x for x in v if x not in in_branches] for k, v in per_output.items()}
    for h in heads:
        for name, names in per_output.items():
            if h.hint.name in names and len(names) > 1 and len({x.data_input for x in heads if x.hint.name in names}) > 1:
                why = f"{h.hint.reason}; one of {len(names)} heads that reach output {name!r} (all reported)"
                h = replace(h, hint=replace(h.hint, reason=why))
                break
        out.append(h)
    return out


def tag_branches(heads: list[FoundHead]) -> list[FoundHead]:
    """Say in ``reason`` which sub-graph a head lives in and, when the branches of one control-flow
    node hold several heads (one per sample rate...), that it is one of them and all are reported."""
    groups: dict[str, list[FoundHead]] = {}
    for h in heads:
        if h.branch:
            groups.setdefault(h.branch[0][0], []).append(h)
    out = []
    for h in heads:
        if not h.branch:
            out.append(h)
            continue
        where = " in ".join(f"{label} of {node}" for node, label in reversed(h.branch))
        why = f"{h.hint.reason}; in {where}"
        group = groups[h.branch[0][0]]
        if len(group) > 1:
            labels = ", ".join(dict.fromkeys(x.branch[0][1] for x in group))
            why += f"; one of {len(group)} heads in the branches of {h.branch[0][0]} ({labels}; all reported)"
        out.append(replace(h, hint=replace(h.hint, reason=why)))
    return out


# Ops whose constant inputs are never a classifier's weight (slopes, gates, norms, biases, shapes).
_NOT_WEIGHT_CONSUMERS = {
    "PRelu", "LSTM", "GRU", "RNN", "BatchNormalization", "InstanceNormalization", "LayerNormalization",
    "GroupNormalization", "Add", "Sub", "Mul", "Div", "Reshape", "Expand", "Tile", "Pad", "Clip", "Where",
    "Resize", "Slice", "ConstantOfShape",
}

def not_weight_tensors(nodes: Any, names: set[str]) -> set[str]:
    """Stored tensors whose every consumer uses them as something else than a weight matrix
    (``nodes``: a graph's nodes, flattened with their sub-graphs' by :mod:`~wsep_cli.readers.onnx.scopes`)."""
    consumers: dict[str, set[str]] = {}
    for proto in nodes:
        for i in proto.input:
            name = text(i)
            if name in names:  # only the stored tensors' readers: not an index of every name in the graph
                consumers.setdefault(name, set()).add(text(proto.op_type))
    return {n for n in names if consumers.get(n) and consumers[n] <= _NOT_WEIGHT_CONSUMERS}
