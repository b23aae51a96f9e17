"""Which matrix is the classifier, and why.

Order of evidence, strongest first:

1. ``--layer NAME`` (the user said so);
2. format metadata: the reader's own hints (ONNX graph, timm ``pretrained_cfg``), the classifier names
   timm gives for ``--arch`` or a checkpoint's ``arch`` key, a ``classifier`` entry in the file's
   metadata;
3. known classifier names, matched on the whole canonical key (``fc``, ``head``, ``head.fc``,
   ``classifier.N`` ... see :data:`KNOWN_CLASSIFIER_NAMES`);
4. structure: the last weight matrix whose output size no other matrix takes as input.

Multi-head models (``head`` + ``head_dist``, ``head.0`` + ``head.1``, ``head`` + ``aux_head``) report
every head, primary first. The rules themselves live in :mod:`wsep_cli.locate.rules`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wsep_cli.errors import NoClassifierError, UnreadableError
from wsep_cli.locate.rules import (
    KNOWN_CLASSIFIER_NAMES,
    Matrix,
    by_known_names,
    by_structure,
    canonical_key,
    is_matrix,
    module_of,
    weight_matrices,
)
from wsep_cli.readers.base import HeadHint, Reader, TensorInfo

__all__ = [
    "Head",
    "KNOWN_CLASSIFIER_NAMES",
    "canonical_key",
    "candidate_matrices",
    "locate",
    "load_head_matrix",
]


@dataclass(frozen=True)
class Head:
    """A located classifier: the stored key, how it was found, and how to orient it."""

    layer: str
    located_by: str  # "option" | "metadata" | "name" | "structure"
    reason: str
    transposed: bool = False
    scale: float = 1.0


def candidate_matrices(tensors: list[TensorInfo]) -> list[TensorInfo]:
    """2-D float matrices and 1x1-conv kernels, in storage order."""
    return [t for t in tensors if is_matrix(t)]


def _by_option(all_t: list[TensorInfo], layer: str) -> Head:
    for want in (layer, f"{layer}.weight"):
        t = next((x for x in all_t if x.name == want), None)
        if t is not None:
            if not is_matrix(t):
                raise NoClassifierError(
                    f"--layer {layer!r} is a {len(t.shape)}-D {t.dtype} tensor of shape {t.shape}; "
                    "a classifier must be a 2-D float matrix or a 1x1 conv kernel (see `wsep layers`)"
                )
            return Head(t.name, "option", "named by --layer")
    want = canonical_key(module_of(layer))
    cands = candidate_matrices(all_t)
    for t in cands:
        if canonical_key(module_of(t.name)) == want:
            return Head(t.name, "option", "named by --layer")
    listing = ", ".join(t.name for t in cands[-5:]) or "none"
    raise NoClassifierError(
        f"no tensor matches --layer {layer!r}; run `wsep layers` to list candidates (last ones: {listing})"
    )


def _exact(mats: list[Matrix], all_t: list[TensorInfo], names: list[str]) -> list[Matrix]:
    """Matrices named exactly (canonical module key or stored key), in the order of ``names``."""
    out: list[Matrix] = []
    for name in names:
        want = canonical_key(module_of(name))
        hit = next((mt for mt in mats if mt.key == want or mt.info.name in (name, f"{name}.weight")), None)
        if hit is None:  # a name the header uses but our key canonicalisation stripped differently
            t = next((x for x in all_t if is_matrix(x) and module_of(x.name) == module_of(name)), None)
            hit = Matrix(t, want, -1) if t is not None else None
        if hit is not None and all(h.info.name != hit.info.name for h in out):
            out.append(hit)
    return out


def _heads(found: list[Matrix], located_by: str, reason: str) -> list[Head]:
    primary = found[0].info.name
    heads = [Head(found[0].info.name, located_by, reason)]
    for mt in found[1:]:
        heads.append(Head(mt.info.name, located_by, f"{reason}; a further head beside {primary!r}"))
    return heads


def _structure_reason(mt: Matrix) -> str:
    return f"last weight matrix whose output size ({mt.n}) no other matrix takes as input"


def locate(
    reader: Reader,
    *,
    layer: str | None = None,
    arch: str | None = None,
    arch_classifiers: list[str] | None = None,
) -> list[Head]:
    """Find the classifier head(s) of a checkpoint, primary first.

    Args:
        reader: an open checkpoint.
        layer: ``--layer NAME``: a key as stored, with or without ``.weight``.
        arch: ``--arch NAME``: a timm architecture whose ``pretrained_cfg["classifier"]`` names the
            head (an unknown name is a usage error). Without it, a checkpoint's own ``arch`` entry
            is used the same way (an unknown name there is no evidence).
        arch_classifiers: classifier module names known already (a model built in this process).

    Raises:
        NoClassifierError: nothing fits (exit 3).
        UsageError: ``arch`` is not a timm architecture.
    """
    all_t = reader.tensors()
    if layer:
        return [_by_option(all_t, layer)]
    if arch_classifiers is None:
        arch_classifiers = _arch_classifiers(reader, arch)
    hints: list[HeadHint] = reader.hints()
    if hints:
        return [Head(h.name, "metadata", h.reason, h.transposed, h.scale) for h in hints]
    mats = weight_matrices(all_t)
    note = ""
    if arch_classifiers:
        found = _exact(mats, all_t, arch_classifiers)
        if found:
            names = ", ".join(repr(n) for n in arch_classifiers)
            return _heads(found, "metadata", f"timm pretrained_cfg classifier {names}")
        note = f" (the timm architecture names {arch_classifiers!r}, which this file lacks)"
    meta_names = [s.strip() for s in reader.metadata().get("classifier", "").split(",") if s.strip()]
    if meta_names:
        found = _exact(mats, all_t, meta_names)
        if found:
            return _heads(found, "metadata", f"the file's metadata names classifier {meta_names[0]!r}")
    found = by_known_names(mats, all_t)
    if found:
        return _heads(found, "name", f"known classifier name {found[0].key!r}{note}")
    unusable = _unusable_named_head(all_t)
    if unusable is not None:  # never score a backbone matrix in place of a named, quantized head
        raise NoClassifierError(
            f"{reader.path}: {unusable.name!r} is named like the classifier but holds {unusable.dtype} "
            f"values of shape {unusable.shape}; wsep scores non-empty float matrices only (quantized or "
            "integer weights need their scale and zero point). Pass --layer to score another matrix"
        )
    found = by_structure(mats, all_t)
    if found:
        return _heads(found, "structure", _structure_reason(found[0]) + note)
    raise NoClassifierError(
        f"{reader.path}: no classifier matrix found ({len(mats)} weight matrices, none with a known "
        "classifier name or at the end of the layer chain); name one with --layer (see `wsep layers`)"
    )


def _arch_classifiers(reader: Reader, arch: str | None) -> list[str] | None:
    """Classifier names timm gives for ``--arch``, else for the checkpoint's ``arch`` entry."""
    name = arch or reader.metadata().get("arch")
    if not name:
        return None
    from wsep_cli.locate.timm_names import classifier_names_for

    return classifier_names_for(name, required=arch is not None)


