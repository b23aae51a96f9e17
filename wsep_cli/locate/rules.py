"""The evidence rules behind :mod:`wsep_cli.locate`: known classifier names, then structure.

Everything here works on tensor names and shapes only (no tensor data, no torch), so it runs on a
file's header. Which tensors are matrices, and their canonical keys: :mod:`wsep_cli.locate.matrices`
(re-exported here).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from wsep_cli.locate.matrices import (
    Matrix,
    canonical_key,
    is_matrix,
    is_recurrent,
    is_state,
    matrix_shaped,
    module_of,
    natural_key,
    weight_matrices,
)
from wsep_cli.locate.names import (
    ATTENTION_NAMES,
    FLOAT_DTYPES,
    KNOWN_CLASSIFIER_NAMES,
    NOT_HEAD_PARTS,
    NOT_HEAD_PATTERN,
)
from wsep_cli.locate.siblings import Sibling, rank_siblings
from wsep_cli.readers.base import TensorInfo

__all__ = [
    "KNOWN_CLASSIFIER_NAMES",
    "Matrix",
    "canonical_key",
    "module_of",
    "is_matrix",
    "weight_matrices",
    "match_names",
    "by_known_names",
    "by_structure",
    "Found",
    "natural_key",
    "is_recurrent",
    "matrix_shaped",
]

def _consumed(p: Matrix, pool: list[Matrix]) -> bool:
    """Some other matrix in ``pool`` takes ``p``'s output as its input."""
    return any(q is not p and q.m == p.n for q in pool)


class _Inputs:
    """How many matrices take each input size: O(1) "is this output consumed" for whole models."""

    def __init__(self, mats: list[Matrix]) -> None:
        self.count = Counter(q.m for q in mats)

    def consumed(self, p: Matrix) -> bool:
        return self.count[p.n] - (1 if p.m == p.n else 0) > 0


def _parent(key: str) -> str:
    return key.rsplit(".", 1)[0] if "." in key else ""


def _with_siblings(primary: Matrix, mats: list[Matrix], inputs: _Inputs) -> list[Matrix]:
    """The primary head plus parallel heads of its family (``head_dist``, ``aux_head``, ``heads.N``)."""
    sibs = [
        q for q in mats
        if q is not primary and q.family == primary.family and q.n == primary.n and not inputs.consumed(q)
    ]
    group = [primary, *sibs]
    group.sort(key=lambda q: (q.secondary, natural_key(q.key)))
    return group


def match_names(mats: list[Matrix], names: list[str]) -> list[Matrix]:
    """Matrices whose canonical key is one of ``names`` (exactly, or ``NAME.<index>``)."""
    out = []
    for mt in mats:
        base = re.sub(r"\.\d+$", "", mt.key)
        if mt.key in names or base in names:
            out.append(mt)
    return out


def by_known_names(
    mats: list[Matrix], tensors: list[TensorInfo], names: list[str] | None = None
) -> list[Matrix]:
    """Heads found by name, primary first; ``[]`` when no name matches.

    A match that feeds another match or a matrix of the same parent module (``classifier.0`` of a VGG
    ``classifier`` Sequential, a hidden top-level ``fc1``) is part of a chain, not its end, and is
    dropped; so is a Sequential entry followed by a norm layer of its output size (the pre-logits
    layer a head-less timm model keeps). Among the rest the most specific name wins, then the lowest index.
    """
    wanted = list(names) if names is not None else list(KNOWN_CLASSIFIER_NAMES)
    rank = {n: i for i, n in enumerate(wanted)}
    found = match_names(mats, wanted)
    if not found:
        return []
    vectors = _Vectors(tensors)
    ends = []
    for mt in found:
        pool = found + [q for q in mats if _parent(q.key) == _parent(mt.key)]
        if not _consumed(mt, pool) and not vectors.norm_follows_in_sequence(mt):
            ends.append(mt)
    if not ends:
        return []

    def score(mt: Matrix) -> tuple[int, list[object]]:
        base = mt.key if mt.key in rank else re.sub(r"\.\d+$", "", mt.key)
        return rank.get(base, len(rank)), natural_key(mt.key)

    primary = min(ends, key=score)
    return _with_siblings(primary, mats, _Inputs(mats))


def _bias_of(mt: Matrix) -> str:
    name = mt.info.name
    return name[: -len("weight")] + "bias" if name.endswith(".weight") else f"{name}.bias"


