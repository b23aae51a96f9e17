"""Which tensors of a checkpoint are matrices, and their keys as the locator compares them.

A *matrix* is a 2-D float tensor, a 1x1 convolution kernel ``(n, m, 1, 1)`` or a kernel-size-1 Conv1d
kernel ``(n, m, 1)``; ``n`` is its output size (classes for a head) and ``m`` its input size.
Recurrent-layer gate matrices (``weight_ih_l0``, ``weight_hh_l0`` ...) are never matrices. Keys are
canonicalised (wrappers, EMA copies and a common root stripped) and listed in layer order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from wsep_cli.locate.names import EMA_ROOTS, FLOAT_DTYPES, OPTIMIZER_PARTS, WRAPPERS
from wsep_cli.readers.base import TensorInfo

__all__ = ["Matrix", "natural_key", "canonical_key", "is_recurrent", "matrix_shaped", "is_matrix", "module_of",
           "is_state", "is_float_weight", "weight_matrices"]

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
    if not key.startswith(WRAPPERS):  # the common case, in one call
        return key
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
    if t.dtype not in FLOAT_DTYPES or not matrix_shaped(t.shape) or min(t.shape) < 1:
        return False
    return not is_recurrent(t.name)


def module_of(key: str) -> str:
    """The module a parameter key belongs to: ``fc.weight`` -> ``fc`` (other keys unchanged)."""
    return key[: -len(".weight")] if key.endswith(".weight") else key


def is_state(key: str) -> bool:
    return not OPTIMIZER_PARTS.isdisjoint(key.split("."))


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
    mats = [t for t in tensors if is_matrix(t) and (t.name.endswith(".weight") or "." not in t.name)
            and not is_state(t.name)]
    canon = [canonical_key(module_of(t.name)) for t in mats]
    non_ema = [i for i, k in enumerate(canon) if k.split(".", 1)[0] not in EMA_ROOTS]
    if non_ema:
        mats, canon = [mats[i] for i in non_ema], [canon[i] for i in non_ema]
    root = _common_root([canonical_key(t.name) for t in tensors if not is_state(t.name)])
    canon = [k[len(root):] if k.startswith(root) else k for k in canon]
    order = list(range(len(mats)))
    if _looks_sorted([t.name for t in tensors if is_float_weight(t)]):
        order.sort(key=lambda i: natural_key(canon[i]))
    return [Matrix(mats[i], canon[i], pos) for pos, i in enumerate(order)]


def is_float_weight(t: TensorInfo) -> bool:
    return t.dtype in FLOAT_DTYPES and not is_state(t.name)
