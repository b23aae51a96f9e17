"""Which Hub repo ``timm:NAME[.TAG]`` reads, from a table generated from timm: timm is never imported.

``timm:resnet50`` means timm's default pretrained weights of ``resnet50``, which live in the Hub repo
``timm/resnet50.a1_in1k``; :mod:`wsep_cli.hf.timm_repos_table` (written by ``tools/gen_timm_names.py``)
holds that default for every timm model name, so the repo is read like any ``hf:`` source with no
torch. A name the table lacks is a usage error with close matches, unless the installed timm is
another version than the table's (it may know newer names: the timm reader then decides).
"""

from __future__ import annotations

import difflib
from functools import lru_cache

from wsep_cli.errors import UsageError
from wsep_cli.hf.spec import timm_repo_of

__all__ = ["known_timm_names", "timm_hub_repo"]


@lru_cache(maxsize=1)
def known_timm_names() -> dict[str, str | None]:
    """Every timm model name of the table and the repo of its default weights (None: no ``timm/`` repo)."""
    from wsep_cli.hf.timm_repos_table import DEFAULT_TAGS, NO_TIMM_REPO, OTHER_REPOS

    names: dict[str, str | None] = {n: f"timm/{n}.{tag}" for tag, ns in DEFAULT_TAGS.items() for n in ns.split()}
    names.update(OTHER_REPOS)
    names.update(dict.fromkeys(NO_TIMM_REPO.split()))
    return names


def _other_timm_installed() -> bool:
    """Whether an installed timm differs from the table's version (read from its metadata, not imported)."""
    from importlib import metadata

    from wsep_cli.hf.timm_repos_table import TIMM_VERSION

    try:
        return metadata.version("timm") != TIMM_VERSION
    except metadata.PackageNotFoundError:
        return False


def _unknown(spec_name: str, base: str) -> UsageError:
    from wsep_cli.hf.timm_repos_table import TIMM_VERSION

    names = known_timm_names()
    close = difflib.get_close_matches(base, names, n=3, cutoff=0.6)
    hint = (f"did you mean {', '.join(close)}?" if close
            else f"wsep knows the {len(names)} model names of timm {TIMM_VERSION} (see `timm.list_models()`)")
    return UsageError(f"timm:{spec_name}: not a timm model name; {hint}")


def timm_hub_repo(name: str) -> str | None:
    """The Hub repo to read for ``timm:NAME`` (default tag from the table) or ``timm:NAME.TAG``.

    Returns None when there is no ``timm/`` repo to read (untrained, weights elsewhere) or when an
    installed timm of another version may know a name the table lacks: timm builds the model then.

    Example:
        >>> timm_hub_repo("resnet50"), timm_hub_repo("resnet50.tv_in1k")
        ('timm/resnet50.a1_in1k', 'timm/resnet50.tv_in1k')

    Raises:
        UsageError: no name, or a name timm does not have (exit 2), with the closest names.
    """
    name = name.strip()
    if not name:
        raise UsageError("timm: needs a model name, e.g. timm:resnet50 or timm:resnet50.a1_in1k")
    base, dot, _tag = name.partition(".")
    names = known_timm_names()
    if base not in names:
        if _other_timm_installed():
            return None
        raise _unknown(name, base)
    return timm_repo_of(name) if dot else names[base]
