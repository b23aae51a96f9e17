"""The evidence rules behind :mod:`wsep_cli.locate`: key canonicalisation, names, structure.

Everything here works on tensor names and shapes only (no tensor data, no torch), so it runs on a
file's header. A *matrix* is a 2-D float tensor, a 1x1 convolution kernel ``(n, m, 1, 1)`` or a
kernel-size-1 Conv1d kernel ``(n, m, 1)``; ``n`` is its output size (classes for a head) and ``m`` its
input size. Recurrent-layer gate matrices (``weight_ih_l0``, ``weight_hh_l0`` ...) are never matrices.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from wsep_cli.locate.names import (
    ATTENTION_NAMES,
    EMA_ROOTS,
    FLOAT_DTYPES,
    KNOWN_CLASSIFIER_NAMES,
    NOT_HEAD_PARTS,
    NOT_HEAD_PATTERN,
    OPTIMIZER_PARTS,
    WRAPPERS,
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
]

# PyTorch's nn.LSTM / nn.GRU / nn.RNN parameter names: gate matrices and biases, never a classifier.
_RECURRENT = re.compile(r"(^|\.)(weight|bias)_(ih|hh|hr)_l\d+(_reverse)?$")

@dataclass(frozen=True)
class Matrix:
    """A candidate matrix: the stored tensor, its canonical module key and its position.

    ``family`` is the key without distillation / auxiliary markers and a final index (``head_dist``
    -> ``head``, ``aux_head`` -> ``head``, ``heads_dist.3`` -> ``heads.#``); an index inside the key
    (``blocks.3.attn.qkv``) stays, so repeated blocks are not one family. ``secondary`` marks a
    distillation or auxiliary head, reported after the main one.
    """

    info: TensorInfo
    key: str
    pos: int
    family: str = field(init=False, compare=False)
    secondary: bool = field(init=False, compare=False)

    def __post_init__(self) -> None:
        parts = self.key.split(".")
        fam = [re.sub(r"^aux_", "", re.sub(r"(_dist|_aux)$", "", p)) for p in parts]
        if fam[-1].isdigit():
            fam[-1] = "#"
        object.__setattr__(self, "family", ".".join(fam))
        object.__setattr__(self, "secondary", any(p.endswith(("_dist", "_aux")) or p.startswith("aux_") for p in parts))

    @property
    def n(self) -> int:
        return self.info.shape[0]

    @property
    def m(self) -> int:
        return self.info.shape[1]


def natural_key(name: str) -> list[object]:
    """Sort key that orders ``layers.2`` before ``layers.13``."""
    return [(0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", name)]


def canonical_key(key: str) -> str:
    """The key with wrapper prefixes (``module.``, ``_orig_mod.``, Lightning's ``model.``) removed."""
    changed = True
    while changed:
        changed = False
        for p in WRAPPERS:
            if key.startswith(p) and len(key) > len(p):
                key = key[len(p):]
                changed = True
    return key


def is_recurrent(name: str) -> bool:
    """An LSTM/GRU/RNN gate matrix or bias (``lstm.weight_ih_l0``, ``gru.bias_hh_l1_reverse``)."""
    return _RECURRENT.search(name) is not None


def matrix_shaped(shape: tuple[int, ...]) -> bool:
    """(n, m), (n, m, 1, 1) or (n, m, 1): a matrix, a 1x1 conv kernel, a kernel-size-1 Conv1d kernel."""
    return len(shape) == 2 or (len(shape) == 4 and shape[2:] == (1, 1)) or (len(shape) == 3 and shape[2] == 1)


def is_matrix(t: TensorInfo) -> bool:
    """A float matrix (see :func:`matrix_shaped`) with non-zero sizes, not a recurrent gate matrix."""
    if t.dtype not in FLOAT_DTYPES or any(d < 1 for d in t.shape) or is_recurrent(t.name):
        return False
    return matrix_shaped(t.shape)


def module_of(key: str) -> str:
    """The module a parameter key belongs to: ``fc.weight`` -> ``fc`` (other keys unchanged)."""
    return key[: -len(".weight")] if key.endswith(".weight") else key


def _is_state(key: str) -> bool:
    return any(p in OPTIMIZER_PARTS for p in key.split("."))


def _common_root(keys: list[str]) -> str:
    """A leading ``net.`` / ``backbone.`` that every key shares and that wraps a whole model."""
    root = ""
    while keys and all("." in k for k in keys):
        firsts = {k.split(".", 1)[0] for k in keys}
        rests = [k.split(".", 1)[1] for k in keys]
        if len(firsts) != 1 or len({r.split(".", 1)[0] for r in rests}) < 2:
            break
        root += firsts.pop() + "."
        keys = rests
    return root


def _looks_sorted(names: list[str]) -> bool:
    return len(names) > 2 and names == sorted(names)


def weight_matrices(tensors: list[TensorInfo]) -> list[Matrix]:
    """Layer weights that could be a classifier, in module order.

    Only ``*.weight`` keys (or keys without a dot) count; optimizer state never does; EMA copies only
    when nothing else is there. Storage order is trusted unless it is plain alphabetical (what
    ``safetensors.save_file`` writes), in which case natural order (``2`` before ``13``) stands in.
    """
    mats = [t for t in tensors if is_matrix(t) and (t.name.endswith(".weight") or "." not in t.name)]
    mats = [t for t in mats if not _is_state(t.name)]
    canon = [canonical_key(module_of(t.name)) for t in mats]
    non_ema = [i for i, k in enumerate(canon) if k.split(".", 1)[0] not in EMA_ROOTS]
    if non_ema:
        mats, canon = [mats[i] for i in non_ema], [canon[i] for i in non_ema]
    root = _common_root([canonical_key(t.name) for t in tensors if not _is_state(t.name)])
    canon = [k[len(root):] if k.startswith(root) else k for k in canon]
    order = list(range(len(mats)))
    if _looks_sorted([t.name for t in tensors if _is_float_weight(t)]):
        order.sort(key=lambda i: natural_key(canon[i]))
    return [Matrix(mats[i], canon[i], pos) for pos, i in enumerate(order)]


def _is_float_weight(t: TensorInfo) -> bool:
    return t.dtype in FLOAT_DTYPES and not _is_state(t.name)


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
            if len(t.shape) == 1 and t.dtype in FLOAT_DTYPES and not _is_state(t.name):
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


def by_structure(mats: list[Matrix], tensors: list[TensorInfo]) -> Found:
    """The end of the layer chain: a matrix whose output size no other matrix takes as input.

    A head-less backbone also ends somewhere, so the end must look like a classifier: its output
    size is its own (no layer outside its head family has it; no norm layer or scale vector has that
    length, only its own bias); it is no attention projection and no known non-head module
    (``conv_head``, ``pre_logits``, a stem, a position embedding); a 1x1 conv needs a bias. Among
    several ends one with a bias wins, then the later position. Ends that read as many features as
    that one are siblings (a classifier beside box / landmark regressors): all are reported, ranked
    by :func:`wsep_cli.locate.siblings.rank_siblings`.
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
    ranked, why = rank_siblings([Sibling(mt.info.name, mt.n, mt.pos) for mt in by_name.values()])
    first = by_name[ranked[0].name]
    heads = _with_siblings(first, mats, inputs)
    heads += [by_name[s.name] for s in ranked[1:] if all(by_name[s.name] is not h for h in heads)]
    return Found(heads, tuple(s.name for s in ranked), why)
