"""Training with the feed-backward reconstruction loss (paper Eq. 9, 10).

Submodules import torch; this package file does not, so ``import wsep_cli.finetune`` stays cheap.

- :mod:`~wsep_cli.finetune.loss`: ``reconstruction_loss`` and ``FeedBackwardReconstructionLoss``.
- :mod:`~wsep_cli.finetune.config`: ``FinetuneConfig``, every setting of a run.
- :mod:`~wsep_cli.finetune.trainer`: ``run_finetune(config, reporter)``, the ``wsep finetune`` engine.
"""

from __future__ import annotations

__all__: list[str] = []
