"""Sibling heads: several terminal matrices reading the same features (a classifier beside box and
landmark regressors, as in a face-detector cascade stage). All are reported; this module ranks them.

Evidence, strongest first (the first criterion that separates the top two decides, and the reason
says which):

1. the output feeds a Softmax / LogSoftmax / Sigmoid in the graph (formats with a graph);
2. the name says classifier (``cls``, ``class``, ``logit``, ``score``, ``prob``, ``conf``) rather than
   regressor (``box``, ``bbox``, ``reg``, ``landmark``, ``offset``, ``loc``, ``kpt``);
3. the output size is not a multiple of 4 (box regressors predict 4·k values);
4. storage order (a network declares its classification branch first by convention; this is the
   weakest evidence, and the reason says the choice rests on it).

Pure data in, pure data out: no readers, no numpy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Sibling", "rank_siblings", "CLASSIFYING_OPS"]

CLASSIFYING_OPS = ("Softmax", "LogSoftmax", "Sigmoid")
_CLASSIFIER_WORDS = {"cls", "class", "classes", "classifier", "logit", "logits", "score", "scores", "prob",
                     "probs", "conf", "confidence", "face", "label", "labels"}
_REGRESSOR_WORDS = {"box", "boxes", "bbox", "bboxes", "reg", "regress", "regression", "landmark", "landmarks",
                    "landm", "ldmk", "offset", "offsets", "loc", "kpt", "kpts", "keypoint", "keypoints", "coord",
                    "coords", "delta", "deltas", "pts"}


@dataclass(frozen=True)
class Sibling:
    """One terminal matrix: stored name, output size, storage position, and the classifying op its
    output reaches in the graph (None without a graph, or when it reaches none)."""

    name: str
    n: int
    pos: int
    activation: str | None = None


def _words(name: str) -> set[str]:
    return {w.lower() for w in re.split(r"[^A-Za-z]+", name) if w}


def _kind(name: str) -> int:
    """0: the name says classifier, 1: says nothing, 2: says regressor."""
    words = _words(name)
    if words & _CLASSIFIER_WORDS:
        return 0
    return 2 if words & _REGRESSOR_WORDS else 1


def _key(s: Sibling) -> tuple[int, int, int, int]:
    return (0 if s.activation else 1, _kind(s.name), 1 if s.n % 4 == 0 else 0, s.pos)


_BECAUSE = (
    "its output feeds a {act} in the graph (ONNX) or code (TorchScript) and {others} do not",
    "{others} are named like regressors",
    "{others} have 4·k outputs, like box regressors",
    "it comes before {others} in storage order (no stronger evidence separates them)",
)


def _why(first: Sibling, rest: list[Sibling]) -> str:
    """Why ``first`` beats each of ``rest``: the deciding criterion, strongest first."""
    a = _key(first)
    by_rule: dict[int, list[str]] = {}
    for s in rest:
        b = _key(s)
        rule = next((i for i in range(3) if a[i] != b[i]), 3)
        if rule == 1 and a[1] == 0 and b[1] == 1:
            rule = 4  # first is named like a classifier, the other says nothing
        by_rule.setdefault(rule, []).append(repr(s.name))
    parts = []
    for rule in sorted(by_rule):
        others = ", ".join(by_rule[rule])
        if rule == 4:
            parts.append(f"its name says classifier and {others} say nothing")
        else:
            parts.append(_BECAUSE[rule].format(act=first.activation, others=others))
    return "; ".join(parts)


def rank_siblings(sibs: list[Sibling]) -> tuple[list[Sibling], str]:
    """The siblings most classifier-like first, and why the first won (``""`` for a single one)."""
    ranked = sorted(sibs, key=_key)
    if len(ranked) < 2:
        return ranked, ""
    return ranked, _why(ranked[0], ranked[1:])
