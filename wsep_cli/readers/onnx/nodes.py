"""The graph's nodes as the head walk (:mod:`wsep_cli.readers.onnx.head`) sees them.

:class:`Producers` maps each tensor name to the node that writes it and builds the walk's
:class:`WalkNode` record only for the nodes the walk reaches; :class:`Consumers` (who reads a name)
is indexed on first use. A graph of 100,000 nodes is indexed once and walked through a handful.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wsep_cli.readers.onnx.weights import text

__all__ = ["WalkNode", "Producers", "Consumers", "MS_OPS"]

# onnxruntime's contrib ops that a quantised (QOperator) graph uses on the way to its output
MS_OPS = {"QGemm", "QLinearAdd", "QLinearSoftmax", "QLinearSigmoid", "QLinearLeakyRelu", "QLinearAveragePool",
          "QLinearGlobalAveragePool"}


@dataclass(frozen=True)
class WalkNode:
    """The parts of a NodeProto the walk needs, with every name as a proper str."""

    op_type: str
    name: str
    input: tuple[str, ...]
    output: tuple[str, ...]
    attrs: dict[str, Any]

    @classmethod
    def of(cls, node: Any) -> "WalkNode":
        attrs: dict[str, Any] = {}
        for a in node.attribute:
            value = {1: a.f, 2: a.i, 6: tuple(a.floats), 7: tuple(a.ints)}.get(a.type)
            if value is not None:
                attrs.setdefault(text(a.name), value)
        return cls(text(node.op_type), text(node.name), tuple(text(i) for i in node.input),
                   tuple(text(o) for o in node.output), attrs)

def _walked(proto: Any) -> bool:
    """A node of the default domain (or one of onnxruntime's quantised ops): the walk may use it."""
    domain = text(proto.domain)
    return domain in ("", "ai.onnx") or (domain == "com.microsoft" and text(proto.op_type) in MS_OPS)


class Producers:
    """The node that writes each tensor name (the first one, as in a graph that writes it twice).

    Maps names to the parsed protos and turns one into a :class:`WalkNode` only when the walk reaches
    it: a graph of 100,000 nodes is walked through a handful of them."""

    def __init__(self, graph: Any) -> None:
        self.protos: list[Any] = [p for p in graph.node if _walked(p)]
        self._by_name: dict[str, int] = {}
        for k, proto in enumerate(self.protos):
            for out in proto.output:
                self._by_name.setdefault(text(out), k)
        self._made: dict[int, WalkNode] = {}

    def node(self, k: int) -> WalkNode:
        made = self._made.get(k)
        if made is None:
            made = self._made[k] = WalkNode.of(self.protos[k])
        return made

    def get(self, name: str, default: WalkNode | None = None) -> WalkNode | None:
        k = self._by_name.get(name)
        return default if k is None else self.node(k)


class Consumers:
    """The nodes that read each tensor name, indexed on first use (only quantised heads ask)."""

    def __init__(self, producers: Producers) -> None:
        self.producers = producers
        self._by_name: dict[str, list[int]] | None = None

    def get(self, name: str, default: list[WalkNode] | None = None) -> list[WalkNode]:
        if self._by_name is None:
            self._by_name = {}
            for k, proto in enumerate(self.producers.protos):
                for i in proto.input:
                    self._by_name.setdefault(text(i), []).append(k)
        ks = self._by_name.get(name)
        return [self.producers.node(k) for k in ks] if ks else (default if default is not None else [])


