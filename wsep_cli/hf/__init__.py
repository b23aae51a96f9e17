"""Hugging Face sources: ``save_pretrained`` folders, ``hf:ORG/NAME[@REV]`` and ``timm:NAME`` on the Hub.

- :mod:`~wsep_cli.hf.config` reads ``config.json`` (architectures, ``id2label``, tied embeddings, timm's
  ``pretrained_cfg``); :mod:`~wsep_cli.hf.heads` turns it into the head by the model's convention.
- :mod:`~wsep_cli.hf.folder` opens a local model folder; :mod:`~wsep_cli.hf.bin_index` its ``.bin`` shards.
- :mod:`~wsep_cli.hf.hub` (the only module importing ``huggingface_hub``), :mod:`~wsep_cli.hf.ranges`
  and :mod:`~wsep_cli.hf.remote` read a Hub repo's header and its head's bytes, nothing else.

:func:`open_hf_source` is the one entry point (called by :func:`wsep_cli.readers.guard.open_guarded`).
"""

from __future__ import annotations

from pathlib import Path

from wsep_cli.readers.base import Reader

__all__ = ["open_hf_source"]


def open_hf_source(spec: str, *, random_init: bool = False, revision: str | None = None) -> Reader | None:
    """A reader for ``spec`` when it is a Hugging Face source, else None (the caller opens it by content).

    - ``hf:ORG/NAME[@REV]``: a Hub repo, read remotely (header and head bytes only) or from the cache.
    - ``timm:NAME.TAG``, and ``timm:NAME`` with its default tag from the table generated from timm
      (:mod:`~wsep_cli.hf.timm_repos`): the ``timm/NAME.TAG`` Hub repo, read the same way with no torch
      or timm; None for ``--random-init``, a model without a ``timm/`` repo, or when the repo cannot
      serve safetensors (the timm reader then builds the model).
    - a folder with ``config.json`` (or ``pytorch_model.bin.index.json``): the local model.

    ``revision`` (``--revision``) applies to an ``hf:`` spec that names none.

    Raises:
        UsageError: a bad repo id, a missing or gated repo or revision, an unknown timm name (exit 2).
        UsageError: not cached while offline (exit 2, like a missing path).
        UnreadableError: no safetensors in the repo, corrupt files (exit 4).
    """
    if spec.startswith("hf:"):
        from wsep_cli.hf.remote import open_hub_repo
        from wsep_cli.hf.spec import parse_hf_spec

        return open_hub_repo(parse_hf_spec(spec, revision=revision), spec_text=spec)
    if spec.startswith("timm:"):
        if random_init:
            return None
        from wsep_cli.hf.timm_repos import timm_hub_repo

        repo_id = timm_hub_repo(spec[len("timm:"):])
        if repo_id is None:
            return None
        from wsep_cli.hf.remote import open_timm_repo

        return open_timm_repo(repo_id, spec_text=spec)
    path = Path(spec)
    if path.is_dir():
        from wsep_cli.hf.folder import open_folder

        return open_folder(path)
    return None
