"""timm's answer to "which module is the classifier" for an architecture name, without importing timm.

The answer comes from :mod:`wsep_cli.locate.timm_table`, generated from timm by
``tools/gen_timm_names.py`` (every architecture of the timm version named there). Reading a
checkpoint's ``arch`` key therefore costs a dictionary lookup, not a timm import (~5 s, ~800 MB).
Only ``--arch`` with a name the table lacks asks the installed timm, which may be newer.
"""

from __future__ import annotations

from functools import lru_cache

from wsep_cli.errors import UsageError

__all__ = ["classifier_names_for", "known_architectures"]


@lru_cache(maxsize=1)
def known_architectures() -> dict[str, tuple[str, ...]]:
    """Every architecture in the table and its classifier names (``()`` when timm names none)."""
    from wsep_cli.locate.timm_table import GROUPS

    return {arch: names for names, archs in GROUPS.items() for arch in archs.split()}


def classifier_names_for(arch: str, *, required: bool) -> list[str] | None:
    """Classifier module names from timm's ``pretrained_cfg["classifier"]`` for ``arch``.

    Args:
        arch: a timm model name, with or without a ``.tag`` (tags never change the classifier).
        required: True for ``--arch`` (an unknown name is a usage error); False for a checkpoint's
            own ``arch`` key (an unknown name just means "no metadata"; timm is never imported).
    """
    base = arch.split(".")[0]
    table = known_architectures()
    if base in table:
        return list(table[base]) or None
    if not required:
        return None
    return _from_installed_timm(arch, base)


def _from_installed_timm(arch: str, base: str) -> list[str] | None:
    """``--arch`` names the table lacks: a timm newer than the table may know them."""
    from wsep_cli.locate.timm_table import TIMM_VERSION

    try:
        import timm
    except ImportError:
        timm = None
    if timm is None or not timm.is_model(base):
        raise UsageError(
            f"--arch {arch!r} is not a timm architecture (wsep knows the {len(known_architectures())} "
            f"of timm {TIMM_VERSION}; see `timm.list_models()`)"
        )
    cfg = timm.models.get_pretrained_cfg(arch) or timm.models.get_pretrained_cfg(base)
    classifier = getattr(cfg, "classifier", None) if cfg is not None else None
    if classifier is None:
        return None
    return [classifier] if isinstance(classifier, str) else [str(c) for c in classifier]