def _not_a_head(key: str) -> bool:
    parts = key.split(".")
    return (
        parts[-1] in ATTENTION_NAMES
        or any(p in NOT_HEAD_PARTS or NOT_HEAD_PATTERN.search(p) for p in parts)
    )


class _Vectors:
    """The 1-D float tensors of a checkpoint, by length (biases, norm weights, scales)."""

    def __init__(self, tensors: list[TensorInfo]) -> None:
        self.names: set[str] = set()
        self.by_len: dict[int, set[str]] = {}
        for t in tensors:
            if len(t.shape) == 1 and t.dtype in FLOAT_DTYPES and not is_state(t.name):
                self.names.add(t.name)
                self.by_len.setdefault(t.shape[0], set()).add(t.name)

    def feeds_norm(self, mt: Matrix, family: list[Matrix]) -> bool:
        """A vector of ``mt``'s output length other than the family's biases: a norm follows it.

        Not for a single output: length-1 vectors are scalars (a PReLU slope, a logit scale), and no
        one normalises one channel."""
        if mt.n == 1:
            return False
        return bool(self.by_len.get(mt.n, set()) - {_bias_of(q) for q in family})

    def norm_follows_in_sequence(self, mt: Matrix) -> bool:
        """``mt`` is entry i of a Sequential and a later entry is a vector of its output length."""
        m = re.fullmatch(r"(.*)\.(\d+)\.weight", mt.info.name)
        if m is None:
            return False
        prefix, i = m.group(1), int(m.group(2))
        for name in self.by_len.get(mt.n, set()):
            v = re.fullmatch(re.escape(prefix) + r"\.(\d+)\.\w+", name)
            if v is not None and int(v.group(1)) > i:
                return True
        return False


@dataclass(frozen=True)
class Found:
    """Heads found by structure, primary first; ``siblings`` (ranked, primary first) are the terminal
    matrices reading as many features as the primary when there are several, ``why`` the ranking."""

    heads: list[Matrix]
    siblings: tuple[str, ...] = ()
    why: str = ""


def by_structure(mats: list[Matrix], tensors: list[TensorInfo],
                 activations: Callable[[], dict[str, str]] = dict) -> Found:
    """The end of the layer chain: a matrix whose output size no other matrix takes as input.

    A head-less backbone also ends somewhere, so the end must look like a classifier: its output
    size is its own (no layer outside its head family has it; no norm layer or scale vector has that
    length, only its own bias); it is no attention projection and no known non-head module
    (``conv_head``, ``pre_logits``, a stem, a position embedding); a 1x1 conv needs a bias. Among
    several ends one with a bias wins, then the later position. Ends that read as many features as
    that one are siblings (a classifier beside box / landmark regressors): all are reported, ranked
    by :func:`wsep_cli.locate.siblings.rank_siblings`, with ``activations()`` (tensor name -> the
    Softmax/Sigmoid its output feeds, from the format's code; read only when there are siblings).
    """
    vectors = _Vectors(tensors)
    inputs = _Inputs(mats)
    outputs = Counter(q.n for q in mats)
    family_outputs = Counter((q.family, q.n) for q in mats)
    ends = []
    for mt in mats:
        if _not_a_head(mt.key) or inputs.consumed(mt) or outputs[mt.n] != family_outputs[(mt.family, mt.n)]:
            continue
        family = [q for q in mats if q.family == mt.family and q.n == mt.n]
        if vectors.feeds_norm(mt, family):
            continue
        has_bias = _bias_of(mt) in vectors.names
        if len(mt.info.shape) != 2 and not has_bias:
            continue
        ends.append((has_bias, mt.pos, mt))
    if not ends:
        return Found([])
    primary = max(ends, key=lambda e: (e[0], e[1]))[2]
    group = _with_siblings(primary, mats, inputs)
    same_input = [mt for _, _, mt in ends if mt.m == primary.m and all(mt is not g for g in group)]
    if not same_input:
        return Found(group)
    by_name = {mt.info.name: mt for mt in [primary, *same_input]}
    acts = activations()
    ranked, why = rank_siblings([Sibling(mt.info.name, mt.n, mt.pos, acts.get(mt.info.name))
                                 for mt in by_name.values()])
    first = by_name[ranked[0].name]
    heads = _with_siblings(first, mats, inputs)
    heads += [by_name[s.name] for s in ranked[1:] if all(by_name[s.name] is not h for h in heads)]
    return Found(heads, tuple(s.name for s in ranked), why)
