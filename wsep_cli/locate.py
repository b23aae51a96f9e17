"""Which matrix is the classifier, and why.

Order of evidence: ``--layer NAME`` > format metadata (ONNX graph, timm config / ``arch``) > known
classifier names > structure (the last weight matrix whose output is not consumed by a later one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from wsep_cli.errors import NoClassifierError, UnreadableError
from wsep_cli.readers.base import HeadHint, Reader, TensorInfo

__all__ = [
    "Head",
    "KNOWN_CLASSIFIER_NAMES",
    "canonical_key",
    "candidate_matrices",
    "locate",
    "load_head_matrix",
]

_FLOAT_DTYPES = {"float64", "float32", "float16", "bfloat16"}

_STRIP_PREFIXES = ("module.", "_orig_mod.")

# Module names (without ".weight") that hold a final classifier, most specific first. Covers the
# names timm's pretrained_cfg["classifier"] uses and torchvision's heads.
KNOWN_CLASSIFIER_NAMES: tuple[str, ...] = (
    "head.fc.fc2",
    "head.classifier.fc",
    "head.head.l",
    "head.fc2",
    "head.fc",
    "head.linear",
    "head.l",
    "head.proj",
    "head.classifier",
    "head.last_linear",
    "head",
    "head_dist",
    "classifier.fc",
    "classifier.6",
    "classifier.4",
    "classifier.3",
    "classifier.2",
    "classifier.1",
    "classifier.0",
    "classifier",
    "classif",
    "last_linear",
    "fc.fc2",
    "fc",
    "linear",
    "logits",
    "out",
    "output",
    "predictions",
    "fc_out",
    "fc3",
    "fc2",
    "fc1",
)


@dataclass(frozen=True)
class Head:
    """A located classifier: the stored key, how it was found, and how to orient it."""

    layer: str
    located_by: str  # "option" | "metadata" | "name" | "structure"
    reason: str
    transposed: bool = False
    scale: float = 1.0


def canonical_key(key: str) -> str:
    """The key with wrapper prefixes (``module.``, ``_orig_mod.``, Lightning's ``model.``) removed."""
    changed = True
    while changed:
        changed = False
        for p in _STRIP_PREFIXES:
            if key.startswith(p):
                key = key[len(p):]
                changed = True
    return key


def _is_candidate(t: TensorInfo) -> bool:
    if t.dtype not in _FLOAT_DTYPES:
        return False
    if len(t.shape) == 2:
        return t.shape[0] >= 1 and t.shape[1] >= 1
    return len(t.shape) == 4 and t.shape[2:] == (1, 1)


def candidate_matrices(tensors: list[TensorInfo]) -> list[TensorInfo]:
    """2-D float matrices and 1x1-conv kernels, in storage order."""
    return [t for t in tensors if _is_candidate(t)]


def _module_of(key: str) -> str:
    return key[: -len(".weight")] if key.endswith(".weight") else key


def _by_option(cands: list[TensorInfo], all_t: list[TensorInfo], layer: str) -> Head:
    names = {t.name for t in all_t}
    for want in (layer, f"{layer}.weight"):
        if want in names:
            t = next(x for x in all_t if x.name == want)
            if not _is_candidate(t):
                raise NoClassifierError(
                    f"--layer {layer!r} is a {len(t.shape)}-D {t.dtype} tensor of shape "
                    f"{t.shape}; a classifier must be a 2-D float matrix or a 1x1 conv kernel"
                )
            return Head(t.name, "option", "named by --layer")
    for t in cands:
        if canonical_key(_module_of(t.name)) in (canonical_key(layer), canonical_key(_module_of(layer))):
            return Head(t.name, "option", "named by --layer")
    listing = ", ".join(t.name for t in cands[-5:]) or "none"
    raise NoClassifierError(
        f"no tensor matches --layer {layer!r}; run `wsep layers` to list candidates (last ones: {listing})"
    )


def _by_names(cands: list[TensorInfo], wanted: list[str], located_by: str, why: str) -> list[Head]:
    by_canon: dict[str, TensorInfo] = {}
    for t in cands:
        if t.name.endswith(".weight") or "." not in t.name:
            by_canon.setdefault(canonical_key(_module_of(t.name)), t)
            # Lightning stores "model.<module>"
            c = canonical_key(_module_of(t.name))
            if c.startswith("model."):
                by_canon.setdefault(c[len("model."):], t)
    heads: list[Head] = []
    for w in wanted:
        t = by_canon.get(w)
        if t is not None and all(h.layer != t.name for h in heads):
            heads.append(Head(t.name, located_by, why.format(name=w)))
    return heads


def _natural_key(name: str) -> list[object]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def _by_structure(cands: list[TensorInfo]) -> list[Head]:
    """The last matrix in the chain whose output size no later matrix consumes."""
    mats = sorted(cands, key=lambda t: _natural_key(t.name))
    if len(mats) == 0:
        return []
    # Prefer natural name order; storage order can be alphabetical (layers.13 < layers.2).
    for idx in range(len(mats) - 1, -1, -1):
        t = mats[idx]
        n = t.shape[0]
        later_inputs = {x.shape[1] for x in mats[idx + 1:]}
        if n not in later_inputs or idx == len(mats) - 1:
            return [Head(t.name, "structure", "last weight matrix whose output no later matrix consumes")]
    return []


def locate(
    reader: Reader,
    *,
    layer: str | None = None,
    arch_classifiers: list[str] | None = None,
) -> list[Head]:
    """Find the classifier head(s) of a checkpoint, primary first.

    Args:
        reader: an open checkpoint.
        layer: ``--layer NAME``: a key as stored, with or without ``.weight``.
        arch_classifiers: classifier module names from timm's ``pretrained_cfg["classifier"]``.

    Raises:
        NoClassifierError: nothing fits (exit 3).
    """
    all_t = reader.tensors()
    cands = candidate_matrices(all_t)
    if layer:
        return [_by_option(cands, all_t, layer)]
    hints: list[HeadHint] = reader.hints()
    if hints:
        return [Head(h.name, "metadata", h.reason, h.transposed, h.scale) for h in hints]
    if arch_classifiers:
        heads = _by_names(cands, arch_classifiers, "metadata", "timm pretrained_cfg classifier {name!r}")
        if heads:
            return heads
    heads = _by_names(cands, list(KNOWN_CLASSIFIER_NAMES), "name", "known classifier name {name!r}")
    if heads:
        return _primary_with_siblings(heads)
    heads = _by_structure(cands)
    if heads:
        return heads
    raise NoClassifierError(
        f"{reader.path}: no classifier matrix found (no 2-D float tensor or 1x1 conv kernel); "
        "name one with --layer (see `wsep layers`)"
    )


def _primary_with_siblings(heads: list[Head]) -> list[Head]:
    """Keep the first name match, plus distillation siblings (``head`` + ``head_dist``)."""
    primary = heads[0]
    out = [primary]
    base = canonical_key(_module_of(primary.layer))
    for h in heads[1:]:
        other = canonical_key(_module_of(h.layer))
        if other in (f"{base}_dist", f"{base}_aux"):
            out.append(h)
    return out


def load_head_matrix(reader: Reader, head: Head) -> np.ndarray:
    """The head as float64 V, n classes x m features (1x1 conv kernels flattened)."""
    v = np.asarray(reader.load(head.layer))
    if v.ndim == 4 and v.shape[2:] == (1, 1):
        v = v.reshape(v.shape[0], v.shape[1])
    if v.ndim != 2:
        raise UnreadableError(
            f"{reader.path}: {head.layer!r} has shape {tuple(v.shape)}; a classifier must be 2-D"
        )
    with np.errstate(invalid="ignore"):  # a signalling NaN warns on upcast; metrics refuse NaN anyway
        v = v.astype(np.float64)
    if head.transposed:
        v = v.T
    if head.scale != 1.0:
        v = v * head.scale
    return np.ascontiguousarray(v)
