"""timm's own answer to "which module is the classifier" for an architecture name.

Imports timm (slow, ~8 s) and so is only used when ``--arch`` is given or a training checkpoint
names its ``arch``.
"""

from __future__ import annotations

from wsep_cli.errors import UsageError

__all__ = ["classifier_names_for"]


def classifier_names_for(arch: str, *, required: bool) -> list[str] | None:
    """Classifier module names from timm's ``pretrained_cfg["classifier"]`` for ``arch``.

    Args:
        arch: a timm model name, with or without a ``.tag``.
        required: True for ``--arch`` (an unknown name is a usage error); False for a checkpoint's
            own ``arch`` key (an unknown name just means "no metadata").
    """
    try:
        import timm
    except ImportError as e:  # pragma: no cover - timm is a dependency
        if required:
            raise UsageError("--arch needs timm; install it with `pip install timm`") from e
        return None
    base = arch.split(".")[0]
    if not timm.is_model(base):
        if required:
            raise UsageError(f"--arch {arch!r} is not a timm architecture (see `timm.list_models()`)")
        return None
    cfg = timm.models.get_pretrained_cfg(arch) or timm.models.get_pretrained_cfg(base)
    classifier = getattr(cfg, "classifier", None) if cfg is not None else None
    if classifier is None:
        return None
    if isinstance(classifier, str):
        return [classifier]
    return [str(c) for c in classifier]
