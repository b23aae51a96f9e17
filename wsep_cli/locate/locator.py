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
every head, primary first; so do sibling heads (several terminal matrices reading the same features,
ranked by :mod:`wsep_cli.locate.siblings`), whose ``reason`` says the choice was ambiguous and names
the alternatives. The rules themselves live in :mod:`wsep_cli.locate.rules`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from wsep_cli.errors import NoClassifierError, UnreadableError
from wsep_cli.locate.rules import (
    KNOWN_CLASSIFIER_NAMES,
    Matrix,
    by_known_names,
    by_structure,
    canonical_key,
    is_matrix,
    matrix_shaped,
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
    alternatives: tuple[str, ...] = ()  # sibling heads reading the same features (ambiguous choice)
    notes: tuple[str, ...] = ()  # what a reader of the numbers must know (become warnings)
    source: str | None = None  # the reader key of the matrix when it is not ``layer`` itself
    dequantized: dict[str, object] | None = None  # how a quantised weight became floats

    @property
    def key(self) -> str:
        """The key to load the matrix under."""
        return self.source or self.layer

    @classmethod
    def of_hint(cls, h: HeadHint, located_by: str = "metadata", reason: str | None = None) -> "Head":
        return cls(h.name, located_by, h.reason if reason is None else reason, h.transposed, h.scale,
                   h.alternatives, h.notes, h.source, h.dequantized)


def candidate_matrices(tensors: list[TensorInfo], exclude: set[str] | None = None) -> list[TensorInfo]:
    """Float matrices, 1x1-conv and kernel-size-1 Conv1d kernels, in storage order (``exclude``:
    names a format's graph uses as something else)."""
    return [t for t in tensors if is_matrix(t) and t.name not in (exclude or ())]


def _by_option(reader: Reader, all_t: list[TensorInfo], layer: str) -> Head:
    views = reader.views()
    hinted = {h.name: h for h in reader.hints()}
    for want in (layer, f"{layer}.weight"):
        if want in hinted and hinted[want].source is not None:  # reshaped / dequantised by the graph
            return Head.of_hint(hinted[want], "option", f"named by --layer; {hinted[want].reason}")
        if want in views:
            return Head.of_hint(views[want], "option", f"named by --layer; {views[want].reason}")
        t = next((x for x in all_t if x.name == want), None)
        if t is not None:
            if not is_matrix(t):
                raise NoClassifierError(
                    f"--layer {layer!r} is a {len(t.shape)}-D {t.dtype} tensor of shape {t.shape}; "
                    "a classifier must be a float matrix (n, m), a 1x1 conv kernel (n, m, 1, 1) or a "
                    "kernel-size-1 Conv1d kernel (n, m, 1) (see `wsep layers`)"
                )
            hint = hinted.get(t.name)
            if hint is not None:  # the graph says how it is stored (a MatMul's features x classes)
                return Head.of_hint(hint, "option", f"named by --layer; {hint.reason}")
            return Head(t.name, "option", "named by --layer")
    want = canonical_key(module_of(layer))
    cands = candidate_matrices(all_t)
    for t in cands:
        if canonical_key(module_of(t.name)) == want:
            return Head(t.name, "option", "named by --layer")
    listing = "last ones: " + (", ".join(t.name for t in cands[-5:]) or "none")
    scoped = [t.name for t in cands if t.name.rsplit("/", 1)[-1] in (layer, f"{layer}.weight")]
    if scoped:  # ONNX sub-graph tensors, their names qualified by scope (docs/locate.md)
        listing = "in sub-graphs, named by scope: " + ", ".join(scoped[:5])
    raise NoClassifierError(f"no tensor matches --layer {layer!r}; run `wsep layers` to list candidates ({listing})")


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
        return [_by_option(reader, all_t, layer)]
    if arch_classifiers is None:
        arch_classifiers = _arch_classifiers(reader, arch)
    hints: list[HeadHint] = reader.hints()
    if hints:
        return [Head.of_hint(h) for h in hints]
    excluded = reader.not_candidates()
    all_t = [t for t in all_t if t.name not in excluded]
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
    found = by_structure(mats, all_t, reader.activations)
    if found.heads:
        heads = _heads(found.heads, "structure", _structure_reason(found.heads[0]) + note)
        return _with_alternatives(heads, found.siblings, found.why) if found.siblings else heads
    raise NoClassifierError(_none_found(reader, all_t, mats))


def _with_alternatives(heads: list[Head], siblings: tuple[str, ...], why: str) -> list[Head]:
    """Say on every sibling head that the choice was ambiguous, and which alternatives exist."""
    primary = siblings[0]
    others = ", ".join(repr(s) for s in siblings[1:])
    out = []
    for h in heads:
        if h.layer not in siblings:
            out.append(h)
            continue
        alts = tuple(s for s in siblings if s != h.layer)
        if h.layer == primary:
            reason = (f"{h.reason}; ambiguous: {len(siblings)} terminal matrices read the same features "
                      f"(alternatives {others}, scored too); ranked first because {why}")
            note = (f"the head choice is ambiguous: {others} read the same features and are reported "
                    f"as further heads; {primary!r} ranked first because {why}")
            out.append(replace(h, reason=reason, alternatives=alts, notes=(*h.notes, note)))
        else:
            reason = f"a sibling of {primary!r} (reads the same features; {primary!r} ranked first because {why})"
            out.append(replace(h, reason=reason, alternatives=alts))
    return out


def _none_found(reader: Reader, all_t: list[TensorInfo], mats: list[Matrix]) -> str:
    """Exit-3 message: counts the candidates ``wsep layers`` lists, and says where a graph walk stopped."""
    k = len(candidate_matrices(all_t))
    count = "1 candidate matrix" if k == 1 else f"{k} candidate matrices"
    if len(mats) != k:
        count += f", {len(mats)} of them layer weights (*.weight)"
    notes = "".join(f"; {n}" for n in reader.locate_notes())
    return (f"{reader.path}: no classifier matrix found ({count}; none with a known classifier name "
            f"or at the end of the layer chain){notes}; name one with --layer (see `wsep layers`)")


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
        if matrix_shaped(t.shape) and (
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
    v = np.asarray(reader.load(head.key))
    if (v.ndim == 4 and v.shape[2:] == (1, 1)) or (v.ndim == 3 and v.shape[2] == 1):
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
