"""The one pipeline every command reads checkpoints through: source -> reader -> heads -> metrics.

- :mod:`~wsep_cli.pipeline.heads`: :func:`open_heads` opens a checkpoint behind the malformed-input
  net and locates its head(s); ``score``, ``layers``, ``plot``, ``compare`` all start here, and
  ``finetune --init`` uses the same guarded reader (:func:`wsep_cli.readers.guard.open_guarded`).
  :func:`measure_head` / :func:`score_head` turn one located head into a
  :class:`~wsep_cli.results.HeadResult`; :func:`score_file` does it for a whole file.
- :mod:`~wsep_cli.pipeline.layers`: :func:`list_layers`, the candidates of ``wsep layers``.
- :mod:`~wsep_cli.pipeline.run`: :func:`run_score` is ``wsep score`` as a library call (a typed
  :class:`ScoreRequest` in, a :class:`ScoreRun` out, the exit code decided there and nowhere else);
  :func:`compare_specs` is ``wsep compare``.
"""

from wsep_cli.pipeline.heads import (
    MeasuredHead,
    OpenHeads,
    ScoreOptions,
    check_finite,
    class_names,
    measure_head,
    open_heads,
    score_file,
    score_head,
    source_of,
)
from wsep_cli.pipeline.layers import LayerListing, LayerRow, list_layers
from wsep_cli.pipeline.run import ScoreRequest, ScoreRun, compare_side, compare_specs, run_score

__all__ = [
    "ScoreOptions",
    "OpenHeads",
    "MeasuredHead",
    "LayerRow",
    "LayerListing",
    "ScoreRequest",
    "ScoreRun",
    "open_heads",
    "measure_head",
    "score_head",
    "score_file",
    "list_layers",
    "run_score",
    "compare_side",
    "compare_specs",
    "check_finite",
    "class_names",
    "source_of",
]
