"""Parse Hugging Face source specs: ``hf:ORG/NAME[@REVISION]`` and ``timm:NAME[.TAG]``.

Pure string work: nothing is imported or fetched here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from wsep_cli.errors import UsageError

__all__ = ["HubSpec", "parse_hf_spec", "timm_repo_of"]

# The Hub's own rule for repo names: letters, digits, '-', '_', '.', no '--' or '..', at most 96 chars.
_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?"
_REPO = re.compile(rf"(?:{_PART}/)?{_PART}")
_REVISION = re.compile(r"[A-Za-z0-9._/\-]{1,255}")


@dataclass(frozen=True)
class HubSpec:
    """A model repo on the Hub and the revision asked for (``None``: the default branch)."""

    repo: str
    revision: str | None = None

    @property
    def text(self) -> str:
        return f"hf:{self.repo}" + (f"@{self.revision}" if self.revision else "")


def parse_hf_spec(spec: str, *, revision: str | None = None) -> HubSpec:
    """``hf:ORG/NAME[@REV]`` as a :class:`HubSpec`; ``revision`` (``--revision``) applies when the spec has none.

    Example:
        >>> parse_hf_spec("hf:google/vit-base-patch16-224@main")
        HubSpec(repo='google/vit-base-patch16-224', revision='main')

    Raises:
        UsageError: not a valid repo id or revision, or two different revisions (exit 2).
    """
    body = spec[len("hf:"):] if spec.startswith("hf:") else spec
    repo, sep, rev = body.partition("@")
    if not _REPO.fullmatch(repo) or "--" in repo or ".." in repo:
        raise UsageError(f"{spec}: not a Hugging Face repo id; write hf:ORG/NAME or hf:ORG/NAME@REVISION")
    if sep and not _REVISION.fullmatch(rev):
        raise UsageError(f"{spec}: {rev!r} is not a revision (a branch, tag or commit hash)")
    if sep and revision and rev != revision:
        raise UsageError(f"{spec}: names revision {rev!r} but --revision says {revision!r}; give one")
    return HubSpec(repo=repo, revision=rev if sep else revision)


def timm_repo_of(name: str) -> str | None:
    """The Hub repo of a tagged timm model (``resnet18.a1_in1k`` -> ``timm/resnet18.a1_in1k``).

    An untagged name (``resnet18``): None here; :func:`wsep_cli.hf.timm_repos.timm_hub_repo` gives its default.
    """
    name = name.strip()
    if "." not in name or not _REPO.fullmatch(f"timm/{name}"):
        return None
    return f"timm/{name}"
