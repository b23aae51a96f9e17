"""``wsep layers`` as a library call: every candidate matrix of a checkpoint, the chosen head(s) marked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

from wsep_cli.errors import NoClassifierError
from wsep_cli.locate import Head, candidate_matrices, locate
from wsep_cli.pipeline.heads import ScoreOptions
from wsep_cli.readers.guard import open_guarded

if TYPE_CHECKING:
    from wsep_cli.readers.base import HeadHint, TensorInfo

__all__ = ["LayerRow", "LayerListing", "list_layers"]


@dataclass(frozen=True)
class LayerRow:
    """One candidate matrix for ``wsep layers``: its stored shape, and (``classes``, ``features``) as
    scored, which differs for an ONNX MatMul weight (stored features x classes), a reshaped or a
    1x1-conv kernel."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    chosen: bool
    reason: str
    scored_as: tuple[int, int] | None = None


@dataclass(frozen=True)
class LayerListing:
    """``wsep layers``: the candidates, the chosen head(s), and why none was chosen if so."""

    spec: str
    format: str
    rows: tuple[LayerRow, ...]
    error: NoClassifierError | None = None


def list_layers(spec: str, opts: ScoreOptions = ScoreOptions()) -> LayerListing:
    """Candidate matrices of one checkpoint, the chosen head(s) marked with the reason.

    Raises:
        WsepError: the file cannot be read (a missing classifier is reported in the listing instead).
    """
    with open_guarded(spec, random_init=opts.random_init, revision=opts.revision) as reader:
        tensors = reader.tensors()
        by_name = {t.name: t for t in tensors}
        views = reader.views()
        error = None
        try:
            heads = {h.layer: h for h in locate(reader, layer=opts.layer, arch=opts.arch)}
        except NoClassifierError as e:  # list the candidates anyway; the CLI exits 3
            heads, error = {}, e
        sources = {h.source for h in [*reader.hints(), *views.values()] if h.source}  # read-through keys
        names = [t.name for t in candidate_matrices(tensors, reader.not_candidates())
                 if t.name not in views and t.name not in sources]
        names += [n for n in views if n in by_name]  # graph weights (MatMul, reshaped, quantised)
        names = sorted(set(names) | set(heads), key=lambda n: next(
            (i for i, t in enumerate(tensors) if t.name == n), len(tensors)))
        rows = []
        for name in names:
            t, h = by_name.get(name), heads.get(name)
            rows.append(LayerRow(name, t.shape if t else (), t.dtype if t else "?", h is not None,
                                 f"{h.located_by}: {h.reason}" if h is not None else "",
                                 _scored_as(by_name, h or _view_head(views.get(name)), t)))
        return LayerListing(spec, reader.format, tuple(rows), error)


def _view_head(hint: "HeadHint | None") -> Head | None:
    return Head.of_hint(hint) if hint is not None else None


def _scored_as(by_name: Mapping[str, "TensorInfo"], head: Head | None, t: "TensorInfo | None") -> tuple[int, int] | None:
    """(n classes, m features) as the head would be scored: from the matrix the head loads, oriented."""
    info = by_name.get(head.key) if head is not None else t
    if info is None or len(info.shape) < 2:
        return None
    n, m = info.shape[0], info.shape[1]
    return (m, n) if head is not None and head.transposed else (n, m)