def _unusable_named_head(all_t: list[TensorInfo]) -> TensorInfo | None:
    """A matrix-shaped tensor with a known classifier name that cannot be scored (empty, integer,
    float8, quantized), or ``None``."""
    known = set(KNOWN_CLASSIFIER_NAMES)
    for t in all_t:
        if is_matrix(t) or not (t.name.endswith(".weight") or "." not in t.name):
            continue
        if (len(t.shape) == 2 or (len(t.shape) == 4 and t.shape[2:] == (1, 1))) and (
            canonical_key(module_of(t.name)) in known
        ):
            return t
    return None


def load_head_matrix(reader: Reader, head: Head, *, upcast: bool = True) -> np.ndarray:
    """The head as float64 V, n classes x m features (1x1 conv kernels flattened).

    With ``upcast=False`` a float head keeps its stored dtype (float16/32/64) and may be a
    transposed view: the metrics upcast it block by block, so a huge fp16 head never exists as a
    whole in float64 (a 131,072 x 1,024 head: 256 MiB instead of 1 GiB). A scaled head is float64.
    """
    v = np.asarray(reader.load(head.layer))
    if v.ndim == 4 and v.shape[2:] == (1, 1):
        v = v.reshape(v.shape[0], v.shape[1])
    if v.ndim != 2:
        raise UnreadableError(
            f"{reader.path}: {head.layer!r} has shape {tuple(v.shape)}; a classifier must be 2-D"
        )
    if not upcast and v.dtype in (np.float16, np.float32, np.float64) and head.scale == 1.0:
        return v.T if head.transposed else v
    with np.errstate(invalid="ignore", over="ignore"):  # sNaN, inf*0: reported as non-finite later
        v = v.astype(np.float64)
        if head.transposed:
            v = v.T
        if head.scale != 1.0:
            v = v * head.scale
    return np.ascontiguousarray(v)
